// The namespace lab against real namespaces, a real bridge, real ucarp/keepalived and tcpdump.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

import { Lab, cleanupPrefix, listNamespaces, uniquePrefix } from "../../src/lab/index.js";
import { AdvertCapture, intervals, measureTakeover, parseTcpdumpLine } from "../../src/lab/capture.js";
import { LabNode, findVhidState, stateFromLogLine } from "../../src/lab/nodes.js";
import { until } from "../../src/lab/sys.js";
import { requires, unmet } from "../helpers/require.js";

const labs: Lab[] = [];
function newLab(): Lab {
  const lab = Lab.create({ prefix: uniquePrefix("carptest") });
  labs.push(lab);
  return lab;
}
afterEach(async () => {
  for (const l of labs.splice(0)) await l.close(300);
});

describe("topology", () => {
  it("puts hosts on one bridge, reachable at L2, and removes every namespace on destroy", async () => {
    const lab = newLab();
    const a = lab.addHost("a", { addrs: ["198.51.100.1/24"] });
    const b = lab.addHost("b", { addrs: ["198.51.100.2/24", "2001:db8::2/64"] });
    expect(listNamespaces(lab.prefix).sort()).toEqual([`${lab.prefix}a`, `${lab.prefix}b`, `${lab.prefix}sw`]);
    expect(b.addresses()).toEqual(expect.arrayContaining(["198.51.100.2", "2001:db8::2"]));
    expect(await a.resolve("198.51.100.2")).toBe(b.mac);
    expect(await b.resolve("198.51.100.1")).toBe(a.mac);
    expect(await a.resolve("198.51.100.77", 300)).toBeNull();
    const sleeper = a.spawn("sleep", ["300"]);
    await until(() => sleeper.pid !== undefined, 1000);
    lab.destroy();
    expect(listNamespaces(lab.prefix)).toEqual([]);
    expect(existsSync(lab.dir)).toBe(false);
    await sleeper.exited;
    expect(sleeper.running).toBe(false);
  });

  it("link down on the bridge side cuts the host off; link up restores it", async () => {
    const lab = newLab();
    const a = lab.addHost("a", { addrs: ["198.51.100.1/24"] });
    const b = lab.addHost("b", { addrs: ["198.51.100.2/24"] });
    lab.linkDown("b");
    expect(b.ip("link", "show", "eth0")).toMatch(/NO-CARRIER|LOWERLAYERDOWN/);
    expect(await a.resolve("198.51.100.2", 300)).toBeNull();
    lab.linkUp("b");
    expect(await until(() => a.resolve("198.51.100.2"), 3000)).toBe(b.mac);
  });

  it("partitions and 100% loss drop frames on the bridge; heal restores", async () => {
    expect(unmet("nft")).toBeNull();
    const lab = newLab();
    const a = lab.addHost("a", { addrs: ["198.51.100.1/24"] });
    const b = lab.addHost("b", { addrs: ["198.51.100.2/24"] });
    const c = lab.addHost("c", { addrs: ["198.51.100.3/24"] });
    lab.partition(["a"], ["b"]);
    expect(await a.resolve("198.51.100.2", 300)).toBeNull();
    expect(await a.resolve("198.51.100.3")).toBe(c.mac);
    lab.heal();
    expect(await a.resolve("198.51.100.2")).toBe(b.mac);
    lab.impair("c", { lossPct: 100 });
    expect(await a.resolve("198.51.100.3", 300)).toBeNull();
    lab.impair("c", {});
    expect(await a.resolve("198.51.100.3")).toBe(c.mac);
  });

  it("delay uses netem, or says clearly that the kernel lacks it", async () => {
    const lab = newLab();
    lab.addHost("a", { addrs: ["198.51.100.1/24"] });
    let err: unknown = null;
    try {
      lab.impair("a", { delayMs: 20 });
    } catch (e) {
      err = e;
    }
    if (err) expect(String(err)).toMatch(/netem/);
    else expect(lab.host("a").exec("tc", ["qdisc", "show", "dev", "eth0"])).toMatch(/netem.*delay 20ms/);
  });

  it("rejects bad names and prefixes", () => {
    expect(() => Lab.create({ prefix: "x" })).toThrow(/prefix/);
    const lab = newLab();
    expect(() => lab.addHost("Bad_Name")).toThrow(/bad host name/);
    expect(() => lab.host("nope")).toThrow(/no host/);
  });

  it("cleanupPrefix removes what a crashed (SIGKILLed) run left behind", async () => {
    const prefix = uniquePrefix("carpcrash");
    // A run that dies without cleaning up: namespaces, a process inside one, a temp dir.
    // The "run" must be the pid we SIGKILL (exec), and the leftover in the namespace must not hold our
    // pipes: otherwise an orphaned sleep keeps this worker's stdout/stderr open and vitest cannot exit.
    const script = [
      `ip netns add ${prefix}sw`,
      `ip netns add ${prefix}a`,
      `mkdir -p ${join(tmpdir(), prefix)}x`,
      `(ip netns exec ${prefix}a sleep 300 </dev/null >/dev/null 2>&1 &)`,
      "echo ready",
      "exec sleep 300",
    ].join("; ");
    const child = spawn("sh", ["-c", script], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
      child.on("exit", (c) => reject(new Error(`child exited ${c}`)));
    });
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));
    expect(listNamespaces(prefix).length).toBe(2);
    const removed = cleanupPrefix(prefix);
    expect(removed.filter((n) => !n.startsWith("/"))).toHaveLength(2);
    expect(removed).toContain(`${join(tmpdir(), prefix)}x`);
    expect(listNamespaces(prefix)).toEqual([]);
    expect(existsSync(`${join(tmpdir(), prefix)}x`)).toBe(false);
  });
});

describe("ucarp in the lab", () => {
  requires("ucarp", "tcpdump");
  it("elects one master, and on a crash the backup takes over after the master-down time", async () => {
    const lab = newLab();
    const h1 = lab.addHost("h1", { addrs: ["198.51.100.11/24"] });
    const h2 = lab.addHost("h2", { addrs: ["198.51.100.12/24"] });
    const obs = lab.addHost("obs", { addrs: ["198.51.100.2/24"] });
    const cap = await AdvertCapture.start(obs, { pcapFile: `${lab.dir}/run.pcap` });
    const vip = "198.51.100.100";
    const n1 = new LabNode("ucarp", h1, { vhid: 7, vip, advskew: 0, preempt: true });
    const n2 = new LabNode("ucarp", h2, { vhid: 7, vip, advskew: 100, preempt: true });
    await Promise.all([n1.start(), n2.start()]);
    expect(await until(() => n1.state === "MASTER" && n2.state === "BACKUP", 8000)).toBe(true);
    expect(await until(() => h1.has(vip), 2000)).toBe(true);
    expect(h2.has(vip)).toBe(false);
    expect(await obs.resolve(vip)).toBe(h1.mac);
    await cap.waitFor((a) => a.src === h1.addr && a.vhid === 7, 3000);
    const first = cap.select((a) => a.src === h1.addr)[0];
    expect(first).toMatchObject({ proto: "carp", vhid: 7, advbase: 1, advskew: 0 });

    const killedAt = Date.now();
    await n1.kill();
    expect(n1.state).toBe("STOPPED");
    await cap.waitFor((a) => a.src === h2.addr, 6000, killedAt);
    const to = measureTakeover(cap.adverts, 7, h2.addr, killedAt);
    expect(to).not.toBeNull();
    // ucarp master down = 3 * advbase + advskew/256 = 3.39 s, but it checks timers only when poll()
    // wakes and runs the upscript before its first advert: observed 4-5.2 s.
    expect(to!.gapMs).toBeGreaterThan(3390);
    expect(to!.gapMs).toBeLessThan(6500);
    expect(await until(() => n2.state === "MASTER" && h2.has(vip), 2000)).toBe(true);
    expect(await until(async () => (await obs.resolve(vip)) === h2.mac, 2000)).toBe(true);
    await cap.stop();
    expect(existsSync(`${lab.dir}/run.pcap`)).toBe(true);
  });

  it("a partition makes both sides master; healing leaves one", async () => {
    expect(unmet("nft")).toBeNull();
    const lab = newLab();
    const h1 = lab.addHost("h1", { addrs: ["198.51.100.11/24"] });
    const h2 = lab.addHost("h2", { addrs: ["198.51.100.12/24"] });
    const vip = "198.51.100.100";
    const n1 = new LabNode("ucarp", h1, { vhid: 9, vip, advskew: 0, preempt: true });
    const n2 = new LabNode("ucarp", h2, { vhid: 9, vip, advskew: 50, preempt: true });
    await Promise.all([n1.start(), n2.start()]);
    expect(await until(() => n1.state === "MASTER" && n2.state === "BACKUP", 8000)).toBe(true);
    lab.partition(["h1"], ["h2"]);
    expect(await until(() => n2.state === "MASTER", 6000)).toBe(true);
    expect(n1.state).toBe("MASTER");
    lab.heal();
    expect(await until(() => n2.state === "BACKUP", 4000)).toBe(true);
    expect(n1.state).toBe("MASTER");
  });
});

describe("keepalived in the lab", () => {
  requires("keepalived");
  it("elects the higher priority as master and fails over to the other", async () => {
    const lab = newLab();
    const h1 = lab.addHost("k1", { addrs: ["198.51.100.21/24"] });
    const h2 = lab.addHost("k2", { addrs: ["198.51.100.22/24"] });
    const obs = lab.addHost("obs", { addrs: ["198.51.100.2/24"] });
    const cap = await AdvertCapture.start(obs, { decode: "vrrp" });
    const vip = "198.51.100.101";
    const n1 = new LabNode("keepalived", h1, { vhid: 11, vip, advskew: 0, preempt: true });
    const n2 = new LabNode("keepalived", h2, { vhid: 11, vip, advskew: 100, preempt: true });
    await Promise.all([n1.start(), n2.start()]);
    expect(await until(() => n1.state === "MASTER" && n2.state === "BACKUP", 10000)).toBe(true);
    const ad = await cap.waitFor((a) => a.src === h1.addr, 3000);
    expect(ad).toMatchObject({ proto: "vrrp", vhid: 11, prio: 254 });
    expect(await until(() => h1.has(vip), 2000)).toBe(true);
    await n1.kill();
    expect(await until(() => n2.state === "MASTER" && h2.has(vip), 6000)).toBe(true);
  });
});

describe("our node in the lab", () => {
  requires("ours", "tcpdump");
  it("reports state through carp status, hands over on carp set, and stops cleanly", async () => {
    const lab = newLab();
    const h1 = lab.addHost("c1", { addrs: ["198.51.100.31/24"] });
    const h2 = lab.addHost("c2", { addrs: ["198.51.100.32/24"] });
    const obs = lab.addHost("obs", { addrs: ["198.51.100.2/24"] });
    const cap = await AdvertCapture.start(obs);
    const vip = "198.51.100.102";
    const n1 = new LabNode("carp", h1, { vhid: 12, vip, advskew: 0, preempt: true });
    const n2 = new LabNode("carp", h2, { vhid: 12, vip, advskew: 40, preempt: true });
    await Promise.all([n1.start(), n2.start()]);
    expect(await until(() => n1.refresh() === "MASTER" && n2.refresh() === "BACKUP", 8000)).toBe(true);
    expect(findVhidState(n1.queryStatus(), 12)).toBe("MASTER");
    expect(findVhidState(n1.queryStatus(), 13)).toBeNull();
    expect(await until(async () => (await obs.resolve(vip)) === h1.mac, 3000)).toBe(true);
    const t = Date.now();
    n1.setAdvskew(200);
    const ad = await cap.waitFor((a) => a.src === h1.addr && a.advskew === 200, 3000, t);
    expect(ad.vhid).toBe(12);
    await cap.waitFor((a) => a.src === h2.addr, 3000, t);
    expect(await until(() => n2.refresh() === "MASTER" && n1.refresh() === "BACKUP", 3000)).toBe(true);
    // The log-derived transitions agree with status.
    expect(n2.transitions.map((x) => x.to)).toEqual(["INIT", "BACKUP", "MASTER"]);
    await n2.stop();
    expect(n2.state).toBe("STOPPED");
    expect(n2.proc!.exitSignal ?? n2.proc!.exitCode).not.toBe("SIGKILL");
    expect(() => new LabNode("ucarp", h1, { vhid: 1, vip }).setAdvskew(1)).toThrow(/cannot change advskew/);
  });
});

describe("log and capture parsing", () => {
  it("reads states from ucarp, keepalived and our JSON/text logs", () => {
    expect(stateFromLogLine("ucarp", "2026-11-25T02:16:18.346019: [WARNING] Switching to state: MASTER")).toBe("MASTER");
    expect(stateFromLogLine("keepalived", "Wed Nov 25 02:20:01 2026: (VI_1) Entering BACKUP STATE")).toBe("BACKUP");
    expect(stateFromLogLine("keepalived", "(VI_1) Entering FAULT STATE")).toBe("INIT");
    expect(stateFromLogLine("carp", '{"msg":"vhid 1@eth0: BACKUP -> MASTER (master timed out)","event":"transition","from":"BACKUP","to":"MASTER"}')).toBe("MASTER");
    expect(stateFromLogLine("carp", "2026-11-25T02:30:00.123Z info vhid 1@eth0: INIT -> BACKUP (initialization complete)")).toBe("BACKUP");
    expect(stateFromLogLine("carp", '{"msg":"MASTER on eth0 id 1","event":"status","state":"MASTER"}')).toBeNull();
    expect(stateFromLogLine("ucarp", "[INFO] Spawning [/x/up.sh eth0 198.51.100.100]")).toBeNull();
  });

  it("parses tcpdump's CARP and VRRP lines and measures a takeover", () => {
    const c = parseTcpdumpLine("1795572978.347701 IP 198.51.100.1 > 224.0.0.18: CARPv2-advertise 36: vhid=7 advbase=1 advskew=0 authlen=7 counter=11305899681063081389");
    expect(c).toMatchObject({ src: "198.51.100.1", dst: "224.0.0.18", proto: "carp", vhid: 7, advbase: 1, advskew: 0 });
    expect(c!.t).toBeCloseTo(1795572978347.701, 2);
    const v = parseTcpdumpLine("1795572978.5 IP 198.51.100.21 > 224.0.0.18: VRRPv2, Advertisement, vrid 11, prio 254, authtype none, intvl 1s, length 20");
    expect(v).toMatchObject({ proto: "vrrp", vhid: 11, prio: 254, advskew: 1, advbase: 1 });
    expect(parseTcpdumpLine("1795572978.5 IP 198.51.100.1 > 198.51.100.2: UDP, length 6")).toBeNull();
    const ad = (t: number, src: string) => ({ t, src, dst: "224.0.0.18", proto: "carp" as const, vhid: 1, advbase: 1, advskew: 0 });
    const ads = [ad(0, "a"), ad(1000, "a"), ad(2000, "a"), ad(5200, "b"), ad(6200, "b")];
    expect(measureTakeover(ads, 1, "b", 2500)).toMatchObject({ gapMs: 3200, lastOld: { t: 2000 }, firstNew: { t: 5200 } });
    expect(measureTakeover(ads, 1, "c", 0)).toBeNull();
    expect(intervals(ads, "a", 1)).toEqual([1000, 1000]);
  });
});
