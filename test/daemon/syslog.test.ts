// --facility: log lines reach a syslog socket with the right PRI. The tests bind their own unix
// datagram socket (python3: Node has none) and point the writer / daemon at it.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, test } from "vitest";

import { SyslogWriter, syslogPri } from "../../src/daemon/syslog.js";
import { createLab, waitFor, type Lab } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";
import { datagramListener } from "../helpers/unix.js";

const tmp = mkdtempSync(join(tmpdir(), "carp-syslog-"));
const procs: ChildProcess[] = [];
const labs: Lab[] = [];
afterAll(async () => {
  for (const p of procs) p.kill();
  await Promise.all(labs.map((l) => l.destroy()));
  rmSync(tmp, { recursive: true, force: true });
});

/** A unix datagram "syslogd" printing each datagram on one line; resolves once bound. */
async function fakeSyslogd(file: string): Promise<{ path: string; got: string[] }> {
  const l = await datagramListener(join(tmp, file), " ");
  procs.push(l.proc);
  return l;
}

describe("SyslogWriter", () => {
  it("PRI = facility * 8 + severity", () => {
    expect(syslogPri("daemon", "info")).toBe(30);
    expect(syslogPri("local3", "warn")).toBe(156);
    expect(syslogPri("kern", "error")).toBe(3);
  });

  it("writes one datagram per line with facility, severity, tag and pid", async () => {
    const d = await fakeSyslogd("s1");
    const w = SyslogWriter.open("local3", { socket: d.path, tag: "carptest" });
    if ("skipped" in w) throw new Error(w.skipped);
    w.write("warn", "vhid 1@eth0: one\nline");
    w.write("info", "second");
    await w.close();
    expect(await waitFor(() => d.got.length >= 2, 3000)).toBe(true);
    expect(d.got[0]).toMatch(new RegExp(`^<156>.*carptest\\[${process.pid}\\]: vhid 1@eth0: one line$`));
    expect(d.got[1]).toMatch(/^<158>.*carptest\[\d+\]: second$/);
  });

  it("skips facility none and a missing socket", () => {
    expect(SyslogWriter.open("none")).toEqual({ skipped: "facility none" });
    expect(SyslogWriter.open("daemon", { socket: join(tmp, "nope") })).toEqual({ skipped: `${join(tmp, "nope")} does not exist` });
  });
});

describe("carp run --facility", () => {
  requires("netns", "ours");
  test("a daemon logs its transitions to syslog (and still to stdout); -f none does not", async () => {
    const d = await fakeSyslogd("s2");
    const l = createLab({ hosts: 1, prefix: "sl" });
    labs.push(l);
    const [a] = l.hosts;
    const args = (f: string, v: string) => [
      "run", "-i", "eth0", "-s", a.ip4, "-v", v, "-p", "sysl", "-a", `198.51.100.${v}/24`, "-b", "1", "--log-format", "json",
      "-f", f, "--control", join(tmp, `${a.ns}.${v}.sock`),
    ];
    const env = { ...process.env, CARP_SYSLOG_SOCKET: d.path };
    const n = a.carp(args("local3", "41"), { env });
    const quiet = a.carp(args("none", "42"), { env });
    await n.waitState("MASTER", 6000);
    await quiet.waitState("MASTER", 6000);
    expect(await waitFor(() => d.got.some((x) => /-> MASTER/.test(x)), 3000)).toBe(true);
    const line = d.got.find((x) => /-> MASTER/.test(x))!;
    expect(line).toMatch(new RegExp(`^<158>.*carp\\[${n.pid}\\]: vhid 41@eth0: BACKUP -> MASTER`));
    expect(n.transitions("MASTER").length).toBe(1); // stdout JSON unchanged
    expect(d.got.some((x) => /vhid 42@/.test(x))).toBe(false);
    n.kill("SIGINT");
    quiet.kill("SIGINT");
    await Promise.all([n.exited, quiet.exited]);
    expect(await waitFor(() => d.got.some((x) => /: stopped$/.test(x)), 2000)).toBe(true);
  });
});
