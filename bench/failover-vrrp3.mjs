#!/usr/bin/env node
// VRRPv3 failover at a 10 ms interval (1 cs): ours (`carp run --vrrp3`) and keepalived 2.2 (`vrrp_version 3`,
// advert_int 0.01), each paired with itself on one lab topology (hosts a, b and an observer on a bridge).
// A priority 200, B priority 100, both preempt; B's master-down (RFC 9568) = 3 × 10 ms + (256 − 100)/256 × 10 ms
// = 36.1 ms. Per implementation:
//   crash  (--reps N, default 10; a fresh vrid each): A and B started, A MASTER and B BACKUP held for 1 s,
//          SIGKILL A -> A's last advert to B's first (tcpdump on the observer) and to the VIP present on B
//          (`ip -ts monitor address` in B's namespace)
//   steady (--seconds S, default 60): A and B running undisturbed: B's false takeovers (BACKUP -> MASTER),
//          A's losses of MASTER, and adverts gaps > master-down seen on the wire
// Prints a markdown table and writes bench/results/failover-vrrp3-<date>.{json,md}.
//   node bench/failover-vrrp3.mjs [--reps N] [--seconds S] [--impls carp,keepalived]
//   (also: node bench/failover.mjs --vrrp3 [same options])
// Needs root, tcpdump, keepalived and a built dist/.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const INTERVAL_CS = 1;
const PRIO = { a: 200, b: 100 };
const masterDownMs = (prio, cs) => 3 * cs * 10 + ((256 - prio) * cs * 10) / 256;
const VIP = "198.51.100.130";
const MON_RE = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{6})\] (Deleted )?\d+: \S+\s+inet6? ([0-9a-f.:]+)\//;

function quantile(s, q) {
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (i - lo);
}
const summary = (xs) => {
  if (!xs.length) return null;
  const s = [...xs].sort((x, y) => x - y);
  return { n: s.length, median: quantile(s, 0.5), min: s[0], max: s.at(-1), values: xs };
};
const num = (v) => (Math.abs(v) < 10 ? v.toFixed(2) : Math.abs(v) < 1000 ? v.toFixed(1) : v.toFixed(0));
const cell = (st) => (!st ? "–" : st.n === 1 ? num(st.median) : `${num(st.median)} (${num(st.min)}–${num(st.max)})`);

/** Runs the scenario; returns the exit code. `argv`: the command-line options. */
export async function runVrrp3(argv) {
  const opt = (name) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const fail = (msg) => {
    console.error(`failover-vrrp3 bench: ${msg}`);
    return 1;
  };
  const reps = opt("reps") === undefined ? 10 : Number(opt("reps"));
  const seconds = opt("seconds") === undefined ? 60 : Number(opt("seconds"));
  if (!Number.isInteger(reps) || reps < 1 || reps > 100) return fail(`--reps must be an integer 1..100, got ${opt("reps")}`);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 3600) return fail(`--seconds must be 0..3600, got ${opt("seconds")}`);
  const wanted = (opt("impls") ?? "carp,keepalived").split(",");
  for (const w of wanted) if (!["carp", "keepalived"].includes(w)) return fail(`--impls: unknown implementation ${w} (carp, keepalived)`);
  if (process.getuid?.() !== 0) return fail("needs root (network namespaces)");
  const labIndex = join(repo, "dist/lab/index.js");
  if (!existsSync(labIndex)) return fail("needs a built dist/ (npx tsc -p tsconfig.build.json)");
  const { Lab, AdvertCapture, measureTakeover, uniquePrefix, which, sleep, cleanupPrefix } = await import(pathToFileURL(labIndex).href);
  const { startOursVrrp3, startKeepalivedVrrp3, waitState } = await import(pathToFileURL(join(repo, "dist/lab/vrrp3.js")).href);
  if (!which("tcpdump")) return fail("needs tcpdump");

  const lab = Lab.create({ prefix: uniquePrefix("vrrp3fo") });
  const stopAll = () => {
    lab.destroy();
    cleanupPrefix(lab.prefix);
  };
  process.once("SIGINT", () => {
    stopAll();
    process.exit(130);
  });
  const A = lab.addHost("a", { addrs: ["198.51.100.31/24"] });
  const B = lab.addHost("b", { addrs: ["198.51.100.32/24"] });
  const obs = lab.addHost("obs", { addrs: ["198.51.100.3/24"] });
  const vipOn = new Map();
  for (const h of [A, B]) {
    const ev = [];
    vipOn.set(h, ev);
    h.spawn("ip", ["-ts", "monitor", "address"]).on("line", (l) => {
      const m = MON_RE.exec(l.text);
      if (m && m[4] === VIP) ev.push({ t: new Date(m[1]).getTime() + Number(m[2]) / 1000, present: !m[3] });
    });
  }
  const cap = await AdvertCapture.start(obs, { decode: "vrrp" });
  await sleep(300);
  const start = (kind, h, vrid) =>
    (kind === "carp" ? startOursVrrp3 : startKeepalivedVrrp3)(h, { vrid, vip: VIP, priority: PRIO[h.name], intervalCs: INTERVAL_CS, preempt: true });
  const dropVip = (h) => {
    try {
      h.ip("addr", "del", `${VIP}/32`, "dev", "eth0");
    } catch {
      /* not there */
    }
  };
  const md = masterDownMs(PRIO.b, INTERVAL_CS);
  const out = {};
  let vrid = 60;
  const started = new Date();
  try {
    for (const kind of wanted) {
      const r = (out[kind] = { crash: [], crashVip: [], beyond: [], errors: [], steady: null });
      if (kind === "keepalived" && !which("keepalived")) {
        r.skipped = "keepalived not installed";
        continue;
      }
      for (let i = 0; i < reps; i++) {
        const v = ++vrid;
        const a = start(kind, A, v);
        const b = start(kind, B, v);
        try {
          if (!(await waitState(a, "MASTER", 8000)) || !(await waitState(b, "BACKUP", 8000))) throw new Error(`no election: a ${a.state}, b ${b.state}`);
          await sleep(1000);
          if (a.state !== "MASTER" || b.state !== "BACKUP") throw new Error(`unstable before the crash: a ${a.state}, b ${b.state}`);
          const t0 = Date.now();
          a.proc.signal("SIGKILL");
          if (!(await waitState(b, "MASTER", 3000))) throw new Error("B never became MASTER");
          await sleep(300);
          const m = measureTakeover(cap.adverts, v, B.addr, t0 - 1000);
          if (!m) throw new Error("takeover not seen on the wire");
          const vip = vipOn.get(B).find((e) => e.present && e.t >= m.lastOld.t);
          r.crash.push(m.gapMs);
          r.beyond.push(m.gapMs - md);
          if (vip) r.crashVip.push(vip.t - m.lastOld.t);
          console.error(`${kind} rep ${i + 1}/${reps}: last advert -> B's first ${m.gapMs.toFixed(2)} ms, -> VIP on B ${vip ? (vip.t - m.lastOld.t).toFixed(2) : "?"} ms`);
        } catch (e) {
          r.errors.push(`rep ${i + 1}: ${e instanceof Error ? e.message : e}`);
          console.error(`${kind} rep ${i + 1}/${reps}: FAILED: ${e instanceof Error ? e.message : e}`);
        } finally {
          await a.proc.stop(500);
          await b.proc.stop(500);
          dropVip(A);
          dropVip(B);
        }
      }
      if (seconds > 0) {
        const v = ++vrid;
        const a = start(kind, A, v);
        const b = start(kind, B, v);
        try {
          if (!(await waitState(a, "MASTER", 8000)) || !(await waitState(b, "BACKUP", 8000))) throw new Error(`no election: a ${a.state}, b ${b.state}`);
          await sleep(500);
          const t0 = Date.now();
          const aBefore = a.transitions.length;
          const bBefore = b.transitions.length;
          await sleep(seconds * 1000);
          const t1 = Date.now();
          const ads = cap.adverts.filter((x) => x.vhid === v && x.src === A.addr && x.t >= t0 && x.t <= t1);
          let gaps = 0;
          let maxGap = 0;
          for (let j = 1; j < ads.length; j++) {
            const g = ads[j].t - ads[j - 1].t;
            maxGap = Math.max(maxGap, g);
            if (g > md) gaps++;
          }
          r.steady = {
            seconds,
            falseTakeovers: b.transitions.slice(bBefore).filter((x) => x.to === "MASTER").length,
            masterLosses: a.transitions.slice(aBefore).filter((x) => x.to !== "MASTER").length,
            adverts: ads.length,
            gapsOverMasterDown: gaps,
            maxGapMs: maxGap,
          };
          console.error(`${kind} steady ${seconds} s: ${JSON.stringify(r.steady)}`);
        } catch (e) {
          r.errors.push(`steady: ${e instanceof Error ? e.message : e}`);
        } finally {
          await a.proc.stop(500);
          await b.proc.stop(500);
          dropVip(A);
          dropVip(B);
        }
      }
    }
  } finally {
    await cap.stop();
    await lab.close(500);
    cleanupPrefix(lab.prefix);
  }

  const label = { carp: "carp run --vrrp3 (ours)", keepalived: "keepalived 2.2.7" };
  const shown = wanted.filter((k) => !out[k].skipped);
  const row = (name, f) => `| ${name} | ${shown.map((k) => f(out[k])).join(" | ")} |`;
  const st = (r, f) => (r.steady ? f(r.steady) : "–");
  const lines = [
    `VRRPv3 failover — ${started.toISOString().slice(0, 16).replace("T", " ")} UTC — interval 10 ms (1 cs), priority A 200 / B 100, preempt; ${reps} crash rep(s), ${seconds} s steady; ms, median (min–max)`,
    "",
    `| metric | ${shown.map((k) => label[k]).join(" | ")} |`,
    `|---|${shown.map(() => "---:|").join("")}`,
    row("B's master-down (RFC 9568)", () => num(md)),
    row("crash: A's last advert → B's first", (r) => cell(summary(r.crash))),
    row("crash: beyond master-down", (r) => cell(summary(r.beyond))),
    row("crash: A's last advert → VIP present on B", (r) => cell(summary(r.crashVip))),
    row(`steady ${seconds} s: false takeovers by B`, (r) => st(r, (s) => String(s.falseTakeovers))),
    row(`steady ${seconds} s: A lost MASTER`, (r) => st(r, (s) => String(s.masterLosses))),
    row(`steady ${seconds} s: A's adverts / gaps > master-down / max gap ms`, (r) => st(r, (s) => `${s.adverts} / ${s.gapsOverMasterDown} / ${num(s.maxGapMs)}`)),
    row("crash repetitions ok", (r) => `${r.crash.length}/${reps}`),
    "",
    ...wanted.filter((k) => out[k].skipped).map((k) => `- ${label[k]}: skipped (${out[k].skipped})`),
    ...wanted.flatMap((k) => out[k].errors.map((e) => `- ${label[k]} ${e}`)),
  ];
  console.log(lines.join("\n"));
  const dir = join(repo, "bench/results");
  mkdirSync(dir, { recursive: true });
  const stem = join(dir, `failover-vrrp3-${started.toISOString().replace(/[:.]/g, "-")}`);
  writeFileSync(`${stem}.json`, JSON.stringify({ date: started.toISOString(), intervalCs: INTERVAL_CS, priorities: PRIO, masterDownMs: md, reps, seconds, results: out }, null, 2) + "\n");
  writeFileSync(`${stem}.md`, lines.join("\n") + "\n");
  console.log(`wrote ${stem}.json and .md`);
  return shown.some((k) => out[k].crash.length === 0) ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) process.exitCode = await runVrrp3(process.argv.slice(2));
