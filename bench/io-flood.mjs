#!/usr/bin/env node
// Receive-path benchmark (needs root): a flood of CARP adverts from namespace A to namespace B over a
// bridge, received in B in turn by (a) our carp_io addon through src/host/rawsock.ts, (b) the
// raw-socket npm package, (c) the cap npm package (libpcap). Same flood, same run, one receiver at a
// time. Our receivers:
//   ours               CarpSocket, receiveMode "socket" (recvmmsg), "packets" event (objects)
//   ours-ring          CarpSocket, receiveMode "ring" (TPACKET_V2 ring), "packets" event
//   ours-ring-batch    CarpSocket, receiveMode "ring", "batch" event (each payload's length read)
//   ours-capture[-batch]  LiveCapture (our libpcap path, the like-for-like rival of cap), either event
//   (diagnostic, --only: ours-native[-ring] = the addon without the TS wrapper)
// Three phases per receiver: a steady flood (the sender, ~50-130k adverts/s in a small VM, is the
// limit there, so every receiver keeps up and CPU per packet is what differs), a backlog drain (the
// receiver's loop is blocked while adverts queue, then it drains: its own delivery capacity), and
// lone adverts 5 ms apart (one-way latency send → JS handler, and CPU per advert).
// Prints packets/s delivered to JS and CPU time per packet (receiver process, user+sys), and
// ours ÷ the best baseline. Target: ≥ 2× on packets/s and on CPU per packet.
//   node bench/io-flood.mjs [--seconds 3] [--family 4|6] [--rounds 10] [--backlog 4000] [--pings 200] [--only a,b]
//   node bench/io-flood.mjs --latency-only [--rounds 6] [--pings 100] [--only a,b]   (receivers take turns)
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = fileURLToPath(import.meta.url);
const repo = join(dirname(here), "..");
const require = createRequire(import.meta.url);

// The two baselines are benchmark-only npm packages, kept out of the project's dependencies: the first
// run that needs them installs them into bench/.deps (cap compiles against libpcap-dev).
const depsDir = join(repo, "bench", ".deps");
const depsRequire = createRequire(join(depsDir, "node_modules", "index.js"));
const BASELINES = { "raw-socket": "^1.8.1", cap: "^0.2.1" };

function ensureBaselines(kinds) {
  const want = Object.keys(BASELINES).filter((k) => kinds.includes(k));
  if (want.every((k) => existsSync(join(depsDir, "node_modules", k, "package.json")))) return;
  console.error(`io-flood: installing the baselines (${Object.keys(BASELINES).join(", ")}) into bench/.deps, once`);
  mkdirSync(depsDir, { recursive: true });
  const pkg = { private: true, dependencies: BASELINES, allowScripts: Object.fromEntries(Object.keys(BASELINES).map((k) => [k, true])) };
  writeFileSync(join(depsDir, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
  const r = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--prefix", depsDir], { stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error("installing the baselines into bench/.deps failed (cap needs libpcap-dev and g++)");
}
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};

// Receive buffer for all three (SO_RCVBUFFORCE for the sockets, the pcap buffer for cap).
// Packets queued while a receiver is blocked, in the backlog phase. Large enough that draining
// them, not the fixed ~0.2-0.3 ms the harness spends between unblocking and the first poll, is
// what gets timed. Every receiver's buffer is sized to hold them: cap's ring has fixed slots of its
// 65535-byte snaplen (a 64 MB pcap buffer holds ~1024 frames), so cap gets 64 KiB per packet.
const BACKLOG = Number(arg("backlog", "4000"));
// Our ring has 2 KiB frames: 16 MiB hold 8192 adverts.
const RING = 16 * 1024 * 1024;
const RCVBUF = Math.max(64 * 1024 * 1024, Math.ceil((BACKLOG * 1.1) / 1024) * 1024 * 65536);
const ROUNDS = Number(arg("rounds", "10"));
const PINGS = Number(arg("pings", "200"));

// A 36-byte CARPv2 advert (vhid 1); its content does not matter to any receiver here.
const ADVERT = Buffer.from("2101000700010000" + "0000000000000001" + "01".repeat(20), "hex");

// ---------------------------------------------------------------- child roles (inside a namespace)

async function loadWrappers(root) {
  return import(pathToFileURL(join(root, "src/host/rawsock.js")).href);
}

// Receiver: counts what reaches JS between "start" and "stop" lines on stdin.
async function receiver(kind, root, family) {
  let count = 0;
  let bytes = 0;
  let lastAt = 0;
  let close;
  // Latency phase: one-way delay of adverts carrying the sender's monotonic clock (ns, at byte 28
  // of the CARP payload); `base` is where the payload starts in what the receiver got.
  let latencies = null;
  const stamp = (buf, base) => {
    const sent = buf.readBigUInt64LE(base + 28);
    if (sent > 0n) latencies.push(Number(process.hrtime.bigint() - sent) / 1e3);
  };
  if (kind === "ours" || kind === "ours-ring") {
    const { openCarpSocket } = await loadWrappers(root);
    const s = openCarpSocket({ interface: "eth0", family, receiveBuffer: RCVBUF, receiveMode: kind === "ours" ? "socket" : "ring", ringSize: RING });
    s.on("packets", (batch) => {
      count += batch.length;
      for (const p of batch) bytes += p.data.length;
      if (latencies) for (const p of batch) stamp(p.data, 0);
      lastAt = performance.now();
    });
    close = () => s.close();
  } else if (kind === "ours-batch" || kind === "ours-ring-batch") {
    // The "batch" event: one lazily decoded batch per call; every packet's payload length is read.
    const { openCarpSocket } = await loadWrappers(root);
    const s = openCarpSocket({ interface: "eth0", family, receiveBuffer: RCVBUF, receiveMode: kind === "ours-batch" ? "socket" : "ring", ringSize: RING });
    s.on("batch", (batch) => {
      const n = batch.length;
      count += n;
      for (let i = 0; i < n; i++) bytes += batch.payloadLength(i);
      if (latencies) for (let i = 0; i < n; i++) stamp(batch.payload(i), 0);
      lastAt = performance.now();
    });
    close = () => s.close();
  } else if (kind === "ours-capture") {
    // Our libpcap path (the inspector's): same mechanism as cap, delivered in batches.
    const { openCapture } = await import(pathToFileURL(join(root, "src/host/capture.js")).href);
    const c = openCapture({ interface: "eth0", filter: family === 4 ? "ip proto 112" : "ip6 proto 112", snaplen: 65535, bufferSize: RCVBUF });
    c.on("packets", (batch) => {
      count += batch.length;
      for (const f of batch) bytes += f.data.length;
      if (latencies) for (const f of batch) stamp(f.data, family === 4 ? 34 : 54);
      lastAt = performance.now();
    });
    close = () => c.close();
  } else if (kind === "ours-capture-batch") {
    // Our libpcap path with the "batch" event (lent batches); every frame's length is read.
    const { openCapture } = await import(pathToFileURL(join(root, "src/host/capture.js")).href);
    const c = openCapture({ interface: "eth0", filter: family === 4 ? "ip proto 112" : "ip6 proto 112", snaplen: 65535, bufferSize: RCVBUF });
    c.on("batch", (batch) => {
      const n = batch.length;
      count += n;
      for (let i = 0; i < n; i++) bytes += batch.capturedLength(i);
      if (latencies) for (let i = 0; i < n; i++) stamp(batch.frame(i), family === 4 ? 34 : 54);
      lastAt = performance.now();
    });
    close = () => c.close();
  } else if (kind === "ours-native" || kind === "ours-native-ring") {
    // Diagnostic only (--only ours-native[-ring]): the addon without the TS wrapper.
    const io = require(join(root, "build/Release/carp_io.node"));
    const ring = kind === "ours-native-ring" ? RCVBUF : 0;
    const s = new io.RawSocket("eth0", family, family === 4 ? "224.0.0.18" : "ff02::12", 255, -1, RCVBUF, ring);
    s.onpackets = (data, meta, n) => {
      count += n;
      bytes += data.length;
      if (latencies) stamp(data, 0); // lone adverts: the first payload starts at 0
      lastAt = performance.now();
    };
    close = () => s.close();
  } else if (kind === "raw-socket") {
    const raw = depsRequire("raw-socket");
    const s = raw.createSocket({
      protocol: 112,
      addressFamily: family === 4 ? raw.AddressFamily.IPv4 : raw.AddressFamily.IPv6,
    });
    // Bind to the interface and join the group, as ours does (SOL_SOCKET/SO_BINDTODEVICE,
    // IPPROTO_IP/IP_ADD_MEMBERSHIP with struct ip_mreqn, IPPROTO_IPV6/IPV6_JOIN_GROUP).
    const dev = Buffer.from("eth0\0");
    s.setOption(1, 25, dev, dev.length);
    s.setOption(1, 33, RCVBUF); // SO_RCVBUFFORCE, as ours
    const ifindex = Number(readFileSync("/sys/class/net/eth0/ifindex", "utf8"));
    if (family === 4) {
      const mreq = Buffer.alloc(12);
      Buffer.from([224, 0, 0, 18]).copy(mreq, 0);
      mreq.writeInt32LE(ifindex, 8);
      s.setOption(0, 35, mreq, 12);
    } else {
      const mreq = Buffer.alloc(20);
      Buffer.from("ff020000000000000000000000000012", "hex").copy(mreq, 0);
      mreq.writeUInt32LE(ifindex, 16);
      s.setOption(41, 20, mreq, 20);
    }
    s.on("message", (buf) => {
      count++;
      bytes += buf.length;
      if (latencies) stamp(buf, family === 4 ? 20 : 0);
      lastAt = performance.now();
    });
    close = () => s.close();
  } else if (kind === "cap") {
    const { Cap } = depsRequire("cap");
    const c = new Cap();
    const buf = Buffer.alloc(65535);
    c.open("eth0", family === 4 ? "ip proto 112" : "ip6 proto 112", RCVBUF, buf);
    c.on("packet", (nbytes) => {
      count++;
      bytes += nbytes;
      if (latencies) stamp(buf, family === 4 ? 34 : 54);
      lastAt = performance.now();
    });
    // cap keeps only a raw pointer to this buffer: it must stay reachable or the GC frees it
    // under libpcap's feet (heap corruption). The closure below keeps it.
    close = () => {
      c.close();
      return buf.length;
    };
  } else {
    throw new Error(`unknown receiver ${kind}`);
  }
  let t0;
  let c0;
  let n0;
  createInterface({ input: process.stdin }).on("line", (line) => {
    if (line === "start") {
      t0 = process.hrtime.bigint();
      c0 = process.cpuUsage();
      n0 = count;
    } else if (line.startsWith("block ")) {
      // Backlog phase: keep the event loop busy until the parent creates the flag file (the sender
      // has finished), then drain what queued up and report how fast it reached JS.
      const flag = line.slice(6);
      const n0 = count;
      // (Sleeping in Atomics.wait between checks rather than spinning: a spin loop's garbage and
      // compiled-loop exit cost ~0.2 ms after it ends, charged to whichever receiver runs next.)
      const nap = new Int32Array(new SharedArrayBuffer(4));
      while (!existsSync(flag)) Atomics.wait(nap, 0, 0, 1);
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const queued = Number(readFileSync(flag, "utf8"));
      const check = setInterval(() => {
        // Done when everything queued arrived, or nothing came for 2 s (the rest was dropped).
        if (count - n0 < queued && performance.now() - Math.max(lastAt, t0) < 2000) return;
        clearInterval(check);
        const cpu = process.cpuUsage(c0);
        const n = count - n0;
        const wall = Math.max(lastAt - t0, 0.001) / 1e3;
        process.stdout.write(JSON.stringify({ packets: n, wall, cpuUs: cpu.user + cpu.system }) + "\n");
      }, 20);
    } else if (line === "lat-warm") {
      latencies = []; // the latency code path runs (and gets compiled) on a burst first; discarded
    } else if (line === "lat-start") {
      latencies = [];
      c0 = process.cpuUsage();
    } else if (line === "lat-stop") {
      // CPU per packet at this low rate: each advert is its own wakeup and JS call.
      const cpu = process.cpuUsage(c0);
      process.stdout.write(JSON.stringify({ latencies, cpuUs: cpu.user + cpu.system }) + "\n");
      latencies = null;
    } else if (line === "stop") {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(c0);
      const n = count - n0;
      process.stdout.write(JSON.stringify({ packets: n, bytes, wall, cpuUs: cpu.user + cpu.system }) + "\n");
    } else if (line === "exit") {
      close();
      process.exit(0);
    }
  });
  process.stdout.write("ready\n");
}

// Sender: sends adverts to the group as fast as it can until stdin closes; reports how many.
async function sender(root, family) {
  const { openCarpSocket } = await loadWrappers(root);
  const s = openCarpSocket({ interface: "eth0", family });
  let sent = 0;
  let errors = 0;
  let stop = false;
  const t0 = process.hrtime.bigint();
  process.stdin.on("data", () => {});
  if (!process.argv.includes("--count")) process.stdin.on("end", () => (stop = true));
  const pings = Number(arg("ping", "0"));
  if (pings) {
    // Latency probes: single adverts 5 ms apart, each carrying the send time.
    process.stdout.write("ready\n");
    const probe = Buffer.from(ADVERT);
    for (let i = 0; i < pings; i++) {
      await new Promise((r) => setTimeout(r, 5));
      probe.writeBigUInt64LE(process.hrtime.bigint(), 28);
      if (s.send(probe).ok) sent++;
    }
    process.stdout.write(JSON.stringify({ sent }) + "\n");
    s.close();
    process.exit(0);
  }
  const limit = Number(arg("count", "0"));
  if (limit) stop = false;
  const burst = () => {
    if (limit && sent >= limit) stop = true;
    for (let i = 0; i < (limit ? Math.min(5000, limit - sent) : 5000); i++) {
      if (s.send(ADVERT).ok) sent++;
      else errors++; // ENOBUFS when the queue is full: the flood is at capacity
    }
    if (stop) {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      process.stdout.write(JSON.stringify({ sent, errors, rate: sent / wall }) + "\n");
      s.close();
      process.exit(0);
    }
    setImmediate(burst);
  };
  process.stdout.write("ready\n");
  burst();
}

// ---------------------------------------------------------------- orchestration (host side)

function transpileSrc() {
  const ts = require("typescript");
  const root = mkdtempSync(join(tmpdir(), "carp-bench-io-"));
  const walk = (d) =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [join(d, e.name)] : [],
    );
  for (const f of walk(join(repo, "src"))) {
    const out = join(root, "src", relative(join(repo, "src"), f)).replace(/\.ts$/, ".js");
    mkdirSync(dirname(out), { recursive: true });
    const js = ts.transpileModule(readFileSync(f, "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    writeFileSync(out, js);
  }
  writeFileSync(join(root, "package.json"), '{"type":"module"}\n');
  symlinkSync(join(repo, "build"), join(root, "build"));
  symlinkSync(join(repo, "node_modules"), join(root, "node_modules"));
  return root;
}

// A and B on the lab's bridge (src/lab, from the transpiled tree), no IPv6 DAD.
async function topology(root) {
  const { Lab } = await import(pathToFileURL(join(root, "src/lab/topology.js")).href);
  const { uniquePrefix } = await import(pathToFileURL(join(root, "src/lab/names.js")).href);
  const lab = Lab.create({ prefix: uniquePrefix("carpflood") });
  try {
    const a = lab.addHost("a", { addrs: ["198.51.100.1/24", "2001:db8:1::1/64"], dad: false });
    const b = lab.addHost("b", { addrs: ["198.51.100.2/24", "2001:db8:1::2/64"], dad: false });
    return { ns: { a: a.ns, b: b.ns }, destroy: () => lab.destroy() };
  } catch (e) {
    lab.destroy();
    throw e;
  }
}

function child(ns, args) {
  const p = spawn("ip", ["netns", "exec", ns, process.execPath, here, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  p.stderr.on("data", (d) => process.stderr.write(`[${args.slice(0, 2).join(" ")}] ${d}`));
  const lines = [];
  const waiters = [];
  createInterface({ input: p.stdout }).on("line", (l) => {
    lines.push(l);
    waiters.splice(0).forEach((w) => w());
  });
  const next = async () => {
    while (lines.length === 0) {
      if (p.exitCode !== null) throw new Error(`child ${args.join(" ")} exited ${p.exitCode}`);
      await new Promise((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
    return lines.shift();
  };
  return { p, next, say: (l) => p.stdin.write(l + "\n") };
}

const median = (xs) => {
  const a = [...xs].sort((x, y) => x - y);
  return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Before timing lone adverts: a burst through the receiver's latency path, so that what is measured
// is each advert's cost, not the JIT compiling that path (which CPU per packet would otherwise
// charge to the first hundred adverts, more so for receivers with more JS on the path).
async function warmLatency(topo, rx, famArgs) {
  rx.say("lat-warm");
  const burst = child(topo.ns.a, ["--sender", "--count", "20000", ...famArgs]);
  await burst.next();
  await burst.next();
  await sleep(300);
}

// --latency-only: lone adverts only, the receivers taking turns (ROUNDS × PINGS each) so that
// changing load on a shared machine spreads over all of them alike.
async function latencyOnly(topo, kinds, famArgs) {
  const all = new Map(kinds.map((k) => [k, { lat: [], cpuUs: 0 }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of kinds) {
      const rx = child(topo.ns.b, ["--receiver", kind, ...famArgs]);
      if ((await rx.next()) !== "ready") throw new Error(`${kind} receiver did not start`);
      await warmLatency(topo, rx, famArgs);
      rx.say("lat-start");
      const ping = child(topo.ns.a, ["--sender", "--ping", String(PINGS), ...famArgs]);
      await ping.next();
      await ping.next();
      await sleep(100);
      rx.say("lat-stop");
      const r = JSON.parse(await rx.next());
      rx.say("exit");
      all.get(kind).lat.push(...r.latencies);
      all.get(kind).cpuUs += r.cpuUs;
    }
  }
  console.log(`io-flood --latency-only: ${ROUNDS} rounds × ${PINGS} lone adverts 5 ms apart per receiver, receivers taking turns`);
  console.log("receiver           | latency µs: median     p90     p99 | CPU µs/pkt | received");
  for (const [kind, { lat, cpuUs }] of all) {
    lat.sort((x, y) => x - y);
    const q = (f) => lat[Math.min(lat.length - 1, Math.floor(lat.length * f))] ?? NaN;
    console.log(
      `${kind.padEnd(18)} |           ${median(lat).toFixed(1).padStart(7)} ${q(0.9).toFixed(1).padStart(7)} ${q(0.99).toFixed(1).padStart(7)} |    ${(cpuUs / Math.max(1, lat.length)).toFixed(1).padStart(7)} | ${lat.length}/${ROUNDS * PINGS}`,
    );
  }
}

async function main() {
  const seconds = Number(arg("seconds", "3"));
  const family = Number(arg("family", "4"));
  const root = transpileSrc();
  const topo = await topology(root);
  const results = [];
  try {
    const kinds = arg("only") ? arg("only").split(",") : ["ours", "ours-ring", "ours-ring-batch", "ours-capture", "ours-capture-batch", "raw-socket", "cap"];
    const famArgs = ["--root", root, "--family", String(family)];
    ensureBaselines(kinds);
    if (process.argv.includes("--latency-only")) {
      await latencyOnly(topo, kinds, famArgs);
      return;
    }
    for (const kind of kinds) {
      const rx = child(topo.ns.b, ["--receiver", kind, ...famArgs]);
      if ((await rx.next()) !== "ready") throw new Error(`${kind} receiver did not start`);
      // Phase 1, steady flood: the sender runs flat out; count what reaches JS over `seconds`.
      const tx = child(topo.ns.a, ["--sender", ...famArgs]);
      await tx.next();
      await sleep(300); // warm up
      rx.say("start");
      await sleep(seconds * 1000);
      rx.say("stop");
      const steady = JSON.parse(await rx.next());
      tx.p.stdin.end();
      const offered = JSON.parse(await tx.next());
      await sleep(500); // let the queue empty
      // Phase 2, backlog: the receiver's loop is blocked while BACKLOG packets queue up, then it
      // drains them; the drain rate is how fast this receiver can deliver to JS at all.
      const drain = { packets: 0, queued: 0, rates: [], cpus: [] };
      for (let round = 0; round < ROUNDS; round++) {
        const flag = join(root, `go-${kind}-${round}`);
        rx.say(`block ${flag}`);
        const burst = child(topo.ns.a, ["--sender", "--count", String(BACKLOG), ...famArgs]);
        await burst.next();
        const sent = JSON.parse(await burst.next());
        writeFileSync(flag, String(sent.sent));
        const d = JSON.parse(await rx.next());
        drain.packets += d.packets;
        drain.queued += sent.sent;
        drain.rates.push(d.packets / d.wall);
        drain.cpus.push(d.cpuUs / Math.max(1, d.packets));
      }
      // Phase 3, latency: lone adverts 5 ms apart, one-way delay until the JS handler sees them.
      await warmLatency(topo, rx, famArgs);
      rx.say("lat-start");
      const ping = child(topo.ns.a, ["--sender", "--ping", String(PINGS), ...famArgs]);
      await ping.next();
      await ping.next();
      await sleep(100);
      rx.say("lat-stop");
      const latRun = JSON.parse(await rx.next());
      const lat = latRun.latencies.sort((x, y) => x - y);
      rx.say("exit");
      results.push({
        latMedian: median(lat),
        latP99: lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))] ?? NaN,
        latCount: lat.length,
        latCpu: latRun.cpuUs / Math.max(1, lat.length),
        kind,
        steadyPps: steady.packets / steady.wall,
        steadyCpu: steady.cpuUs / Math.max(1, steady.packets),
        offered: offered.rate,
        drainPps: median(drain.rates),
        drainCpu: median(drain.cpus),
        drained: drain.packets,
        queued: drain.queued,
      });
      await sleep(200);
    }
  } finally {
    topo.destroy();
    rmSync(root, { recursive: true, force: true });
  }
  const f0 = (x) => x.toFixed(0).padStart(9);
  const f2 = (x) => x.toFixed(2).padStart(7);
  const f1 = (x) => x.toFixed(1).padStart(7);
  console.log(`io-flood: IPv${family} CARP adverts from namespace A over a bridge to B; one receiver at a time`);
  console.log(`  steady: sender flat out for ${seconds} s; backlog: ${ROUNDS} × ${BACKLOG} adverts queued while the receiver is blocked, then drained;`);
  console.log(`  latency: ${PINGS} lone adverts 5 ms apart, send call → JS handler (one-way, µs)`);
  console.log("receiver        | steady: offered  delivered/s  CPU µs/pkt | backlog: delivered  drained/s  CPU µs/pkt | lone adverts: latency µs median    p99  CPU µs/pkt");
  for (const r of results) {
    console.log(
      `${r.kind.padEnd(15)} |        ${f0(r.offered)}    ${f0(r.steadyPps)}     ${f2(r.steadyCpu)} |   ${f0(r.drained)}/${r.queued}  ${f0(r.drainPps)}   ${f2(r.drainCpu)} |                   ${f1(r.latMedian)} ${f1(r.latP99)}     ${f1(r.latCpu)} (${r.latCount}/${PINGS})`,
    );
  }
  const baselines = results.filter((r) => r.kind === "raw-socket" || r.kind === "cap");
  if (baselines.length === 0) return;
  const best = baselines.reduce((a, b) => (a.drainPps >= b.drainPps ? a : b));
  const cheapest = baselines.reduce((a, b) => (a.drainCpu <= b.drainCpu ? a : b));
  console.log(`backlog drain (median of ${ROUNDS} rounds), the best baseline is ${best.kind}, the cheapest per packet ${cheapest.kind}:`);
  for (const r of results.filter((x) => x.kind.startsWith("ours"))) {
    const ratio = r.drainPps / best.drainPps;
    const cpu = cheapest.drainCpu / r.drainCpu;
    const like = results.find((x) => x.kind === (r.kind === "ours-capture" ? "cap" : "raw-socket"));
    console.log(
      `  ${r.kind.padEnd(15)} ${ratio.toFixed(2)}× packets/s of ${best.kind}, ${cpu.toFixed(2)}× less CPU/packet than ${cheapest.kind}` +
        ` (target ≥ 2× both: ${ratio >= 2 && cpu >= 2 ? "met" : "NOT met"})` +
        (like && like !== best ? `; ${(r.drainPps / like.drainPps).toFixed(2)}× ${like.kind} packets/s` : ""),
    );
  }
}

if (process.argv.includes("--receiver")) await receiver(arg("receiver"), arg("root"), Number(arg("family", "4")));
else if (process.argv.includes("--sender")) await sender(arg("root"), Number(arg("family", "4")));
else await main();
