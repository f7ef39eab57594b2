#!/usr/bin/env node
// Scale benchmark (needs root, a built dist/): N vhids on one interface, all MASTER, in a lab
// namespace, measured for a steady window:
//   ours        one `carp run --config` process with N vhids
//   ucarp       N ucarp processes (one per vhid), for comparison
//   keepalived  one keepalived with N vrrp_instances (VRRPv2), when installed
// Metrics per implementation: the processes (each started process and all its descendants, from
// /proc's parent links, listed by name: a daemon's `sh`/`ip monitor`/`logger` children show up), CPU %
// of one core (user+sys of those processes plus the children they reaped, so short-lived `ip` runs
// count), RSS (sum, MB), and advert interval jitter p50/p99 (|interval - advbase|, ms) measured
// by tcpdump on an observer host (and the median interval, to tell drift from jitter). Targets for ours
// (issue 14): one process, RSS ≤ 60 MB, CPU and p99 jitter no worse than keepalived's in the same run.
//   node bench/scale.mjs [--vhids 255] [--seconds 20] [--quick] [--only ours,ucarp,keepalived] [--json FILE] [--dump PREFIX] [--rtprio N]
// (CARP_BENCH_NODE_FLAGS="..." runs ours with those node flags instead of the bin's shebang flags)
// (--dump writes the captured window, PREFIX.<impl>.json, for looking at individual intervals)
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repo = join(fileURLToPath(new URL(".", import.meta.url)), "..");
const lab = await import(pathToFileURL(join(repo, "dist/lab/index.js")).href).catch(() => {
  console.error("bench/scale: dist/lab is missing; run `npm run build` first");
  process.exit(1);
});
const { Lab, AdvertCapture, carpCli, which, sleep, intervals } = lab;

const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const quick = argv.includes("--quick");
const N = Number(arg("vhids", quick ? 16 : 255));
const SECONDS = Number(arg("seconds", quick ? 4 : 20));
const only = (arg("only", "ours,ucarp,keepalived") ?? "").split(",");
const RTPRIO = arg("rtprio", undefined); // runs ours with CARP_RTPRIO=N (SCHED_FIFO), off by default
const TICK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100; // /proc tick rate
if (!(N >= 1 && N <= 255)) throw new Error("--vhids must be 1-255");

const vip = (i) => `203.0.113.${i}`;
const NODE_ADDR = "198.51.100.10";

/** Every live process (pid → parent pid). */
function parents() {
  const ppid = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      ppid.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      /* exited */
    }
  }
  return ppid;
}

/** The given pids and all their live descendants. */
function descendants(roots) {
  const ppid = parents();
  const kids = new Map();
  for (const [pid, pp] of ppid) kids.set(pp, [...(kids.get(pp) ?? []), pid]);
  const out = new Set();
  const todo = roots.filter((p) => ppid.has(p));
  while (todo.length) {
    const p = todo.pop();
    if (out.has(p)) continue;
    out.add(p);
    todo.push(...(kids.get(p) ?? []));
  }
  return [...out];
}

/**
 * Sum of CPU ticks (utime+stime, plus cutime+cstime: children already reaped, counted once at their
 * reaper) and RSS (kB) over the started processes and their descendants; `nsProcs` counts every process
 * in the namespace as a cross-check.
 */
function usage(roots, ns) {
  let ticks = 0;
  let rssKb = 0;
  let procs = 0;
  let maxRssKb = 0;
  const names = {};
  for (const pid of descendants(roots)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      const kb = m ? Number(m[1]) : 0;
      rssKb += kb;
      maxRssKb = Math.max(maxRssKb, kb);
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      names[comm] = (names[comm] ?? 0) + 1;
      procs++;
    } catch {
      /* exited */
    }
  }
  return { ticks, rssKb, procs, maxRssKb, names, nsProcs: readPids(ns).length };
}

function readPids(ns) {
  // `ip netns pids` lists every process whose network namespace is ns.
  return lab.sh("ip", ["netns", "pids", ns]).split(/\s+/).filter(Boolean).map(Number);
}

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** The node flags of the `carp` bin's shebang (`#!/usr/bin/env -S node FLAGS`): run ours as installed. */
function binNodeFlags() {
  // CARP_BENCH_NODE_FLAGS="--flag ..." replaces them (to measure a candidate flag set).
  if (process.env.CARP_BENCH_NODE_FLAGS !== undefined) return process.env.CARP_BENCH_NODE_FLAGS.split(/\s+/).filter(Boolean);
  const first = readFileSync(carpCli(), "utf8").split("\n", 1)[0];
  const m = /^#!\/usr\/bin\/env -S node (.+)$/.exec(first);
  return m ? m[1].trim().split(/\s+/) : [];
}

async function startImpl(kind, host) {
  if (kind === "ours") {
    const cfg = join(host.lab.dir, "scale.yaml");
    const lines = ["preempt: true", "log: { format: json }", "defaults:", "  interface: eth0", "  advbase: 1", "  advskew: 0", "  password: scalebench", "vhids:"];
    for (let i = 1; i <= N; i++) lines.push(`  - { vhid: ${i}, addresses: ["${vip(i)}/32"] }`);
    writeFileSync(cfg, lines.join("\n") + "\n");
    const env = RTPRIO ? { ...process.env, CARP_RTPRIO: RTPRIO } : undefined;
    return [host.spawn(process.execPath, [...binNodeFlags(), carpCli(), "run", "--config", cfg, "--control", join(host.lab.dir, "scale.ctl")], env ? { env } : {})];
  }
  if (kind === "ucarp") {
    const procs = [];
    for (let i = 1; i <= N; i++) {
      procs.push(host.spawn("ucarp", ["-i", "eth0", "-s", NODE_ADDR, "-v", String(i), "-p", "scalebench", "-a", vip(i), "-b", "1", "-k", "0", "-P", "-n"]));
    }
    return procs;
  }
  const conf = join(host.lab.dir, "keepalived.conf");
  const lines = ["global_defs {", "  router_id scale", "  enable_script_security", "}"];
  for (let i = 1; i <= N; i++) {
    lines.push(`vrrp_instance V${i} {`, "  state BACKUP", "  interface eth0", `  virtual_router_id ${i}`, "  priority 200", "  advert_int 1", `  virtual_ipaddress {\n    ${vip(i)}/32 dev eth0\n  }`, "}");
  }
  writeFileSync(conf, lines.join("\n") + "\n");
  const b = join(host.lab.dir, "ka");
  return [host.spawn("keepalived", ["-n", "-l", "-P", "-f", conf, "-p", `${b}.pid`, "-r", `${b}-vrrp.pid`, "-c", `${b}-chk.pid`])];
}

async function measure(kind) {
  const l = Lab.create({ prefix: lab.uniquePrefix("carpscale") });
  try {
    const node = l.addHost("node", { addrs: [`${NODE_ADDR}/24`] });
    const obs = l.addHost("obs", { addrs: ["198.51.100.2/24"] });
    const cap = await AdvertCapture.start(obs, { decode: kind === "keepalived" ? "vrrp" : "carp" });
    const t0 = Date.now();
    const procs = await startImpl(kind, node);
    // Wait until every vhid advertises (master-down 3 s, plus start-up), then settle 2 s.
    const allUp = () => new Set(cap.adverts.filter((a) => a.t > t0).map((a) => a.vhid)).size >= N;
    const end = Date.now() + 30000;
    while (!allUp() && Date.now() < end) {
      if (procs.every((p) => !p.running)) throw new Error(`${kind} exited: ${procs[0].tail(2)}`);
      await sleep(200);
    }
    if (!allUp()) throw new Error(`${kind}: only ${new Set(cap.adverts.map((a) => a.vhid)).size}/${N} vhids advertising after 30 s`);
    const startupMs = Date.now() - t0;
    await sleep(2000);
    const roots = procs.map((p) => p.pid).filter((p) => p !== undefined);
    const u0 = usage(roots, node.ns);
    const w0 = Date.now();
    const from = w0;
    await sleep(SECONDS * 1000);
    const u1 = usage(roots, node.ns);
    const wall = (Date.now() - w0) / 1000;
    const window = cap.adverts.filter((a) => a.t >= from);
    if (arg("dump")) writeFileSync(`${arg("dump")}.${kind}.json`, JSON.stringify(window.map((a) => ({ t: a.t, vhid: a.vhid, src: a.src }))));
    const jitter = [];
    const ivs = [];
    for (let v = 1; v <= N; v++) {
      for (const iv of intervals(window, NODE_ADDR, v)) {
        jitter.push(Math.abs(iv - 1000));
        ivs.push(iv);
      }
    }
    jitter.sort((a, b) => a - b);
    ivs.sort((a, b) => a - b);
    // An interval of ~k seconds means k-1 adverts were never seen (window edges do not count).
    const missing = ivs.reduce((n, iv) => n + Math.max(0, Math.round(iv / 1000) - 1), 0);
    await cap.stop();
    const capStats = cap.stats();
    return {
      impl: kind,
      vhids: N,
      processes: u1.procs,
      namespaceProcesses: u1.nsProcs,
      seconds: Math.round(wall * 10) / 10,
      startupMs,
      cpuPct: Math.round(((u1.ticks - u0.ticks) / TICK / wall) * 10000) / 100,
      rssMB: Math.round((u1.rssKb / 1024) * 10) / 10,
      largestProcessRssMB: Math.round((u1.maxRssKb / 1024) * 10) / 10,
      processNames: u1.names,
      adverts: window.length,
      advertsPerSec: Math.round((window.length / wall) * 10) / 10,
      missingAdverts: missing,
      // Frames the observer's capture lost (kernel drops); missing adverts beyond these were not sent.
      captureDropped: capStats?.dropped ?? null,
      jitterP50ms: Math.round(quantile(jitter, 0.5) * 1000) / 1000,
      jitterP99ms: Math.round(quantile(jitter, 0.99) * 1000) / 1000,
      jitterMaxMs: Math.round((jitter.at(-1) ?? NaN) * 1000) / 1000,
      // A constant drift (e.g. 1001.7 ms intervals) counts as jitter above; the median shows it.
      intervalMedianMs: Math.round(quantile(ivs, 0.5) * 1000) / 1000,
    };
  } finally {
    await l.close(1000);
  }
}

export async function runScale() {
  const rows = [];
  const kinds = [
    ["ours", true],
    ["ucarp", which("ucarp") !== null],
    ["keepalived", which("keepalived") !== null],
  ].filter(([k, ok]) => ok && only.includes(k));
  for (const [k] of kinds) {
    process.stderr.write(`scale: ${k} with ${N} vhids, ${SECONDS} s window...\n`);
    try {
      rows.push(await measure(k));
    } catch (e) {
      rows.push({ impl: k, vhids: N, error: String(e?.message ?? e).split("\n")[0] });
    }
  }
  const ours = rows.find((r) => r.impl === "ours" && !r.error);
  // Issue 14's targets: one process, RSS ≤ 60 MB, CPU and jitter p99 no worse than keepalived's in this run.
  const ka = rows.find((r) => r.impl === "keepalived" && !r.error);
  const targets = ours
    ? {
        oneProcess: ours.processes === 1,
        rssAtMost60MB: ours.rssMB <= 60,
        cpuNoWorseThanKeepalived: ka ? ours.cpuPct <= ka.cpuPct : null,
        p99JitterNoWorseThanKeepalived: ka ? ours.jitterP99ms <= ka.jitterP99ms : null,
      }
    : null;
  return { name: "scale", date: new Date().toISOString(), quick, vhids: N, seconds: SECONDS, rows, targets };
}

export function scaleMarkdown(res) {
  const head = "| impl | vhids | processes | process names | CPU % of a core | RSS MB | adverts/s | missed | median interval ms | jitter p50 ms | jitter p99 ms | max ms |\n|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|";
  const names = (r) => Object.entries(r.processNames).map(([n, c]) => `${n} ${c}`).join(", ");
  const body = res.rows.map((r) =>
    r.error
      ? `| ${r.impl} | ${r.vhids} | – | | error: ${r.error} | | | | | | | |`
      : `| ${r.impl} | ${r.vhids} | ${r.processes} | ${names(r)} | ${r.cpuPct} | ${r.rssMB} | ${r.advertsPerSec} | ${r.missingAdverts} | ${r.intervalMedianMs} | ${r.jitterP50ms} | ${r.jitterP99ms} | ${r.jitterMaxMs} |`,
  );
  return [head, ...body].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.getuid?.() !== 0) {
    console.error("bench/scale: needs root (network namespaces)");
    process.exit(1);
  }
  const res = await runScale();
  console.log(scaleMarkdown(res));
  if (res.targets) console.log(`targets (ours): ${JSON.stringify(res.targets)}`);
  const out = arg("json");
  if (out) writeFileSync(out, JSON.stringify(res, null, 2) + "\n");
}
