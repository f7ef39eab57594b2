// Run with --expose-gc inside a namespace: `node --expose-gc lifecycle-child.mjs <root> <mode>`.
// Opens sockets and captures, then closes / drops / unrefs them according to mode, prints fd counts
// as one JSON line, and then simply returns: whether the process exits on its own tells the parent
// whether any libuv handle was left behind.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

// A mode ending in "-ring" opens the sockets in receive mode "ring" (a raw socket and a packet ring each).
const [root, modeArg] = process.argv.slice(2);
const receiveMode = modeArg.endsWith("-ring") ? "ring" : "socket";
const mode = modeArg.replace(/-ring$/, "");
const { openCarpSocket } = await import(pathToFileURL(join(root, "src/host/rawsock.js")).href);
const { openCapture } = await import(pathToFileURL(join(root, "src/host/capture.js")).href);

const sockets = () => readdirSync("/proc/self/fd").filter((fd) => {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`).startsWith("socket:");
  } catch {
    return false;
  }
}).length;

// Mapped packet rings (ring mode) show as socket mappings.
const maps = () => readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes("socket:[")).length;

const before = sockets();
// Built inside a function: a suspended top-level await keeps the module frame's last loop value
// alive, which would hide what the GC can collect.
function openAll() {
  const list = [];
  for (let i = 0; i < 10; i++) {
    list.push(openCarpSocket({ interface: "eth0", family: 4, receiveMode }));
    list.push(openCarpSocket({ interface: "eth0", family: 6, receiveMode }));
  }
  for (let i = 0; i < 3; i++) list.push(openCapture({ interface: "eth0" }));
  for (const h of list) h.on("packets", () => {});
  return list;
}
let open = openAll();
const opened = sockets();
const mapped = maps();

if (mode === "close") {
  open.forEach((h) => h.close());
  open.forEach((h) => h.close());
} else if (mode === "unref") {
  open.forEach((h) => h.unref());
} else if (mode === "gc" || mode === "drop") {
  // "gc": unreferenced handles are weak, so dropping them lets the GC close them.
  // "drop": referenced handles are held like node's own handles: still open after the GC.
  if (mode === "gc") open.forEach((h) => h.unref());
  open = null;
  for (let i = 0; i < 10; i++) {
    globalThis.gc();
    await new Promise((r) => setImmediate(r)); // native finalizers run after GC, from the loop
  }
}
// mode "keep": leave them open and referenced (the control: the process must not exit)
if (mode === "drop" || mode === "keep") setTimeout(() => {}, 10); // let a finalizer run if one (wrongly) could
process.stdout.write(JSON.stringify({ before, opened, after: sockets(), mapped, mapsAfter: maps() }) + "\n");
