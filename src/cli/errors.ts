// Errors a user can cause end here: one line on stderr and a documented exit code, never a stack trace.

/** A usage or input error: exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A runtime failure (privileges, missing interface, I/O): exit 1. */
export class RuntimeError extends Error {
  override name = "RuntimeError";
}

export function exitCodeFor(e: unknown): number {
  return e instanceof UsageError ? 2 : 1;
}

export function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0];
}
