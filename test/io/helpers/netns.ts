// The io tests' network, built by the lab (src/lab): hosts A and B on the lab's bridge (eth0 each,
// no IPv6 DAD), and in B a second interface off the bridge ("other0", veth peer "other1") for "bound
// to another interface" checks. Documentation addresses only. destroy() removes everything.
import { uniquePrefix } from "../../../src/lab/names.js";
import { Lab, type LabHost } from "../../../src/lab/topology.js";

export interface Topology {
  lab: Lab;
  A: LabHost;
  B: LabHost;
  nsA: string;
  nsB: string;
  /** Interface names inside A and B (the same name in each namespace). */
  ifname: string;
  other: string;
  a4: string;
  b4: string;
  a6: string;
  b6: string;
  other4: string;
  other6: string;
  destroy(): void;
}

export function createTopology(base = "cio"): Topology {
  const lab = Lab.create({ prefix: uniquePrefix(base) });
  try {
    const [a4, b4, a6, b6, other4, other6] = ["198.51.100.1", "198.51.100.2", "2001:db8:1::1", "2001:db8:1::2", "203.0.113.2", "2001:db8:2::2"];
    const A = lab.addHost("a", { addrs: [`${a4}/24`, `${a6}/64`], dad: false });
    const B = lab.addHost("b", { addrs: [`${b4}/24`, `${b6}/64`], dad: false });
    B.addVeth("other0", "other1", [`${other4}/24`, `${other6}/64`]);
    return { lab, A, B, nsA: A.ns, nsB: B.ns, ifname: A.ifname, other: "other0", a4, b4, a6, b6, other4, other6, destroy: () => lab.destroy() };
  } catch (e) {
    lab.destroy();
    throw e;
  }
}
