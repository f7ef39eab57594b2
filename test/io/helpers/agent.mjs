// Runs inside a network namespace (`ip netns exec NS node agent.mjs <transpiled-root>`) and drives
// the real wrappers on behalf of a test: JSON-line commands on stdin, JSON-line replies and events
// on stdout. Buffers travel as hex.
import { createInterface } from "node:readline";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const root = process.argv[2];
const rawsock = await import(pathToFileURL(join(root, "src/host/rawsock.js")).href);
const capture = await import(pathToFileURL(join(root, "src/host/capture.js")).href);

const handles = new Map();
let next = 1;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const errInfo = (e) => ({ message: e.message, code: e.code, errno: e.errno, name: e.constructor.name });

const ops = {
  socket(a) {
    const s = rawsock.openCarpSocket(a.options);
    const h = next++;
    handles.set(h, s);
    s.on("packets", (batch) =>
      out({
        event: "packets",
        handle: h,
        batch: batch.map((p) => ({ ...p, data: p.data.toString("hex") })),
      }),
    );
    return { handle: h, ifindex: s.ifindex };
  },
  send(a) {
    return handles.get(a.handle).send(Buffer.from(a.payload, "hex"), a.opts ?? {});
  },
  capture(a) {
    const c = capture.openCapture(a.options);
    const h = next++;
    handles.set(h, c);
    c.on("packets", (batch) =>
      out({ event: "frames", handle: h, batch: batch.map((f) => ({ ...f, data: f.data.toString("hex") })) }),
    );
    c.on("error", (e) => out({ event: "error", handle: h, error: errInfo(e) }));
    return { handle: h, linktype: c.linktype, filter: c.filter };
  },
  inject(a) {
    const frame = Buffer.from(a.frame, "hex");
    let n = 0;
    for (let i = 0; i < (a.repeat ?? 1); i++) n = handles.get(a.handle).inject(frame);
    return n;
  },
  dumpTo(a) {
    handles.get(a.handle).dumpTo(a.path);
    return null;
  },
  stopDump(a) {
    handles.get(a.handle).stopDump();
    return null;
  },
  stats(a) {
    const h = handles.get(a.handle);
    return typeof h.stats === "function" ? h.stats() : h.stats;
  },
  close(a) {
    handles.get(a.handle).close();
    return null;
  },
  exit() {
    setImmediate(() => process.exit(0));
    return null;
  },
};

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const cmd = JSON.parse(line);
  try {
    out({ id: cmd.id, ok: true, result: ops[cmd.op](cmd) });
  } catch (e) {
    out({ id: cmd.id, ok: false, error: errInfo(e) });
  }
});
rl.on("close", () => process.exit(0));
out({ ready: true });
