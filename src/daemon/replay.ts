// antiReplay across restarts: the highest advert counter of each antiReplay vhid, kept in a small JSON file
// next to the control socket (`<socket>.replay.json`). Written rarely: the file holds a ceiling RESERVE
// counters above the last value written, rewritten only when a vhid's counter passes it (one write per
// RESERVE adverts, about a minute at advbase 1). After a restart a vhid refuses adverts up to the last value
// written (ceiling - RESERVE) and sends above the ceiling, so it never reuses a counter it may have sent.
// A replay of one of the at most RESERVE adverts between the last write and the stop is the one gap.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export const REPLAY_RESERVE = 64n;

export interface ReplayRecord {
  /** Counters above every one sent or accepted (decimal string in the file: 64-bit). */
  ceiling: bigint;
  /** A peer whose counters did not increase (`carp check` repeats it), if any. */
  warning?: string;
}

export class ReplayStore {
  private readonly records = new Map<string, ReplayRecord>();
  private dirMade = false;
  /** The last write error (logged once by the caller), or null. */
  error: string | null = null;

  constructor(readonly file: string) {
    for (const [k, r] of readReplayFile(file)) this.records.set(k, r);
  }

  /** The core's restart floors for a vhid ("eth0/1"), or undefined when nothing was kept. */
  floors(key: string): { accept: bigint; send: bigint } | undefined {
    const r = this.records.get(key);
    if (!r) return undefined;
    return { accept: r.ceiling > REPLAY_RESERVE ? r.ceiling - REPLAY_RESERVE : 0n, send: r.ceiling };
  }

  /** Records a vhid's highest counter; writes the file when it passed the ceiling or the warning changed. */
  update(key: string, high: bigint, warning: string | null): void {
    const r = this.records.get(key);
    const w = warning ?? undefined;
    if (r && high <= r.ceiling && r.warning === w) return;
    const ceiling = r && high <= r.ceiling ? r.ceiling : high + REPLAY_RESERVE;
    this.records.set(key, { ceiling, ...(w ? { warning: w } : {}) });
    this.write();
  }

  private write(): void {
    const out: Record<string, { ceiling: string; warning?: string }> = {};
    for (const [k, r] of this.records) out[k] = { ceiling: r.ceiling.toString(), ...(r.warning ? { warning: r.warning } : {}) };
    try {
      if (!this.dirMade) mkdirSync(dirname(this.file), { recursive: true });
      this.dirMade = true;
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ vhids: out }, null, 1) + "\n");
      renameSync(tmp, this.file);
      this.error = null;
    } catch (e) {
      this.error = `antiReplay: cannot write ${this.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    }
  }
}

/** The records of a replay file ("eth0/1" -> record); an absent or unreadable file is empty. */
export function readReplayFile(file: string): Map<string, ReplayRecord> {
  const out = new Map<string, ReplayRecord>();
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return out;
  }
  const vhids = (j as { vhids?: unknown })?.vhids;
  if (!vhids || typeof vhids !== "object") return out;
  for (const [k, v] of Object.entries(vhids as Record<string, { ceiling?: unknown; warning?: unknown }>)) {
    if (typeof v?.ceiling !== "string" || !/^\d{1,20}$/.test(v.ceiling)) continue;
    const ceiling = BigInt(v.ceiling);
    if (ceiling >= 1n << 64n) continue;
    out.set(k, { ceiling, ...(typeof v.warning === "string" ? { warning: v.warning } : {}) });
  }
  return out;
}
