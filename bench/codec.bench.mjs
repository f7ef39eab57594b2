// CARP codec benchmark: decode; encode+sign; verify. Ours (CarpAuth, precomputed SHA-1 states)
// against the naive per-packet crypto.createHmac baseline, ratios from one run.
//
//   npx tsc -p tsconfig.build.json && node bench/codec.bench.mjs
//
// Extending (e.g. native batch verify): import { codecSuites } from this file and push cases into a
// suite, or add them at the marked place below. A case is { name, fn, baseline?: true, perCall? };
// `perCall` is how many packets one fn() call handles (ops/s is multiplied by it), so batch cases
// compare fairly per packet.
import b from "benny";
import { createHmac, timingSafeEqual } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist", "protocol");
if (!existsSync(join(dist, "hmac.js"))) {
  console.error("dist/protocol not built: run `npx tsc -p tsconfig.build.json` first");
  process.exit(1);
}
const { decodeCarp, encodeCarp, carpFinishChecksum } = await import(pathToFileURL(join(dist, "carp.js")).href);
const { CarpAuth, carpKey, carpHmacPrefix } = await import(pathToFileURL(join(dist, "hmac.js")).href);
const { receiveCarp } = await import(pathToFileURL(join(dist, "receive.js")).href);

// A typical vhid: a password, one IPv4 VIP (a 15-byte message: one inner compression).
export const config = { vhid: 42, v4: ["198.51.100.100"], v6: [], password: "bench-password" };
const auth = CarpAuth.create(config);
const key = carpKey(config.password);
const prefix = carpHmacPrefix(config.vhid, config.v4, config.v6);

// 256 distinct signed packets so branch predictors and caches see realistic variety.
const N = 256;
export const packets = Array.from({ length: N }, (_, i) => {
  const counter = 0x0123456789abcdefn + BigInt(i) * 0x100000001n;
  return encodeCarp({ vhid: 42, advskew: 0, advbase: 1, counter, hmac: auth.sign(counter) });
});
for (const p of packets) if (!auth.verifyHeader(p)) throw new Error("bench setup: verify failed");

let i = 0;
let sink = 0;
const out = Buffer.alloc(36);
const msg = Buffer.alloc(prefix.length + 8);
prefix.copy(msg, 0);
let counter = 1n;

/** suite name → cases. Exported so other benchmarks (native batch verify) can add cases. */
export const codecSuites = {
  decode: [
    {
      name: "decodeCarp (ours)",
      fn: () => {
        const h = decodeCarp(packets[i++ & (N - 1)]);
        sink ^= h.vhid;
      },
    },
  ],
  "encode+sign": [
    {
      name: "naive: createHmac + encodeCarp",
      baseline: true,
      fn: () => {
        counter++;
        msg.writeBigUInt64BE(counter, prefix.length);
        const hmac = createHmac("sha1", key).update(msg).digest();
        encodeCarp({ vhid: 42, advskew: 0, advbase: 1, counter, hmac }, out);
      },
    },
    {
      name: "CarpAuth.signInto + checksum (ours)",
      fn: () => {
        counter++;
        out[0] = 0x21; out[1] = 42; out[2] = 0; out[3] = 7; out[4] = 0; out[5] = 1;
        out.writeBigUInt64BE(counter, 8);
        auth.signInto(out, out, 16, 8);
        carpFinishChecksum(out, 0);
      },
    },
    {
      name: "encodeCarp({hmac: CarpAuth.sign}) (ours, convenient)",
      fn: () => {
        counter++;
        encodeCarp({ vhid: 42, advskew: 0, advbase: 1, counter, hmac: auth.sign(counter) }, out);
      },
    },
  ],
  verify: [
    {
      name: "naive: createHmac + timingSafeEqual",
      baseline: true,
      fn: () => {
        const p = packets[i++ & (N - 1)];
        p.copy(msg, prefix.length, 8, 16);
        const d = createHmac("sha1", key).update(msg).digest();
        sink ^= timingSafeEqual(d, p.subarray(16, 36)) ? 1 : 0;
      },
    },
    {
      name: "CarpAuth.verifyHeader (ours)",
      fn: () => {
        sink ^= auth.verifyHeader(packets[i++ & (N - 1)]) ? 1 : 0;
      },
    },
    {
      name: "receiveCarp, full checks (ours)",
      fn: () => {
        const r = receiveCarp(packets[i++ & (N - 1)], { ttl: 255, dstMulticast: true }, lookup);
        sink ^= r.ok ? 1 : 0;
      },
    },
    // ---- native batch verify cases go here (or push into codecSuites.verify from another file) ----
  ],
};
const vhidEntry = { auth };
function lookup(v) {
  return v === 42 ? vhidEntry : undefined;
}

/** Runs every suite; prints ops/s per packet and the ratio to the suite's baseline. */
export async function runCodecBench(suites = codecSuites, opts = { maxTime: 1.5 }) {
  const report = [];
  for (const [suite, cases] of Object.entries(suites)) {
    const summary = await b.suite(
      suite,
      ...cases.map((c) => b.add(c.name, c.fn, { maxTime: opts.maxTime })),
      b.cycle(() => undefined),
      b.complete(() => undefined),
    );
    const perPacket = summary.results.map((r, k) => ({ name: r.name, ops: r.ops * (cases[k].perCall ?? 1), baseline: !!cases[k].baseline }));
    const base = perPacket.find((r) => r.baseline);
    console.log(`\n${suite}`);
    for (const r of perPacket) {
      const ratio = base ? `  ${(r.ops / base.ops).toFixed(2)}x baseline` : "";
      console.log(`  ${r.name.padEnd(52)} ${(r.ops / 1e6).toFixed(3).padStart(8)} M packets/s${ratio}`);
      report.push({ suite, ...r, ratio: base ? r.ops / base.ops : null });
    }
  }
  if (sink === 0.5) console.log(sink); // keep results observable
  return report;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(`node ${process.version}, one core, ${N} distinct packets, message ${prefix.length + 8} bytes`);
  const report = await runCodecBench();
  const v = report.find((r) => r.name === "CarpAuth.verifyHeader (ours)");
  console.log(`\nTS verify: ${(v.ops / 1e6).toFixed(3)} M packets/s (target >= 0.5) ${v.ops >= 5e5 ? "OK" : "BELOW TARGET"}`);
}
