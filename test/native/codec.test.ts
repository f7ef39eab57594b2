// Known answers for the native CARP codec (native/codec via src/protocol/native-codec.ts): the
// fixture vectors D1–D6 and N1–N8, through every SHA-1 back end available on this machine.
import { createHash, createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { CarpAuth, carpKey } from "../../src/protocol/hmac.js";
import { receiveCarp } from "../../src/protocol/receive.js";
import {
  CarpKeyTable,
  NativeCarpAuth,
  VERDICTS,
  createCarpAuth,
  decodeBatch,
  nativeCodecAddon,
  nativeCodecAvailable,
  nativeHmacPrefix,
  nativeSha1Impl,
  nativeSha1Impls,
  setNativeSha1Impl,
  signHeaderInto,
  verifyBatch,
  type Sha1ImplName,
} from "../../src/protocol/native-codec.js";
import { carpVectors, counterOf, ipPayload, negativeVectors, type CarpVector as Vector } from "../helpers/vectors.js";
import { requires } from "../helpers/require.js";

const vectors: Vector[] = carpVectors;
const negatives = negativeVectors;

const native = nativeCodecAvailable();
const impls: Sha1ImplName[] = native ? nativeSha1Impls() : [];
const initialImpl = nativeSha1Impl();

describe("native codec: known answers", () => {
  requires("native");
  afterAll(() => {
    if (initialImpl) setNativeSha1Impl(initialImpl);
  });

  it("has the portable and (on x86 with sha_ni) the SHA-NI back end", () => {
    expect(impls).toContain("portable");
    const cpuHasSha = readFileSync("/proc/cpuinfo", "utf8").includes(" sha_ni");
    expect(impls.includes("shani")).toBe(cpuHasSha);
    expect(setNativeSha1Impl("shani" as Sha1ImplName)).toBe(cpuHasSha);
  });

  for (const impl of impls) {
    describe(`sha1 back end ${impl}`, () => {
      const use = () => expect(setNativeSha1Impl(impl)).toBe(true);

      it("sha1 matches node:crypto for every length 0..300 and a long input", () => {
        use();
        const a = nativeCodecAddon()!;
        const data = randomBytes(300);
        for (let n = 0; n <= 300; n++) {
          expect(a.sha1(data.subarray(0, n)).toString("hex")).toBe(createHash("sha1").update(data.subarray(0, n)).digest("hex"));
        }
        const big = randomBytes(100_003);
        expect(a.sha1(big).equals(createHash("sha1").update(big).digest())).toBe(true);
      });

      it("KeySchedule = HMAC-SHA1 for prefix lengths 0..200 (1, 2 and 3 compressions per packet)", () => {
        use();
        const a = nativeCodecAddon()!;
        const key = randomBytes(20);
        const all = randomBytes(200);
        for (let n = 0; n <= 200; n++) {
          const c = randomBytes(8).readBigUInt64BE(0);
          const cb = Buffer.alloc(8);
          cb.writeBigUInt64BE(c);
          const ks = new a.KeySchedule(key, all.subarray(0, n));
          const want = createHmac("sha1", key).update(Buffer.concat([all.subarray(0, n), cb])).digest();
          expect(ks.sign(c).equals(want)).toBe(true);
          expect(ks.verify(c, want)).toBe(true);
          want[19] ^= 1;
          expect(ks.verify(c, want)).toBe(false);
        }
      });

      for (const v of vectors) {
        it(`${v.name}: prefix, HMAC and header byte for byte`, () => {
          use();
          const counter = counterOf(v);
          const prefix = nativeHmacPrefix(v.vhid, v.v4, v.v6);
          expect(Buffer.isBuffer(prefix) && prefix.toString("hex")).toBe(v.hmac_input.slice(0, -16));
          const auth = NativeCarpAuth.create({ vhid: v.vhid, v4: v.v4, v6: v.v6, password: v.pw });
          if (!(auth instanceof NativeCarpAuth)) throw new Error(String(auth && auth.error));
          expect(auth.sign(counter).toString("hex")).toBe(v.hmac);
          // signHeaderInto fills counter, HMAC and checksum after bytes 0-5.
          const hdr = Buffer.alloc(40, 0xee);
          Buffer.from(v.carp_header, "hex").copy(hdr, 3, 0, 6);
          signHeaderInto(auth, hdr, 3, counter);
          expect(hdr.subarray(3, 39).toString("hex")).toBe(v.carp_header);
          expect(hdr[0]).toBe(0xee);
          expect(hdr[39]).toBe(0xee);
          expect(auth.verifyHeader(hdr, 3)).toBe(true);
        });
      }

      it("verifyBatch accepts D1–D6 from one buffer and decodes every field", () => {
        use();
        const table = new CarpKeyTable({ backend: "native" });
        for (const v of vectors) expect(table.set({ vhid: v.vhid, v4: v.v4, v6: v.v6, password: v.pw })).toBeUndefined();
        // D2 and D5 share vhid 1 with D1 but have other keys/VIPs: verify them in separate tables.
        const groups = [vectors.filter((v) => !/^D[25]/.test(v.name)), vectors.filter((v) => /^D2/.test(v.name)), vectors.filter((v) => /^D5/.test(v.name))];
        for (const group of groups) {
          const t = new CarpKeyTable({ backend: "native" });
          for (const v of group) t.set({ vhid: v.vhid, v4: v.v4, v6: v.v6, password: v.pw });
          const frames = group.map((v) => ipPayload(v.frame).payload);
          const buf = Buffer.concat([Buffer.alloc(5), ...frames]);
          const offsets = new Uint32Array(frames.length);
          const lengths = new Uint32Array(frames.length);
          let o = 5;
          frames.forEach((f, i) => { offsets[i] = o; lengths[i] = f.length; o += f.length; });
          const n = group.length;
          const fields = {
            version: new Uint8Array(n), type: new Uint8Array(n), vhid: new Uint8Array(n), advskew: new Uint8Array(n),
            authlen: new Uint8Array(n), demote: new Uint8Array(n), advbase: new Uint8Array(n), checksum: new Uint16Array(n),
            counterHi: new Uint32Array(n), counterLo: new Uint32Array(n),
          };
          const verdicts = new Uint8Array(n).fill(99);
          expect(verifyBatch(t, buf, offsets, lengths, verdicts, fields)).toBe(n);
          group.forEach((v, i) => {
            expect(VERDICTS[verdicts[i]]).toBe("ok");
            expect([fields.version[i], fields.type[i], fields.vhid[i], fields.advskew[i], fields.authlen[i]]).toEqual([2, 1, v.vhid, v.advskew, 7]);
            expect([fields.demote[i], fields.advbase[i]]).toEqual([v.demote, v.advbase]);
            expect(fields.checksum[i].toString(16).padStart(4, "0")).toBe(v.carp_cksum);
            expect((BigInt(fields.counterHi[i]) << 32n) | BigInt(fields.counterLo[i])).toBe(counterOf(v));
          });
        }
        // The D1 key in a table where vhid 1 is D2's: the same packet is badauth.
        const d1 = ipPayload(vectors[0].frame).payload;
        const t2 = new CarpKeyTable({ backend: "native" });
        t2.set({ vhid: 1, v4: vectors[1].v4, password: vectors[1].pw });
        const verdict = new Uint8Array(1);
        verifyBatch(t2, d1, new Uint32Array([0]), 36, verdict);
        expect(VERDICTS[verdict[0]]).toBe("badauth");
        t2.delete(1);
        verifyBatch(t2, d1, new Uint32Array([0]), 36, verdict);
        expect(VERDICTS[verdict[0]]).toBe("badvhid");
      });

      it("N1–N8 get the same verdict as receiveCarp (TTL is the caller's check)", () => {
        use();
        const d1 = vectors[0];
        const table = new CarpKeyTable({ backend: "native" });
        table.set({ vhid: d1.vhid, v4: d1.v4, password: d1.pw });
        const tsAuth = new CarpKeyTable({ backend: "ts" });
        tsAuth.set({ vhid: d1.vhid, v4: d1.v4, password: d1.pw });
        const expected: Record<string, string> = { N1: "badsum", N2: "ok", N3: "badver", N4: "ok", N5: "badlen", N6: "ok", N7: "badauth", N8: "badlen" };
        for (const n of negatives) {
          const { payload, ttl } = ipPayload(n.frame);
          const verdict = new Uint8Array(1);
          verifyBatch(table, payload, new Uint32Array([0]), payload.length, verdict);
          const got = VERDICTS[verdict[0]];
          expect(got, n.name).toBe(expected[n.name.slice(0, 2)]);
          const ts = receiveCarp(payload, { ttl, dst: "224.0.0.18" }, (v) => (v === 1 ? { auth: tsAuth.tsAuth(1)! } : undefined));
          const tsReason = ts.ok ? "ok" : ts.reason;
          if (n.name.startsWith("N2")) expect(tsReason).toBe("badttl");
          else expect(tsReason, n.name).toBe(got);
        }
      });
    });
  }

  it("OpenBSD: signs without link-local IPv6, accepts both contexts; custom lladdr is hashed", () => {
    const cfg = { vhid: 7, v4: ["198.51.100.7"], v6: ["fe80::1", "2001:db8::7"], password: "pw", semantics: "openbsd" as const };
    const ob = NativeCarpAuth.create(cfg) as NativeCarpAuth;
    expect(ob.schedules.length).toBe(2);
    const fb = NativeCarpAuth.create({ ...cfg, semantics: "freebsd" }) as NativeCarpAuth;
    const key = carpKey("pw");
    const noLL = Buffer.concat([Buffer.from("020107c6336407", "hex"), Buffer.from("20010db8000000000000000000000007", "hex")]);
    const c = 0xfeedfacecafebeefn;
    const cb = Buffer.alloc(8);
    cb.writeBigUInt64BE(c);
    expect(ob.sign(c).equals(createHmac("sha1", key).update(Buffer.concat([noLL, cb])).digest())).toBe(true);
    expect(ob.verify(c, fb.sign(c))).toBe(true); // FreeBSD-style (link-local included) accepted
    expect(fb.verify(c, ob.sign(c))).toBe(false);
    const custom = nativeHmacPrefix(7, cfg.v4, [], { semantics: "openbsd", lladdr: "02:00:00:00:00:07" });
    expect(Buffer.isBuffer(custom) && custom.toString("hex")).toBe("0201020000000007" + "07c6336407");
    const dflt = nativeHmacPrefix(7, cfg.v4, [], { semantics: "openbsd", lladdr: "00:00:5e:00:01:07" });
    expect(Buffer.isBuffer(dflt) && dflt.toString("hex")).toBe("020107c6336407");
  });

  it("ucarp hashes exactly one IPv4 address; bad configs are error values", () => {
    const u = nativeHmacPrefix(3, ["203.0.113.9"], [], { semantics: "ucarp" });
    expect(Buffer.isBuffer(u) && u.toString("hex")).toBe("020103cb007109");
    expect(nativeHmacPrefix(3, ["203.0.113.9", "203.0.113.10"], [], { semantics: "ucarp" })).toHaveProperty("error");
    expect(NativeCarpAuth.create({ vhid: 0, v4: ["203.0.113.9"] })).toHaveProperty("error");
    expect(NativeCarpAuth.create({ vhid: 3, v4: ["203.0.113.300"] })).toHaveProperty("error");
    expect(NativeCarpAuth.create({ vhid: 3, key: new Uint8Array(65) })).toHaveProperty("error");
  });

  it("bad arguments become TypeError/RangeError, never a crash", () => {
    const a = nativeCodecAddon()!;
    const t = new a.KeyTable();
    const o = new Uint32Array([0]);
    const v = new Uint8Array(1);
    const errs = [TypeError, RangeError];
    const throwsTypeOrRange = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(errs.some((E) => e instanceof E), String(e)).toBe(true);
        return;
      }
      throw new Error("did not throw");
    };
    throwsTypeOrRange(() => a.verifyBatch({} as never, Buffer.alloc(36), o, 36, v));
    throwsTypeOrRange(() => a.verifyBatch(Object.create(a.KeyTable.prototype), Buffer.alloc(36), o, 36, v));
    throwsTypeOrRange(() => a.verifyBatch(t, "x" as never, o, 36, v));
    throwsTypeOrRange(() => a.verifyBatch(t, Buffer.alloc(36), new Uint16Array(1) as never, 36, v));
    throwsTypeOrRange(() => a.verifyBatch(t, Buffer.alloc(36), o, -1, v));
    throwsTypeOrRange(() => a.verifyBatch(t, Buffer.alloc(36), o, new Uint32Array(0), v));
    throwsTypeOrRange(() => a.verifyBatch(t, Buffer.alloc(36), o, 36, new Uint8Array(0)));
    throwsTypeOrRange(() => a.verifyBatch(t, Buffer.alloc(36), o, 36, v, { vhid: new Uint16Array(1) } as never));
    throwsTypeOrRange(() => a.verifyBatch(t, Buffer.alloc(36), o, 36, v, { counterHi: new Uint32Array(0) }));
    throwsTypeOrRange(() => a.decodeBatch(Buffer.alloc(36), o, 36, v, 5 as never));
    throwsTypeOrRange(() => new a.KeySchedule(new Uint8Array(65), new Uint8Array(0)));
    throwsTypeOrRange(() => new a.KeySchedule("k" as never, new Uint8Array(0)));
    throwsTypeOrRange(() => t.set(256, new a.KeySchedule(new Uint8Array(1), new Uint8Array(1))));
    throwsTypeOrRange(() => t.set(1, [{}] as never));
    throwsTypeOrRange(() => t.set(1, []));
    const ks = new a.KeySchedule(new Uint8Array(1), new Uint8Array(1));
    throwsTypeOrRange(() => ks.sign(-1n));
    throwsTypeOrRange(() => ks.sign(1n << 64n));
    throwsTypeOrRange(() => ks.sign(1 as never));
    throwsTypeOrRange(() => a.signInto(ks, Buffer.alloc(36), 1, 0n));
    throwsTypeOrRange(() => a.signInto(ks, Buffer.alloc(36), 0.5, 0n));
    throwsTypeOrRange(() => a.signInto({} as never, Buffer.alloc(36), 0, 0n));
    throwsTypeOrRange(() => a.checksum(Buffer.alloc(4), 5));
    throwsTypeOrRange(() => a.checksum(Buffer.alloc(4), 1, 4));
    throwsTypeOrRange(() => a.hmacPrefix(1, new Uint8Array(3), new Uint8Array(0), 0));
    throwsTypeOrRange(() => a.hmacPrefix(1, new Uint8Array(4), new Uint8Array(0), 3 as never));
    throwsTypeOrRange(() => a.setSha1Impl("md5" as never));
    expect(ks.verify(0n, new Uint8Array(19))).toBe(false);
    // Getters on `fields` that detach arrays already taken (ours or earlier fields) are caught.
    const detach = (x: ArrayBufferView) => structuredClone(x.buffer, { transfer: [x.buffer as ArrayBuffer] });
    for (const victim of ["buf", "offsets", "verdicts", "version"] as const) {
      const arrays = { buf: new Uint8Array(72), offsets: new Uint32Array([0, 36]), verdicts: new Uint8Array(2), version: new Uint8Array(2) };
      const fields = {
        version: arrays.version,
        get vhid() {
          detach(arrays[victim]);
          return undefined;
        },
      };
      try {
        a.verifyBatch(t, arrays.buf, arrays.offsets, 36, arrays.verdicts, fields);
        throw new Error(`detaching ${victim} was not noticed`);
      } catch (e) {
        expect(e, String(e)).toBeInstanceOf(TypeError);
      }
      expect(arrays[victim].length).toBe(0);
    }
    // Packet-level problems are verdicts: offsets past the end, lengths past the end, short packets.
    const verdicts = new Uint8Array(4).fill(99);
    a.verifyBatch(t, Buffer.alloc(40), new Uint32Array([40, 0xffffffff, 5, 0]), new Uint32Array([36, 36, 36, 35]), verdicts);
    expect([...verdicts]).toEqual([1, 1, 1, 1]);
  });
});

// The TypeScript back end of the same API: what callers get when the addon is not built
// (CARP_NO_NATIVE=1 or no compiler). Runs whether or not the addon is present.
describe("native-codec wrapper, TypeScript back end", () => {
  it("verifyBatch/decodeBatch on D1–D6 and N1–N8 with backend ts", () => {
    const t = new CarpKeyTable({ backend: "ts" });
    expect(t.backend).toBe("ts");
    const d1 = vectors[0];
    t.set({ vhid: d1.vhid, v4: d1.v4, password: d1.pw });
    t.set({ vhid: vectors[2].vhid, v4: vectors[2].v4, password: vectors[2].pw });
    const frames = [vectors[0], vectors[2]].map((v) => ipPayload(v.frame).payload).concat(negatives.map((n) => ipPayload(n.frame).payload));
    const buf = Buffer.concat(frames);
    const offsets = new Uint32Array(frames.length), lengths = new Uint32Array(frames.length);
    let o = 0;
    frames.forEach((f, i) => { offsets[i] = o; lengths[i] = f.length; o += f.length; });
    const v = new Uint8Array(frames.length);
    const counterLo = new Uint32Array(frames.length);
    expect(verifyBatch(t, buf, offsets, lengths, v, { counterLo })).toBe(5);
    expect([...v].map((x) => VERDICTS[x])).toEqual(["ok", "ok", "badsum", "ok", "badver", "ok", "badlen", "ok", "badauth", "badlen"]);
    expect(counterLo[0]).toBe(1);
    const dv = new Uint8Array(frames.length);
    expect(decodeBatch(buf, offsets, lengths, dv, undefined, "ts")).toBe(7); // all but N1 (badsum), N5, N8 (badlen)
    expect(createCarpAuth({ vhid: 1, v4: d1.v4, password: d1.pw })).toBeInstanceOf(native ? NativeCarpAuth : CarpAuth);
  });

  it("CarpKeyTable({backend: 'native'}) throws a clear error only when the addon is missing", () => {
    if (native) expect(new CarpKeyTable({ backend: "native" }).backend).toBe("native");
    else expect(() => new CarpKeyTable({ backend: "native" })).toThrow(/carp_codec addon not available/);
    expect(new CarpKeyTable().backend).toBe(native ? "native" : "ts");
  });
});
