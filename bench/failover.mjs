#!/usr/bin/env node
// Failover timing, `carp run` vs Debian ucarp, side by side in one run. Two namespaces (A, B) on a bridge
// in a third one; advbase 1, A advskew 10, B advskew 20, both with preempt. For each implementation and
// repetition:
//   start    A and B spawned together        -> dual-MASTER overlap (both MASTER at once), target 0
//   crash    SIGKILL A                       -> B's first advert after A's last, minus master-down
//                                               (3 s + 20/256 s): time "beyond protocol theory", ≤ 20 ms
//   preempt  A restarted                     -> overlap between A becoming MASTER and B leaving MASTER, ≤ 5 ms
//   graceful SIGTERM A                       -> B's first advert after the signal, ≤ 20 ms
// Adverts are timed by tcpdump on the bridge (kernel timestamps); states come from the daemons' logs
// (our JSON lines, ucarp's "Switching to state" lines, both with µs/ms timestamps from the same clock).
// Prints a table of medians and writes bench/results/failover-<date>.json.
//   node bench/failover.mjs [--reps N] [--quick]
// Needs root, iproute2, tcpdump, /usr/sbin/ucarp and a built dist/ (npx tsc -p tsconfig.build.json).
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const cli = join(repo, "dist/cli/main.js");
const UCARP = "/usr/sbin/ucarp";
const argv = process.argv.slice(2);
const quick = argv.includes("--quick") || process.env.CARP_BENCH_QUICK === "1";
const repsArg = argv.indexOf("--reps");
const reps = repsArg >= 0 ? Number(argv[repsArg + 1]) : quick ? 1 : 3;
const MASTER_DOWN_B = 3000 + (20 * 1000) / 256;

for (const [what, ok] of [["root", process.getuid?.() === 0], [cli, existsSync(cli)], [UCARP, existsSync(UCARP)], ["tcpdump", existsSync("/usr/bin/tcpdump")]]) {
  if (!ok) {
    console.error(`failover bench: needs ${what}`);
    process.exit(1);
  }
}

// ---- lab ---------------------------------------------------------------------------------------
const tag = `fb${process.pid % 10000}${randomBytes(2).toString("hex")}`;
const BR = `${tag}br`;
const hosts = [
  { ns: `${tag}a`, ip4: "198.51.100.21", skew: 10 },
  { ns: `${tag}b`, ip4: "198.51.100.22", skew: 20 },
];
const [A, B] = hosts;
const VIP = "198.51.100.120";
const tmp = mkdtempSync(join(tmpdir(), "carp-failover-"));
const procs = new Set();
const ip = (...a) => execFileSync("ip", a, { stdio: ["ignore", "ignore", "pipe"] });

function cleanup() {
  for (const p of procs) {
    try {
      p.kill("SIGKILL");
    } catch {}
  }
  for (const ns of [A.ns, B.ns, BR]) {
    try {
      for (const pid of execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {}
      }
      ip("netns", "del", ns);
    } catch {}
  }
  rmSync(tmp, { recursive: true, force: true });
}
process.on("exit", cleanup);
process.on("SIGINT", () => process.exit(130));

ip("netns", "add", BR);
ip("-n", BR, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
ip("-n", BR, "link", "set", "br0", "up");
hosts.forEach((h, i) => {
  ip("netns", "add", h.ns);
  ip("-n", h.ns, "link", "add", "eth0", "type", "veth", "peer", "name", `p${i}`, "netns", BR);
  ip("-n", BR, "link", "set", `p${i}`, "master", "br0");
  ip("-n", BR, "link", "set", `p${i}`, "up");
  ip("-n", h.ns, "link", "set", "lo", "up");
  ip("-n", h.ns, "addr", "add", `${h.ip4}/24`, "dev", "eth0");
  ip("-n", h.ns, "link", "set", "eth0", "up");
});

// ---- processes -----------------------------------------------------------------------------------
function spawnIn(ns, cmd, args) {
  const child = spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const p = { child, out: [], err: [], exited: null };
  const lines = (into) => {
    let buf = "";
    return (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        into.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    };
  };
  child.stdout.on("data", lines(p.out));
  child.stderr.on("data", lines(p.err));
  p.exited = new Promise((r) => child.on("exit", r));
  p.kill = (sig) => child.kill(sig);
  procs.add(child);
  return p;
}

/** State changes as [{ t (epoch ms), to }]. */
function states(impl, p) {
  if (impl === "carp") {
    return p.out
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l))
      .filter((e) => e.event === "transition")
      .map((e) => ({ t: e.ts, to: e.to }));
  }
  // ucarp: "2026-11-25T02:20:08.166198: [WARNING] Switching to state: MASTER" (local time, µs)
  return p.err
    .map((l) => /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{6}): .*Switching to state: (\w+)/.exec(l))
    .filter(Boolean)
    .map((m) => ({ t: new Date(`${m[1]}`).getTime() + Number(m[2]) / 1000, to: m[3] }));
}

function start(impl, h, vhid) {
  if (impl === "carp") {
    return spawnIn(h.ns, process.execPath, [cli, "run", "-i", "eth0", "-s", h.ip4, "-v", String(vhid), "-p", "bench", "-a", VIP,
      "-b", "1", "-k", String(h.skew), "-P", "--log-format", "json", "-f", "none", "--control", join(tmp, `${h.ns}.sock`)]);
  }
  const up = join(tmp, "up.sh");
  const down = join(tmp, "down.sh");
  if (!existsSync(up)) {
    writeFileSync(up, `#!/bin/sh\nip addr add "$2"/32 dev "$1" 2>/dev/null\nexit 0\n`);
    writeFileSync(down, `#!/bin/sh\nip addr del "$2"/32 dev "$1" 2>/dev/null\nexit 0\n`);
    chmodSync(up, 0o755);
    chmodSync(down, 0o755);
  }
  return spawnIn(h.ns, UCARP, ["-i", "eth0", "-s", h.ip4, "-v", String(vhid), "-p", "bench", "-a", VIP, "-b", "1", "-k", String(h.skew), "-P", "-u", up, "-d", down, "-f", "none"]);
}

/** tcpdump on the bridge: adverts as { t (epoch ms), src, vhid, advskew }. */
function capture() {
  const p = spawnIn(BR, "tcpdump", ["-i", "br0", "-n", "-tt", "-l", "-T", "carp", "ip proto 112"]);
  p.adverts = () =>
    p.out
      .map((l) => /^(\d+\.\d+) IP (\S+) > \S+ CARPv2-advertise \d+: vhid=(\d+) advbase=(\d+) advskew=(\d+)/.exec(l))
      .filter(Boolean)
      .map((m) => ({ t: Number(m[1]) * 1000, src: m[2], vhid: Number(m[3]), advbase: Number(m[4]), advskew: Number(m[5]) }));
  return p;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(fn, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fn()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}
const last = (arr) => arr[arr.length - 1];
const stateOf = (impl, p) => last(states(impl, p))?.to;

/** Total time both were MASTER within [from, to]. */
function overlap(sa, sb, from, to) {
  const intervals = (s) => {
    const out = [];
    let open = null;
    for (const e of s) {
      if (e.to === "MASTER" && open === null) open = e.t;
      else if (e.to !== "MASTER" && open !== null) {
        out.push([open, e.t]);
        open = null;
      }
    }
    if (open !== null) out.push([open, to]);
    return out.map(([a, b]) => [Math.max(a, from), Math.min(b, to)]).filter(([a, b]) => b > a);
  };
  let sum = 0;
  for (const [a1, a2] of intervals(sa)) for (const [b1, b2] of intervals(sb)) sum += Math.max(0, Math.min(a2, b2) - Math.max(a1, b1));
  return sum;
}

async function stopAll(list) {
  for (const p of list) p.kill("SIGKILL");
  await Promise.all(list.map((p) => p.exited));
  for (const h of hosts) execFileSync("ip", ["-n", h.ns, "addr", "flush", "dev", "eth0", "to", `${VIP}/32`], { stdio: "ignore" });
}

async function rep(impl, vhid) {
  const cap = capture();
  await sleep(300);
  const r = {};
  // 1. simultaneous start
  const t0 = Date.now();
  let pb = start(impl, B, vhid);
  let pa = start(impl, A, vhid);
  await until(() => stateOf(impl, pa) === "MASTER" && stateOf(impl, pb) === "BACKUP", 10_000, `${impl}: A MASTER after start`);
  await sleep(1500);
  r.startOverlapMs = overlap(states(impl, pa), states(impl, pb), t0, Date.now());

  // 2. crash failover
  const killAt = Date.now();
  pa.kill("SIGKILL");
  await until(() => stateOf(impl, pb) === "MASTER", 8000, `${impl}: B MASTER after crash`);
  await sleep(200);
  const ads = cap.adverts().filter((a) => a.vhid === vhid);
  const lastA = last(ads.filter((a) => a.src === A.ip4 && a.t <= killAt + 50));
  const firstB = ads.find((a) => a.src === B.ip4 && a.t > killAt && a.advskew !== 255);
  r.crashTakeoverMs = firstB.t - lastA.t;
  r.crashBeyondTheoryMs = r.crashTakeoverMs - MASTER_DOWN_B;
  await pa.exited;
  execFileSync("ip", ["-n", A.ns, "addr", "flush", "dev", "eth0", "to", `${VIP}/32`], { stdio: "ignore" });

  // 3. preemption: A comes back and takes over
  const restartAt = Date.now();
  pa = start(impl, A, vhid);
  await until(() => stateOf(impl, pa) === "MASTER" && stateOf(impl, pb) === "BACKUP", 10_000, `${impl}: A preempts`);
  await sleep(1500);
  r.preemptOverlapMs = overlap(states(impl, pa), states(impl, pb).filter((e) => e.t >= restartAt - 5000), restartAt, Date.now());

  // 4. graceful stop of the master
  const termAt = Date.now();
  pa.kill("SIGTERM");
  await until(() => stateOf(impl, pb) === "MASTER", 8000, `${impl}: B MASTER after SIGTERM`);
  await sleep(200);
  const firstB2 = cap.adverts().find((a) => a.vhid === vhid && a.src === B.ip4 && a.t > termAt && a.advskew !== 255);
  r.gracefulTakeoverMs = firstB2.t - termAt;

  await stopAll([pa, pb]);
  cap.kill("SIGTERM");
  await cap.exited;
  return r;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const metrics = [
  ["crashBeyondTheoryMs", "crash failover beyond master-down", 20],
  ["gracefulTakeoverMs", "graceful stop -> takeover", 20],
  ["preemptOverlapMs", "dual-master overlap on preemption", 5],
  ["startOverlapMs", "dual-master overlap at simultaneous start", 0],
  ["crashTakeoverMs", "crash: last advert -> new master's first", null],
];

const results = { carp: [], ucarp: [] };
try {
  let vhid = 30;
  for (let i = 0; i < reps; i++) {
    for (const impl of ["carp", "ucarp"]) {
      const r = await rep(impl, ++vhid);
      results[impl].push(r);
      console.error(`rep ${i + 1} ${impl}: ${Object.entries(r).map(([k, v]) => `${k}=${v.toFixed(2)}`).join(" ")}`);
    }
  }
} catch (e) {
  console.error(`failover bench: ${e.message}`);
  process.exitCode = 1;
}

const rows = metrics.map(([key, label, target]) => {
  const c = results.carp.map((r) => r[key]);
  const u = results.ucarp.map((r) => r[key]);
  return { key, label, target, carp: c.length ? median(c) : null, ucarp: u.length ? median(u) : null, carpAll: c, ucarpAll: u };
});
const fmt = (v) => (v === null ? "-" : v.toFixed(2));
console.log(`failover, advbase 1, advskew 10/20, medians of ${reps} run(s), milliseconds`);
console.log("| metric | carp run | ucarp | target (carp) |");
console.log("|---|---:|---:|---:|");
for (const r of rows) console.log(`| ${r.label} | ${fmt(r.carp)} | ${fmt(r.ucarp)} | ${r.target === null ? "" : `≤ ${r.target}`} |`);
const outDir = join(repo, "bench/results");
mkdirSync(outDir, { recursive: true });
// Quick (smoke) runs overwrite one file; full runs keep a dated record.
const file = join(outDir, quick ? "failover-quick.json" : `failover-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), reps, quick, advbase: 1, advskew: [10, 20], masterDownMs: MASTER_DOWN_B, rows, runs: results }, null, 2) + "\n");
console.log(`wrote ${file}`);
