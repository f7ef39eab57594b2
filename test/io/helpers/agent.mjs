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
const kept = new Map();
let next = 1;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const errInfo = (e) => ({ message: e.message, code: e.code, errno: e.errno, name: e.constructor.name });

const ops = {
  // a.listen: "packets" (default) or "batch" (the PacketBatch accessors, read inside the handler;
  // the first payload view is also kept past the handler, see "kept").
  socket(a) {
    const s = rawsock.openCarpSocket(a.options);
    const h = next++;
    handles.set(h, s);
    if (a.listen === "batch") {
      s.on("batch", (b) => {
        const batch = [];
        for (let i = 0; i < b.length; i++) {
          batch.push({
            data: b.payload(i).toString("hex"),
            src: b.src(i),
            dst: b.dst(i),
            ttl: b.ttl(i),
            ifindex: b.ifindex(i),
            time: b.time(i),
            family: b.family(i),
            truncated: b.truncated(i),
          });
        }
        const got = [...b].map((p) => ({ ...p, data: p.data.toString("hex") }));
        if (JSON.stringify(got) !== JSON.stringify(batch)) throw new Error("batch iterator and accessors disagree");
        kept.set(h, { lent: b.lent, view: b.payload(0), copy: b.copy(), hex: batch[0].data });
        out({ event: "packets", handle: h, batch });
      });
    } else {
      s.on("packets", (batch) =>
        out({
          event: "packets",
          handle: h,
          batch: batch.map((p) => ({ ...p, data: p.data.toString("hex") })),
        }),
      );
    }
    return { handle: h, ifindex: s.ifindex, receiveMode: s.receiveMode };
  },
  // What became of the last batch's first payload after its handler returned.
  kept(a) {
    const k = kept.get(a.handle);
    const first = k && (k.frameBatch ? k.copy.frame(0) : k.copy.payload(0));
    return k && { lent: k.lent, viewLength: k.view.length, copied: first.toString("hex"), hex: k.hex };
  },
  sendMany(a) {
    const s = handles.get(a.handle);
    let ok = 0;
    for (const p of a.payloads) if (s.send(Buffer.from(p, "hex")).ok) ok++;
    return ok;
  },
  send(a) {
    return handles.get(a.handle).send(Buffer.from(a.payload, "hex"), a.opts ?? {});
  },
  capture(a) {
    const c = capture.openCapture(a.options);
    const h = next++;
    handles.set(h, c);
    if (a.listen === "batch") {
      // FrameBatch accessors read in the handler; the first frame's view is also kept past it.
      c.on("batch", (b) => {
        const batch = [];
        for (let i = 0; i < b.length; i++) {
          batch.push({ time: b.time(i), linktype: b.linktype, data: b.frame(i).toString("hex"), origLen: b.origLen(i) });
        }
        const got = [...b].map((f) => ({ ...f, data: f.data.toString("hex") }));
        if (JSON.stringify(got) !== JSON.stringify(batch)) throw new Error("frame batch iterator and accessors disagree");
        kept.set(h, { lent: b.lent, view: b.frame(0), copy: b.copy(), hex: batch[0].data, frameBatch: true });
        out({ event: "frames", handle: h, batch });
      });
    } else {
      c.on("packets", (batch) =>
        out({ event: "frames", handle: h, batch: batch.map((f) => ({ ...f, data: f.data.toString("hex") })) }),
      );
    }
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
