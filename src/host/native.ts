// The host-effect half of the carp_io addon (native/io/sys.cc, native/io/netlink.cc): flat functions
// that return a value or an errno name (string). Loaded lazily; when the addon is missing every call
// fails with ENOSYS-like "ENOADDON" so callers report one clear line.
import { addonError, loadAddon } from "../addon.js";

export interface NativeLink {
  ifindex: number;
  name: string;
  mac: string | null;
  flags: number;
  up: boolean;
  running: boolean;
  lowerUp: boolean;
  /** ARPHRD_* (1 = Ethernet). */
  linkType: number;
  operstate?: string;
  mtu?: number;
  promoteSecondaries?: boolean;
}

export interface NativeAddress {
  ifindex: number;
  family: 4 | 6;
  address: string;
  prefix: number;
  scope: number;
  label?: string;
  flags: number;
}

export type NativeEvent =
  | (NativeLink & { type: "link"; kind: "new" | "del"; ts: number })
  | (NativeAddress & { type: "address"; kind: "new" | "del"; ts: number })
  | { type: "overrun"; ts: number };

export interface NativeMonitor {
  onevents?: (events: NativeEvent[]) => void;
  close(): void;
  setRef(on: boolean): void;
  readonly fd: number;
}

/** Errno name on failure. */
type R<T> = T | string;

export interface HostAddon {
  unixDgramOpen(sendTimeoutMs: number): R<number>;
  unixDgramSend(fd: number, path: string, data: Buffer, dontWait: boolean): R<true>;
  closeFd(fd: number): R<true>;
  setRealtimePriority(prio: number): R<true>;
  schedulerOf(): R<{ policy: "fifo" | "rr" | "other"; priority: number }>;
  peerCredentials(fd: number): R<{ pid: number; uid: number; gid: number }>;
  packetOpen(ifindex: number, netns: string): R<number>;
  packetSend(fd: number, frame: Buffer): R<true>;
  netlinkOpen(netns: string): R<number>;
  addrAdd(fd: number, ifindex: number, family: 4 | 6, address: string, prefix: number, label: string, nodad: boolean): R<true>;
  addrDel(fd: number, ifindex: number, family: 4 | 6, address: string, prefix: number): R<true>;
  addrList(fd: number, ifindex: number): R<NativeAddress[]>;
  linkGet(fd: number, link: number | string): R<NativeLink>;
  linkList(fd: number): R<NativeLink[]>;
  linkSetUp(fd: number, ifindex: number, up: boolean): R<true>;
  setPromoteSecondaries(fd: number, ifindex: number, on: boolean): R<true>;
  macvlanAdd(fd: number, parent: number, name: string, mac: string): R<number>;
  linkDel(fd: number, ifindex: number): R<true>;
  linkKind(fd: number, ifindex: number): R<{ kind: string; parent: number; macvlanMode: string }>;
  neighGet(fd: number, ifindex: number, family: 4 | 6, address: string): R<string | null>;
  NetlinkMonitor: new (netns: string, rcvbuf?: number) => NativeMonitor;
}

/** The addon's host functions, or a one-line reason why they are unavailable. */
export function hostAddon(): { ok: true; value: HostAddon } | { ok: false; error: string } {
  const a = loadAddon<Partial<HostAddon>>("carp_io");
  if (!a || typeof a.netlinkOpen !== "function" || typeof a.macvlanAdd !== "function") {
    return { ok: false, error: `the carp_io addon is ${a ? "outdated" : `not available (${addonError("carp_io") ?? "not built"})`}; build it with npm run build` };
  }
  return { ok: true, value: a as HostAddon };
}

/** Errno names stay short; these are the common ones with what the user can do. */
export function errnoHint(code: string): string {
  switch (code) {
    case "EPERM":
    case "EACCES":
      return "needs root or CAP_NET_ADMIN";
    case "ENODEV":
      return "no such interface";
    case "EEXIST":
      return "already exists";
    case "EADDRNOTAVAIL":
      return "address not present";
    case "ENOENT":
      return "not found";
    case "ECONNREFUSED":
      return "nobody listens on the socket";
    default:
      return code;
  }
}
