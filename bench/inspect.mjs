// Inspector throughput: `carp inspect --read F --summary` (HMAC verified for every advert) and
// `--json` against tshark's CARP dissector on the same generated capture, in one run.
//   node bench/inspect.mjs [packets=1000000] [vhids=200]
// Needs a built dist/ (npx tsc -p tsconfig.build.json) and tshark on PATH. Prints packets/s and ratios.
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(import.meta.url), "../..");
const dist = (p) => join(root, "dist", p);
const { encodeCarp } = await import(dist("protocol/carp.js"));
const { CarpAuth } = await import(dist("protocol/hmac.js"));
const { buildIpv4 } = await import(dist("protocol/ip.js"));
const { buildEthernet } = await import(dist("protocol/link.js"));
const { nativeCodecAvailable, nativeSha1Impl } = await import(dist("protocol/native-codec.js"));

const N = Number(process.argv[2] ?? 1_000_000);
const VHIDS = Number(process.argv[3] ?? 200);
const dir = mkdtempSync(join(tmpdir(), "carp-bench-inspect-"));
const pcap = join(dir, "adverts.pcap");
const cfg = join(dir, "carp.yaml");
const passfile = join(dir, "passwords");

const vip = (v) => `203.0.113.${v}`;
async function generate() {
  const yaml = ["vhids:"];
  const tmpl = [];
  for (let v = 1; v <= VHIDS; v++) {
    const password = `pw-${v}`;
    yaml.push(`  - { interface: eth0, vhid: ${v}, password: "${password}", addresses: ["${vip(v)}/24"] }`);
    const auth = CarpAuth.create({ vhid: v, v4: [vip(v)], password });
    const src = v % 2 ? "198.51.100.1" : "198.51.100.2";
    const carp = encodeCarp({ vhid: v, advbase: 1, advskew: v % 2 ? 0 : 100, counter: 0n, hmac: Buffer.alloc(20) });
    const ip = buildIpv4({ src, dst: "224.0.0.18", proto: 112, payload: carp, ttl: 255, tos: 0x10 });
    const frame = buildEthernet("01:00:5e:00:00:12", `00:00:5e:00:01:${v.toString(16).padStart(2, "0")}`, 0x0800, ip);
    tmpl.push({ auth, frame, carpOff: 14 + 20, counter: BigInt(v) << 32n });
  }
  writeFileSync(cfg, yaml.join("\n") + "\n");
  writeFileSync(passfile, Array.from({ length: VHIDS }, (_, i) => `${i + 1}=pw-${i + 1}`).join("\n") + "\n");
  const out = createWriteStream(pcap, { highWaterMark: 1 << 22 });
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(262144, 16);
  hdr.writeUInt32LE(1, 20);
  out.write(hdr);
  const recLen = 16 + tmpl[0].frame.length;
  const CH = 8192;
  const t0 = 1_700_000_000;
  for (let base = 0; base < N; base += CH) {
    const n = Math.min(CH, N - base);
    const chunk = Buffer.alloc(n * recLen);
    for (let k = 0; k < n; k++) {
      const i = base + k;
      const t = tmpl[i % VHIDS];
      const o = k * recLen;
      const time = t0 + i * (1 / VHIDS); // every vhid advertises once a second
      const sec = Math.floor(time);
      chunk.writeUInt32LE(sec, o);
      chunk.writeUInt32LE(Math.round((time - sec) * 1e6) % 1_000_000, o + 4);
      chunk.writeUInt32LE(t.frame.length, o + 8);
      chunk.writeUInt32LE(t.frame.length, o + 12);
      t.frame.copy(chunk, o + 16);
      const c = o + 16 + t.carpOff;
      t.counter++;
      chunk.writeBigUInt64BE(t.counter, c + 8);
      t.auth.signInto(t.counter, chunk, c + 16);
      chunk[c + 6] = 0;
      chunk[c + 7] = 0;
      let sum = 0;
      for (let j = 0; j < 36; j += 2) sum += (chunk[c + j] << 8) | chunk[c + j + 1];
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      chunk.writeUInt16BE(~sum & 0xffff, c + 6);
    }
    if (!out.write(chunk)) await new Promise((r) => out.once("drain", r));
  }
  await new Promise((r) => out.end(r));
}

/**
 * Best (lowest) wall time of `reps` runs: the machine is shared, so single runs are noisy; the same
 * rule is applied to every row, tshark included. 3 runs (tshark 2) for full size, 1 for small ones.
 */
const REPS = N >= 200_000 ? 3 : 1;
async function timed(cmd, args, opts = {}, reps = REPS) {
  let best = null;
  for (let i = 0; i < reps; i++) {
    const r = await timedOnce(cmd, args, opts);
    if (!best || r.s < best.s) best = r;
  }
  return best;
}

/** Runs a command with stdout discarded or captured; returns wall seconds. */
function timedOnce(cmd, args, { capture = false, env } = {}) {
  return new Promise((res, rej) => {
    const t = process.hrtime.bigint();
    const c = spawn(cmd, args, { stdio: ["ignore", capture ? "pipe" : "ignore", "pipe"], env: { ...process.env, ...env } });
    let out = "", err = "";
    c.stdout?.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (err += d));
    c.on("exit", (code) => {
      const s = Number(process.hrtime.bigint() - t) / 1e9;
      if (code !== 0) rej(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${err}`));
      else res({ s, out });
    });
  });
}

const cli = join(root, "dist/cli/main.js");
try {
  const g0 = Date.now();
  await generate();
  console.log(`generated ${N} adverts over ${VHIDS} vhids in ${((Date.now() - g0) / 1000).toFixed(1)} s (${pcap})`);
  console.log(`native codec: ${nativeCodecAvailable() ? `yes (sha1 ${nativeSha1Impl()})` : "no (TypeScript fallback)"}`);

  const sum = await timed(process.execPath, [cli, "inspect", "--read", pcap, "--summary", "--json", "--config", cfg], { capture: true });
  const view = JSON.parse(sum.out);
  const ok = view.vhids.reduce((a, v) => a + v.auth.ok, 0);
  if (ok !== N) throw new Error(`summary verified ${ok} of ${N} adverts`);
  const vipArgs = Array.from({ length: VHIDS }, (_, i) => `--vip=${i + 1}=${vip(i + 1)}`);
  const flags = await timed(process.execPath, [cli, "inspect", "--read", pcap, "--summary", "--json", "--passfile", passfile, ...vipArgs], { capture: true });
  if (JSON.parse(flags.out).vhids.reduce((a, v) => a + v.auth.ok, 0) !== N) throw new Error("--passfile/--vip run did not verify every advert");
  const ts = await timed(process.execPath, [cli, "inspect", "--read", pcap, "--summary", "--json", "--config", cfg], {
    capture: true, env: { CARP_NO_NATIVE: "1" },
  });
  const json = await timed("sh", ["-c", `"${process.execPath}" "${cli}" inspect --read "${pcap}" --json --config "${cfg}" > /dev/null`]);
  const line = await timed("sh", ["-c", `"${process.execPath}" "${cli}" inspect --read "${pcap}" --config "${cfg}" > /dev/null`]);
  const tshark = spawnSync("tshark", ["--version"]).status === 0
    ? await timed("tshark", ["-n", "-r", pcap, "-d", "ip.proto==112,carp", "-T", "fields", "-e", "carp.vhid", "-e", "carp.advskew", "-e", "carp.counter", "-e", "carp.hmac"], {}, Math.min(REPS, 2))
    : null;
  const rate = (r) => N / r.s;
  const rows = [
    ["carp inspect --summary --config (HMAC verified, native)", sum],
    ["carp inspect --summary --passfile --vip (HMAC verified)", flags],
    ["carp inspect --summary (HMAC verified, CARP_NO_NATIVE=1)", ts],
    ["carp inspect --json (HMAC verified)", json],
    ["carp inspect (lines, HMAC verified)", line],
    ["tshark -d ip.proto==112,carp -T fields (no HMAC)", tshark],
  ].filter(([, r]) => r);
  const base = tshark ? rate(tshark) : null;
  console.log(`best of ${REPS} run(s) each${REPS > 1 ? " (tshark: best of 2)" : ""}; wall time including process start`);
  console.log("");
  console.log(`${"what".padEnd(58)} ${"seconds".padStart(8)} ${"packets/s".padStart(12)} ${"vs tshark".padStart(10)}`);
  for (const [name, r] of rows) {
    console.log(`${name.padEnd(58)} ${r.s.toFixed(2).padStart(8)} ${Math.round(rate(r)).toLocaleString("en").padStart(12)} ${base ? `${(rate(r) / base).toFixed(1)}x`.padStart(10) : ""}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
