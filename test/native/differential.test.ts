// Differential property tests: the TypeScript codec (carp.ts, checksum.ts, hmac.ts, receive.ts) and
// the native one must agree on every field and verdict, for random and mutated packets, random keys,
// VIP sets (IPv4, IPv6, link-local) and semantics; and neither may throw on hostile input.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { decodeCarp } from "../../src/protocol/carp.js";
import { inetChecksum } from "../../src/protocol/checksum.js";
import { CarpAuth, carpHmacPrefix, type CarpAuthConfig } from "../../src/protocol/hmac.js";
import { receiveCarp } from "../../src/protocol/receive.js";
import {
  CarpKeyTable,
  NativeCarpAuth,
  VERDICTS,
  decodeBatch,
  nativeCodecAddon,
  nativeDecodeCarp,
  nativeHmacPrefix,
  nativeInetChecksum,
  nativeSha1Impl,
  nativeSha1Impls,
  setNativeSha1Impl,
  signHeaderInto,
  verifyBatch,
  type BatchFields,
} from "../../src/protocol/native-codec.js";
import type { PeerSemantics } from "../../src/protocol/types.js";
import { requires } from "../helpers/require.js";

const initialImpl = nativeSha1Impl();
const runs = Number(process.env.FC_RUNS ?? 300);

const ipv4 = fc.oneof(
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join(".")),
  fc.constantFrom("0.0.0.0", "255.255.255.255", "198.51.100.1", "198.51.100.1", "203.0.113.7", "10.0.0.1"),
);
const ipv6Random = fc.uint8Array({ minLength: 16, maxLength: 16 }).chain((b) =>
  fc.constantFrom(0xfe80, 0xfebf, 0x2001, 0xff02, 0xff01, 0xff05, 0, 0xffff, b[0] * 256 + b[1]).map((first) => {
    const w: string[] = [first.toString(16)];
    for (let i = 2; i < 16; i += 2) w.push(((b[i] << 8) | b[i + 1]).toString(16));
    return w.join(":");
  }),
);
// A small pool too, so that duplicates, link-locals differing only in the scope bytes (2-3) and
// the skipped :: / all-ones addresses turn up often.
const ipv6 = fc.oneof(
  ipv6Random,
  fc.constantFrom("fe80::1", "fe80:5::1", "fe80::2", "ff02::12", "ff02:3::12", "2001:db8::1", "2001:db8::1", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
);
const semantics = fc.constantFrom<PeerSemantics>("freebsd", "openbsd", "ucarp");
const password = fc.oneof(fc.string({ maxLength: 25 }), fc.uint8Array({ maxLength: 25 }), fc.constant(""));
const vipSets = fc.record({
  v4: fc.array(ipv4, { maxLength: 6 }),
  v6: fc.array(ipv6, { maxLength: 6 }),
});
const config: fc.Arbitrary<CarpAuthConfig> = fc
  .record({
    vhid: fc.integer({ min: 1, max: 255 }),
    vips: vipSets,
    password,
    semantics,
    lladdr: fc.option(fc.uint8Array({ minLength: 6, maxLength: 6 }), { nil: undefined }),
  })
  .map(({ vhid, vips, password, semantics, lladdr }) => {
    // ucarp needs exactly one IPv4 and a password; keep most generated configs valid.
    const v4 = semantics === "ucarp" ? vips.v4.slice(0, 1).concat(vips.v4.length ? [] : ["203.0.113.1"]) : vips.v4;
    const v6 = semantics === "ucarp" ? [] : vips.v6;
    const pw = semantics === "ucarp" && password.length === 0 ? "x" : password;
    return { vhid, v4, v6, password: pw, semantics, lladdr: semantics === "openbsd" ? lladdr : undefined };
  });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

function fieldsFor(n: number): Required<BatchFields> {
  return {
    version: new Uint8Array(n), type: new Uint8Array(n), vhid: new Uint8Array(n), advskew: new Uint8Array(n),
    authlen: new Uint8Array(n), demote: new Uint8Array(n), advbase: new Uint8Array(n), checksum: new Uint16Array(n),
    counterHi: new Uint32Array(n), counterLo: new Uint32Array(n),
  };
}

/** undefined most of the time; a value from arb once in `oneIn` draws. */
function rarely<T>(arb: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: oneIn - 1 }, { arbitrary: arb, weight: 1 });
}

/** A signed header for cfg, then optionally mutated (bit flips, truncation, version byte). */
const packetCase = fc.record({
  cfg: config,
  counter: u64,
  advskew: fc.nat(255),
  advbase: fc.nat(255),
  demote: fc.nat(255),
  flips: fc.array(fc.tuple(fc.nat(35), fc.nat(7)), { maxLength: 3 }),
  fixSum: fc.boolean(),
  version: rarely(fc.nat(255), 6),
  cut: rarely(fc.nat(40), 8),
  otherVhid: rarely(fc.nat(255), 8),
});

describe("native vs TypeScript codec", () => {
  requires("native");
  afterAll(() => {
    if (initialImpl) setNativeSha1Impl(initialImpl);
  });

  it("hmacPrefix: same bytes or the same error for random VIP sets and semantics", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 256 }),
        vipSets,
        semantics,
        fc.option(fc.boolean(), { nil: undefined }),
        fc.option(fc.uint8Array({ minLength: 6, maxLength: 6 }), { nil: undefined }),
        (vhid, { v4, v6 }, sem, includeV6LinkLocal, lladdr) => {
          const opts = { semantics: sem, includeV6LinkLocal, lladdr: sem === "openbsd" ? lladdr : undefined };
          const ts = carpHmacPrefix(vhid, v4, v6, opts);
          const nat = nativeHmacPrefix(vhid, v4, v6, opts);
          if (Buffer.isBuffer(ts)) {
            expect(Buffer.isBuffer(nat) && nat.toString("hex")).toBe(ts.toString("hex"));
          } else {
            expect(nat).toEqual(ts);
          }
        },
      ),
      { numRuns: runs * 3 },
    );
  });

  for (const impl of nativeSha1Impls()) {
    it(`sign/verify agree with CarpAuth (sha1 back end ${impl})`, () => {
      expect(setNativeSha1Impl(impl)).toBe(true);
      fc.assert(
        fc.property(config, u64, fc.uint8Array({ minLength: 0, maxLength: 24 }), (cfg, counter, junk) => {
          const ts = CarpAuth.create(cfg);
          const nat = NativeCarpAuth.create(cfg);
          if (!(ts instanceof CarpAuth)) {
            expect(nat).toEqual(ts);
            return;
          }
          if (!(nat instanceof NativeCarpAuth)) throw new Error("native rejected a config TS accepted");
          const sig = ts.sign(counter);
          expect(nat.sign(counter).toString("hex")).toBe(sig.toString("hex"));
          expect(nat.verify(counter, sig)).toBe(true);
          expect(nat.verify(counter, junk)).toBe(ts.verify(counter, junk));
          const longer = Buffer.concat([sig, junk]);
          expect(nat.verify(counter, longer)).toBe(ts.verify(counter, longer));
          expect(nat.verify(counter, sig.subarray(0, 19))).toBe(false);
          expect(nat.verify(counter ^ 1n, sig)).toBe(ts.verify(counter ^ 1n, sig));
          if (ts.alternate) {
            const alt = Buffer.alloc(20);
            ts.alternate.signInto(counter, alt);
            expect(nat.verify(counter, alt)).toBe(true);
          }
        }),
        { numRuns: runs },
      );
    });
  }

  it("verifyBatch: native and TS tables give the same verdicts and fields as receiveCarp", () => {
    // Coverage: every verdict, and adjacent ok/badauth pairs (the native loop verifies
    // single-context packets two at a time), must actually occur.
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(fc.array(packetCase, { minLength: 1, maxLength: 12 }), fc.nat(7), (cases, lead) => {
        const nt = new CarpKeyTable({ backend: "native" });
        const tt = new CarpKeyTable({ backend: "ts" });
        const auths = new Map<number, CarpAuth>();
        const parts: Buffer[] = [Buffer.alloc(lead, 0xa5)];
        const offsets: number[] = [];
        const lengths: number[] = [];
        let off = lead;
        for (const c of cases) {
          const ts = CarpAuth.create(c.cfg);
          if (!(ts instanceof CarpAuth)) continue;
          expect(nt.set(c.cfg)).toBeUndefined();
          expect(tt.set(c.cfg)).toBeUndefined();
          auths.set(c.cfg.vhid, ts);
          const h = Buffer.alloc(36);
          h[0] = 0x21;
          h[1] = c.cfg.vhid;
          h[2] = c.advskew;
          h[3] = 7;
          h[4] = c.demote;
          h[5] = c.advbase;
          signHeaderInto(ts, h, 0, c.counter);
          if (c.version !== undefined) h[0] = c.version;
          if (c.otherVhid !== undefined) h[1] = c.otherVhid;
          for (const [byte, bit] of c.flips) h[byte] ^= 1 << bit;
          if (c.fixSum) {
            h[6] = h[7] = 0;
            h.writeUInt16BE(inetChecksum(h), 6);
          }
          const pkt = c.cut !== undefined ? h.subarray(0, c.cut) : h;
          parts.push(pkt, Buffer.alloc(c.advskew % 5));
          offsets.push(off);
          lengths.push(pkt.length);
          off += pkt.length + (c.advskew % 5);
        }
        // Later sets for a repeated vhid replace earlier ones in both tables and in `auths`.
        const buf = Buffer.concat(parts);
        const n = offsets.length;
        const o = Uint32Array.from(offsets), l = Uint32Array.from(lengths);
        const vn = new Uint8Array(n), vt = new Uint8Array(n);
        const fn = fieldsFor(n), ft = fieldsFor(n);
        const okN = verifyBatch(nt, buf, o, l, vn, fn);
        const okT = verifyBatch(tt, buf, o, l, vt, ft);
        expect(okN).toBe(okT);
        expect([...vn]).toEqual([...vt]);
        for (const k of Object.keys(fn) as (keyof BatchFields)[]) expect([...fn[k]]).toEqual([...ft[k]]);
        const authed = [...vn].filter((v) => v === 0 || v === 5);
        for (let i = 0; i < n; i++) seen.set(VERDICTS[vn[i]], (seen.get(VERDICTS[vn[i]]) ?? 0) + 1);
        for (let i = 1; i < authed.length; i++) if (authed[i] !== authed[i - 1]) seen.set("mixed pair", 1);
        for (let i = 0; i < n; i++) {
          const payload = buf.subarray(o[i], o[i] + l[i]);
          const r = receiveCarp(payload, { ttl: 255, dst: "224.0.0.18" }, (v) => {
            const a = auths.get(v);
            return a ? { auth: a } : undefined;
          });
          expect(VERDICTS[vn[i]]).toBe(r.ok ? "ok" : r.reason);
          if (r.ok || r.header) {
            const h = r.header!;
            expect([fn.version[i], fn.type[i], fn.vhid[i], fn.advskew[i], fn.authlen[i], fn.demote[i], fn.advbase[i], fn.checksum[i]])
              .toEqual([h.version, h.type, h.vhid, h.advskew, h.authlen, h.demote, h.advbase, h.checksum]);
            expect((BigInt(fn.counterHi[i]) << 32n) | BigInt(fn.counterLo[i])).toBe(h.counter);
          }
        }
      }),
      { numRuns: runs },
    );
    for (const v of [...VERDICTS, "mixed pair"]) expect(seen.get(v) ?? 0, `verdict ${v} never generated`).toBeGreaterThan(0);
    // About one ok verdict per run on average (275–355 seen in 300 runs): half that still proves ok is common.
    expect(seen.get("ok")!).toBeGreaterThan(runs / 2);
  });

  it("random bytes: decodeBatch (native, TS) and decodeCarp agree; offsets may be out of range", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.array(fc.tuple(fc.oneof(fc.nat(220), fc.constant(0xffffffff)), fc.oneof(fc.nat(80), fc.constant(0xffffffff))), { maxLength: 10 }),
        fc.boolean(),
        (bytes, spans, sumFix) => {
          const buf = Buffer.from(bytes);
          if (sumFix && buf.length >= 36) {
            buf[6] = buf[7] = 0;
            buf.writeUInt16BE(inetChecksum(buf, 0, 36), 6);
          }
          const n = spans.length;
          const o = Uint32Array.from(spans.map((s) => s[0]));
          const l = Uint32Array.from(spans.map((s) => s[1]));
          const vn = new Uint8Array(n), vt = new Uint8Array(n);
          const fn = fieldsFor(n), ft = fieldsFor(n);
          expect(decodeBatch(buf, o, l, vn, fn, "native")).toBe(decodeBatch(buf, o, l, vt, ft, "ts"));
          expect([...vn]).toEqual([...vt]);
          for (const k of Object.keys(fn) as (keyof BatchFields)[]) expect([...fn[k]]).toEqual([...ft[k]]);
          for (let i = 0; i < n; i++) {
            const view = buf.subarray(0, Math.min(buf.length, o[i] + l[i]));
            const d = decodeCarp(view, o[i]);
            if ("error" in d) expect(VERDICTS[vn[i]]).toBe("badlen");
            else expect(VERDICTS[vn[i]]).toBe(inetChecksum(view, o[i], o[i] + 36) === 0 ? "ok" : "badsum");
          }
        },
      ),
      { numRuns: runs * 2 },
    );
  });

  it("nativeDecodeCarp = decodeCarp and nativeInetChecksum = inetChecksum", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.integer({ min: -5, max: 130 }), fc.integer({ min: -5, max: 130 }), (bytes, a, b) => {
        const buf = Buffer.from(bytes);
        expect(nativeDecodeCarp(buf, a)).toEqual(decodeCarp(buf, a));
        const s = Math.max(0, a);
        expect(nativeInetChecksum(buf, s, b)).toBe(inetChecksum(buf, s, b));
      }),
      { numRuns: runs * 2 },
    );
  });

  it("hostile arguments to the raw addon throw TypeError/RangeError or return, never crash", () => {
    const a = nativeCodecAddon()!;
    const t = new a.KeyTable();
    const ks = new a.KeySchedule(new Uint8Array(3), new Uint8Array(70));
    const typed = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.uint32Array({ maxLength: 8 }),
      fc.constantFrom(new Uint16Array(3), new Int32Array(2), new Float64Array(1), Buffer.alloc(0), new DataView(new ArrayBuffer(4))),
    );
    const arg = fc.oneof(fc.anything(), typed, fc.constantFrom<unknown>(t, ks, 0, 36, -1, 2 ** 32, NaN, 0n, -1n, 2n ** 64n, [ks], [ks, ks, ks, ks, ks], "portable"));
    const fns: [string, (...x: unknown[]) => unknown][] = [
      ["verifyBatch", (...x) => (a.verifyBatch as (...y: unknown[]) => unknown)(...x)],
      ["decodeBatch", (...x) => (a.decodeBatch as (...y: unknown[]) => unknown)(...x)],
      ["signInto", (...x) => (a.signInto as (...y: unknown[]) => unknown)(...x)],
      ["checksum", (...x) => (a.checksum as (...y: unknown[]) => unknown)(...x)],
      ["hmacPrefix", (...x) => (a.hmacPrefix as (...y: unknown[]) => unknown)(...x)],
      ["sha1", (...x) => (a.sha1 as (...y: unknown[]) => unknown)(...x)],
      ["KeySchedule", (...x) => new (a.KeySchedule as unknown as new (...y: unknown[]) => unknown)(...x)],
      ["KeyTable.set", (...x) => (t.set as (...y: unknown[]) => unknown).apply(t, x)],
      ["KeyTable.delete", (...x) => (t.delete as (...y: unknown[]) => unknown).apply(t, x)],
      ["sign", (...x) => (ks.sign as (...y: unknown[]) => unknown).apply(ks, x)],
      ["verify", (...x) => (ks.verify as (...y: unknown[]) => unknown).apply(ks, x)],
    ];
    const before = nativeSha1Impl();
    fc.assert(
      fc.property(fc.nat(fns.length - 1), fc.array(arg, { maxLength: 7 }), (which, args) => {
        try {
          fns[which][1](...args);
        } catch (e) {
          expect(e instanceof TypeError || e instanceof RangeError, `${fns[which][0]}: ${String(e)}`).toBe(true);
        }
      }),
      { numRuns: runs * 10 },
    );
    expect(nativeSha1Impl()).toBe(before);
  });

  it("the wrapper's batch functions reject bad arguments the same way on both back ends", () => {
    for (const backend of ["native", "ts"] as const) {
      const t = new CarpKeyTable({ backend });
      const o = new Uint32Array([0]);
      expect(() => verifyBatch(t, "x" as never, o, 36, new Uint8Array(1))).toThrow(TypeError);
      expect(() => verifyBatch(t, Buffer.alloc(36), [0] as never, 36, new Uint8Array(1))).toThrow(TypeError);
      expect(() => verifyBatch(t, Buffer.alloc(36), o, 1.5, new Uint8Array(1))).toThrow(TypeError);
      expect(() => verifyBatch(t, Buffer.alloc(36), o, 36, new Uint8Array(0))).toThrow(RangeError);
      expect(() => verifyBatch(t, Buffer.alloc(36), o, 36, new Uint8Array(1), { vhid: new Uint16Array(1) } as never)).toThrow(TypeError);
      expect(() => decodeBatch(Buffer.alloc(36), o, 36, new Uint8Array(1), { checksum: new Uint8Array(1) } as never, backend)).toThrow(TypeError);
      expect(() => verifyBatch({} as never, Buffer.alloc(36), o, 36, new Uint8Array(1))).toThrow(TypeError);
    }
  });
});
