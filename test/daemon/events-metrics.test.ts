// Events, metrics and the fault hook end to end: two of our daemons in namespaces on one bridge. `carp
// events --json` follows the failover (a's link goes down, b takes over, a comes back and preempts) and
// shows every step in order without a gap in sequence numbers; /metrics is scraped from inside each
// namespace during the run; `carp status --prometheus` parses; a's fault script runs when its link goes down.
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { labScope, sleep, waitFor, type LabHost, type Proc } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";
import { parseExposition } from "./exposition.js";

const VIP = "198.51.100.100";
const { tmp, lab } = labScope("carp-events-test-");
const ctl = (h: LabHost) => join(tmp, `${h.ns}.sock`);

function daemon(h: LabHost, skew: number, extra: string[] = []): Proc {
  return h.carp([
    "run", "-i", "eth0", "-s", h.ip4, "-v", "7", "-p", "s3cret", "-a", `${VIP}/24`, "-b", "1", "-k", String(skew), "-P",
    "--log-format", "json", "-f", "none", "--control", ctl(h), "--metrics", "127.0.0.1:9742", ...extra,
  ]);
}

/** GET http://127.0.0.1:9742<path> from inside the namespace (node's http client). */
function scrape(h: LabHost, path = "/metrics", method = "GET"): { status: number; body: string; type: string } {
  const code = `require("http").request({ host: "127.0.0.1", port: 9742, path: ${JSON.stringify(path)}, method: ${JSON.stringify(method)} }, (res) => {
      let b = ""; res.on("data", (d) => (b += d));
      res.on("end", () => process.stdout.write(JSON.stringify({ status: res.statusCode, body: b, type: res.headers["content-type"] ?? "" })));
    }).on("error", (e) => { console.error(e.message); process.exit(1); }).end();`;
  return JSON.parse(h.exec(process.execPath, ["-e", code], { timeout: 10_000 }));
}

type Ev = { seq: number; type: string; [k: string]: unknown };
const events = (p: Proc): Ev[] => p.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Ev);
const steps = (evs: Ev[]) => evs.filter((e) => e.type === "transition").map((e) => `${e.from}->${e.to}`);

function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  return parseExposition(text).samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe.concurrent("events, metrics, fault hook", () => {
  requires("netns", "ours");
  test("failover: every step in order, no seq gap; /metrics and status --prometheus show it; fault hook on link down", async () => {
    const l = lab(2, "ev");
    const [a, b] = l.hosts;
    for (const h of l.hosts) h.exec("ip", ["link", "set", "lo", "up"]);
    const faultOut = join(tmp, "fault.out");
    const script = join(tmp, "fault.sh");
    writeFileSync(script, `#!/bin/sh\necho "$* state=$CARP_STATE prev=$CARP_PREV_STATE vhid=$CARP_VHID if=$CARP_INTERFACE reason=$CARP_REASON" >> ${faultOut}\n`);
    chmodSync(script, 0o755);

    const na = daemon(a, 10, ["--faultscript", script]);
    await na.waitState("MASTER", 8000);
    const nb = daemon(b, 20);
    await nb.waitState("BACKUP", 5000);
    // Follow b from the start (since 0 replays what the daemon buffered before we connected).
    const fb = b.carp(["events", "--json", "--since", "0", "--control", ctl(b)]);
    expect(await waitFor(() => a.addresses().includes(VIP), 3000)).toBe(true);

    // a's /metrics while MASTER.
    const m1 = scrape(a);
    expect(m1.status).toBe(200);
    expect(m1.type).toContain("text/plain; version=0.0.4");
    expect(sample(m1.body, "carp_vhid_master", { interface: "eth0", vhid: "7" })).toBe(1);
    expect(sample(m1.body, "carp_vhid_state", { interface: "eth0", vhid: "7", state: "MASTER" })).toBe(1);
    expect(sample(m1.body, "carp_vhid_transitions_total", { interface: "eth0", vhid: "7", to: "MASTER" })).toBe(1);
    expect(sample(m1.body, "carp_vhid_advskew_effective", { interface: "eth0", vhid: "7" })).toBe(10);
    expect(sample(m1.body, "carp_stats_opackets_total", {})).toBeGreaterThan(0);
    expect(sample(m1.body, "carp_vhid_seconds_since_transition", { vhid: "7" })).toBeGreaterThanOrEqual(0);
    expect(sample(scrape(b).body, "carp_vhid_master", { vhid: "7" })).toBe(0);
    // Only GET/HEAD /metrics.
    expect(scrape(a, "/metrics", "POST").status).toBe(405);
    expect(scrape(a, "/").status).toBe(404);
    expect(scrape(a, "/metrics", "HEAD")).toMatchObject({ status: 200, body: "" });
    // Bound to 127.0.0.1 only: not reachable on the namespace's own address.
    expect(a.tryExec(process.execPath, ["-e", `require("net").connect(9742, ${JSON.stringify(a.ip4)}).on("connect", () => process.exit(0)).on("error", () => process.exit(3))`]).code).toBe(3);

    // a's link goes down: a leaves MASTER (fault hook), b takes over.
    const t0 = Date.now();
    a.exec("ip", ["link", "set", "eth0", "down"]);
    await na.waitJson((e) => e.event === "fault" && e.active === true, 5000, "fault");
    await nb.waitState("MASTER", 8000, t0);
    expect(await waitFor(() => existsSync(faultOut) && readFileSync(faultOut, "utf8").includes("state=FAULT"), 5000)).toBe(true);
    const fault = readFileSync(faultOut, "utf8").trim().split("\n");
    expect(fault).toHaveLength(1);
    expect(fault[0]).toBe(`eth0 ${VIP} state=FAULT prev=INIT vhid=7 if=eth0 reason=eth0: link down`);
    const m2 = scrape(b);
    expect(sample(m2.body, "carp_vhid_master", { vhid: "7" })).toBe(1);
    expect(sample(m2.body, "carp_vhid_transitions_total", { vhid: "7", to: "MASTER" })).toBe(1);
    expect(sample(scrape(a).body, "carp_vhid_link_up", { vhid: "7" })).toBe(0);

    // a's link comes back: a preempts (advskew 10 < 20), b steps down.
    const t1 = Date.now();
    a.exec("ip", ["link", "set", "eth0", "up"]);
    await na.waitState("MASTER", 10_000, t1);
    await nb.waitState("BACKUP", 5000, t1);
    await na.waitJson((e) => e.event === "fault" && e.active === false, 5000, "fault cleared");
    expect(await waitFor(() => steps(events(fb)).length >= 3 && events(fb).some((e) => e.type === "vip" && e.op === "remove" && (e.seq as number) > 3), 5000)).toBe(true);

    // b's stream: every step in order, sequence numbers 1, 2, 3, ... without a gap.
    const eb = events(fb);
    expect(eb.map((e) => e.seq)).toEqual(eb.map((_, i) => i + 1));
    expect(steps(eb)).toEqual(["INIT->BACKUP", "BACKUP->MASTER", "MASTER->BACKUP"]);
    const at = (pred: (e: Ev) => boolean) => eb.findIndex(pred);
    const up = at((e) => e.type === "transition" && e.to === "MASTER");
    const add = at((e) => e.type === "vip" && e.op === "add" && e.address === VIP);
    const down = at((e) => e.type === "transition" && e.from === "MASTER");
    const rm = at((e) => e.type === "vip" && e.op === "remove" && e.address === VIP);
    expect(up).toBeGreaterThanOrEqual(0);
    expect(add).toBeGreaterThan(up);
    expect(down).toBeGreaterThan(add);
    expect(rm).toBeGreaterThan(down);
    expect(eb[up]).toMatchObject({ interface: "eth0", vhid: 7, reason: expect.any(String), ts: expect.any(Number) });

    // a's stream replayed from its buffer: the whole run, link down and up, faults included, no gap.
    const fa = a.carp(["events", "--json", "--since", "0", "--control", ctl(a)]);
    expect(await waitFor(() => events(fa).some((e) => e.type === "fault" && e.active === false), 5000)).toBe(true);
    fa.kill("SIGINT");
    const ea = events(fa);
    expect(ea.map((e) => e.seq)).toEqual(ea.map((_, i) => i + 1));
    expect(steps(ea)).toEqual(["INIT->BACKUP", "BACKUP->MASTER", "MASTER->INIT", "INIT->BACKUP", "BACKUP->MASTER"]);
    const kinds = ea.filter((e) => e.type !== "vip" && e.type !== "demotion").map((e) => (e.type === "fault" ? `fault:${e.active}` : `${e.from}->${e.to}`));
    expect(kinds.indexOf("fault:true")).toBeGreaterThan(kinds.indexOf("MASTER->INIT"));
    expect(kinds.indexOf("fault:false")).toBeGreaterThan(kinds.indexOf("fault:true"));
    // The link-down demotion (ifdown) is in the stream as a ledger change, and given back.
    expect(ea.filter((e) => e.type === "demotion").map((e) => e.delta)).toEqual([240, -240]);

    // Text format: one line per event, "<seq> <ISO time> <type> ...".
    const text = a.carp(["events", "--since", "0", "--control", ctl(a)]);
    expect(await waitFor(() => text.lines.length >= ea.length, 5000)).toBe(true);
    text.kill("SIGINT");
    expect(text.lines[0]).toMatch(/^1 \d{4}-\d\d-\d\dT[\d:.]+Z transition vhid 7@eth0 INIT -> BACKUP \(.+\)$/);
    expect(text.lines.some((x) => / fault vhid 7@eth0 FAULT \(eth0: link down\)$/.test(x))).toBe(true);

    // status --prometheus: parses, one TYPE per family, and agrees with the daemon.
    const pr = a.carpSync(["status", "--prometheus", "--control", ctl(a)]);
    expect(pr.code).toBe(0);
    const parsed = parseExposition(pr.stdout);
    expect(parsed.errors).toEqual([]);
    expect(sample(pr.stdout, "carp_vhid_master", { vhid: "7" })).toBe(1);
    expect(sample(pr.stdout, "carp_vhid_transitions_total", { vhid: "7", to: "INIT" })).toBe(1);
    expect(sample(pr.stdout, "carp_vhid_transitions_total", { vhid: "7", to: "MASTER" })).toBe(2);
    expect(parseExposition(scrape(a).body).errors).toEqual([]);

    fb.kill("SIGINT");
    na.kill("SIGTERM");
    nb.kill("SIGTERM");
    await Promise.all([na.exited, nb.exited]);
    expect(na.exit?.code).toBe(0);
    // The follower of a stopped daemon is told so (exit 1), not left hanging.
    const fb2 = b.carp(["events", "--control", ctl(b)]);
    await fb2.exited;
    expect(fb2.exit?.code).toBe(1);
    await sleep(10);
  }, 60_000);

  test("/metrics under abuse (held connections, slow headers, a burst of scrapes, a big POST): the MASTER keeps its role", async () => {
    const l = lab(2, "em");
    const [a, b] = l.hosts;
    for (const h of l.hosts) h.exec("ip", ["link", "set", "lo", "up"]);
    const na = daemon(a, 10);
    await na.waitState("MASTER", 8000);
    const nb = daemon(b, 20);
    await nb.waitState("BACKUP", 5000);
    const t0 = Date.now();
    // 200 connections that send half a request line and hold it, 10 scrapers in a loop for 7 s, a 50 MB POST
    // body. The held connections fill the 16 slots until the 2 s header timeout closes them; scrapes get in after.
    const attack = `const net = require("net"), http = require("http");
      const held = []; let ok = 0, refused = 0;
      for (let i = 0; i < 200; i++) { const s = net.connect(9742, "127.0.0.1"); s.on("error", () => refused++); s.write("GET /metr"); held.push(s); }
      const end = Date.now() + 7000;
      const scrape = () => { if (Date.now() > end) return; http.get("http://127.0.0.1:9742/metrics", (r) => { r.resume(); r.on("end", () => { ok++; scrape(); }); }).on("error", () => { refused++; setTimeout(scrape, 50); }); };
      for (let i = 0; i < 10; i++) scrape();
      const p = http.request({ host: "127.0.0.1", port: 9742, method: "POST", path: "/metrics" }, (r) => { r.resume(); });
      p.on("error", () => {}); const chunk = Buffer.alloc(1 << 20); let sent = 0;
      const more = () => { while (sent < 50 && p.write(chunk)) sent++; if (sent < 50) p.once("drain", more); else p.end(); }; more();
      setTimeout(() => { for (const s of held) s.destroy(); console.log(JSON.stringify({ ok, refused })); process.exit(0); }, 8000);`;
    const r = JSON.parse(a.exec(process.execPath, ["-e", attack], { timeout: 20_000 })) as { ok: number; refused: number };
    expect(r.ok).toBeGreaterThan(0);
    // No role change anywhere during the attack, and the endpoint answers afterwards.
    expect(nb.transitions("MASTER").filter((t) => (t.ts as number) > t0)).toEqual([]);
    expect(na.transitions().filter((t) => (t.ts as number) > t0)).toEqual([]);
    expect(sample(scrape(a).body, "carp_vhid_master", { vhid: "7" })).toBe(1);
    na.kill("SIGTERM");
    nb.kill("SIGTERM");
    await Promise.all([na.exited, nb.exited]);
  }, 60_000);

  test("--metrics on a port in use or an address not on the host: one line, exit 1", async () => {
    const l = lab(1, "eb");
    const [a] = l.hosts;
    a.exec("ip", ["link", "set", "lo", "up"]);
    const holder = a.spawn(process.execPath, ["-e", `require("net").createServer().listen(9742, "127.0.0.1", () => console.log("up"))`]);
    expect(await waitFor(() => holder.lines.includes("up"), 5000)).toBe(true);
    const inUse = a.carpSync(["run", "-i", "eth0", "-s", a.ip4, "-v", "7", "-p", "s3cret", "-a", VIP, "-f", "none", "--control", join(tmp, `${l.tag}-1.sock`), "--metrics", "127.0.0.1:9742"]);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr.trim()).toBe("carp: --metrics: cannot listen on 127.0.0.1:9742: EADDRINUSE");
    const notHere = a.carpSync(["run", "-i", "eth0", "-s", a.ip4, "-v", "7", "-p", "s3cret", "-a", VIP, "-f", "none", "--control", join(tmp, `${l.tag}-2.sock`), "--metrics", "203.0.113.9:9742"]);
    expect(notHere.code).toBe(1);
    expect(notHere.stderr.trim()).toBe("carp: --metrics: cannot listen on 203.0.113.9:9742: EADDRNOTAVAIL");
    holder.kill();
    // And the address is checked before anything starts: a malformed one is a usage error (exit 2).
    const bad = a.carpSync(["run", "-i", "eth0", "-v", "7", "-p", "s3cret", "-a", VIP, "--metrics", "9742"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^carp: --metrics: expected ADDR:PORT/);
  }, 30_000);

  test("a failing check: check and demotion events, fault (demoted to the maximum) with its hook, carp_check_up, VIP moves and comes back", async () => {
    const l = lab(2, "ec");
    const [a, b] = l.hosts;
    for (const h of l.hosts) h.exec("ip", ["link", "set", "lo", "up"]);
    const maint = join(tmp, `${l.tag}-maint`);
    const faultOut = join(tmp, `${l.tag}-fault.out`);
    const script = join(tmp, `${l.tag}-fault.sh`);
    writeFileSync(script, `#!/bin/sh\necho "$* state=$CARP_STATE reason=$CARP_REASON" >> ${faultOut}\n`);
    chmodSync(script, 0o755);
    const yaml = join(tmp, `${l.tag}-a.yaml`);
    writeFileSync(yaml, [
      "preempt: true",
      "metrics: 127.0.0.1:9742",
      `control: ${ctl(a)}`,
      "log: { format: json, facility: none }",
      `checks: { maint: { file: ${maint}, interval: 0.2, weight: 240 } }`,
      "track: [maint]",
      "vhids:",
      `  - { interface: eth0, vhid: 7, srcip: ${a.ip4}, password: s3cret, semantics: ucarp, advskew: 10, addresses: ["${VIP}/24"], hooks: { fault: ${script} } }`,
      "",
    ].join("\n"));
    const na = a.carp(["run", "--config", yaml]);
    await na.waitState("MASTER", 8000);
    const nb = daemon(b, 20);
    await nb.waitState("BACKUP", 5000);
    expect(sample(scrape(a).body, "carp_check_up", { check: "maint" })).toBe(1);

    const t0 = Date.now();
    writeFileSync(maint, "");
    await nb.waitState("MASTER", 10_000, t0);
    await na.waitState("BACKUP", 5000, t0);
    expect(await waitFor(() => existsSync(faultOut), 5000)).toBe(true);
    expect(readFileSync(faultOut, "utf8")).toMatch(new RegExp(`^eth0 ${VIP.replace(/\./g, "\\.")} state=FAULT reason=demoted to the maximum \\(demotion 240, advskew 240\\)\n$`));
    const m = scrape(a).body;
    expect(sample(m, "carp_check_up", { check: "maint" })).toBe(0);
    expect(sample(m, "carp_demotion", { source: "check:maint" })).toBe(240);
    expect(sample(m, "carp_vhid_advskew_effective", { vhid: "7" })).toBe(240);

    const t1 = Date.now();
    rmSync(maint);
    await na.waitState("MASTER", 10_000, t1);
    const f = a.carp(["events", "--json", "--since", "0", "--control", ctl(a)]);
    expect(await waitFor(() => events(f).some((e) => e.type === "fault" && e.active === false), 5000)).toBe(true);
    f.kill("SIGINT");
    const ev = events(f);
    expect(ev.map((e) => e.seq)).toEqual(ev.map((_, i) => i + 1));
    const story = ev.filter((e) => e.type !== "vip").map((e) =>
      e.type === "transition" ? `${e.from}->${e.to}` : e.type === "check" ? `check:${e.up}` : e.type === "fault" ? `fault:${e.active}` : `demotion:${e.source}:${e.delta}`,
    );
    // The first result (up) counts at once, whenever it lands during start-up; then down -> demotion -> fault ->
    // step down, and the way back.
    const first = story.indexOf("check:true");
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThan(story.indexOf("check:false"));
    expect(story.filter((_, i) => i !== first)).toEqual([
      "INIT->BACKUP", "BACKUP->MASTER",
      "check:false", "demotion:check:maint:240", "fault:true", "MASTER->BACKUP",
      "check:true", "demotion:check:maint:-240", "fault:false", "BACKUP->MASTER",
    ]);
    na.kill("SIGTERM");
    nb.kill("SIGTERM");
    await Promise.all([na.exited, nb.exited]);
  }, 60_000);
});
