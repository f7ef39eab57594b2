// The addon's process-level effects, against real sockets and processes: sd_notify and syslog datagrams
// received by a python3 unix socket listener (path and abstract name), SO_PEERCRED of a client in
// another process with another uid, SCHED_FIFO in a child, and GARP / NA / --nomcast frames sent on
// AF_PACKET in one namespace and captured byte for byte in another.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, closeSync, rmSync, chmodSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { parseAddress } from "../../src/daemon/config.js";
import { SyslogWriter } from "../../src/daemon/syslog.js";
import { Announcer, interfaceInfo } from "../../src/host/announce.js";
import { currentScheduler, DatagramSender, peerCredentials, sdNotify, sendDatagram, setRealtimePriority } from "../../src/host/sys.js";
import { uniquePrefix } from "../../src/lab/names.js";
import { Lab } from "../../src/lab/topology.js";
import { buildGratuitousArp } from "../../src/protocol/arp.js";
import { buildUnsolicitedNa } from "../../src/protocol/ndp.js";
import { waitFor } from "./netns-helper.js";
import { socketFdsWithInodes } from "../helpers/unix.js";
import { nobodyRoot } from "../helpers/nobody.js";

const tmp = mkdtempSync(join(tmpdir(), "carp-sys-"));
chmodSync(tmp, 0o755);
const procs: ChildProcess[] = [];
afterAll(() => {
  for (const p of procs) p.kill("SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
});

/** A python3 process printing one hex line per datagram/frame it receives; resolves when it is ready. */
async function listener(code: string, args: string[], prefix: string[] = []): Promise<{ got: string[]; proc: ChildProcess }> {
  const p = spawn(prefix[0] ?? "python3", [...prefix.slice(1), ...(prefix.length ? ["python3"] : []), "-u", "-c", code, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  procs.push(p);
  const got: string[] = [];
  let ready = false;
  let buf = "";
  p.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line === "ready") ready = true;
      else got.push(line);
    }
  });
  if (!(await waitFor(() => ready, 5000))) throw new Error("listener not ready");
  return { got, proc: p };
}

const DGRAM = `import socket,sys
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)
a=sys.argv[1]
s.bind("\\0"+a[1:] if a.startswith("@") else a)
print("ready")
while True:
  print(s.recv(65535).hex())
`;
const text = (hex: string) => Buffer.from(hex, "hex").toString();

/** Unix sockets this process holds. */
function unixSocketFds(): number {
  const inodes = new Set(
    execFileSync("cat", ["/proc/net/unix"], { encoding: "utf8" }).split("\n").slice(1).map((l) => l.trim().split(/\s+/)[6]).filter(Boolean),
  );
  return socketFdsWithInodes(inodes);
}

describe("unix datagrams", () => {
  it("sd_notify sends to NOTIFY_SOCKET (path and abstract), an error value when unset or nobody listens", async () => {
    const path = join(tmp, "notify");
    const l = await listener(DGRAM, [path]);
    const abs = `@carp-test-${process.pid}-notify`;
    const la = await listener(DGRAM, [abs]);
    const saved = process.env.NOTIFY_SOCKET;
    try {
      process.env.NOTIFY_SOCKET = path;
      expect(sdNotify("READY=1\nSTATUS=running")).toEqual({ ok: true });
      process.env.NOTIFY_SOCKET = abs;
      expect(sdNotify("STOPPING=1")).toEqual({ ok: true });
      expect(await waitFor(() => l.got.length >= 1 && la.got.length >= 1)).toBe(true);
      expect(text(l.got[0])).toBe("READY=1\nSTATUS=running");
      expect(text(la.got[0])).toBe("STOPPING=1");
      delete process.env.NOTIFY_SOCKET;
      expect(sdNotify("READY=1")).toEqual({ ok: false, error: "NOTIFY_SOCKET is not set" });
      process.env.NOTIFY_SOCKET = join(tmp, "nobody");
      const r = sdNotify("READY=1");
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatch(/ENOENT/);
    } finally {
      if (saved === undefined) delete process.env.NOTIFY_SOCKET;
      else process.env.NOTIFY_SOCKET = saved;
    }
    expect(sendDatagram(`@carp-test-${process.pid}-none`, "x")).toMatchObject({ ok: false, code: "ECONNREFUSED" });
  });

  it("syslog: one RFC 3164 datagram per line on one socket kept open between lines", async () => {
    const path = join(tmp, "log");
    const l = await listener(DGRAM, [path]);
    const w = SyslogWriter.open("local3", { socket: path, tag: "carptest" });
    if ("skipped" in w) throw new Error(w.skipped);
    const before = unixSocketFds();
    w.write("warn", "vhid 1@eth0: one\nline");
    expect(unixSocketFds()).toBe(before + 1);
    for (let i = 0; i < 20; i++) w.write("info", `line ${i}`);
    expect(unixSocketFds()).toBe(before + 1); // the same socket, not one per line
    await w.close();
    expect(unixSocketFds()).toBe(before);
    expect(await waitFor(() => l.got.length >= 21)).toBe(true);
    expect(text(l.got[0])).toMatch(new RegExp(`^<156>[A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d carptest\\[${process.pid}\\]: vhid 1@eth0: one line$`));
    expect(text(l.got[20])).toMatch(/^<158>.* carptest\[\d+\]: line 19$/);
    // A listener that went away costs the line, not an exception.
    const s = new DatagramSender(join(tmp, "gone"));
    expect(s.send("x")).toMatchObject({ ok: false, code: "ENOENT" });
    s.close();
  });
});

describe("SO_PEERCRED", () => {
  it("gives the pid, uid and gid of a client in another process", async () => {
    const path = join(tmp, "ctl.sock");
    const fds: number[] = [];
    const conns: Socket[] = [];
    const server: Server = createServer((c) => {
      conns.push(c);
      fds.push((c as unknown as { _handle: { fd: number } })._handle.fd);
    });
    await new Promise<void>((r) => server.listen(path, r));
    chmodSync(path, 0o777);
    const client = spawn("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", `import socket,time\ns=socket.socket(socket.AF_UNIX)\ns.connect(${JSON.stringify(path)})\ntime.sleep(5)\n`], { stdio: "ignore" });
    procs.push(client);
    try {
      expect(await waitFor(() => fds.length > 0)).toBe(true);
      expect(peerCredentials(fds[0])).toEqual({ ok: true, value: { pid: client.pid, uid: 65534, gid: 65534 } });
      const f = openSync(join(tmp, "plain"), "w");
      expect(peerCredentials(f)).toMatchObject({ ok: false, code: "ENOTSOCK" });
      closeSync(f);
      expect(peerCredentials(-1)).toMatchObject({ ok: false, code: "EBADF" });
    } finally {
      client.kill("SIGKILL");
      for (const c of conns) c.destroy();
      server.close();
    }
  });
});

describe("SCHED_FIFO", () => {
  const dist = join(nobodyRoot(), "dist/host/sys.js"); // one of the children drops root
  const child = (prio: number, prefix: string[] = []) => {
    const code =
      `import(${JSON.stringify(dist)}).then(({ setRealtimePriority, currentScheduler }) => { const r = setRealtimePriority(${prio}); ` +
      `const st = require("fs").readFileSync("/proc/self/stat", "utf8"); const f = st.slice(st.lastIndexOf(")") + 2).split(" "); ` +
      `console.log(JSON.stringify({ r, s: currentScheduler(), rtprio: Number(f[37]), policy: Number(f[38]) })); })`;
    const [cmd, ...args] = [...prefix, process.execPath, "-e", code];
    return JSON.parse(execFileSync(cmd, args, { encoding: "utf8" }).trim());
  };

  it("sets the event-loop thread SCHED_FIFO at the priority (in a child: the test worker stays normal)", () => {
    const out = child(7);
    expect(out.r).toEqual({ ok: true, value: true });
    expect(out.s).toEqual({ ok: true, value: { policy: "fifo", priority: 7 } });
    expect({ policy: out.policy, rtprio: out.rtprio }).toEqual({ policy: 1, rtprio: 7 });
    expect(currentScheduler()).toMatchObject({ ok: true, value: { policy: "other" } });
  });

  it("bad priorities and missing privileges are error values", () => {
    expect(setRealtimePriority(0)).toMatchObject({ ok: false, code: "EINVAL" });
    expect(setRealtimePriority(100)).toMatchObject({ ok: false, code: "EINVAL" });
    const out = child(7, ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]);
    expect(out.r).toMatchObject({ ok: false, code: "EPERM" });
    expect(out.r.error).toMatch(/CAP_SYS_NICE/);
    expect(out.policy).toBe(0);
  });
});

describe("AF_PACKET announcements", () => {
  it("GARP, unsolicited NA and the --nomcast advert arrive byte for byte in another namespace", async () => {
    const lab = Lab.create({ prefix: uniquePrefix("tan") });
    try {
      const a = lab.addHost("a");
      const b = lab.addHost("b");
      const cap = await listener(
        `import socket\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW,socket.htons(3))\ns.bind(("eth0",0))\nprint("ready")\nwhile True:\n  d=s.recv(65535)\n  if d[6:12]==bytes.fromhex(${JSON.stringify(a.mac.replace(/:/g, ""))}): print(d.hex())\n`,
        [],
        ["ip", "netns", "exec", b.ns],
      );
      const info = await interfaceInfo("eth0", { netns: a.ns });
      expect(info.ok).toBe(true);
      if (!info.ok) return;
      expect(info.value.mac).toBe(a.mac);
      const ann = new Announcer("eth0", info.value.mac, { netns: a.ns });
      expect(ann.prepare()).toBeNull();
      const v4 = parseAddress("198.51.100.44/24", "t");
      const v6 = parseAddress("2001:db8::44/64", "t");
      expect(ann.announce([v4, v6], [4, 6])).toEqual([]);
      const payload = Buffer.alloc(36, 0x5a);
      expect(ann.sendBroadcastAdvert(payload, "198.51.100.1", "224.0.0.18")).toBeNull();
      const garp = buildGratuitousArp({ vip: "198.51.100.44", mac: a.mac }).toString("hex");
      const na = buildUnsolicitedNa({ target: "2001:db8::44", mac: a.mac, override: true }).toString("hex");
      expect(await waitFor(() => cap.got.includes(garp) && cap.got.includes(na) && cap.got.some((h) => h.startsWith("ffffffffffff") && h.slice(24, 28) === "0800"))).toBe(true);
      const adv = Buffer.from(cap.got.find((h) => h.startsWith("ffffffffffff") && h.slice(24, 28) === "0800")!, "hex");
      expect(adv[14 + 9]).toBe(112); // IP protocol CARP
      expect(adv[14 + 8]).toBe(255); // TTL
      expect(adv.subarray(14 + 20).equals(payload)).toBe(true);
      ann.close();
      const none = new Announcer("eth0", null, { netns: a.ns });
      expect(none.announce([v4], [4])).toEqual(["eth0: no Ethernet MAC, no GARP/NA sent"]);
      const missing = new Announcer("nosuch0", a.mac, { netns: a.ns });
      expect(missing.prepare()).toMatch(/ENODEV/);
    } finally {
      lab.destroy();
    }
  });
});
