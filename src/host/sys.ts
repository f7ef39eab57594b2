// Process-level host effects through the carp_io addon, no child processes: sd_notify, syslog
// datagrams, SCHED_FIFO (CARP_RTPRIO) and the peer credentials of a unix socket. Errors are values.
import { type HostAddon, hostAddon } from "./native.js";

export type SysResult<T = true> = { ok: true; value: T } | { ok: false; code: string; error: string };

function addon(): { ok: true; value: HostAddon } | { ok: false; code: string; error: string } {
  const a = hostAddon();
  return a.ok ? a : { ok: false, code: "ENOADDON", error: a.error };
}

function fail(code: string, what: string): { ok: false; code: string; error: string } {
  return { ok: false, code, error: `${what}: ${code}` };
}

/**
 * A unix datagram socket kept open between sends (syslog); `dest` is a path or "@abstract". A receiver
 * that is not keeping up gets up to `waitMs` per datagram (as syslog(3) blocks, but bounded); after such
 * a timeout the sender stops waiting for a second and drops what does not fit, so a stuck syslog daemon
 * cannot stall the event loop line after line.
 */
export class DatagramSender {
  private fd = -1;
  private congestedUntil = 0;
  constructor(
    readonly dest: string,
    private readonly waitMs = 50,
  ) {}

  send(data: string | Buffer): SysResult {
    const a = addon();
    if (!a.ok) return a;
    if (this.fd < 0) {
      const fd = a.value.unixDgramOpen(this.waitMs);
      if (typeof fd === "string") return fail(fd, "unix datagram socket");
      this.fd = fd;
    }
    const now = Date.now();
    const r = a.value.unixDgramSend(this.fd, this.dest, typeof data === "string" ? Buffer.from(data) : data, now < this.congestedUntil);
    if (r === true) return { ok: true, value: true };
    if (r === "EAGAIN" && now >= this.congestedUntil) this.congestedUntil = Date.now() + 1000;
    return fail(r, `send to ${this.dest}`);
  }

  close(): void {
    const a = hostAddon();
    if (this.fd >= 0 && a.ok) a.value.closeFd(this.fd);
    this.fd = -1;
  }
}

/** One datagram to a unix socket path or abstract name ("@name"), on a socket opened for it. */
export function sendDatagram(dest: string, data: string | Buffer): SysResult {
  const s = new DatagramSender(dest);
  try {
    return s.send(data);
  } finally {
    s.close();
  }
}

/**
 * sd_notify(3): sends `state` (e.g. "READY=1", "STOPPING=1", "STATUS=...") to $NOTIFY_SOCKET.
 * Without NOTIFY_SOCKET (not run by systemd with Type=notify) it is an error value, not an exception.
 */
export function sdNotify(state: string): { ok: true } | { ok: false; error: string } {
  const dest = process.env.NOTIFY_SOCKET;
  if (!dest) return { ok: false, error: "NOTIFY_SOCKET is not set" };
  const r = sendDatagram(dest, state);
  return r.ok ? { ok: true } : { ok: false, error: `sd_notify: ${r.error}` };
}

/** SCHED_FIFO at `prio` (1-99) for the event-loop thread, as `chrt -f -p PRIO PID` did. */
export function setRealtimePriority(prio: number): SysResult {
  if (!Number.isInteger(prio) || prio < 1 || prio > 99) return { ok: false, code: "EINVAL", error: `real-time priority must be 1-99, got ${prio}` };
  const a = addon();
  if (!a.ok) return a;
  const r = a.value.setRealtimePriority(prio);
  if (r === true) return { ok: true, value: true };
  return { ok: false, code: r, error: `SCHED_FIFO ${prio}: ${r}${r === "EPERM" ? " (needs root or CAP_SYS_NICE)" : ""}` };
}

/** The scheduling policy and priority of the calling thread. */
export function currentScheduler(): SysResult<{ policy: "fifo" | "rr" | "other"; priority: number }> {
  const a = addon();
  if (!a.ok) return a;
  const r = a.value.schedulerOf();
  return typeof r === "string" ? fail(r, "sched_getscheduler") : { ok: true, value: r };
}

/** SO_PEERCRED of a connected unix socket: who is on the other end. */
export function peerCredentials(fd: number): SysResult<{ pid: number; uid: number; gid: number }> {
  const a = addon();
  if (!a.ok) return a;
  const r = a.value.peerCredentials(fd);
  return typeof r === "string" ? fail(r, `SO_PEERCRED of fd ${fd}`) : { ok: true, value: r };
}
