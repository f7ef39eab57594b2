// The last thing a dying daemon does (uncaught exception, unhandled rejection, a start that fails half
// way): synchronous only, because nothing after it runs — the process exits right after. The VIPs go with
// one rtnetlink request each (the addon's calls block until the kernel's ACK); a bow-out advert goes out
// first so a backup takes over at once instead of after master-down.
import { Netlink } from "../host/netlink.js";
import type { VipAddress } from "../host/types.js";

export interface VipToDrop {
  ifname: string;
  vips: Pick<VipAddress, "address" | "prefix" | "family">[];
}

/** Deletes each address now; absent ones are fine. Returns the removed addresses and one line per failure. */
export function removeVipsNow(list: VipToDrop[]): { removed: string[]; errors: string[] } {
  const nl = Netlink.for();
  const removed: string[] = [];
  const errors: string[] = [];
  for (const { ifname, vips } of list) {
    const l = nl.link(ifname);
    if (!l.ok) {
      if (vips.length) errors.push(`${ifname}: ${l.error}`);
      continue;
    }
    for (const v of vips) {
      const r = nl.deleteAddress(l.value.ifindex, { family: v.family, address: v.address, prefix: v.prefix });
      if (r.ok) removed.push(`${v.address}/${v.prefix}`);
      else if (r.code !== "EADDRNOTAVAIL") errors.push(r.error);
    }
  }
  return { removed, errors };
}
