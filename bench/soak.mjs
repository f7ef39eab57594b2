#!/usr/bin/env node
// Soak: two of our daemons (vhid 1, advbase 1, default options) in a namespace lab, a failover every 10 s
// (`carp set --state backup` on whoever is MASTER; the other takes over at master-down), for 10 minutes
// by default. Reports each daemon's RSS and open fd count at the start (after the first failover) and the
// end, the failovers done, the time the VIP was on both hosts (100 ms samples) and whether a daemon died.
//   node bench/soak.mjs [--minutes N | --seconds N] [--every S] [--json]
//                       [--max-rss-growth-mb M] [--max-fd-growth F]
// Exit 0 when both daemons lived, every failover happened and the growth bounds (when given) held;
// 1 otherwise; 2 for bad usage. Needs root, iproute2 and a built dist/ (npx tsc -p tsconfig.build.json).
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const { Lab, sleep } = await import(join(root, "dist/lab/index.js"));
const cli = join(root, "dist/cli/main.js");
const VIP = "198.51.100.100";

function usage(msg) {
  process.stderr.write(`soak: ${msg}\nusage: node bench/soak.mjs [--minutes N | --seconds N] [--every S] [--json] [--max-rss-growth-mb M] [--max-fd-growth F]\n`);
  process.exit(2);
}

const opt = { seconds: 600, every: 10, json: false, maxRss: null, maxFd: null };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const num = (name) => {
    const v = Number(argv[++i]);
    if (!Number.isFinite(v) || v <= 0) usage(`${name} needs a positive number`);
    return v;
  };
  if (a === "--minutes") opt.seconds = num(a) * 60;
  else if (a === "--seconds") opt.seconds = num(a);
  else if (a === "--every") opt.every = num(a);
  else if (a === "--json") opt.json = true;
  else if (a === "--max-rss-growth-mb") opt.maxRss = num(a);
  else if (a === "--max-fd-growth") opt.maxFd = num(a);
  else if (a === "-h" || a === "--help") usage("help");
  else usage(`unknown argument ${a}`);
}
if (opt.every < 5) usage("--every must be at least 5 (a takeover takes about 3 s)");
if (process.getuid?.() !== 0) {
  process.stderr.write("soak: needs root (network namespaces)\n");
  process.exit(1);
}

/** RSS (KiB) and open fds of a pid. */
function usageOf(pid) {
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);
  return { rssKiB: rss, fds: readdirSync(`/proc/${pid}/fd`).length };
}

const lab = Lab.create({ prefix: `carpsoak-${process.pid}-` });
// Ctrl-C or a kill: the namespaces and daemons go with us.
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    lab.destroy();
    process.exit(1);
  });
}
let code = 1;
try {
  const hosts = ["a", "b"].map((n, i) => lab.addHost(n, { addrs: [`198.51.100.${11 + i}/24`], dad: false }));
  const sock = (h) => join(lab.dir, `${h.name}.sock`);
  const procs = hosts.map((h) =>
    h.spawn(process.execPath, [cli, "run", "-i", "eth0", "-s", h.addr, "-v", "1", "-p", "soak", "-a", `${VIP}/24`, "--log-format", "json", "-f", "none", "--control", sock(h)]),
  );
  const state = (i) => {
    try {
      const s = JSON.parse(execFileSync(process.execPath, [cli, "status", "--json", "--control", sock(hosts[i])], { encoding: "utf8" }));
      return s.vhids[0].state;
    } catch {
      return "DEAD";
    }
  };
  const masterIndex = () => [0, 1].filter((i) => state(i) === "MASTER");
  for (let t = Date.now(); masterIndex().length !== 1 || [0, 1].some((i) => state(i) === "INIT"); ) {
    if (Date.now() - t > 20_000) throw new Error(`no single master after 20 s: ${procs.map((p) => p.tail(1)).join(" / ")}`);
    await sleep(200);
  }
  let both = 0;
  let samples = 0;
  const sampler = setInterval(() => {
    samples++;
    if (hosts.every((h) => h.has(VIP))) both++;
  }, 100);
  let failovers = 0;
  const missed = [];
  let start = null;
  const t0 = Date.now();
  while (Date.now() - t0 < opt.seconds * 1000) {
    const [m] = masterIndex();
    if (m === undefined) {
      missed.push(`${Math.round((Date.now() - t0) / 1000)} s: no master`);
    } else {
      execFileSync(process.execPath, [cli, "set", "--control", sock(hosts[m]), "--vhid", "1", "--state", "backup"]);
      const end = Date.now() + (opt.every - 1) * 1000;
      while (Date.now() < end && state(1 - m) !== "MASTER") await sleep(100);
      if (state(1 - m) === "MASTER") failovers++;
      else missed.push(`${Math.round((Date.now() - t0) / 1000)} s: ${hosts[1 - m].name} did not take over`);
    }
    // The baseline is taken after the first failover: both daemons have been MASTER and BACKUP once.
    if (start === null && failovers >= 1) start = procs.map((p) => usageOf(p.pid));
    await sleep(Math.max(0, t0 + (failovers + missed.length) * opt.every * 1000 - Date.now()));
  }
  clearInterval(sampler);
  const alive = procs.map((p) => p.running && state(procs.indexOf(p)) !== "DEAD");
  const end = procs.map((p, i) => (alive[i] ? usageOf(p.pid) : { rssKiB: NaN, fds: NaN }));
  start ??= end;
  const growth = end.map((e, i) => ({ rssKiB: e.rssKiB - start[i].rssKiB, fds: e.fds - start[i].fds }));
  const report = {
    seconds: opt.seconds,
    every: opt.every,
    failovers,
    missed,
    alive,
    vipOnBothMs: both * 100,
    samples,
    daemons: hosts.map((h, i) => ({ host: h.name, start: start[i], end: end[i], growth: growth[i] })),
  };
  const problems = [];
  if (!alive.every(Boolean)) problems.push("a daemon died");
  if (missed.length) problems.push(`${missed.length} failover(s) missed`);
  if (opt.maxRss !== null && growth.some((g) => !(g.rssKiB <= opt.maxRss * 1024))) problems.push(`RSS grew more than ${opt.maxRss} MiB`);
  if (opt.maxFd !== null && growth.some((g) => !(g.fds <= opt.maxFd))) problems.push(`fds grew by more than ${opt.maxFd}`);
  report.problems = problems;
  if (opt.json) {
    console.log(JSON.stringify(report));
  } else {
    console.log(`soak ${opt.seconds} s, a failover every ${opt.every} s: ${failovers} failovers, ${missed.length} missed, VIP on both hosts ${report.vipOnBothMs} ms`);
    for (const d of report.daemons) {
      console.log(`  ${d.host}: RSS ${(d.start.rssKiB / 1024).toFixed(1)} -> ${(d.end.rssKiB / 1024).toFixed(1)} MiB, fds ${d.start.fds} -> ${d.end.fds}`);
    }
    for (const p of problems) console.log(`  problem: ${p}`);
  }
  code = problems.length ? 1 : 0;
} catch (e) {
  process.stderr.write(`soak: ${e instanceof Error ? e.message : e}\n`);
  code = 1;
} finally {
  await lab.close();
}
process.exit(code);
