// `carp run` end to end: real daemons in network namespaces on one bridge, a third namespace as observer.
// Independent scenarios run concurrently in separate labs. advbase 1, advskew 10/20 everywhere:
// master-down of the advskew-20 backup is 3 s + 20/256 s = 3078 ms.
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { canUseNetns, labScope, REPO, sleep, waitFor, type Lab, type LabHost, type Proc } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";
import { nobodyRoot } from "../helpers/nobody.js";

const VIP = "198.51.100.100";
const MASTER_DOWN_20 = 3000 + (20 * 1000) / 256;
const { tmp, lab } = labScope("carp-daemon-test-");

const ctl = (l: Lab, h: LabHost) => join(tmp, `${h.ns}.sock`);

function node(l: Lab, h: LabHost, skew: number, extra: string[] = []): Proc {
  return h.carp([
    "run", "-i", "eth0", "-s", h.ip4, "-v", "7", "-p", "s3cret", "-a", `${VIP}/24`, "-b", "1", "-k", String(skew),
    "--log-format", "json", "-f", "none", "--control", ctl(l, h), ...extra,
  ]);
}

function status(l: Lab, h: LabHost): { vhids: Array<Record<string, any>>; carpstats: Record<string, number> } {
  const r = h.carpSync(["status", "--json", "--control", ctl(l, h)]);
  if (r.code !== 0) throw new Error(`carp status: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const mac = (h: LabHost) => (JSON.parse(h.exec("ip", ["-j", "link", "show", "dev", "eth0"])) as Array<{ address: string }>)[0].address;
const neighMac = (h: LabHost, addr: string) => {
  const j = JSON.parse(h.exec("ip", ["-j", "neigh", "show", addr, "dev", "eth0"])) as Array<{ lladdr?: string }>;
  return j[0]?.lladdr ?? null;
};

/** Is `addr` reachable from `h`? A TCP connect to port 9: a refusal (RST) proves ARP and IP delivery. */
function reach(h: LabHost, addr: string): boolean {
  const code = `const s = require("net").connect({ port: 9, host: ${JSON.stringify(addr)} });
    s.on("connect", () => process.exit(0));
    s.on("error", (e) => process.exit(e.code === "ECONNREFUSED" ? 0 : 1));
    setTimeout(() => process.exit(1), 1500);`;
  return h.tryExec(process.execPath, ["-e", code]).code === 0;
}

/** Sends `count` adverts for vhid 7 from `h`, signed with `password`, with the given TTL. */
function sendAdverts(h: LabHost, password: string, ttl: number, count: number): void {
  const code = `
    import { CarpSocket } from ${JSON.stringify(join(REPO, "dist/host/rawsock.js"))};
    import { encodeCarp } from ${JSON.stringify(join(REPO, "dist/protocol/carp.js"))};
    import { CarpAuth } from ${JSON.stringify(join(REPO, "dist/protocol/hmac.js"))};
    const auth = CarpAuth.create({ vhid: 7, v4: [${JSON.stringify(VIP)}], password: process.env.PW, semantics: "ucarp" });
    const s = new CarpSocket({ interface: "eth0", family: 4, ttl: Number(process.env.TTL) });
    for (let i = 0; i < Number(process.env.N); i++) {
      const counter = 1000n + BigInt(i);
      const r = s.send(encodeCarp({ vhid: 7, advbase: 1, advskew: 0, counter, hmac: auth.sign(counter) }));
      if (!r.ok) { console.error(r.message); process.exit(1); }
      await new Promise((r) => setTimeout(r, 20));
    }
    s.close();`;
  h.exec("env", [`PW=${password}`, `TTL=${ttl}`, `N=${count}`, process.execPath, "--input-type=module", "-e", code]);
}

describe.concurrent("carp run, ours <-> ours", () => {
  requires("netns", "ours");
  test("lower advskew wins, VIP answers from the master only, SIGKILL failover, stale VIP cleanup, preempt returns", async () => {
    const l = lab(3, "da");
    const [a, b, obs] = l.hosts;
    // b (advskew 20) starts first; a (advskew 10) must end up MASTER whoever timed out first.
    const nb = node(l, b, 20, ["-P"]);
    await nb.waitState("BACKUP", 3000);
    const na = node(l, a, 10, ["-P"]);
    await na.waitState("MASTER", 8000);
    await sleep(1200);
    expect(status(l, a).vhids[0].state).toBe("MASTER");
    expect(status(l, b).vhids[0].state).toBe("BACKUP");
    expect(na.transitions("BACKUP").filter((t) => t.from === "MASTER")).toHaveLength(0);
    expect(await waitFor(() => a.addresses().includes(VIP), 2000)).toBe(true);
    expect(b.addresses()).not.toContain(VIP);

    // Reachable from a third namespace, and answered by the master's MAC.
    expect(reach(obs, VIP)).toBe(true);
    expect(neighMac(obs, VIP)).toBe(mac(a));

    // Crash: the backup takes over master-down after the last advert it saw, with at most 50 ms extra.
    const killedAt = Date.now();
    na.kill("SIGKILL");
    const t = await nb.waitState("MASTER", 8000, killedAt);
    const delay = (t.ts as number) - (t.lastMasterAt as number);
    expect(delay).toBeGreaterThanOrEqual(MASTER_DOWN_20 - 5);
    expect(delay).toBeLessThanOrEqual(MASTER_DOWN_20 + 50);
    expect(t.lastMaster).toBe(a.ip4);
    // GARP (at takeover, again two adverts later) moves the observer's ARP entry to b before it expires.
    expect(await waitFor(() => neighMac(obs, VIP) === mac(b), 3000)).toBe(true);
    expect(reach(obs, VIP)).toBe(true);
    expect(a.addresses()).toContain(VIP); // the crashed daemon could not clean up

    // Restart: the stale VIP goes first, then a (preempt, lower skew) takes mastership back.
    const since = Date.now();
    const na2 = node(l, a, 10, ["-P"]);
    await na2.waitJson((e) => e.event === "staleVip" && e.address === VIP, 5000, "stale VIP removal");
    await na2.waitState("MASTER", 8000);
    await nb.waitState("BACKUP", 3000, since);
    expect(await waitFor(() => !b.addresses().includes(VIP), 2000)).toBe(true);
    expect(await waitFor(() => a.addresses().includes(VIP), 2000)).toBe(true);
    const back = nb.transitions("BACKUP").at(-1)!;
    expect(String(back.reason)).toMatch(/more frequent advertisement/);
  });

  test("SIGTERM: bow-out, takeover within 50 ms, VIP removed, -z downscript, exit 0", async () => {
    const l = lab(2, "db");
    const [a, b] = l.hosts;
    const down = join(tmp, `${l.tag}-down.sh`);
    const downLog = join(tmp, `${l.tag}-down.log`);
    writeFileSync(down, `#!/bin/sh\necho "down $*" >> ${downLog}\n`);
    chmodSync(down, 0o755);
    const na = node(l, a, 10, ["-z", "-n", "-d", down, "-x", "extra"]);
    await na.waitState("MASTER", 8000);
    const nb = node(l, b, 20);
    await nb.waitState("BACKUP", 3000);
    await sleep(1500);
    na.kill("SIGTERM");
    const t = await nb.waitState("MASTER", 3000);
    const stopAt = (await na.waitJson((e) => e.event === "signal", 2000)).ts as number;
    expect((t.ts as number) - stopAt).toBeLessThanOrEqual(50);
    expect(String(t.reason)).toMatch(/bow-out/);
    expect((await na.exited).code).toBe(0);
    expect(a.addresses()).not.toContain(VIP);
    expect(await waitFor(() => b.addresses().includes(VIP), 2000)).toBe(true);
    // -n: no downscript at the initial INIT -> BACKUP; -z: once at exit (ucarp argv: interface, VIP, xparam).
    expect(readFileSync(downLog, "utf8").trim().split("\n")).toEqual([`down eth0 ${VIP} extra`]);
  });

  test("wrong password and TTL != 255 adverts are counted and cannot take the VIP", async () => {
    const l = lab(2, "dc");
    const [a, b] = l.hosts;
    const na = node(l, a, 10);
    await na.waitState("MASTER", 8000);
    sendAdverts(b, "wrong", 255, 5);
    sendAdverts(b, "s3cret", 64, 4);
    await sleep(300);
    const s = status(l, a);
    expect(s.vhids[0].state).toBe("MASTER");
    expect(s.carpstats.badauth).toBe(5);
    expect(s.carpstats.badttl).toBe(4);
    expect(s.vhids[0].counters.badauth).toBe(5);
    expect(s.vhids[0].counters.badttl).toBe(4);
    expect(a.addresses()).toContain(VIP);
    // Control: the same advert with the right password and TTL 255 does win (advskew 0 < 10).
    const before = Date.now();
    sendAdverts(b, "s3cret", 255, 1);
    const t = await na.waitState("BACKUP", 2000, before);
    expect(String(t.reason)).toMatch(/more frequent advertisement received from 198\.51\.100\.12/);
  });

  test("seed scenario: carp set advskew without preempt keeps roles, preempt on hands over, devd LINK_UP/LINK_DOWN actions in order", async () => {
    const l = lab(2, "dd");
    const [skunk1, skunk2] = l.hosts;
    const hast = (h: LabHost) => {
      const log = join(tmp, `${h.ns}-hast.log`);
      const script = join(tmp, `${h.ns}-carp-hast-switch`);
      writeFileSync(script, `#!/bin/sh\necho "$1" >> ${log}\n`);
      chmodSync(script, 0o755);
      const conf = join(tmp, `${h.ns}-devd.conf`);
      writeFileSync(
        conf,
        `notify 30 {\n\tmatch "system" "IFNET";\n\tmatch "subsystem" "carp0";\n\tmatch "type" "LINK_UP";\n\taction "${script} master";\n};\n\n` +
          `notify 30 {\n\tmatch "system" "IFNET";\n\tmatch "subsystem" "carp0";\n\tmatch "type" "LINK_DOWN";\n\taction "${script} slave";\n};\n`,
      );
      return { log, conf, lines: () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []) };
    };
    const h1 = hast(skunk1);
    const h2 = hast(skunk2);
    const n1 = node(l, skunk1, 10, ["--carp-name", "carp0", "--devd-conf", h1.conf]);
    await n1.waitState("MASTER", 8000);
    const n2 = node(l, skunk2, 20, ["--carp-name", "carp0", "--devd-conf", h2.conf]);
    await n2.waitState("BACKUP", 3000);
    expect(await waitFor(() => h1.lines().length === 1, 2000)).toBe(true);

    const set = skunk1.carpSync(["set", "--control", ctl(l, skunk1), "--vhid", "7", "--advskew", "30"]);
    expect(set.code).toBe(0);
    await sleep(2500); // several adverts with advskew 30: skunk2 has no preempt, nothing changes
    let s1 = status(l, skunk1);
    expect(s1.vhids[0]).toMatchObject({ state: "MASTER", advskew: 30, effectiveAdvskew: 30 });
    expect(status(l, skunk2).vhids[0].state).toBe("BACKUP");
    expect(status(l, skunk2).vhids[0].lastMaster).toMatchObject({ address: skunk1.ip4, advskew: 30 });

    const since = Date.now();
    expect(skunk2.carpSync(["set", "--control", ctl(l, skunk2), "--vhid", "7", "--preempt", "on"]).code).toBe(0);
    const t = await n2.waitState("MASTER", 2500);
    expect(String(t.reason)).toMatch(/preempting a slower master/);
    await n1.waitState("BACKUP", 2000, since);
    s1 = status(l, skunk1);
    expect(s1.vhids[0].state).toBe("BACKUP");
    expect(await waitFor(() => h1.lines().length === 2 && h2.lines().length === 1, 3000)).toBe(true);
    expect(h1.lines()).toEqual(["master", "slave"]);
    expect(h2.lines()).toEqual(["master"]);

    // Bad values are refused with a one-line error naming the flag, exit 2.
    const bad = skunk1.carpSync(["set", "--control", ctl(l, skunk1), "--vhid", "7", "--advskew", "300"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/--advskew/);
    const none = skunk1.carpSync(["set", "--control", ctl(l, skunk1), "--vhid", "9", "--advskew", "3"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--vhid: no vhid 9/);

    // SIGUSR1 logs the status line; SIGUSR2 makes the MASTER step down.
    n2.kill("SIGUSR1");
    await n2.waitJson((e) => e.event === "status" && e.state === "MASTER", 2000, "SIGUSR1 status line");
    const before = Date.now();
    n2.kill("SIGUSR2");
    const down = await n2.waitState("BACKUP", 2000, before);
    expect(String(down.reason)).toBe("user requested");
  });

  test("IPv6-only vhid (freebsd semantics): v6 adverts, failover, unsolicited NA moves the neighbour entry", async () => {
    const l = lab(3, "dg");
    const [a, b, obs] = l.hosts;
    const V6 = "2001:db8:100::200";
    const v6node = (h: LabHost, skew: number) =>
      h.carp(["run", "-i", "eth0", "-v", "5", "-p", "pw6", "-a", `${V6}/64`, "-k", String(skew), "--semantics", "freebsd", "--log-format", "json", "--control", ctl(l, h)]);
    const na = v6node(a, 10);
    await na.waitState("MASTER", 8000);
    const nb = v6node(b, 20);
    await nb.waitState("BACKUP", 3000);
    await sleep(1500);
    const sb = status(l, b);
    expect(sb.vhids[0].lastMaster).toMatchObject({ family: 6, advskew: 10 });
    expect(sb.carpstats.ipackets6).toBeGreaterThan(0);
    expect(sb.carpstats.badauth).toBe(0);
    expect(status(l, a).carpstats.opackets).toBe(0); // no IPv4 address, no IPv4 adverts
    expect(reach(obs, V6)).toBe(true);
    expect(neighMac(obs, V6)).toBe(mac(a));
    const killed = Date.now();
    na.kill("SIGKILL");
    const t = await nb.waitState("MASTER", 6000, killed);
    expect((t.ts as number) - (t.lastMasterAt as number)).toBeLessThanOrEqual(MASTER_DOWN_20 + 50);
    expect(await waitFor(() => neighMac(obs, V6) === mac(b), 3000)).toBe(true);
  });

  test("--no-manage-vip: ucarp-style scripts own the VIP; SIGUSR2 steps down and runs the downscript", async () => {
    const l = lab(1, "dh");
    const [a] = l.hosts;
    const up = join(tmp, `${l.tag}-up.sh`);
    const down = join(tmp, `${l.tag}-down.sh`);
    writeFileSync(up, `#!/bin/sh\nip addr add "$2"/32 dev "$1"\n`);
    writeFileSync(down, `#!/bin/sh\nip addr del "$2"/32 dev "$1"\n`);
    chmodSync(up, 0o755);
    chmodSync(down, 0o755);
    const na = node(l, a, 10, ["--no-manage-vip", "-n", "-u", up, "-d", down]);
    await na.waitState("MASTER", 8000);
    await na.waitJson((e) => e.event === "hook" && e.to === "MASTER" && e.code === 0, 3000, "upscript");
    expect(a.addresses()).toContain(VIP);
    expect(na.json().some((e) => e.event === "vip")).toBe(false);
    expect(status(l, a).vhids[0].manageVip).toBe(false);
    const before = Date.now();
    na.kill("SIGUSR2");
    await na.waitState("BACKUP", 2000, before);
    await na.waitJson((e) => e.event === "hook" && e.to === "BACKUP" && e.code === 0, 3000, "downscript");
    expect(a.addresses()).not.toContain(VIP);

    // carp set --state master takes over at once; --demote raises the advertised skew.
    const forced = Date.now();
    const r = a.carpSync(["set", "--control", ctl(l, a), "--vhid", "7", "--state", "master", "--demote", "+50"]);
    expect(r.code).toBe(0);
    const m = await na.waitState("MASTER", 1000, forced);
    expect(String(m.reason)).toBe("user requested");
    expect(status(l, a).vhids[0]).toMatchObject({ state: "MASTER", advskew: 10, effectiveAdvskew: 60, demotion: { vhid: 50, total: 50 } });
    expect(a.carpSync(["set", "--control", ctl(l, a), "--vhid", "7", "--demote", "-50"]).code).toBe(0);
    expect(status(l, a).vhids[0]).toMatchObject({ effectiveAdvskew: 10, demotion: { total: 0 } });
  });

  test("library: CarpNode embedded in a Node program emits transitions", async () => {
    const l = lab(1, "di");
    const [a] = l.hosts;
    const code = `
      import { CarpNode, loadConfigFromArgv } from ${JSON.stringify(join(REPO, "dist/index.js"))};
      const c = loadConfigFromArgv(["-i", "eth0", "-v", "4", "-p", "lib", "-a", "198.51.100.104", "--control", ${JSON.stringify(join(tmp, `${l.tag}-lib.sock`))}]);
      if (!c.ok || c.value.help) { console.error(c.error); process.exit(2); }
      const node = new CarpNode(c.value, { logSink: () => {} });
      node.on("transition", (t) => {
        console.log(JSON.stringify({ event: "transition", ts: t.ts, from: t.from, to: t.to, vhid: t.vhid }));
        if (t.to === "MASTER") setTimeout(() => node.stop(), 200);
      });
      node.on("stopped", () => console.log(JSON.stringify({ event: "stopped", status: node.status().vhids.length })));
      await node.start();`;
    const p = a.spawn(process.execPath, ["--input-type=module", "-e", code]);
    await p.waitState("MASTER", 8000);
    await p.waitJson((e) => e.event === "stopped", 3000, "stopped");
    expect((await p.exited).code).toBe(0);
    expect(p.transitions().map((t) => t.to)).toEqual(["BACKUP", "MASTER", "INIT"]);
    expect(a.addresses()).not.toContain("198.51.100.104");
  });

  test("two ucarp-style processes on one host: own default sockets, status/set find them, VIPs left alone", async () => {
    const l = lab(1, "dj");
    const [a] = l.hosts;
    // CARP_RUN_DIR stands in for /run/carp, so parallel test runs on one machine cannot collide.
    const runDir = join(tmp, `${l.tag}-run`);
    const env = { CARP_RUN_DIR: runDir };
    const one = (vhid: number) =>
      a.carp(["run", "-i", "eth0", "-s", a.ip4, "-v", String(vhid), "-p", "pw", "-a", `198.51.100.${vhid}`, "--log-format", "json"], { env });
    const n1 = one(201);
    await n1.waitState("MASTER", 8000);
    expect(existsSync(`${runDir}/eth0-201.sock`)).toBe(true);
    const n2 = one(202);
    await n2.waitState("MASTER", 8000);
    expect(n2.json().some((e) => e.event === "staleVip")).toBe(false);
    // The VIP is added (by `ip`) right after the transition is logged, not before: wait for it.
    await waitFor(() => a.addresses().includes("198.51.100.202"), 2000);
    expect(a.addresses()).toEqual(expect.arrayContaining(["198.51.100.201", "198.51.100.202"]));
    const st = JSON.parse(a.carpSync(["status", "--json"], { env }).stdout) as { vhids: Array<{ vhid: number; state: string; control: string }> };
    expect(st.vhids.map((v) => [v.vhid, v.state, v.control])).toEqual([[201, "MASTER", `${runDir}/eth0-201.sock`], [202, "MASTER", `${runDir}/eth0-202.sock`]]);
    const set = a.carpSync(["set", "--vhid", "202", "--advskew", "7"], { env });
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/advskew 7/);
    n1.kill("SIGTERM");
    n2.kill("SIGTERM");
    await Promise.all([n1.exited, n2.exited]);
    expect(existsSync(`${runDir}/eth0-201.sock`)).toBe(false);
  });

  test("unicast peers (--peer/--peer6), v4+v6 VIP set: both families authenticate, master-down failover", async () => {
    const l = lab(2, "dk");
    const [a, b] = l.hosts;
    const uni = (h: LabHost, peer: LabHost, skew: number) =>
      h.carp(["run", "-i", "eth0", "-s", h.ip4, "--srcip6", h.ip6, "-v", "6", "-p", "uni", "-a", "198.51.100.106/24", "-a", "2001:db8:100::106/64",
        "-k", String(skew), "--semantics", "freebsd", "--peer", peer.ip4, "--peer6", peer.ip6, "--log-format", "json", "--control", ctl(l, h)]);
    const na = uni(a, b, 10);
    await na.waitState("MASTER", 8000);
    const nb = uni(b, a, 20);
    await nb.waitState("BACKUP", 3000);
    await sleep(1500);
    const sb = status(l, b);
    expect(sb.carpstats.ipackets).toBeGreaterThan(0);
    expect(sb.carpstats.ipackets6).toBeGreaterThan(0);
    expect(sb.carpstats.badauth + sb.carpstats.badttl).toBe(0);
    expect(sb.vhids[0].state).toBe("BACKUP");
    const killed = Date.now();
    na.kill("SIGKILL");
    await nb.waitState("MASTER", 6000, killed);
    expect(await waitFor(() => b.addresses().includes("2001:db8:100::106"), 2000)).toBe(true);
  });

  test("scripts run after the VIP is in place and never hold up adverts; -B daemonizes", async () => {
    const l = lab(1, "dl");
    const [a] = l.hosts;
    const up = join(tmp, `${l.tag}-up.sh`);
    const log = join(tmp, `${l.tag}-up.log`);
    // The upscript records whether the VIP is already configured, then blocks for 2 s.
    writeFileSync(up, `#!/bin/sh\nif ip -o addr show dev "$1" | grep -q " $2/"; then echo present >> ${log}; else echo missing >> ${log}; fi\nsleep 2\n`);
    chmodSync(up, 0o755);
    const r = a.carpSync(["run", "-B", "-i", "eth0", "-s", a.ip4, "-v", "8", "-p", "pw", "-a", "198.51.100.108/24", "-u", up, "--control", ctl(l, a)]);
    expect(r.code).toBe(0); // returned at once, the daemon runs on in the background
    expect(await waitFor(() => existsSync(log), 8000)).toBe(true);
    const t0 = status(l, a).carpstats.opackets;
    await sleep(1500); // the script is still sleeping: adverts go on regardless (advbase 1)
    expect(status(l, a).carpstats.opackets).toBeGreaterThanOrEqual(t0 + 1);
    expect(readFileSync(log, "utf8").trim()).toBe("present");
    const pid = (JSON.parse(a.carpSync(["status", "--json", "--control", ctl(l, a)]).stdout) as { pid: number }).pid;
    process.kill(pid, "SIGTERM");
    expect(await waitFor(() => !a.addresses().includes("198.51.100.108"), 3000)).toBe(true);
  });

  test("SIGHUP reloads the YAML config without dropping MASTER", async () => {
    const l = lab(1, "de");
    const [a] = l.hosts;
    const file = join(tmp, `${l.tag}.yaml`);
    const yaml = (skew: number) =>
      `log: { format: json }\ncontrol: ${ctl(l, a)}\nvhids:\n  - { interface: eth0, vhid: 3, advskew: ${skew}, password: pw, addresses: ["198.51.100.103/24", "2001:db8:100::103/64"] }\n`;
    writeFileSync(file, yaml(10));
    const na = a.carp(["run", "--config", file]);
    await na.waitState("MASTER", 8000);
    expect(await waitFor(() => a.addresses().includes("2001:db8:100::103"), 2000)).toBe(true);
    writeFileSync(file, yaml(40));
    na.kill("SIGHUP");
    await na.waitJson((e) => e.event === "reload", 3000, "reload");
    const s = status(l, a);
    expect(s.vhids[0]).toMatchObject({ vhid: 3, state: "MASTER", advskew: 40 });
    expect(na.transitions()).toHaveLength(2); // INIT -> BACKUP -> MASTER, nothing since
    // IPv4 and IPv6 adverts both go out (kernel semantics: one per family).
    expect(s.carpstats.opackets).toBeGreaterThan(0);
    expect(s.carpstats.opackets6).toBeGreaterThan(0);
    expect(statSync(ctl(l, a)).mode & 0o777).toBe(0o600);

    // A VIP removed behind our back while MASTER comes back.
    a.exec("ip", ["addr", "del", "198.51.100.103/24", "dev", "eth0"]);
    await na.waitJson((e) => e.event === "vipReadded" && e.address === "198.51.100.103", 3000, "VIP re-added");
    expect(a.addresses()).toContain("198.51.100.103");

    // Link down: INIT and VIPs released; link up: back to BACKUP, then MASTER (nobody else here).
    const downAt = Date.now();
    a.exec("ip", ["link", "set", "eth0", "down"]);
    const init = await na.waitState("INIT", 3000, downAt);
    expect(String(init.reason)).toMatch(/interface down/);
    expect(await waitFor(() => !a.addresses().includes("198.51.100.103"), 2000)).toBe(true);
    a.exec("ip", ["link", "set", "eth0", "up"]);
    await na.waitState("BACKUP", 3000, downAt);
    await na.waitState("MASTER", 6000, downAt);

    // Reload with a vhid added, then with it removed again (it bows out and releases its VIP).
    const extra = `  - { interface: eth0, vhid: 4, password: pw2, addresses: ["198.51.100.104/24"] }\n`;
    writeFileSync(file, yaml(40) + extra);
    const added = Date.now();
    na.kill("SIGHUP");
    await na.waitJson((e) => e.event === "reload" && String(e.msg).includes("vhid 4@eth0: added") && (e.ts as number) > added, 3000, "reload adding vhid 4");
    await na.waitJson((e) => e.event === "transition" && e.vhid === 4 && e.to === "MASTER", 6000, "vhid 4 MASTER");
    expect(await waitFor(() => a.addresses().includes("198.51.100.104"), 2000)).toBe(true);
    writeFileSync(file, yaml(40));
    const removed = Date.now();
    na.kill("SIGHUP");
    await na.waitJson((e) => e.event === "transition" && e.vhid === 4 && e.to === "INIT" && (e.ts as number) > removed, 3000, "vhid 4 stopped");
    expect(await waitFor(() => !a.addresses().includes("198.51.100.104"), 2000)).toBe(true);
    expect(status(l, a).vhids.map((v) => [v.vhid, v.state])).toEqual([[3, "MASTER"]]);
  });
});

describe("carp run, bad input: one line naming the flag, exit 2", () => {
  requires("netns", "ours", "setpriv");
  test("carp status / set without a daemon: one line, exit 1; bad set flags exit 2", () => {
    const h = l!.hosts[0];
    const st = h.carpSync(["status", "--control", join(tmp, "nobody.sock")]);
    expect(st.code).toBe(1);
    expect(st.stderr.trim().split("\n")).toEqual([expect.stringMatching(/--control .*nobody\.sock: no carp daemon listening/)]);
    expect(h.carpSync(["set", "--vhid", "1", "--state", "sideways", "--control", join(tmp, "nobody.sock")]).code).toBe(2);
    expect(h.carpSync(["set", "--vhid", "1", "--control", join(tmp, "nobody.sock")]).code).toBe(2);
    expect(h.carpSync(["status", "--bogus"]).code).toBe(2);
  });

  test("missing privileges: exit 2, one line", () => {
    const h = l!.hosts[0];
    const r = h.tryExec("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, join(nobodyRoot(), "dist/cli/main.js"),
      "run", "-i", "eth0", "-s", h.ip4, "-v", "7", "-p", "pw", "-a", VIP, "--control", join(tmp, `${l!.tag}-nobody.sock`)]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^carp: missing capability CAP_NET_RAW .*; missing capability CAP_NET_ADMIN /)]);
  });

  const l = canUseNetns() ? lab(1, "df") : null;
  const cases: Array<[string, string[], RegExp]> = [
    ["vhid", ["-v", "256"], /--vhid/],
    ["advskew", ["-k", "-1"], /--advskew/],
    ["advbase", ["-b", "x"], /--advbase/],
    ["address", ["-a", "198.51.100.300"], /--addr/],
    ["password length", ["-p", "x".repeat(20)], /--pass/],
    ["interface", ["-i", "nosuch0"], /--interface/],
    ["passfile", ["-o", "/nonexistent/pw"], /--passfile/],
  ];
  test.each(cases)("%s", (_n, override, re) => {
    const base: Record<string, string> = { "-i": "eth0", "-s": "198.51.100.11", "-v": "7", "-p": "pw", "-a": VIP, "-b": "1", "-k": "0" };
    const args: string[] = [];
    const ov = new Map<string, string>([[override[0], override[1]]]);
    for (const [k, v] of Object.entries(base)) {
      if (k === "-p" && ov.has("-o")) continue;
      args.push(k, ov.get(k) ?? v);
    }
    if (ov.has("-o")) args.push("-o", ov.get("-o")!);
    const r = l!.hosts[0].carpSync(["run", ...args, "--control", join(tmp, `${l!.tag}-bad.sock`)]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(re);
  });
});
