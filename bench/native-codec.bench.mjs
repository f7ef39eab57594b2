// Native CARP codec benchmark (addon carp_codec): batch verify and decode against the naive
// per-packet crypto.createHmac baseline and the TypeScript CarpAuth, in one benny run on one core.
// Adds its cases to bench/codec.bench.mjs's suites (that file holds the baseline and TS cases).
//
//   npx node-gyp build --nodedir=/usr && npx tsc -p tsconfig.build.json && node bench/native-codec.bench.mjs
//
// Also prints the cost of one SHA-1 compression from a saved state per back end (portable C++,
// SHA-NI, OpenSSL's SHA1_Transform exported by node), the measurement behind the default choice.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist", "protocol");
if (!existsSync(join(dist, "native-codec.js"))) {
  console.error("dist/protocol not built: run `npx tsc -p tsconfig.build.json` first");
  process.exit(1);
}
const nc = await import(pathToFileURL(join(dist, "native-codec.js")).href);
if (!nc.nativeCodecAvailable()) {
  console.error(`carp_codec addon not available (${nc.nativeCodecError()}): build it with npx node-gyp build --nodedir=/usr`);
  process.exit(1);
}
const { codecSuites, runCodecBench, packets, config } = await import(pathToFileURL(join(root, "bench", "codec.bench.mjs")).href);
const addon = nc.nativeCodecAddon();
const impls = nc.nativeSha1Impls();
const defaultImpl = nc.nativeSha1Impl();

// 1. One compression from a saved state (the per-packet unit: two of these per verify).
console.log(`node ${process.version}; SHA-1 back ends: ${impls.join(", ")} (default ${defaultImpl})`);
const compress = {};
for (const impl of impls) {
  nc.setNativeSha1Impl(impl);
  addon.sha1CompressBench(2e5); // warm up
  compress[impl] = Math.min(addon.sha1CompressBench(2e6), addon.sha1CompressBench(2e6));
  console.log(`  sha1 compress (${impl.padEnd(8)}) ${compress[impl].toFixed(1).padStart(6)} ns/block`);
}
nc.setNativeSha1Impl(defaultImpl);

// 2. The same 256 packets as the TS cases, laid out back to back in one Buffer.
const N = packets.length;
const buf = Buffer.concat(packets);
const offsets = Uint32Array.from({ length: N }, (_, i) => i * 36);
const verdicts = new Uint8Array(N);
const fields = {
  vhid: new Uint8Array(N), advskew: new Uint8Array(N), advbase: new Uint8Array(N), demote: new Uint8Array(N),
  counterHi: new Uint32Array(N), counterLo: new Uint32Array(N),
};
const table = new nc.CarpKeyTable({ backend: "native" });
const err = table.set(config);
if (err) throw new Error(err.error);
const nAuth = nc.NativeCarpAuth.create(config);
for (const impl of impls) {
  nc.setNativeSha1Impl(impl);
  if (nc.verifyBatch(table, buf, offsets, 36, verdicts, fields) !== N) throw new Error(`bench setup: native verify (${impl}) failed`);
}
nc.setNativeSha1Impl(defaultImpl);

let sink = 0;
let j = 0;
for (const impl of impls) {
  codecSuites.verify.push({
    name: `native verifyBatch x${N} (${impl})`,
    perCall: N,
    fn: () => {
      addon.setSha1Impl(impl);
      sink ^= nc.verifyBatch(table, buf, offsets, 36, verdicts, fields);
    },
  });
}
codecSuites.verify.push({
  name: `native verifyBatch x${N}, no fields (${defaultImpl})`,
  perCall: N,
  fn: () => {
    addon.setSha1Impl(defaultImpl);
    sink ^= addon.verifyBatch(table.native, buf, offsets, 36, verdicts);
  },
});
codecSuites.verify.push({
  name: `NativeCarpAuth.verifyHeader, one call/packet`,
  fn: () => {
    sink ^= nAuth.verifyHeader(packets[j++ & (N - 1)]) ? 1 : 0;
  },
});
codecSuites.decode.push({
  name: `native decodeBatch x${N} (+checksum)`,
  perCall: N,
  fn: () => {
    sink ^= nc.decodeBatch(buf, offsets, 36, verdicts, fields);
  },
});
const out = Buffer.alloc(36);
out[0] = 0x21; out[1] = config.vhid; out[3] = 7; out[5] = 1;
let counter = 1n;
codecSuites["encode+sign"].push({
  name: `native signHeaderInto (${defaultImpl})`,
  fn: () => {
    addon.setSha1Impl(defaultImpl);
    nAuth.signHeaderInto(out, 0, counter++);
  },
});
// The TS decode case has no baseline in codec.bench.mjs: mark it so the decode ratio is vs TS.
if (!codecSuites.decode.some((c) => c.baseline)) codecSuites.decode[0].baseline = true;

const report = await runCodecBench(codecSuites, { maxTime: 1.5 });
nc.setNativeSha1Impl(defaultImpl);
if (sink === 0.5) console.log(sink);

const best = report.filter((r) => r.name.startsWith("native verifyBatch")).sort((a, b) => b.ops - a.ops)[0];
const naive = report.find((r) => r.suite === "verify" && r.baseline);
console.log(
  `\nnative batch verify (best: ${best.name}): ${(best.ops / 1e6).toFixed(2)} M packets/s, ` +
    `${(best.ops / naive.ops).toFixed(1)}x naive createHmac; target >= 4 M packets/s on one core: ` +
    (best.ops >= 4e6 ? "OK" : "BELOW TARGET"),
);
