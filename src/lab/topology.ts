// A throwaway L2 network in network namespaces: one "switch" namespace holding a bridge, and N host
// namespaces, each with eth0 plugged into the bridge by a veth pair. Nothing is created in the root
// namespace, so runs cannot touch the machine's own network and can run in parallel.
//
//   <prefix>sw:   br0 ── h1 ── (veth) ── eth0 in <prefix>h1
//                     └─ h2 ── (veth) ── eth0 in <prefix>h2 ...
//
// Impairments: link down/up (either end), packet loss and partitions by nftables rules on the bridge
// (bridge family, forward hook), delay by tc netem on the host's eth0 when the kernel has netem.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { checkPrefix, removeNamespace, uniquePrefix } from "./names.js";
import { LabProcess, type SpawnOptions } from "./proc.js";
import { LabError, requireTools, sh, shQuiet, which } from "./sys.js";

export interface HostOptions {
  /** Addresses with prefix length, e.g. "198.51.100.11/24" or "2001:db8::11/64" (added nodad). */
  addrs?: string[];
  /** MAC address for eth0; default 02:00:00:00:<lab>:<index>. */
  mac?: string;
  /** false: no IPv6 duplicate address detection in the host (link-local addresses usable at once). */
  dad?: boolean;
}

/** What the kernel reports for one interface (`ip -j link show`). */
export interface LinkInfo {
  ifindex: number;
  /** MAC, lower case. */
  address: string;
  mtu: number;
  operstate: string;
}

export interface Impairment {
  /** Percent of frames dropped on the way to and from the host (0-100), by nftables on the bridge. */
  lossPct?: number;
  /** Delay added to frames the host sends (tc netem; needs sch_netem in the kernel). */
  delayMs?: number;
  jitterMs?: number;
}

export class LabHost {
  readonly ifname = "eth0";
  /** Name of the veth end on the bridge (in the switch namespace). */
  readonly port: string;
  impairment: Impairment = {};

  constructor(
    readonly lab: Lab,
    readonly name: string,
    readonly ns: string,
    readonly index: number,
    readonly mac: string,
    readonly addrs: string[],
  ) {
    this.port = `p${name}`;
  }

  /** First address without its prefix length. */
  get addr(): string {
    const a = this.addrs[0];
    if (!a) throw new LabError(`host ${this.name} has no address`);
    return a.split("/")[0];
  }

  /** `ip -n <ns> ...` */
  ip(...args: string[]): string {
    return sh("ip", ["-n", this.ns, ...args]);
  }

  /** Runs a command inside the namespace and returns its stdout (throws LabError on failure). */
  exec(cmd: string, args: string[] = [], input?: string): string {
    return sh("ip", ["netns", "exec", this.ns, cmd, ...args], input);
  }

  /** Starts a long-running command inside the namespace; the lab stops it on destroy(). */
  spawn(cmd: string, args: string[] = [], opts: SpawnOptions = {}): LabProcess {
    return this.lab.track(new LabProcess(this.ns, cmd, args, opts));
  }

  /** The kernel's view of an interface in this host (default eth0). */
  link(dev: string = this.ifname): LinkInfo {
    const [l] = JSON.parse(this.ip("-j", "link", "show", "dev", dev)) as LinkInfo[];
    return { ifindex: l.ifindex, address: l.address, mtu: l.mtu, operstate: l.operstate };
  }

  /** A second interface: a veth pair with both ends in this host, off the bridge; both up, `addrs` on `dev`. */
  addVeth(dev: string, peer: string, addrs: string[] = []): void {
    this.ip("link", "add", dev, "type", "veth", "peer", "name", peer);
    for (const a of addrs) this.ip("addr", "add", a, "dev", dev, ...(a.includes(":") ? ["nodad"] : []));
    for (const d of [dev, peer]) this.ip("link", "set", d, "up");
  }

  /** Addresses currently on eth0 (without prefix length). */
  addresses(): string[] {
    const out = shQuiet("ip", ["-n", this.ns, "-o", "addr", "show", "dev", this.ifname]);
    return [...out.matchAll(/\binet6? ([0-9a-f.:]+)\//g)].map((m) => m[1]);
  }

  /** Whether the host currently has `addr` on eth0. */
  has(addr: string): boolean {
    return this.addresses().includes(addr);
  }

  /**
   * Who answers ARP/ND for `addr` right now, as seen from this host: forgets the neighbour entry,
   * sends one UDP datagram to port 9 (discard) to make the kernel resolve it, and returns the MAC
   * (lower case) or null when nobody answers within `ms`.
   */
  async resolve(addr: string, ms = 600): Promise<string | null> {
    shQuiet("ip", ["-n", this.ns, "neigh", "flush", "to", addr]);
    shQuiet("ip", ["netns", "exec", this.ns, "bash", "-c", `echo probe > /dev/udp/${addr}/9`]);
    const end = Date.now() + ms;
    for (;;) {
      const out = shQuiet("ip", ["-n", this.ns, "neigh", "show", "to", addr]);
      const m = /lladdr ([0-9a-f:]{17}) (?:REACHABLE|STALE|DELAY|PROBE)/.exec(out);
      if (m) return m[1];
      if (Date.now() >= end) return null;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export interface LabOptions {
  /** Name prefix for namespaces and the temp dir; default uniquePrefix("carplab"). */
  prefix?: string;
}

export class Lab {
  readonly prefix: string;
  readonly switchNs: string;
  readonly hosts = new Map<string, LabHost>();
  readonly dir: string;
  private procs = new Set<LabProcess>();
  private partitions: [string[], string[]][] = [];
  private destroyed = false;
  private static live = new Set<Lab>();
  private static hooked = false;

  private constructor(prefix: string) {
    this.prefix = prefix;
    this.switchNs = `${prefix}sw`;
    this.dir = mkdtempSync(join(tmpdir(), prefix));
  }

  /** Creates the switch namespace and its bridge. Every Lab is removed on process exit and on signals. */
  static create(opts: LabOptions = {}): Lab {
    requireTools({ ip: "iproute2" });
    if (process.getuid?.() !== 0) throw new LabError("the lab needs root (network namespaces)");
    const prefix = opts.prefix ?? uniquePrefix();
    checkPrefix(prefix);
    const lab = new Lab(prefix);
    Lab.live.add(lab);
    Lab.hookExit();
    try {
      sh("ip", ["netns", "add", lab.switchNs]);
      lab.sw("link", "set", "lo", "up");
      // Snooping off: every multicast frame (224.0.0.18, ff02::12) reaches every port at once.
      lab.sw("link", "add", "br0", "type", "bridge", "mcast_snooping", "0", "stp_state", "0", "forward_delay", "0");
      lab.sw("link", "set", "br0", "up");
    } catch (e) {
      lab.destroy();
      throw e;
    }
    return lab;
  }

  /** Labs still alive (not destroyed) in this process. */
  static get active(): readonly Lab[] {
    return [...Lab.live];
  }

  /** Destroys every live lab: for signal handlers and exit paths. Synchronous. */
  static destroyAll(): void {
    for (const lab of Lab.live) lab.destroy();
  }

  private static hookExit(): void {
    if (Lab.hooked) return;
    Lab.hooked = true;
    // 'exit' handlers must be synchronous: destroy() is.
    process.on("exit", () => Lab.destroyAll());
  }

  /** `ip -n <switch ns> ...` */
  sw(...args: string[]): string {
    return sh("ip", ["-n", this.switchNs, ...args]);
  }

  track(p: LabProcess): LabProcess {
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  host(name: string): LabHost {
    const h = this.hosts.get(name);
    if (!h) throw new LabError(`no host ${name} in lab ${this.prefix}`);
    return h;
  }

  /** Adds a host namespace with eth0 on the bridge (up, with its addresses). Names: [a-z0-9]{1,8}. */
  addHost(name: string, opts: HostOptions = {}): LabHost {
    if (this.destroyed) throw new LabError("lab already destroyed");
    if (!/^[a-z][a-z0-9]{0,7}$/.test(name) || name === "br0" || name === "sw") throw new LabError(`bad host name ${name}`);
    if (this.hosts.has(name)) throw new LabError(`host ${name} exists`);
    const index = this.hosts.size + 1;
    const mac = opts.mac ?? `02:00:00:00:${(index >> 8).toString(16).padStart(2, "0")}:${(index & 255).toString(16).padStart(2, "0")}`;
    const ns = `${this.prefix}${name}`;
    const h = new LabHost(this, name, ns, index, mac, opts.addrs ?? []);
    sh("ip", ["netns", "add", ns]);
    this.hosts.set(name, h);
    h.ip("link", "set", "lo", "up");
    this.sw("link", "add", "name", h.port, "type", "veth", "peer", "name", "eth0", "address", mac, "netns", ns);
    this.sw("link", "set", "dev", h.port, "master", "br0");
    this.sw("link", "set", "dev", h.port, "up");
    if (opts.dad === false) h.exec("sysctl", ["-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.eth0.accept_dad=0"]);
    for (const a of h.addrs) {
      h.ip("addr", "add", a, "dev", "eth0", ...(a.includes(":") ? ["nodad"] : []));
    }
    h.ip("link", "set", "eth0", "up");
    return h;
  }

  /** Takes a host's link down: side "bridge" (default) drops carrier on the host's eth0, as a pulled cable. */
  linkDown(name: string, side: "bridge" | "host" = "bridge"): void {
    const h = this.host(name);
    if (side === "bridge") this.sw("link", "set", "dev", h.port, "down");
    else h.ip("link", "set", "eth0", "down");
  }

  linkUp(name: string, side: "bridge" | "host" = "bridge"): void {
    const h = this.host(name);
    if (side === "bridge") this.sw("link", "set", "dev", h.port, "up");
    else h.ip("link", "set", "eth0", "up");
  }

  /** Sets (replaces) a host's impairment; {} clears it. */
  impair(name: string, imp: Impairment): void {
    const h = this.host(name);
    if (imp.lossPct !== undefined && !(imp.lossPct >= 0 && imp.lossPct <= 100)) throw new LabError(`lossPct ${imp.lossPct} not in 0..100`);
    const delay = imp.delayMs ?? 0;
    if (delay > 0 || h.impairment.delayMs) {
      if (delay > 0) {
        const jitter = imp.jitterMs ? [`${imp.jitterMs}ms`] : [];
        try {
          h.ip("link", "show", "eth0");
          sh("tc", ["-n", h.ns, "qdisc", "replace", "dev", "eth0", "root", "netem", "delay", `${delay}ms`, ...jitter]);
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          if (/unknown/i.test(msg)) throw new LabError("delay needs tc netem, which this kernel lacks (CONFIG_NET_SCH_NETEM)");
          throw e;
        }
      } else {
        shQuiet("tc", ["-n", h.ns, "qdisc", "del", "dev", "eth0", "root"]);
      }
    }
    h.impairment = { ...imp };
    this.applyRules();
  }

  /** Frames between any host of `a` and any host of `b` are dropped (both directions). */
  partition(a: string[], b: string[]): void {
    for (const n of [...a, ...b]) this.host(n);
    this.partitions.push([a, b]);
    this.applyRules();
  }

  /** Removes all partitions. */
  heal(): void {
    this.partitions = [];
    this.applyRules();
  }

  /** Rewrites the nftables table on the bridge from the current partitions and losses. */
  private applyRules(): void {
    const rules: string[] = [];
    for (const [a, b] of this.partitions) {
      for (const x of a) {
        for (const y of b) {
          rules.push(`iifname "${this.host(x).port}" oifname "${this.host(y).port}" drop`);
          rules.push(`iifname "${this.host(y).port}" oifname "${this.host(x).port}" drop`);
        }
      }
    }
    for (const h of this.hosts.values()) {
      const loss = Math.round(h.impairment.lossPct ?? 0);
      if (loss > 0) {
        const chance = loss >= 100 ? "" : ` numgen random mod 100 < ${loss}`;
        rules.push(`iifname "${h.port}"${chance} drop`);
        rules.push(`oifname "${h.port}"${chance} drop`);
      }
    }
    const have = shQuiet("ip", ["netns", "exec", this.switchNs, "nft", "list", "tables"]).includes("carplab");
    if (rules.length === 0 && !have) return;
    if (!which("nft")) throw new LabError("loss and partitions need nft (apt-get install nftables)");
    const script = [
      "table bridge carplab {}",
      "delete table bridge carplab",
      "table bridge carplab {",
      "  chain forward {",
      "    type filter hook forward priority 0;",
      ...rules.map((r) => `    ${r}`),
      "  }",
      "}",
      "",
    ].join("\n");
    sh("ip", ["netns", "exec", this.switchNs, "nft", "-f", "-"], script);
  }

  /** Stops every process, deletes every namespace and the temp dir. Synchronous and idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    Lab.live.delete(this);
    for (const p of this.procs) p.signal("SIGTERM");
    for (const h of this.hosts.values()) removeNamespace(h.ns);
    removeNamespace(this.switchNs);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** destroy() after giving tracked processes `graceMs` to exit on SIGTERM (so ucarp runs -z scripts). */
  async close(graceMs = 1500): Promise<void> {
    await Promise.all([...this.procs].map((p) => p.stop(graceMs)));
    this.destroy();
  }
}
