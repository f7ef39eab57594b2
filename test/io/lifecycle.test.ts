// Closed or garbage-collected (unref'd, unreachable) sockets and captures leave no fd and no libuv
// handle behind; referenced ones live on like node's own handles. And a
// process without root's capabilities gets a clear error (needs root).
import { execFileSync, spawn } from "node:child_process";
import { chmodSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createTopology, type Topology } from "./helpers/netns.js";
import { transpileSrc } from "./helpers/transpile.js";

const child = join(dirname(fileURLToPath(import.meta.url)), "helpers", "lifecycle-child.mjs");
let topo: Topology;
let dist: { root: string; cleanup: () => void };

beforeAll(() => {
  dist = transpileSrc();
  topo = createTopology("clc");
});

afterAll(() => {
  topo?.destroy();
  dist?.cleanup();
});

interface Outcome {
  exited: boolean;
  code: number | null;
  counts?: { before: number; opened: number; after: number; mapped: number; mapsAfter: number };
  stderr: string;
}

function run(mode: string, waitMs = 4000): Promise<Outcome> {
  return new Promise((resolve) => {
    const p = spawn("ip", ["netns", "exec", topo.nsA, process.execPath, "--expose-gc", child, dist.root, mode]);
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d));
    p.stderr.on("data", (d: Buffer) => (err += d));
    const counts = (): Outcome["counts"] => (out.trim() ? JSON.parse(out.trim().split("\n")[0]) : undefined);
    const timer = setTimeout(() => {
      p.kill("SIGKILL");
      resolve({ exited: false, code: null, counts: counts(), stderr: err });
    }, waitMs);
    p.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ exited: true, code, counts: counts(), stderr: err });
    });
  });
}

describe("lifecycle", () => {
  it("control: open, referenced handles keep the process alive", async () => {
    const r = await run("keep", 2500);
    expect(r.exited, r.stderr).toBe(false);
    expect(r.counts!.opened - r.counts!.before).toBe(23);
    expect(r.counts!.after).toBe(r.counts!.opened);
  });

  it("dropped but referenced handles stay open and keep the process alive (like node's own)", async () => {
    const r = await run("drop", 2500);
    expect(r.exited, r.stderr).toBe(false);
    expect(r.counts!.after).toBe(r.counts!.opened);
  });

  it.each(["close", "gc"])("%s: no fd left and the process exits by itself", async (mode) => {
    const r = await run(mode);
    expect(r.exited, r.stderr).toBe(true);
    expect(r.code).toBe(0);
    expect(r.counts!.opened - r.counts!.before).toBe(23);
    expect(r.counts!.after).toBe(r.counts!.before);
  });

  it("unref: handles stay open but do not hold the process", async () => {
    const r = await run("unref");
    expect(r.exited, r.stderr).toBe(true);
    expect(r.counts!.after).toBe(r.counts!.opened);
  });
});

describe("lifecycle, receive mode ring (two fds and a mapped ring per socket)", () => {
  it("control: referenced ring sockets keep the process alive", async () => {
    const r = await run("keep-ring", 2500);
    expect(r.exited, r.stderr).toBe(false);
    expect(r.counts!.opened - r.counts!.before).toBe(43);
    expect(r.counts!.mapped).toBe(23); // 20 rings + 3 libpcap rings
    expect(r.counts!.mapsAfter).toBe(23);
  });

  it.each(["close-ring", "gc-ring"])("%s: no fd left and the process exits by itself", async (mode) => {
    const r = await run(mode);
    expect(r.exited, r.stderr).toBe(true);
    expect(r.code).toBe(0);
    expect(r.counts!.opened - r.counts!.before).toBe(43);
    expect(r.counts!.after).toBe(r.counts!.before);
    expect(r.counts!.mapped).toBe(23); // 20 rings + 3 libpcap rings
    expect(r.counts!.mapsAfter).toBe(0); // every ring unmapped
  });

  it("unref: ring sockets stay open but do not hold the process", async () => {
    const r = await run("unref-ring");
    expect(r.exited, r.stderr).toBe(true);
    expect(r.counts!.after).toBe(r.counts!.opened);
  });
});

describe("permissions", () => {
  it("without CAP_NET_RAW: EPERM with the 'needs root or CAP_NET_RAW' hint", () => {
    chmodSync(dist.root, 0o755);
    const script = `
      const { openCarpSocket } = await import(${JSON.stringify(join(dist.root, "src/host/rawsock.js"))});
      const { openCapture } = await import(${JSON.stringify(join(dist.root, "src/host/capture.js"))});
      const out = [];
      for (const f of [() => openCarpSocket({ interface: "eth0", family: 4 }), () => openCapture({ interface: "eth0" })]) {
        try { f(); out.push("opened"); } catch (e) { out.push({ code: e.code, message: e.message }); }
      }
      console.log(JSON.stringify(out));`;
    const out = execFileSync(
      "ip",
      ["netns", "exec", topo.nsA, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
        process.execPath, "--input-type=module", "-e", script],
      { encoding: "utf8" },
    );
    const [sock, cap] = JSON.parse(out);
    expect(sock.code).toBe("EPERM");
    expect(sock.message).toContain("needs root or CAP_NET_RAW");
    expect(cap.code).toBe("EPERM");
    expect(cap.message).toContain("needs root or CAP_NET_RAW");
  });
});
