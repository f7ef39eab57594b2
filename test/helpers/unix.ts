// Unix-socket helpers for tests: a datagram listener (python3: node has no unix datagram sockets) and a
// count of this process's socket fds whose inode is in a set (from /proc/net/unix or /proc/net/netlink).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import { waitFor } from "./netns.js";

/**
 * Binds a unix datagram socket at `path` and collects each datagram as one string (newlines inside a
 * datagram replaced by `newline`). The caller kills `proc` when done.
 */
export async function datagramListener(path: string, newline = "|"): Promise<{ path: string; got: string[]; proc: ChildProcess }> {
  const code = `import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nwhile True:\n d=s.recv(65535)\n sys.stdout.write(d.decode(errors='replace').replace('\\n',sys.argv[2])+'\\n')\n sys.stdout.flush()\n`;
  const proc = spawn("python3", ["-c", code, path, newline], { stdio: ["ignore", "pipe", "inherit"] });
  const got: string[] = [];
  let buf = "";
  proc.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      got.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  await waitFor(() => existsSync(path), 3000);
  return { path, got, proc };
}

/** How many of this process's fds are sockets whose inode is in `inodes`. */
export function socketFdsWithInodes(inodes: Set<string>): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m && inodes.has(m[1])) n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}
