#!/usr/bin/env node
// 255 VRRPv3 vrids in one `carp run` (YAML, all priority 150, alone on the link so all MASTER) at one
// interval: adverts per second seen by an observer (tcpdump), the daemon's CPU and RSS, and per-vrid interval
// jitter (|gap − interval|, p50/p99), over --seconds S (default 10) after the elections.
//   node bench/scale-vrrp3.mjs [--cs 10] [--seconds 10]
// Needs root, tcpdump and a built dist/. Prints one JSON line per run.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const argv = process.argv.slice(2);
const opt = (n, d) => (argv.includes(`--${n}`) ? Number(argv[argv.indexOf(`--${n}`) + 1]) : d);
const cs = opt("cs", 10);
const seconds = opt("seconds", 10);
if (!Number.isInteger(cs) || cs < 1 || cs > 4095) {
  console.error(`scale-vrrp3: --cs must be 1..4095, got ${cs}`);
  process.exit(2);
}
const { Lab, cleanupPrefix, uniquePrefix, AdvertCapture, carpCli } = await import(pathToFileURL(join(repo, "dist/lab/index.js")).href);
const lab = Lab.create({ prefix: uniquePrefix("v3scale") });
try {
  const a = lab.addHost("a", { addrs: ["198.51.100.11/24"] });
  const o = lab.addHost("o", { addrs: ["198.51.100.2/24"] });
  const vh = [];
  for (let i = 1; i <= 255; i++) vh.push(`  - { vhid: ${i}, version: 3, vrrpprio: 150, vrrpinterval: ${cs}, addresses: [203.0.113.${i}/32] }`);
  const conf = join(lab.dir, "c.yaml");
  writeFileSync(conf, `defaults:\n  interface: eth0\nvhids:\n${vh.join("\n")}\n`);
  const cap = await AdvertCapture.start(o, { decode: "vrrp" });
  const p = a.spawn(process.execPath, [carpCli(), "run", "--config", conf, "--control", join(lab.dir, "c.ctl"), "-f", "none"]);
  await new Promise((r) => setTimeout(r, 3000 + 4 * cs * 10));
  // `ip netns exec` execs in place: the spawned pid is node's.
  const ticks = () => {
    const s = readFileSync(`/proc/${p.pid}/stat`, "utf8").split(") ")[1].split(" ");
    return Number(s[11]) + Number(s[12]);
  };
  const c0 = ticks();
  const t0 = Date.now();
  const n0 = cap.adverts.length;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const c1 = ticks();
  const t1 = Date.now();
  const n1 = cap.adverts.length;
  const st = JSON.parse(a.exec(process.execPath, [carpCli(), "status", "--json", "--control", join(lab.dir, "c.ctl")]));
  const by = new Map();
  for (const ad of cap.adverts.slice(n0, n1)) (by.get(ad.vhid) ?? by.set(ad.vhid, []).get(ad.vhid)).push(ad.t);
  const dev = [];
  for (const ts of by.values()) for (let i = 1; i < ts.length; i++) dev.push(Math.abs(ts[i] - ts[i - 1] - cs * 10));
  dev.sort((x, y) => x - y);
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, "utf8"))[1]);
  console.log(JSON.stringify({
    vrids: 255, intervalMs: cs * 10, masters: st.vhids.filter((v) => v.state === "MASTER").length,
    advertsPerS: Math.round((n1 - n0) / ((t1 - t0) / 1000)), expectedPerS: (255 * 100) / cs,
    cpuPercent: Math.round(((c1 - c0) / ((t1 - t0) / 1000)) * 10) / 10, rssMB: Math.round(rss / 102.4) / 10,
    jitterMs: { p50: dev[Math.floor(dev.length * 0.5)], p99: dev[Math.floor(dev.length * 0.99)] },
  }));
  await cap.stop();
} finally {
  await lab.close();
  cleanupPrefix(lab.prefix);
}
