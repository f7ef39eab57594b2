// The per-vhid view built from a stream of adverts: who is master now, who else advertised, the
// measured interval and jitter, transitions, auth counts, problems, and the election prediction.
// Pure and incremental: the CLI feeds it rows (or, on the bulk path, a reused AdvertFacts object, so
// no allocation per packet) and asks for view() whenever it wants to draw the table.
import { predictWinner, takesOver } from "../core/election.js";
import { compareIp } from "../protocol/addr.js";
import { isMulticastAddress } from "../protocol/receive.js";
import type { PeerSemantics } from "../protocol/types.js";
import type { Announcement, Overlap, Problem, Row, Severity, SummaryView, VhidView } from "./types.js";

/** One advert's facts, reused by the caller between packets. */
export interface AdvertFacts {
  protocol: "carp" | "vrrp";
  vhid: number;
  src: string;
  mac: string | null;
  time: number;
  advbase: number; // VRRP: interval in seconds (fractional)
  advskew: number; // VRRP: 0
  demote: number;
  priority: number; // VRRP priority, CARP 0
  ttl: number;
  multicast: boolean; // sent to a multicast group (TTL ≠ 255 matters only there)
  family: 4 | 6;
  ctrHi: number;
  ctrLo: number;
  checksumOk: boolean;
  auth: 0 | 1 | 2; // ok, bad, unverified
  diagnosis: string | null;
}

export function newFacts(): AdvertFacts {
  return {
    protocol: "carp", vhid: 0, src: "", mac: null, time: 0, advbase: 0, advskew: 0, demote: 0, priority: 0,
    ttl: 255, multicast: true, family: 4, ctrHi: 0, ctrLo: 0, checksumOk: true, auth: 2, diagnosis: null,
  };
}

const RING = 8; // recent counters kept per source for replay detection
const SLACK = 0.05; // seconds of scheduling delay allowed on top of 1.5 intervals
const MAX_OVERLAPS = 100; // overlap episodes kept per vhid

class Source {
  mac: string | null = null;
  macs = new Set<string>();
  adverts = 0;
  trusted = 0; // adverts that did not fail authentication
  // Welford over this source's inter-advert gaps in its current run (the master's are the vhid's interval)
  n = 0;
  mean = 0;
  m2 = 0;
  first: number;
  last = -Infinity;
  prev = -Infinity; // time of the advert before `last`
  runStart: number;
  advbase = 0;
  advskew = 0;
  demote = 0;
  priority = 0;
  bowedOut = false;
  // Order of adverts within the vhid (1, 2, ...; 0 = none yet): "who advertised since whom".
  seq = 0;
  // Activity run: adverts at most 1.5 intervals apart (the span over which this source was advertising).
  run = 0; // run id, unique within the vhid; 0 = none
  actStart = 0;
  actLast = 0; // time of the run's last advert (bow-outs excluded)
  /** First advert since the current master last advertised (when this source took over). */
  streakStart = 0;
  readonly ringHi = new Uint32Array(RING);
  readonly ringLo = new Uint32Array(RING);
  ringN = 0;
  constructor(readonly ip: string, t: number) {
    this.first = t;
    this.runStart = t;
  }
  interval(protocol: "carp" | "vrrp"): number {
    return protocol === "carp" ? this.advbase + this.advskew / 256 : this.advbase;
  }
  /** How long after its last advert this source counts as still advertising. */
  window(protocol: "carp" | "vrrp"): number {
    return 1.5 * this.interval(protocol) + SLACK;
  }
}

/**
 * Two sources' activity runs overlapping. Counts start at the advert that opened the episode; side
 * 0 is the source that was advertising first. The overlap so far is [start, end]: it ends at the
 * latest advert of whichever side advertised less recently, and `inWin` counts each side's adverts
 * inside it (n = adverts since start, otherAt = the other side's n at this side's latest advert).
 */
class Episode {
  readonly n = [0, 0];
  readonly otherAt = [0, 0];
  readonly inWin: [number, number] = [0, 0];
  end = -Infinity;
  seen = false; // both sides have an advert inside [start, end]
  dual = false; // both have two or more: two masters
  constructor(
    readonly src: [Source, Source],
    readonly start: number,
    readonly startSeq: number,
  ) {}
}

class VhidState {
  readonly sources = new Map<string, Source>();
  readonly sourceList: Source[] = []; // the same, for allocation-free loops
  master: Source | null = null;
  masterSince = 0;
  transitions: { time: number; from: string; to: string }[] = [];
  nTransitions = 0;
  authOk = 0;
  authBad = 0;
  authNone = 0;
  diagnosis: string | null = null;
  badSum = 0;
  ttlBad = new Map<string, number>(); // source → last ttl ≠ 255, adverts to a multicast group
  ttlCount = 0;
  ttlUnicast = new Map<string, number>(); // the same for unicast adverts (a peer across a router)
  ttlUnicastCount = 0;
  macBad = new Map<string, string>(); // source → wrong MAC seen
  replays = 0;
  replayFrom = new Set<string>();
  seq = 0;
  runIds = 0;
  /** Episodes whose two runs may still continue. */
  open: Episode[] = [];
  episodes: Episode[] = []; // the first MAX_OVERLAPS
  episodesDropped = 0;
  /** One failing 36-byte header per source, for a final re-diagnosis with every announcement seen. */
  badSamples = new Map<string, Buffer>();
  constructor(
    readonly vhid: number,
    readonly protocol: "carp" | "vrrp",
    readonly family: 4 | 6,
    readonly sem: PeerSemantics,
  ) {}
}

function expectedMac(protocol: "carp" | "vrrp", vhid: number, family: 4 | 6): string {
  const fam = protocol === "vrrp" && family === 6 ? "02" : "01";
  return `00:00:5e:00:${fam}:${vhid.toString(16).padStart(2, "0")}`;
}

export interface AnalyzerOptions {
  semantics?: PeerSemantics;
  /** semantics per vhid (from --config). */
  semanticsFor?: (vhid: number) => PeerSemantics | undefined;
}

/** Two hosts answering one ARP request reply within this many seconds of each other. */
const ARP_CONFLICT_S = 0.2;

export class Analyzer {
  private readonly carp = new Map<number, VhidState>();
  private readonly vrrp = new Map<number, VhidState>();
  readonly counts = { total: 0, carp: 0, vrrp: 0, invalid: 0, garp: 0, na: 0, skipped: 0 };
  private readonly other: Problem[] = [];
  private invalidN = 0;
  private lastInvalid = "";
  firstTime: number | null = null;
  lastTime: number | null = null;
  private readonly facts = newFacts();
  private readonly arpAnswers = new Map<string, Map<string, number>>();
  private readonly arpConflicts = new Set<string>();

  constructor(private readonly opts: AnalyzerOptions = {}) {}

  /**
   * One state per protocol, vhid and address family: IPv4 and IPv6 adverts of a dual-stack vhid are
   * separate streams on the wire (a master sends both, from different source addresses).
   */
  private state(protocol: "carp" | "vrrp", vhid: number, family: 4 | 6): VhidState {
    const m = protocol === "carp" ? this.carp : this.vrrp;
    const key = family === 6 ? vhid + 256 : vhid;
    let s = m.get(key);
    if (!s) m.set(key, (s = new VhidState(vhid, protocol, family, this.opts.semanticsFor?.(vhid) ?? this.opts.semantics ?? "freebsd")));
    return s;
  }

  private tick(t: number): void {
    if (this.firstTime === null) this.firstTime = t;
    if (this.lastTime === null || t > this.lastTime) this.lastTime = t;
  }

  skipped(): void {
    this.counts.skipped++;
  }

  /**
   * An ARP reply: `mac` answers for `ip`. Two real (non-00:00:5e:00:0x) MACs answering for one address
   * within ARP_CONFLICT_S of each other is a warning: one broadcast request answered by two hosts (a frozen or
   * split master keeps answering for a VIP with its own MAC; with virtual MAC mode both would answer with
   * 00:00:5e:00:01:vhid). Failovers, preemptions and handovers (A stops answering, B answers) are not.
   */
  arpReply(t: number, ip: string, mac: string): void {
    this.tick(t);
    if (/^00:00:5e:00:0[12]:/.test(mac)) return;
    let m = this.arpAnswers.get(ip);
    if (!m) this.arpAnswers.set(ip, (m = new Map()));
    for (const [other, last] of m) {
      if (other === mac || Math.abs(t - last) > ARP_CONFLICT_S) continue;
      const key = `${ip} ${[other, mac].sort().join(" ")}`;
      if (this.arpConflicts.has(key)) continue;
      this.arpConflicts.add(key);
      this.other.push({
        code: "arp-conflict",
        severity: "warning",
        message: `ARP replies for ${ip} from two real MACs (${other}, ${mac}) ${(Math.abs(t - last) * 1000).toFixed(1)} ms apart: two hosts answer for the address; for a VIP, a frozen or split master keeps answering with its own MAC (virtual MAC mode, --vmac, makes both answer with 00:00:5e:00:01:vhid)`,
      });
    }
    m.set(mac, t);
  }

  announcement(a: Announcement): void {
    this.counts[a.kind]++;
    this.tick(a.time);
  }

  /** A decoded row (the per-packet path). `payload` is kept for re-diagnosis of auth failures. */
  row(r: Row, payload?: Uint8Array): void {
    this.counts.total++;
    this.tick(r.time);
    if (r.kind === "invalid" || r.vhid === null) {
      this.counts.invalid++;
      this.invalidN++;
      this.lastInvalid = `${r.src} > ${r.dst}: ${r.error ?? "invalid"} (${r.notes[0] ?? ""})`;
      return;
    }
    this.counts[r.kind]++;
    const f = this.facts;
    f.protocol = r.kind;
    f.vhid = r.vhid;
    f.src = r.src;
    f.mac = r.src_mac;
    f.time = r.time;
    f.ttl = r.ttl;
    f.multicast = isMulticastAddress(r.dst);
    f.family = r.family;
    f.checksumOk = r.checksum === "ok";
    f.diagnosis = r.diagnosis;
    if (r.kind === "carp") {
      if (r.version !== 2) {
        this.counts.carp--;
        this.counts.invalid++;
        this.invalidN++;
        this.lastInvalid = `${r.src} > ${r.dst}: CARP version ${r.version}`;
        return;
      }
      f.advbase = r.advbase!;
      f.advskew = r.advskew!;
      f.demote = r.demote!;
      f.priority = 0;
      const c = r.counter!;
      f.ctrHi = parseInt(c.slice(0, 8), 16);
      f.ctrLo = parseInt(c.slice(8), 16);
      f.auth = r.auth === "ok" ? 0 : r.auth === "bad" ? 1 : 2;
    } else {
      f.advbase = (r.interval_cs ?? 100) / 100;
      f.advskew = 0;
      f.demote = 0;
      f.priority = r.priority ?? 0;
      f.ctrHi = 0;
      f.ctrLo = 0;
      f.auth = 2;
    }
    this.advert(f);
    if (f.auth === 1 && payload && r.vhid !== null) {
      const s = this.state("carp", r.vhid, r.family);
      if (!s.badSamples.has(r.src)) s.badSamples.set(r.src, Buffer.from(payload.subarray(0, 36)));
    }
  }

  /** Count a packet handled by the bulk path (which calls advert() itself). */
  countCarp(t: number): void {
    this.counts.total++;
    this.counts.carp++;
    this.tick(t);
  }

  countInvalid(t: number, what: string): void {
    this.counts.total++;
    this.counts.invalid++;
    this.invalidN++;
    this.lastInvalid = what;
    this.tick(t);
  }

  /** Records a failing header for later re-diagnosis (bulk path). */
  badSample(vhid: number, src: string, header: Uint8Array): void {
    const s = this.state("carp", vhid, src.includes(":") ? 6 : 4);
    if (!s.badSamples.has(src)) s.badSamples.set(src, Buffer.from(header.subarray(0, 36)));
  }

  /** The core update; `f` may be reused by the caller after the call. */
  advert(f: AdvertFacts): void {
    const s = this.state(f.protocol, f.vhid, f.family);
    const t = f.time;
    let src = s.sources.get(f.src);
    if (!src) {
      s.sources.set(f.src, (src = new Source(f.src, t)));
      s.sourceList.push(src);
    }
    if (!f.checksumOk) s.badSum++;
    if (f.auth === 0) s.authOk++;
    else if (f.auth === 1) {
      s.authBad++;
      if (f.diagnosis) s.diagnosis = f.diagnosis;
    } else s.authNone++;
    if (f.ttl !== 255 && f.multicast) {
      s.ttlCount++;
      s.ttlBad.set(f.src, f.ttl);
    } else if (f.ttl !== 255) {
      s.ttlUnicastCount++;
      s.ttlUnicast.set(f.src, f.ttl);
    }
    if (f.mac !== null && f.mac !== src.mac) {
      src.mac = f.mac;
      src.macs.add(f.mac);
      if (f.mac !== expectedMac(f.protocol, f.vhid, f.family)) s.macBad.set(f.src, f.mac);
    }
    // Replays / loops: the same counter again from the same source (CARP only).
    if (f.protocol === "carp") {
      for (let i = 0; i < src.ringN && i < RING; i++) {
        if (src.ringHi[i] === f.ctrHi && src.ringLo[i] === f.ctrLo) {
          s.replays++;
          s.replayFrom.add(f.src);
          return; // a copy of an advert already counted: no new timing information
        }
      }
      const k = src.ringN++ % RING;
      src.ringHi[k] = f.ctrHi;
      src.ringLo[k] = f.ctrLo;
    }
    // A broken advert tells nothing. One that fails authentication still shows a node advertising (so
    // it counts for "two masters"), but it neither makes a master nor takes part in the election.
    if (!f.checksumOk) return;
    const trusted = f.auth !== 1;
    const bowOut = f.protocol === "carp" ? f.advbase === 255 && f.advskew === 255 : f.priority === 0;
    const interval = f.protocol === "carp" ? f.advbase + f.advskew / 256 : f.advbase;
    if (t - src.last > 3 * Math.max(interval, src.interval(f.protocol), 0.01)) src.runStart = t;
    const prevSeq = src.seq;
    const seq = ++s.seq;
    src.seq = seq;
    src.prev = src.last;
    src.last = t;
    src.adverts++;
    if (trusted) src.trusted++;
    if (bowOut) {
      src.bowedOut = true;
      this.closeEpisodes(s, src);
      return;
    }
    // A new activity run after a bow-out or a gap of more than 1.5 intervals.
    const newRun = src.bowedOut || src.run === 0 || t - src.actLast > 1.5 * Math.max(interval, src.interval(f.protocol)) + SLACK;
    if (newRun) {
      this.closeEpisodes(s, src);
      src.run = ++s.runIds;
      src.actStart = t;
    }
    src.actLast = t;
    src.bowedOut = false;
    this.overlaps(s, src, seq, t);

    if (trusted) {
      // Interval statistics per source and run: a gap longer than 3 intervals starts a new run.
      if (src.runStart === t) {
        src.n = 0;
        src.mean = 0;
        src.m2 = 0;
      } else if (src.prev > -Infinity && t > src.prev) {
        const dt = t - src.prev;
        src.n++;
        const d = dt - src.mean;
        src.mean += d / src.n;
        src.m2 += d * (dt - src.mean);
      }
      this.mastership(s, src, f, prevSeq, newRun);
    }
    src.advbase = f.advbase;
    src.advskew = f.advskew;
    src.demote = f.demote;
    src.priority = f.priority;
  }

  /**
   * Who is master. CARP backups are silent, so the master is whoever keeps advertising. A sender takes
   * over when the master went quiet (bow-out, or no advert for 1.5 of its intervals), at once when its
   * advert beats the master's last one (the master must step down on hearing it: preemption and
   * handover), or when it advertised twice with no advert from the master in between and the master
   * missed its next advert (it stopped without a bow-out). A worse advert from someone else while the master keeps going, like
   * a stepping-down master's last advert, changes nothing.
   */
  private mastership(s: VhidState, src: Source, f: AdvertFacts, prevSeq: number, newRun: boolean): void {
    const t = f.time;
    const m = s.master;
    if (m === null) {
      s.master = src;
      s.masterSince = t;
      return;
    }
    if (m === src) return;
    if (newRun || m.seq > prevSeq) src.streakStart = t;
    let since = -1;
    if (m.bowedOut || t - m.last > m.window(f.protocol)) since = src.streakStart;
    else if (beats(s.sem, f, m)) since = t;
    // Twice in a row, and the master missed its own next advert (not just jitter between two masters).
    else if (!newRun && m.seq < prevSeq && t - m.last > m.interval(f.protocol) + SLACK) since = src.streakStart;
    if (since < 0) return;
    s.nTransitions++;
    if (s.transitions.length < 100) s.transitions.push({ time: since, from: m.ip, to: src.ip });
    s.master = src;
    s.masterSince = since;
    // The vhid's interval is the master's since it took over (not its earlier runs or last crossings).
    src.n = 0;
    src.mean = 0;
    src.m2 = 0;
  }

  /** Updates the overlap episodes of `src` with every other source advertising now. */
  private overlaps(s: VhidState, src: Source, seq: number, t: number): void {
    const list = s.sourceList;
    for (let i = 0; i < list.length; i++) {
      const o = list[i];
      if (o === src || o.bowedOut || o.run === 0) continue;
      let ep: Episode | null = null;
      for (let k = 0; k < s.open.length; k++) {
        const e = s.open[k];
        if ((e.src[0] === src && e.src[1] === o) || (e.src[0] === o && e.src[1] === src)) {
          ep = e;
          break;
        }
      }
      if (ep === null) {
        if (t - o.actLast > o.window(s.protocol)) continue; // o is not advertising now
        ep = new Episode(o.actStart <= src.actStart ? [o, src] : [src, o], t, seq);
        s.open.push(ep);
        if (s.episodes.length < MAX_OVERLAPS) s.episodes.push(ep);
        else s.episodesDropped++;
      }
      const me = ep.src[0] === src ? 0 : 1;
      const other = 1 - me;
      ep.n[me]++;
      ep.otherAt[me] = ep.n[other];
      // This advert is the latest; the overlap so far ends at o's last advert, if that came after the start.
      if (o.seq <= ep.startSeq) continue;
      const inO = ep.n[other];
      const inMe = ep.otherAt[other];
      if (inO < 1 || inMe < 1) continue;
      ep.seen = true;
      ep.end = o.actLast;
      ep.inWin[other] = inO;
      ep.inWin[me] = inMe;
      if (inO >= 2 && inMe >= 2) ep.dual = true;
    }
  }

  /** The episodes of `src`'s current run are over (a new run or a bow-out). */
  private closeEpisodes(s: VhidState, src: Source): void {
    if (s.open.length) s.open = s.open.filter((e) => e.src[0] !== src && e.src[1] !== src);
  }

  /** Re-run auth diagnosis at the end (every announcement now known). */
  rediagnose(fn: (vhid: number, src: string, header: Buffer) => string | null): void {
    for (const s of this.carp.values()) {
      for (const [src, h] of s.badSamples) {
        const d = fn(s.vhid, src, h);
        if (d) s.diagnosis = d;
      }
    }
  }

  view(): SummaryView {
    const vhids: VhidView[] = [];
    const keys = new Set<number>([...this.carp.keys(), ...this.vrrp.keys()]);
    let problems = 0;
    let info = 0;
    // Sorted by vhid, then CARP before VRRP, IPv4 before IPv6.
    const order = [...keys].sort((a, b) => (a & 255) - (b & 255) || a - b);
    for (const key of order) {
      for (const s of [this.carp.get(key), this.vrrp.get(key)]) {
        if (!s) continue;
        const v = this.vhidView(s);
        for (const p of v.problems) if (p.severity === "info") info++;
        else problems++;
        vhids.push(v);
      }
    }
    const other: Problem[] = [...this.other];
    if (this.invalidN) other.push({ code: "invalid", severity: "warning", message: `${this.invalidN} invalid protocol-112 packet(s), last: ${this.lastInvalid}` });
    problems += other.length;
    return {
      packets: { ...this.counts },
      vhids,
      other_problems: other,
      problems,
      info,
      first_time: this.firstTime,
      last_time: this.lastTime,
    };
  }

  private vhidView(s: VhidState): VhidView {
    const proto = s.protocol;
    const sources = [...s.sources.values()];
    const m = s.master;
    const problems: Problem[] = [];
    const other = proto === "carp" ? this.vrrp : this.carp;
    const clash = other.get(s.vhid) ?? other.get(s.vhid + 256);
    if (clash) {
      problems.push({
        code: "vrrp-clash",
        severity: "error",
        message: `vhid ${s.vhid} is also used by ${proto === "carp" ? "a VRRP router (vrid" : "CARP (vhid"} ${s.vhid}); both use MAC 00:00:5e:00:01:${hex2(s.vhid)}`,
      });
    }
    const overlaps: Overlap[] = [];
    const notes: string[] = [];
    for (const e of s.episodes) {
      if (!e.seen) continue;
      const [a, b] = [e.src[0].ip, e.src[1].ip];
      const d = Math.max(0, e.end - e.start);
      overlaps.push({ sources: [a, b], start: e.start, end: e.end, duration_s: round6(d), adverts: [e.inWin[0], e.inWin[1]], two_masters: e.dual });
      if (e.dual) {
        problems.push({
          code: "two-masters",
          severity: "error",
          message: `two masters at once: ${a} and ${b} both advertised for ${fmtDur(d)} (${e.inWin[0]} and ${e.inWin[1]} adverts), ${fmtSpan(e.start, e.end)}`,
        });
      } else {
        notes.push(`handover overlap ${fmtDur(d)}: ${a} and ${b} both advertising from ${new Date(e.start * 1000).toISOString()}`);
      }
    }
    if (s.episodesDropped) notes.push(`${s.episodesDropped} more overlap episode(s) not listed`);
    if (s.ttlCount) {
      const who = [...s.ttlBad].map(([ip, ttl]) => `${ip} ttl ${ttl}`).join(", ");
      problems.push({ code: "ttl", severity: "error", message: `${s.ttlCount} multicast advert(s) with TTL/hop limit ≠ 255 (${who}); receivers drop them` });
    }
    if (s.ttlUnicastCount) {
      // FreeBSD checks the TTL only for multicast destinations, and so do our daemons on unicast.
      const who = [...s.ttlUnicast].map(([ip, ttl]) => `${ip} ttl ${ttl}`).join(", ");
      notes.push(`${s.ttlUnicastCount} unicast advert(s) with TTL/hop limit ≠ 255 (${who}): FreeBSD and node-carp accept them, OpenBSD and ucarp drop them`);
    }
    if (s.replays) {
      problems.push({
        code: "replay",
        severity: "warning",
        message: `${s.replays} advert(s) repeated a recent counter (${[...s.replayFrom].join(", ")}): looped or replayed packets`,
      });
    }
    for (const [ip, mac] of s.macBad) problems.push(macProblem(proto, s.vhid, ip, mac));
    if (s.badSum) problems.push({ code: "checksum", severity: "error", message: `${s.badSum} advert(s) with a bad checksum` });
    if (s.authBad) {
      problems.push({ code: "auth", severity: "error", message: `${s.authBad} advert(s) failed HMAC verification${s.diagnosis ? `: ${s.diagnosis}` : ""}` });
    }
    // Candidates: every source whose last advert was not a bow-out.
    const live = sources.filter((x) => !x.bowedOut && x.trusted > 0);
    const tieKey = (x: Source) => (proto === "carp" ? `${x.advbase}/${x.advskew}/${x.demote}` : `${x.priority}`);
    const byKey = new Map<string, string[]>();
    for (const x of live) byKey.set(tieKey(x), [...(byKey.get(tieKey(x)) ?? []), x.ip]);
    for (const [k, ips] of byKey) {
      if (ips.length > 1) {
        const what = proto === "carp" ? `advbase/advskew/demote ${k}` : `priority ${k}`;
        problems.push({ code: "advskew-tie", severity: "warning", message: `${ips.join(" and ")} advertise the same ${what}: the election is a race` });
      }
    }
    let election: VhidView["election"] = null;
    if (live.length) {
      if (proto === "carp") {
        const sem = this.opts.semanticsFor?.(s.vhid) ?? this.opts.semantics ?? "freebsd";
        const p = predictWinner(
          sem,
          live.map((x) => ({ id: x.ip, address: x.ip, advbase: x.advbase, advskew: x.advskew, demote: x.demote })),
        );
        let explanation = p.explanation;
        if (live.length === 1) explanation += " among nodes seen (CARP backups are silent, so only masters show up)";
        election = { winner: p.winner, ranking: p.ranking, tied: p.tied, explanation: `${sem} rules: ${explanation}` };
      } else {
        const sorted = [...live].sort((a, b) => b.priority - a.priority || compareIp(b.ip, a.ip));
        const best = sorted[0];
        const tied = sorted.filter((x) => x.priority === best.priority).map((x) => x.ip);
        const second = sorted[1];
        const why = !second
          ? "the only router seen (VRRP backups are silent)"
          : second.priority !== best.priority
            ? `higher priority than ${second.ip} (${second.priority})`
            : `same priority as ${second.ip}, higher primary address wins`;
        election = {
          winner: best.ip,
          ranking: sorted.map((x) => x.ip),
          tied: tied.length > 1 ? tied : [],
          explanation: `VRRP rules: ${best.ip} (priority ${best.priority}): ${why}`,
        };
      }
    }
    const sd = m && m.n > 1 ? Math.sqrt(m.m2 / (m.n - 1)) : null;
    const authTotal = s.authOk + s.authBad + s.authNone;
    const status =
      s.authBad && s.authOk ? "mixed" : s.authBad ? "bad" : s.authOk && s.authOk === authTotal ? "ok" : s.authOk ? "mixed" : "unverified";
    return {
      vhid: s.vhid,
      protocol: proto,
      family: s.family,
      master: m ? { ip: m.ip, mac: m.mac, since: s.masterSince } : null,
      backups: sources.filter((x) => x !== m).map((x) => x.ip),
      sources: sources.map((x) => ({
        ip: x.ip, mac: x.mac, adverts: x.adverts, first_seen: x.first, last_seen: x.last,
        advbase: x.advbase, advskew: x.advskew, demote: x.demote, ...(proto === "vrrp" ? { priority: x.priority } : {}),
      })),
      advbase: m ? m.advbase : null,
      advskew: m && proto === "carp" ? m.advskew : null,
      demote: m && proto === "carp" ? m.demote : null,
      interval: {
        expected_s: m ? round6(m.interval(proto)) : null,
        mean_s: m && m.n ? round6(m.mean) : null,
        jitter_s: sd === null ? null : round6(sd),
        samples: m ? m.n : 0,
      },
      transitions: s.nTransitions,
      transition_log: s.transitions,
      overlaps,
      notes,
      auth: {
        status: proto === "vrrp" ? "unverified" : status,
        ok: s.authOk,
        bad: s.authBad,
        unverified: s.authNone,
        vips: null,
        vips_source: null,
        diagnosis: s.diagnosis,
      },
      problems,
      election,
    };
  }
}

/**
 * Whether advert `f` takes over from master `m` at once: for CARP the core's election (m steps down on
 * hearing f and f's sender would not step down on hearing m); for VRRP the higher priority, then the
 * higher primary address.
 */
function beats(sem: PeerSemantics, f: AdvertFacts, m: Source): boolean {
  if (f.protocol === "vrrp") return f.priority > m.priority || (f.priority === m.priority && compareIp(f.src, m.ip) > 0);
  return takesOver(
    sem,
    { from: m.ip, advbase: m.advbase, advskew: m.advskew, demote: m.demote },
    { from: f.src, advbase: f.advbase, advskew: f.advskew, demote: f.demote },
  );
}

/**
 * An advert source MAC other than the virtual MAC. FreeBSD and OpenBSD send from it (and switches
 * learn it); ucarp sends from 00:00:5e:00:00:vhid, userland daemons on raw sockets (ours) from the
 * interface's own MAC: harmless for receivers, so info. Another 00:00:5e MAC is likely a mistake.
 */
function macProblem(proto: "carp" | "vrrp", vhid: number, ip: string, mac: string): Problem {
  const exp = expectedMac(proto, vhid, ip.includes(":") ? 6 : 4);
  const why = `not the virtual MAC ${exp} that FreeBSD/OpenBSD send from (and switches learn)`;
  let severity: Severity = "info";
  let what: string;
  if (mac === `00:00:5e:00:00:${hex2(vhid)}`) what = `source MAC ${mac} (ucarp's advert MAC)`;
  else if (!mac.startsWith("00:00:5e:")) what = `source MAC ${mac}, the interface's own MAC (ucarp/userland style)`;
  else {
    severity = "warning";
    what = `source MAC ${mac}, a virtual MAC of another vhid or protocol`;
  }
  return { code: "source-mac", severity, message: `adverts from ${ip} use ${what}, ${why}` };
}

function fmtDur(d: number): string {
  if (d >= 1) return `${d.toFixed(1)} s`;
  const ms = d * 1000;
  return `${ms < 10 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function fmtSpan(a: number, b: number): string {
  return `${new Date(a * 1000).toISOString()} to ${new Date(b * 1000).toISOString()}`;
}
