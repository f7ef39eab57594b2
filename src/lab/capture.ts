// Packet capture inside a lab namespace with tcpdump: every CARP (or VRRP) advertisement seen on the
// host's eth0, with the kernel's capture timestamp, parsed from tcpdump's one-line decode. Optionally
// also writes a pcap file (tcpdump -w FILE --print).
import type { LabHost } from "./topology.js";
import type { LabProcess } from "./proc.js";
import { LabError, requireTools } from "./sys.js";

export interface Advert {
  /** Capture time, ms since the epoch (µs resolution). */
  t: number;
  src: string;
  dst: string;
  proto: "carp" | "vrrp";
  /** CARP vhid or VRRP vrid. */
  vhid: number;
  /** CARP advbase/advskew; for VRRP advbase = interval (s), advskew = 255 - priority. */
  advbase: number;
  advskew: number;
  /** VRRP priority (CARP: undefined). */
  prio?: number;
}

// 1795572978.347701 IP 198.51.100.1 > 224.0.0.18: CARPv2-advertise 36: vhid=7 advbase=1 advskew=0 authlen=7 counter=1
const CARP_RE = /^(\d+\.\d+) IP6? ([0-9a-f.:]+) > ([0-9a-f.:]+): CARPv2-advertise \d+: vhid=(\d+) advbase=(\d+) advskew=(\d+)/;
// 1795572978.347701 IP 198.51.100.1 > 224.0.0.18: VRRPv2, Advertisement, vrid 1, prio 100, authtype none, intvl 1s, length 20
const VRRP_RE = /^(\d+\.\d+) IP6? ([0-9a-f.:]+) > ([0-9a-f.:]+): VRRPv([23]), Advertisement, vrid (\d+), prio (\d+),.*intvl (\d+)(c?s)/;

/** Parses one line of `tcpdump -n -tt [-T carp]` output; null for anything that is not an advert. */
export function parseTcpdumpLine(line: string): Advert | null {
  let m = CARP_RE.exec(line);
  if (m) {
    return { t: Number(m[1]) * 1000, src: m[2], dst: m[3], proto: "carp", vhid: Number(m[4]), advbase: Number(m[5]), advskew: Number(m[6]) };
  }
  m = VRRP_RE.exec(line);
  if (m) {
    const prio = Number(m[6]);
    const intvl = m[8] === "cs" ? Number(m[7]) / 100 : Number(m[7]);
    return { t: Number(m[1]) * 1000, src: m[2], dst: m[3], proto: "vrrp", vhid: Number(m[5]), advbase: intvl, advskew: 255 - prio, prio };
  }
  return null;
}

export interface CaptureOptions {
  /** "carp" decodes IP protocol 112 as CARP (tcpdump -T carp); "vrrp" leaves tcpdump's VRRP decode. */
  decode?: "carp" | "vrrp";
  /** Also write every captured frame to this pcap file. */
  pcapFile?: string;
  /** BPF filter (default: IP protocol 112, v4 and v6). */
  filter?: string;
  /** Kernel capture buffer in KiB (tcpdump -B), default 16384: bursts of 255 adverts must not drop. */
  bufferKiB?: number;
}

export class AdvertCapture {
  readonly adverts: Advert[] = [];
  private listeners = new Set<(a: Advert) => void>();

  private constructor(readonly proc: LabProcess) {
    proc.on("line", (l) => {
      if (l.stream !== "stdout") return;
      const a = parseTcpdumpLine(l.text);
      if (!a) return;
      this.adverts.push(a);
      for (const f of this.listeners) f(a);
    });
  }

  /** Starts tcpdump on the host's eth0 and resolves once it is listening. */
  static async start(host: LabHost, opts: CaptureOptions = {}): Promise<AdvertCapture> {
    requireTools({ tcpdump: "tcpdump" });
    const args = ["-l", "-n", "-tt", "-i", host.ifname, "--immediate-mode", "-B", String(opts.bufferKiB ?? 16384)];
    if ((opts.decode ?? "carp") === "carp") args.push("-T", "carp");
    if (opts.pcapFile) args.push("-w", opts.pcapFile, "--print", "-U");
    args.push(opts.filter ?? "ip proto 112 or ip6 proto 112");
    const proc = host.spawn("tcpdump", args);
    const cap = new AdvertCapture(proc);
    try {
      await proc.waitForLine(/listening on/, 5000);
    } catch (e) {
      await proc.stop(200);
      throw new LabError(`capture on ${host.name} failed: ${e instanceof Error ? e.message : e}`);
    }
    return cap;
  }

  onAdvert(f: (a: Advert) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** Adverts matching a predicate, optionally only after time `since` (ms epoch). */
  select(pred: (a: Advert) => boolean = () => true, since = 0): Advert[] {
    return this.adverts.filter((a) => a.t >= since && pred(a));
  }

  /** Resolves with the first advert (seen after `since`) matching pred; rejects after ms. */
  waitFor(pred: (a: Advert) => boolean, ms: number, since = 0): Promise<Advert> {
    const seen = this.adverts.find((a) => a.t >= since && pred(a));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new LabError(`no matching advert within ${ms} ms`));
      }, ms);
      const off = this.onAdvert((a) => {
        if (a.t >= since && pred(a)) {
          clearTimeout(timer);
          off();
          resolve(a);
        }
      });
    });
  }

  async stop(): Promise<void> {
    this.listeners.clear();
    // SIGTERM lets tcpdump flush the pcap file and print its statistics.
    await this.proc.stop(1000);
  }

  /** tcpdump's closing statistics (after stop()): frames it captured and the kernel dropped; null before. */
  stats(): { captured: number; dropped: number } | null {
    const text = this.proc.lines.filter((l) => l.stream === "stderr").map((l) => l.text).join("\n");
    const cap = /(\d+) packets? captured/.exec(text);
    const drop = /(\d+) packets? dropped by kernel/.exec(text);
    return cap ? { captured: Number(cap[1]), dropped: drop ? Number(drop[1]) : 0 } : null;
  }
}

/** Gaps between consecutive adverts of one sender and vhid, in ms. */
export function intervals(adverts: Advert[], src: string, vhid: number): number[] {
  const ts = adverts.filter((a) => a.src === src && a.vhid === vhid).map((a) => a.t);
  const out: number[] = [];
  for (let i = 1; i < ts.length; i++) out.push(ts[i] - ts[i - 1]);
  return out;
}

/**
 * A takeover measured on the wire: the last advert from anyone but `newSrc` before `newSrc`'s first
 * advert after `since`, and that first advert. gapMs is the time the vhid had no advertising master.
 */
export function measureTakeover(
  adverts: Advert[],
  vhid: number,
  newSrc: string,
  since: number,
): { lastOld: Advert; firstNew: Advert; gapMs: number } | null {
  const firstNew = adverts.find((a) => a.vhid === vhid && a.src === newSrc && a.t >= since);
  if (!firstNew) return null;
  let lastOld: Advert | undefined;
  for (const a of adverts) {
    if (a.t >= firstNew.t) break;
    if (a.vhid === vhid && a.src !== newSrc) lastOld = a;
  }
  if (!lastOld) return null;
  return { lastOld, firstNew, gapMs: firstNew.t - lastOld.t };
}
