// Live: two Debian ucarp processes elect on a bridge while `carp inspect --interface` watches from a
// third namespace; then `carp send` drives a ucarp node (step-down on a better advert, takeover on a
// bow-out, a bad-auth advert ignored). Real namespaces, real ucarp, the built CLI.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, type LabHost } from "../../src/lab/topology.js";
import { cliMain, ensureBuilt, jsonLines } from "./helpers.js";
import { requires } from "../helpers/require.js";

const UCARP = "/usr/sbin/ucarp";

const addr = { a: "198.51.100.1", b: "198.51.100.2", c: "198.51.100.3" };
const VIP = "198.51.100.100";
let lab: Lab | undefined;
const H = {} as Record<"a" | "b" | "c", LabHost>;
let work = ""; // the lab's temp dir
const children: ChildProcess[] = [];

function start(args: string[]): ChildProcess & { out: () => string; err: () => string } {
  const c = spawn(args[0], args.slice(1), { stdio: ["ignore", "pipe", "pipe"] }) as ChildProcess & { out: () => string; err: () => string };
  let out = "", err = "";
  c.stdout?.on("data", (d) => (out += d));
  c.stderr?.on("data", (d) => (err += d));
  c.out = () => out;
  c.err = () => err;
  children.push(c);
  return c;
}

function exited(c: ChildProcess, ms: number): Promise<number | null> {
  if (c.exitCode !== null) return Promise.resolve(c.exitCode);
  return new Promise((r) => {
    const t = setTimeout(() => r(null), ms);
    c.once("exit", (code) => {
      clearTimeout(t);
      r(code);
    });
  });
}

async function stop(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  c.kill("SIGTERM");
  if ((await exited(c, 2000)) === null && c.exitCode === null) c.kill("SIGKILL");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, ms: number): Promise<number | null> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (cond()) return Date.now() - t0;
    await sleep(50);
  }
  return cond() ? Date.now() - t0 : null;
}

/** A ucarp node; its up/down scripts append to marker files. */
function ucarp(node: "a" | "b", o: { vhid?: number; skew: number; vip?: string; name: string; deadratio?: number }) {
  const up = join(work, `${o.name}.up`);
  const down = join(work, `${o.name}.down`);
  for (const [script, marker] of [[`${up}.sh`, up], [`${down}.sh`, down]]) {
    writeFileSync(script, `#!/bin/sh\necho "$@" >> ${marker}\n`);
    chmodSync(script, 0o755);
  }
  const args = [
    "ip", "netns", "exec", H[node].ns, UCARP, "-i", H[node].ifname, "-s", addr[node], "-v", String(o.vhid ?? 7), "-p", "livepw",
    "-a", o.vip ?? VIP, "-b", "1", "-k", String(o.skew), "-P", "-n", "-f", "none", "-u", `${up}.sh`, "-d", `${down}.sh`,
  ];
  if (o.deadratio) args.push("-r", String(o.deadratio));
  const proc = start(args);
  return { proc, isUp: () => existsSync(up), isDown: () => existsSync(down), reset: () => [up, down].forEach((f) => rmSync(f, { force: true })) };
}

function inspect(args: string[]) {
  return start(["ip", "netns", "exec", H.c.ns, process.execPath, cliMain, "inspect", "--interface", H.c.ifname, ...args]);
}

function send(args: string[]) {
  return spawnSync("ip", ["netns", "exec", H.c.ns, process.execPath, cliMain, "send", "--interface", H.c.ifname, ...args], { encoding: "utf8" });
}

describe("live: ucarp nodes on a bridge, inspector and sender in a third namespace", () => {
  requires("netns", "ucarp", "tcpdump");
  beforeAll(() => {
    ensureBuilt();
    lab = Lab.create();
    work = lab.dir;
    // c first: it gets the lab's MAC 02:00:00:00:00:01, which `carp send --src-mac` below borrows.
    for (const n of ["c", "a", "b"] as const) H[n] = lab.addHost(n, { addrs: [`${addr[n]}/24`] });
  }, 60_000);

  afterAll(async () => {
    for (const c of children) await stop(c);
    lab?.destroy();
  });

  async function stopAll(): Promise<void> {
    for (const c of children.splice(0)) await stop(c);
  }

  it("the summary names the master after a preemption, and why it wins", async () => {
    // No --duration: the inspector runs until SIGTERM and then prints its summary (--duration is a safety net).
    const ins = inspect(["--summary", "--json", "--duration", "60", "--pass", "livepw", "--vip", `7=${VIP}`]);
    await sleep(700);
    // B alone first: becomes master (default deadratio 3, so once it is backup it will not time out
    // on a loaded machine while A advertises every 1.04 s).
    const b = ucarp("b", { skew: 100, name: "e1b" });
    expect(await waitFor(b.isUp, 8000)).not.toBeNull();
    await sleep(1500);
    const a = ucarp("a", { skew: 10, name: "e1a", deadratio: 1 }); // better skew + preempt: takes over
    expect(await waitFor(a.isUp, 8000)).not.toBeNull();
    await sleep(4000); // a few adverts from the new master, and B silent for longer than its interval
    ins.kill("SIGTERM");
    expect(await exited(ins, 10_000)).toBe(0);
    const s = JSON.parse(ins.out());
    const v = s.vhids.find((x: any) => x.vhid === 7 && x.protocol === "carp");
    expect(v.master.ip).toBe(addr.a);
    expect(v.backups).toContain(addr.b);
    expect(v.transitions).toBeGreaterThanOrEqual(1);
    expect(v.transition_log.at(-1)).toMatchObject({ from: addr.b, to: addr.a });
    expect(v).toMatchObject({ advbase: 1, advskew: 10 });
    expect(v.auth.status).toBe("ok");
    expect(v.election.winner).toBe(addr.a);
    expect(v.election.explanation).toMatch(/more frequent advertisements than 198\.51\.100\.2 \(advbase 1 advskew 100\)/);
    expect(v.interval.mean_s).toBeGreaterThan(1.0);
    expect(v.interval.mean_s).toBeLessThan(1.2);
    // ucarp sources its adverts from 00:00:5e:00:00:vhid, which the inspector points out.
    expect(v.problems.map((p: any) => p.code)).toContain("source-mac");
    // The GARP ucarp sends on becoming master was seen.
    expect(s.packets.garp).toBeGreaterThanOrEqual(1);
    await stopAll();
  }, 60_000);

  it("a node hashing a different VIP: the HMAC failure is diagnosed as a VIP-set mismatch, and both act as master", async () => {
    const ins = inspect(["--json", "--duration", "6", "--pass", "livepw", "--vip", `7=${VIP}`]);
    const insNoKeys = inspect(["--summary", "--json", "--duration", "6"]);
    const insSum = inspect(["--summary", "--json", "--duration", "6", "--pass", "livepw", "--vip", `7=${VIP}`]);
    await sleep(700);
    ucarp("a", { skew: 10, name: "e2a", deadratio: 1 });
    ucarp("b", { skew: 100, name: "e2b", deadratio: 1, vip: "198.51.100.101" });
    expect(await exited(ins, 15_000)).toBe(0);
    expect(await exited(insNoKeys, 15_000)).toBe(0);
    expect(await exited(insSum, 15_000)).toBe(0);
    const rows = jsonLines(ins.out()).filter((r) => r.kind === "carp");
    const fromA = rows.filter((r) => r.src === addr.a);
    const fromB = rows.filter((r) => r.src === addr.b);
    expect(fromA.length).toBeGreaterThan(1);
    expect(fromB.length).toBeGreaterThan(1);
    for (const r of fromA) expect(r.auth).toBe("ok");
    for (const r of fromB) {
      expect(r).toMatchObject({ auth: "bad", error: "badauth" });
      expect(r.diagnosis).toMatch(/password is right but the VIP set differs: the sender hashes 198\.51\.100\.101, you gave 198\.51\.100\.100/);
    }
    // Without keys and with them, the two advertise at the same time: two masters.
    const v = JSON.parse(insNoKeys.out()).vhids.find((x: any) => x.vhid === 7);
    expect(v.problems.map((p: any) => p.code)).toContain("two-masters");
    const k = JSON.parse(insSum.out()).vhids.find((x: any) => x.vhid === 7);
    expect(k.problems.map((p: any) => p.code)).toEqual(expect.arrayContaining(["two-masters", "auth"]));
    expect(k.master.ip).toBe(addr.a);
    expect(k.auth.status).toBe("mixed");
    expect(k.auth.diagnosis).toMatch(/the sender hashes 198\.51\.100\.101/);
    await stopAll();
  }, 40_000);

  it("carp send crafts exactly the requested fields (TTL, MACs, demote, counter, bad sum, unicast, IPv6)", async () => {
    // The inspector listens in namespace b (via its own interface) while c sends.
    // --count 4 ends the capture as soon as the 4th advert is seen (--duration is only a safety net).
    const watch = start(["ip", "netns", "exec", H.b.ns, process.execPath, cliMain, "inspect", "--interface", H.b.ifname, "--json", "--count", "4", "--duration", "20", "--pass", "7=pw7", "--vip", "7=198.51.100.70"]);
    const began = Date.now();
    await sleep(800);
    const base = ["--vhid", "7", "--pass", "pw7", "--vip", "198.51.100.70", "-q"];
    for (const extra of [
      ["--advbase", "2", "--advskew", "33", "--demote", "4", "--counter", "0x0102030405060708", "--ttl", "7", "--src-mac", "02:00:00:00:00:01"],
      ["--bad-sum", "--counter", "9"],
      ["--dst", addr.b, "--counter", "10"],
      ["-6", "--counter", "11"],
    ]) {
      const r = send([...base, ...extra]);
      expect(r.status, r.stderr).toBe(0);
    }
    expect(await exited(watch, 10_000)).toBe(0);
    expect(Date.now() - began).toBeLessThan(10_000);
    const rows = jsonLines(watch.out()).filter((r) => r.kind === "carp");
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatchObject({
      vhid: 7, advbase: 2, advskew: 33, demote: 4, counter: "0102030405060708", ttl: 7, error: "badttl", auth: "ok",
      src: addr.c, dst: "224.0.0.18", src_mac: "02:00:00:00:00:01", dst_mac: "01:00:5e:00:00:12", checksum: "ok",
    });
    expect(rows[1]).toMatchObject({ counter: "0000000000000009", checksum: "bad", error: "badsum" });
    expect(rows[2]).toMatchObject({ counter: "000000000000000a", dst: addr.b, auth: "ok", error: null, src_mac: "00:00:5e:00:01:07" });
    expect(rows[3]).toMatchObject({ counter: "000000000000000b", family: 6, dst: "ff02::12", dst_mac: "33:33:00:00:00:12", ttl: 255, auth: "ok" });
    expect(rows[3].src).toMatch(/^fe80::/);
    // Usage errors are one line and exit 2.
    const bad = send(["--vhid", "300"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
  }, 30_000);

  it("carp send: a better advert makes a ucarp master step down; a bad-auth advert is ignored", async () => {
    const u = ucarp("a", { skew: 100, name: "e3", deadratio: 1 });
    expect(await waitFor(u.isUp, 6000)).not.toBeNull();
    const common = ["--vhid", "7", "--pass", "livepw", "--vip", VIP, "--advskew", "0", "--count", "4", "--interval", "0.3"];
    const bad = send([...common, "--bad-auth", "--json"]);
    expect(bad.status, bad.stderr).toBe(0);
    const sent = jsonLines(bad.stdout);
    expect(sent).toHaveLength(4);
    expect(sent[0]).toMatchObject({ kind: "carp", vhid: 7, advskew: 0, src: addr.c, ttl: 255, src_mac: "00:00:5e:00:01:07", auth: "bad" });
    expect(await waitFor(u.isDown, 2500)).toBeNull(); // still master
    const good = send(common);
    expect(good.status, good.stderr).toBe(0);
    expect(await waitFor(u.isDown, 3000)).not.toBeNull();
    expect(readFileSync(join(work, "e3.down"), "utf8").trim()).toBe(`${H.a.ifname} ${VIP}`);
    await stopAll();
  }, 30_000);

  it("carp send --bow-out: a ucarp backup takes over at once instead of waiting for master-down", async () => {
    // Our emulated master keeps ucarp (advskew 100, deadratio 3: master-down ≈ 3.4 s) in BACKUP.
    const master = start([
      "ip", "netns", "exec", H.c.ns, process.execPath, cliMain, "send", "--interface", H.c.ifname, "--vhid", "7", "--pass", "livepw",
      "--vip", VIP, "--advskew", "0", "--count", "0", "--interval", "0.5", "--quiet",
    ]);
    await sleep(800);
    const u = ucarp("a", { skew: 100, name: "e4" });
    await sleep(4500);
    expect(u.isUp()).toBe(false); // it stayed backup behind our adverts
    await stop(master);
    const t0 = Date.now();
    const bow = send(["--vhid", "7", "--pass", "livepw", "--vip", VIP, "--bow-out", "--json"]);
    expect(bow.status, bow.stderr).toBe(0);
    expect(jsonLines(bow.stdout)[0]).toMatchObject({ advbase: 255, advskew: 255 });
    const took = await waitFor(u.isUp, 5000);
    expect(took).not.toBeNull();
    expect(Date.now() - t0).toBeLessThan(2000); // well before the 3.4 s master-down timer
    await stopAll();
  }, 30_000);
});
