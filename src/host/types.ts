// Plain data shared by the host layer and the daemon above it (nothing here imports upward).

export type HookMode = "per-vip" | "all";

/** One virtual address of a vhid. */
export interface VipAddress {
  /** Canonical text form (IPv6 compressed, lower case). */
  address: string;
  prefix: number;
  family: 4 | 6;
  /** The address as the user wrote it, without prefix: what ucarp passes to scripts as $2. */
  given: string;
}
