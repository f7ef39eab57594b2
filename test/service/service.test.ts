// Running as a service: capabilities instead of uid (setpriv, non-root), per-namespace default control
// sockets, stale sockets in `carp status`, -B validation and --pidfile, sd_notify on a NOTIFY_SOCKET,
// one log copy under the journal, and the shipped systemd units. Real daemons in lab namespaces.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, openSync, closeSync, fstatSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { CARP_CLI, REPO, labScope, sleep, waitFor, type LabHost } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";
import { datagramListener as listenUnixDgram } from "../helpers/unix.js";
import { nobodyRoot } from "../helpers/nobody.js";

const { tmp, lab } = labScope("carp-service-test-");
const procs: ChildProcess[] = [];
const runDirs: string[] = [];
afterAll(() => {
  for (const p of procs) p.kill("SIGKILL");
  for (const d of runDirs) rmSync(d, { recursive: true, force: true });
});

/** A unix datagram listener (python3: node has none) collecting each datagram as one string. */
async function datagramListener(file: string): Promise<{ path: string; got: string[] }> {
  const l = await listenUnixDgram(join(tmp, file), "|");
  procs.push(l.proc);
  return l;
}

const SETPRIV = ["--reuid=65534", "--regid=65534", "--clear-groups"];
const caps = (list: string) => {
  const plus = list.split(",").map((c) => `+${c}`).join(",");
  return list ? [`--inh-caps=${plus}`, `--ambient-caps=${plus}`] : ["--inh-caps=-all"];
};

/** A directory uid 65534 can write (the labScope dir is 0700). */
function openDir(name: string): string {
  const d = join(tmp, name);
  mkdirSync(d, { recursive: true });
  chmodSync(tmp, 0o755);
  chmodSync(d, 0o777);
  return d;
}

const ucarpLine = (vip: string, vhid = 7) => ["run", "-i", "eth0", "-v", String(vhid), "-p", "pw", "-a", vip, "--log-format", "json", "-f", "none"];

describe("running as a service", () => {
  requires("netns", "ours", "python3", "setpriv");
  test("capabilities, not uid: nobody with CAP_NET_RAW+CAP_NET_ADMIN becomes MASTER and adds the VIP; one missing -> exit 2 naming it", async () => {
    const l = lab(1, "sa");
    const [a] = l.hosts;
    const dir = openDir("caps");
    const args = (c: string) => ["setpriv", ...SETPRIV, ...caps(c), process.execPath, join(nobodyRoot(), "dist/cli/main.js"), ...ucarpLine("198.51.100.150/24"), "--control", join(dir, "c.sock")];
    const rawOnly = a.tryExec(args("net_raw")[0], args("net_raw").slice(1));
    expect(rawOnly.code).toBe(2);
    expect(rawOnly.stderr.trim().split("\n").filter((x) => !/warning/.test(x))).toEqual([expect.stringMatching(/^carp: missing capability CAP_NET_ADMIN /)]);
    expect(a.addresses()).not.toContain("198.51.100.150");
    const none = a.tryExec(args("")[0], args("").slice(1));
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/CAP_NET_RAW/);
    expect(none.stderr).toMatch(/CAP_NET_ADMIN/);
    // --no-manage-vip needs no CAP_NET_ADMIN: it gets as far as running (stopped at once here).
    const noVip = args("net_raw");
    const p0 = a.spawn(noVip[0], [...noVip.slice(1), "--no-manage-vip"]);
    await p0.waitState("BACKUP", 8000);
    p0.kill("SIGTERM");
    await p0.exited;

    const p = a.spawn(args("net_raw,net_admin")[0], args("net_raw,net_admin").slice(1));
    await p.waitState("MASTER", 8000);
    expect(await waitFor(() => a.addresses().includes("198.51.100.150"), 3000)).toBe(true);
    // --pass on the command line: the daemon logs that the password shows in ps (a log line, not stderr).
    expect(p.lines.some((l) => /--pass: the password is visible .* use --passfile/.test(l))).toBe(true);
    const st = a.carpSync(["status", "--json", "--control", join(dir, "c.sock")]);
    expect(st.code).toBe(0);
    const pid = (JSON.parse(st.stdout) as { pid: number }).pid;
    expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(/^Uid:\s+65534\s/m);
    p.kill("SIGTERM");
    expect((await p.exited).code).toBe(0);
    expect(a.addresses()).not.toContain("198.51.100.150");
  });

  test("identical ucarp-style lines in two namespaces: default sockets do not collide; status sees its own; a stale socket exits 1", async () => {
    const l = lab(2, "sb");
    const [a, b] = l.hosts;
    for (const h of [a, b]) runDirs.push(`/run/carp/net-${/\[(\d+)\]/.exec(h.exec("readlink", ["/proc/self/ns/net"]))![1]}`);
    const na = a.carp(ucarpLine("198.51.100.151/24"));
    await na.waitState("MASTER", 8000);
    const nb = b.carp(ucarpLine("198.51.100.151/24"));
    await nb.waitState("BACKUP", 8000);
    await sleep(1500);
    expect(nb.exit).toBeNull();
    const mine = (h: LabHost) => {
      const r = h.carpSync(["status", "--json"]);
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout) as { pids: number[]; vhids: Array<{ state: string; control: string }> };
    };
    const sa = mine(a);
    const sb = mine(b);
    expect(sa.vhids.map((v) => v.state)).toEqual(["MASTER"]);
    expect(sb.vhids.map((v) => v.state)).toEqual(["BACKUP"]);
    expect(sa.vhids[0].control).toBe(`${runDirs[runDirs.length - 2]}/eth0-7.sock`);
    expect(sb.vhids[0].control).toBe(`${runDirs[runDirs.length - 1]}/eth0-7.sock`);
    expect(sa.pids).not.toEqual(sb.pids);
    // carp set with ucarp's short flags finds the daemon of its namespace.
    const set = b.carpSync(["set", "-v", "7", "-i", "eth0", "-k", "40"]);
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/advskew 40/);
    expect(mine(a).vhids[0]).toMatchObject({ state: "MASTER" });

    na.kill("SIGKILL"); // its socket file stays behind
    await na.exited;
    const gone = a.carpSync(["status"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/eth0-7\.sock: stale control socket: the daemon eth0-7 is gone/);
    await nb.waitState("MASTER", 8000);
  });

  test("-B validates before forking; --pidfile is written once up, refused while live, removed at exit", async () => {
    const l = lab(1, "sc");
    const [a] = l.hosts;
    const bad = a.carpSync(["run", "-B", "-i", "nosuch0", "-v", "3", "-p", "pw", "-a", "198.51.100.152"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^carp: --interface: no such interface "nosuch0"$/m);

    const pidfile = join(tmp, "sc.pid");
    const ctl = join(tmp, "sc.sock");
    const line = ["run", "-B", ...ucarpLine("198.51.100.152/24", 3).slice(1), "--control", ctl, "--pidfile", pidfile];
    const ok = a.carpSync(line);
    expect(ok.code).toBe(0);
    // -B returns once the daemon is up: the pidfile and the socket are there already.
    const pid = Number(readFileSync(pidfile, "utf8"));
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    const st = JSON.parse(a.carpSync(["status", "--json", "--control", ctl]).stdout) as { pid: number };
    expect(st.pid).toBe(pid);
    const again = a.carpSync([...line.slice(0, -4), "--control", join(tmp, "sc2.sock"), "--pidfile", pidfile]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(new RegExp(`--pidfile: .* belongs to running process ${pid}`));
    process.kill(pid, "SIGTERM");
    expect(await waitFor(() => !existsSync(pidfile), 5000)).toBe(true);
    expect(await waitFor(() => !existsSync(`/proc/${pid}`), 3000)).toBe(true);
  });

  test("sd_notify: READY=1 after every vhid is initialised, RELOADING=1/READY=1 around SIGHUP, STOPPING=1", async () => {
    const l = lab(1, "sd");
    const [a] = l.hosts;
    const n = await datagramListener("notify");
    const ctl = join(tmp, "sd.sock");
    const p = a.carp([...ucarpLine("198.51.100.153/24", 4), "--control", ctl], { env: { NOTIFY_SOCKET: n.path } });
    expect(await waitFor(() => n.got.length > 0, 8000)).toBe(true);
    expect(n.got[0]).toBe(`READY=1|MAINPID=${Number(JSON.parse(a.carpSync(["status", "--json", "--control", ctl]).stdout).pid)}`);
    // The vhid had left INIT when READY=1 was sent (the transition is logged synchronously at start).
    expect(p.transitions().length).toBeGreaterThanOrEqual(1);
    expect(p.transitions()[0].from).toBe("INIT");
    p.kill("SIGHUP");
    expect(await waitFor(() => n.got.length >= 3, 5000)).toBe(true);
    expect(n.got.slice(1, 3)).toEqual(["RELOADING=1", "READY=1"]);
    p.kill("SIGTERM");
    await p.exited;
    expect(n.got[3]).toBe("STOPPING=1");
  });

  test("under the journal (JOURNAL_STREAM = stdout's dev:ino) each line is logged once, with a priority prefix", async () => {
    const l = lab(1, "se");
    const [a] = l.hosts;
    const run = async (tag: string, journal: boolean) => {
      const syslog = await datagramListener(`syslog-${tag}`);
      const out = join(tmp, `${tag}.out`);
      const fd = openSync(out, "w");
      const st = fstatSync(fd);
      const env = { ...process.env, CARP_SYSLOG_SOCKET: syslog.path, JOURNAL_STREAM: journal ? `${st.dev}:${st.ino}` : "1:1" };
      const args = ["netns", "exec", a.ns, process.execPath, CARP_CLI, "run", "-i", "eth0", "-v", "5", "-p", "pw", "-a", "198.51.100.154/24", "--control", join(tmp, `${tag}.sock`)];
      const child = spawn("ip", args, { stdio: ["ignore", fd, "ignore"], env });
      procs.push(child);
      closeSync(fd);
      expect(await waitFor(() => /MASTER/.test(readFileSync(out, "utf8")), 8000)).toBe(true);
      await sleep(500);
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      return { lines: readFileSync(out, "utf8").trim().split("\n"), syslog: syslog.got };
    };
    const j = await run("journal", true);
    expect(j.lines.length).toBeGreaterThan(2);
    for (const line of j.lines) expect(line).toMatch(/^<[3467]>\d{4}-/);
    expect(j.syslog).toEqual([]);
    const plain = await run("plain", false);
    expect(plain.lines.every((x) => /^\d{4}-/.test(x))).toBe(true);
    expect(await waitFor(() => plain.syslog.some((x) => /MASTER/.test(x)), 3000)).toBe(true);
  });
});

describe("systemd units", () => {
  test("systemd-analyze verify passes on carp.service and carp@.service", () => {
    const d = join(tmp, "units");
    mkdirSync(d, { recursive: true });
    const bin = join(d, "carp");
    writeFileSync(bin, "#!/bin/sh\n");
    chmodSync(bin, 0o755);
    for (const f of ["carp.service", "carp@.service"]) {
      const text = readFileSync(join(REPO, "systemd", f), "utf8");
      expect(text).toMatch(/^Type=notify$/m);
      expect(text).toMatch(/^AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN$/m);
      expect(text).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
      writeFileSync(join(d, f), text.replaceAll("/usr/bin/carp", bin));
    }
    copyFileSync(join(d, "carp@.service"), join(d, "carp@demo.service"));
    const r = spawnSync("systemd-analyze", ["verify", join(d, "carp.service"), join(d, "carp@demo.service")], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
