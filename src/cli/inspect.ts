// `carp inspect`: decode and verify CARP/VRRP traffic live or from a capture file, one line or JSON
// object per packet, or a per-vhid summary (master, backups, interval, problems, election).
import { readFileSync, statSync } from "node:fs";
import { isIPv4, isIPv6 } from "node:net";
import { parseArgs } from "node:util";
import { canonicalIp } from "../protocol/addr.js";
import { readCapture, PcapWriter, type CaptureError, type CapturePacket } from "../protocol/pcap.js";
import type { PeerSemantics } from "../protocol/types.js";
import { Analyzer } from "../inspect/analyzer.js";
import { bulkRead, pcapHeaderInfo } from "../inspect/bulk.js";
import { decodeFrame } from "../inspect/decode.js";
import { Keyring } from "../inspect/keys.js";
import { announcementJson, announcementLine, rowJson, rowLine, summaryJson, summaryTable } from "../inspect/render.js";
import type { Announcement, Row, SummaryView, VhidKeys } from "../inspect/types.js";
import { RuntimeError, UsageError } from "./errors.js";

export const summary = "decode and verify CARP/VRRP adverts (live or pcap): per-packet lines, JSON, or a per-vhid summary";

const HELP = `usage: carp inspect (--interface IF | --read FILE|-) [options]

Sources
  -i, --interface IF     live capture (libpcap, immediate mode); "any" allowed
  -r, --read FILE        read a pcap or pcapng file; "-" reads standard input
  -w, --write FILE       also save what was captured/read to a pcap file
  -c, --count N          stop after N protocol-112 packets
      --duration S       stop after S seconds (live), or S seconds of capture time (--read)
  -f, --filter BPF       extra BPF filter, ANDed with the default (live only)
Keys (HMAC verification)
      --pass PW          password for every vhid ("" = no password); --pass VHID=PW for one vhid
                         (repeatable; write *=PW for a password that itself looks like N=...)
      --passfile FILE    one --pass value per line
      --vip VHID=ADDR    a virtual address of a vhid (repeatable); without it the VIP set is
                         inferred from GARP/NA in the capture
      --config FILE      the daemon's YAML config (vhids, passwords, addresses, semantics)
      --semantics S      freebsd (default) | openbsd | ucarp, for the election prediction
Output
      --json             one JSON object per packet (with --summary: one JSON document)
      --summary          per-vhid table at the end (refreshed live on a terminal)
      --fail-on-problem  exit 1 when a problem of severity error or warning was found
  -h, --help

Exit: 0 ok, 1 --fail-on-problem and an error or warning was found (or a runtime failure), 2 bad usage or input.`;

const DEFAULT_FILTER = "ip proto 112 or ip6 proto 112 or arp or icmp6";

interface Opts {
  keyring: Keyring;
  semantics: PeerSemantics;
  semanticsFor: Map<number, PeerSemantics>;
}

function parseVhid(s: string, what: string): number {
  if (!/^\d{1,3}$/.test(s) || Number(s) < 1 || Number(s) > 255) throw new UsageError(`${what}: vhid must be 1-255, got '${s}'`);
  return Number(s);
}

function entry(map: Map<number, VhidKeys>, vhid: number): VhidKeys {
  let k = map.get(vhid);
  if (!k) map.set(vhid, (k = { v4: [], v6: [], vipSource: "none", semantics: "freebsd" }));
  return k;
}

async function buildKeys(values: Record<string, unknown>): Promise<Opts> {
  const map = new Map<number, VhidKeys>();
  const semanticsFor = new Map<number, PeerSemantics>();
  let defaultPassword: Buffer | undefined;
  const sem = (values.semantics as string | undefined) ?? "freebsd";
  if (!["freebsd", "openbsd", "ucarp"].includes(sem)) throw new UsageError(`--semantics: expected freebsd, openbsd or ucarp, got '${sem}'`);

  if (values.config !== undefined) {
    const path = values.config as string;
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      throw new UsageError(`--config: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const { parseYamlConfig } = await import("../daemon/config-yaml.js"); // the YAML parser only when needed
    const r = parseYamlConfig(text, { source: path });
    if (!r.ok) throw new UsageError(`--config ${path}: ${r.error}`);
    for (const v of r.value.vhids) {
      const k = entry(map, v.vhid);
      if (v.password.length) k.password = Buffer.from(v.password);
      else k.password = Buffer.alloc(0);
      for (const a of v.addresses) (a.family === 4 ? k.v4 : k.v6).push(a.address);
      if (v.addresses.length) k.vipSource = "config";
      k.semantics = v.semantics;
      semanticsFor.set(v.vhid, v.semantics);
    }
  }
  const passValues = [...((values.pass as string[] | undefined) ?? [])];
  for (const pf of (values.passfile as string[] | undefined) ?? []) {
    let text: string;
    try {
      text = readFileSync(pf, "utf8");
    } catch (e) {
      throw new UsageError(`--passfile: cannot read ${pf}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    for (const line of text.split(/\r?\n/)) if (line.length) passValues.push(line);
  }
  for (const p of passValues) {
    const m = /^(\d{1,3}|\*)=(.*)$/s.exec(p);
    if (m && m[1] !== "*") entry(map, parseVhid(m[1], "--pass")).password = Buffer.from(m[2], "utf8");
    else defaultPassword = Buffer.from(m ? m[2] : p, "utf8");
  }
  for (const v of (values.vip as string[] | undefined) ?? []) {
    const m = /^(\d{1,3})=(.+)$/.exec(v);
    if (!m) throw new UsageError(`--vip: expected VHID=ADDR, got '${v}'`);
    const vhid = parseVhid(m[1], "--vip");
    const addr = m[2].replace(/\/\d+$/, "");
    const c = canonicalIp(addr);
    if (!c || !(isIPv4(c) || isIPv6(c))) throw new UsageError(`--vip: not an IP address: '${m[2]}'`);
    const k = entry(map, vhid);
    if (k.vipSource === "config") {
      k.v4 = [];
      k.v6 = [];
    }
    k.vipSource = "given";
    const list = isIPv4(c) ? k.v4 : k.v6;
    if (!list.includes(c)) list.push(c);
  }
  return { keyring: new Keyring({ vhids: map, defaultPassword }), semantics: sem as PeerSemantics, semanticsFor };
}

/** Buffered stdout: one write per ~64 KiB, so per-packet output stays cheap. */
class Out {
  private parts: string[] = [];
  private size = 0;
  broken = false;
  constructor() {
    process.stdout.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") this.broken = true;
    });
  }
  line(s: string): void {
    if (this.broken) return;
    this.parts.push(s);
    this.size += s.length + 1;
    if (this.size > 65536) this.flush();
  }
  flush(): void {
    if (!this.parts.length || this.broken) return;
    process.stdout.write(this.parts.join("\n") + "\n");
    this.parts = [];
    this.size = 0;
  }
  async drain(): Promise<void> {
    this.flush();
    if (process.stdout.writableNeedDrain) await new Promise((r) => process.stdout.once("drain", r));
  }
}

function num(v: unknown, what: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`${what}: expected a number ≥ ${min}, got '${String(v)}'`);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        interface: { type: "string", short: "i" },
        read: { type: "string", short: "r" },
        write: { type: "string", short: "w" },
        count: { type: "string", short: "c" },
        duration: { type: "string" },
        filter: { type: "string", short: "f" },
        pass: { type: "string", multiple: true },
        passfile: { type: "string", multiple: true },
        vip: { type: "string", multiple: true },
        config: { type: "string" },
        semantics: { type: "string" },
        json: { type: "boolean" },
        summary: { type: "boolean" },
        "fail-on-problem": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError(`inspect: ${(e as Error).message}`);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  if ((v.interface === undefined) === (v.read === undefined)) throw new UsageError("inspect: give exactly one of --interface IF or --read FILE");
  if (v.read !== undefined && v.filter !== undefined) {
    throw new UsageError("inspect: --filter needs live capture; for a file use: tcpdump -r FILE -w - 'FILTER' | carp inspect --read -");
  }
  const count = num(v.count, "--count", 1);
  const duration = num(v.duration, "--duration", 0);
  const opts = await buildKeys(v);
  const keyring = opts.keyring;
  const analyzer = new Analyzer({ semantics: opts.semantics, semanticsFor: (x) => opts.semanticsFor.get(x) });
  const out = new Out();
  const json = v.json === true;
  const summaryMode = v.summary === true;

  // Which vhid an announced address belongs to, if we know (given/config/inferred VIPs, virtual MAC).
  const vhidOfVip = (a: Announcement): number | null => {
    for (const [vhid, k] of keyring.vhids) if (k.v4.includes(a.vip) || k.v6.includes(a.vip)) return vhid;
    for (const [vhid, inf] of keyring.inferred) if (inf.vips.includes(a.vip)) return vhid;
    const m = /^00:00:5e:00:01:([0-9a-f]{2})$/.exec(a.mac);
    return m ? parseInt(m[1], 16) : null;
  };

  let proto112 = 0;
  const handle = (time: number, linktype: number, data: Buffer): boolean => {
    const d = decodeFrame(time, linktype, data);
    if ("skip" in d) {
      if (d.arpReply) analyzer.arpReply(d.arpReply.time, d.arpReply.ip, d.arpReply.mac);
      analyzer.skipped();
      return false;
    }
    if ("announcement" in d) {
      const a = d.announcement;
      keyring.addAnnouncement(a);
      analyzer.announcement(a);
      if (!summaryMode) {
        const vhid = vhidOfVip(a);
        if (vhid !== null) out.line(json ? announcementJson(a, vhid) : announcementLine(a, vhid));
      }
      return false;
    }
    const r = d.row;
    if (r.kind === "carp" && r.vhid !== null) keyring.noteAdvertMac(r.vhid, r.src_mac);
    keyring.verifyRow(r, d.payload);
    analyzer.row(r, d.payload);
    proto112++;
    if (!summaryMode) out.line(json ? rowJson(r) : rowLine(r));
    return true;
  };

  const finish = (): SummaryView => {
    analyzer.rediagnose((vhid, src, h) => {
      const pw = keyring.passwordFor(vhid);
      return pw === undefined ? null : keyring.diagnose(vhid, src, h, pw).text;
    });
    const view = analyzer.view();
    for (const vh of view.vhids) {
      if (vh.protocol !== "carp") continue;
      const k = keyring.vipsFor(vh.vhid);
      if (k) {
        vh.auth.vips = k.vips;
        vh.auth.vips_source = k.source;
        if (k.source === "inferred" && !vh.auth.diagnosis) vh.auth.diagnosis = `VIP set inferred from GARP/NA: ${k.vips.join(", ")}`;
      }
    }
    return view;
  };

  let captureError: CaptureError | undefined;
  if (v.read !== undefined) {
    const emit = summaryMode ? undefined : (r: Row) => out.line(json ? rowJson(r) : rowLine(r));
    captureError = await readSource(v.read, v.write, keyring, analyzer, handle, emit, count, duration, () => proto112, () => out.broken);
  } else {
    await live(v.interface!, v.filter, v.write, handle, summaryMode && !json, count, duration, () => proto112, finish, out);
  }

  const view = finish();
  if (summaryMode) out.line(json ? summaryJson(view) : summaryTable(view));
  await out.drain();
  if (captureError) {
    const src = v.read === "-" ? "standard input" : v.read;
    throw new UsageError(`${src}: ${captureError.error === "badmagic" ? "not a pcap or pcapng file" : captureError.error}: ${captureError.detail}`);
  }
  return v["fail-on-problem"] && view.problems > 0 ? 1 : 0;
}

async function readSource(
  path: string,
  write: string | undefined,
  keyring: Keyring,
  analyzer: Analyzer,
  handle: (t: number, lt: number, d: Buffer) => boolean,
  emit: ((r: Row) => void) | undefined,
  count: number | undefined,
  duration: number | undefined,
  proto112: () => number,
  outputClosed: () => boolean,
): Promise<CaptureError | undefined> {
  if (path !== "-") {
    try {
      const st = statSync(path);
      if (!st.isFile() && !st.isFIFO()) throw new UsageError(`${path}: not a file`);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    // A password without VIPs: collect the capture's GARP/NA first, so early adverts verify too.
    if (keyring.needsInference()) {
      for await (const p of readCapture(path)) {
        if ("error" in p) break;
        const d = decodeFrame(p.time, p.linktype, p.data);
        if ("announcement" in d) keyring.addAnnouncement(d.announcement);
        else if ("row" in d && d.row.kind === "carp" && d.row.vhid !== null) keyring.noteAdvertMac(d.row.vhid, d.row.src_mac);
      }
    }
  }
  let first: number | null = null;
  // t is -Infinity when the bulk reader only asks between chunks (no packet time).
  const stopAt = (t: number, n: number): boolean => {
    if (first === null && t !== -Infinity) first = t;
    const late = duration !== undefined && first !== null && t - first >= duration;
    return (count !== undefined && n >= count) || late || outputClosed();
  };
  // Bulk path: a classic pcap file and nothing to write.
  if (path !== "-" && write === undefined && pcapHeaderInfo(path)) {
    const r = await bulkRead(path, keyring, analyzer, handle, stopAt, emit);
    return r.error;
  }
  let writer: PcapWriter | null = null;
  let err: CaptureError | undefined;
  const src = path === "-" ? process.stdin : path;
  try {
    for await (const p of readCapture(src)) {
      if ("error" in p) {
        err = p;
        break;
      }
      const pkt = p as CapturePacket;
      if (write !== undefined) {
        if (!writer) writer = new PcapWriter(write, { linktype: pkt.linktype });
        writer.write({ time: pkt.time, data: pkt.data, origLen: pkt.origLen });
      }
      handle(pkt.time, pkt.linktype, pkt.data);
      if (stopAt(pkt.time, proto112())) break;
    }
  } finally {
    if (writer) await writer.close().catch((e: Error) => {
      throw new RuntimeError(`--write ${write}: ${e.message}`);
    });
  }
  return err;
}

async function live(
  ifname: string,
  filter: string | undefined,
  write: string | undefined,
  handle: (t: number, lt: number, d: Buffer) => boolean,
  refresh: boolean,
  count: number | undefined,
  duration: number | undefined,
  proto112: () => number,
  finish: () => SummaryView,
  out: Out,
): Promise<void> {
  const { openCapture } = await import("../host/capture.js");
  const bpf = filter ? `(${DEFAULT_FILTER}) and (${filter})` : DEFAULT_FILTER;
  let cap;
  try {
    cap = openCapture({ interface: ifname, filter: bpf, immediate: true });
  } catch (e) {
    const msg = (e as Error).message;
    if (/syntax|filter|parse/i.test(msg)) throw new UsageError(`--filter: ${msg}`);
    throw new RuntimeError(`cannot capture on ${ifname}: ${msg}`);
  }
  if (write !== undefined) {
    try {
      cap.dumpTo(write);
    } catch (e) {
      cap.close();
      throw new RuntimeError(`--write ${write}: ${(e as Error).message}`);
    }
  }
  const tty = refresh && process.stdout.isTTY === true;
  await new Promise<void>((resolve) => {
    let done = false;
    const timers: NodeJS.Timeout[] = [];
    const stop = () => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      cap.close();
      if (tty) process.stdout.write("\x1b[2J\x1b[H");
      resolve();
    };
    cap.on("packets", (batch) => {
      for (const fr of batch) {
        if (done) return;
        handle(Math.round(fr.time * 1000) / 1e6, fr.linktype, fr.data); // ms → s, µs resolution
        if (count !== undefined && proto112() >= count) return stop();
      }
      if (!refresh) out.flush();
    });
    cap.on("error", (e) => {
      process.stderr.write(`carp inspect: capture error: ${e.message}\n`);
      stop();
    });
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    if (duration !== undefined) timers.push(setTimeout(stop, duration * 1000));
    if (tty) {
      const redraw = () => {
        if (done) return;
        process.stdout.write(`\x1b[2J\x1b[H${summaryTable(finish())}\n`);
        timers.push(setTimeout(redraw, 1000));
      };
      redraw();
    }
  });
}
