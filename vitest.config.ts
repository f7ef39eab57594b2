import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests build network namespaces and run real daemons; give them room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Namespace tests use unique names, but two cores are all we have: keep file parallelism modest.
    maxWorkers: 2,
    // In CI also write a JSON report, from which .ci/run prints the "N passed, N failed" line.
    reporters: process.env.CI ? ["default", ["json", { outputFile: ".vitest-report.json" }]] : ["default"],
  },
});
