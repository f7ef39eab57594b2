import { createHash, createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CarpAuth, carpHmacMessage, carpHmacPrefix, carpKey, isHmacError, parseIpv6 } from "../../src/protocol/hmac.js";
import { sha1, Sha1 } from "../../src/protocol/sha1.js";

const ref = (key: Uint8Array, msg: Uint8Array) => createHmac("sha1", key).update(msg).digest();
const must = (a: CarpAuth | { error: string }): CarpAuth => {
  if (!(a instanceof CarpAuth)) throw new Error(a.error);
  return a;
};
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."));
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).chain((b) =>
  fc.constantFrom(0xfe80, 0x2001, 0xff02, b[0] * 256 + b[1]).map((first) => {
    const w: string[] = [first.toString(16)];
    for (let i = 2; i < 16; i += 2) w.push(((b[i] << 8) | b[i + 1]).toString(16));
    return w.join(":");
  }),
);

describe("sha1", () => {
  it("matches node:crypto for every length 0..300", () => {
    const data = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7 + 3) & 0xff));
    for (let n = 0; n <= 300; n++) {
      expect(sha1(data.subarray(0, n)).toString("hex")).toBe(createHash("sha1").update(data.subarray(0, n)).digest("hex"));
    }
  });
  it("resumes from a saved state", () => {
    const data = Buffer.alloc(200, 0xab);
    const a = new Sha1().update(data, 0, 128);
    const resumed = new Sha1(a.state, a.bytes).update(data, 128).digest();
    expect(resumed.equals(createHash("sha1").update(data).digest())).toBe(true);
    expect(() => new Sha1(a.state, 10)).toThrow(RangeError);
  });
  it("random inputs", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), (d) => sha1(d).equals(createHash("sha1").update(d).digest())),
    );
  });
});

describe("carpKey", () => {
  it("UTF-8, truncated to 19 bytes, zero-padded to 20", () => {
    expect(carpKey("foobar").toString("hex")).toBe(Buffer.from("foobar").toString("hex") + "00".repeat(14));
    expect(carpKey("")).toEqual(Buffer.alloc(20));
    const long = "abcdefghijklmnopqrstuvwxyz";
    expect(carpKey(long)).toEqual(Buffer.concat([Buffer.from(long.slice(0, 19)), Buffer.alloc(1)]));
    expect(carpKey("é".repeat(10)).length).toBe(20);
    expect(carpKey("é".repeat(10))[19]).toBe(0);
    expect(carpKey(Buffer.from("foobar"))).toEqual(carpKey("foobar"));
  });
  it("a 19-byte truncated key gives the same HMAC as the 19-byte password", () => {
    const a = must(CarpAuth.create({ vhid: 3, v4: ["198.51.100.1"], password: "x".repeat(40) }));
    const b = must(CarpAuth.create({ vhid: 3, v4: ["198.51.100.1"], password: "x".repeat(19) }));
    const c = must(CarpAuth.create({ vhid: 3, v4: ["198.51.100.1"], password: "x".repeat(18) }));
    expect(a.sign(5n)).toEqual(b.sign(5n));
    expect(a.sign(5n)).not.toEqual(c.sign(5n));
  });
});

describe("message builder", () => {
  it("sorts and dedups IPv4, skips 0.0.0.0 and 255.255.255.255", () => {
    const m = carpHmacMessage(9, ["10.0.0.10", "0.0.0.0", "10.0.0.2", "255.255.255.255", "10.0.0.2", "9.255.0.1"], [], 0n);
    expect(Buffer.isBuffer(m) && m.toString("hex")).toBe("020109" + "09ff0001" + "0a000002" + "0a00000a" + "0000000000000000");
  });
  it("sorts IPv6 by bytes after zeroing scope bytes, dedups, skips :: and all-ones", () => {
    const m = carpHmacMessage(
      1,
      [],
      ["2001:db8::2", "fe80:3::1", "fe80::1%eth0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::1", "ff02:5::12"],
      1n,
    );
    expect(Buffer.isBuffer(m)).toBe(true);
    const hex = (m as Buffer).toString("hex");
    expect(hex).toBe(
      "020101" +
        "20010db8000000000000000000000001" +
        "20010db8000000000000000000000002" +
        "fe800000000000000000000000000001" +
        "ff020000000000000000000000000012" +
        "0000000000000001",
    );
  });
  it("IPv4 precedes IPv6 (both families always hashed)", () => {
    const m = carpHmacMessage(2, ["192.0.2.1"], ["2001:db8::1"], 0n) as Buffer;
    expect(m.subarray(3, 7).toString("hex")).toBe("c0000201");
  });
  it("openbsd signs without link-local IPv6, and hashes a custom lladdr after 02 01", () => {
    const m = carpHmacMessage(4, ["192.0.2.1"], ["fe80::1", "2001:db8::1"], 0n, { semantics: "openbsd" }) as Buffer;
    expect(m.toString("hex")).toBe("020104c000020120010db8000000000000000000000001" + "00".repeat(8));
    const l = carpHmacPrefix(4, ["192.0.2.1"], [], { semantics: "openbsd", lladdr: "02:11:22:33:44:55" }) as Buffer;
    expect(l.toString("hex")).toBe("0201" + "021122334455" + "04" + "c0000201");
    // The default virtual MAC is never hashed.
    const d = carpHmacPrefix(4, ["192.0.2.1"], [], { semantics: "openbsd", lladdr: "00:00:5e:00:01:04" }) as Buffer;
    expect(d.toString("hex")).toBe("020104c0000201");
  });
  it("ucarp: one IPv4, same bytes as freebsd; anything else is an error value", () => {
    expect(carpHmacMessage(7, ["198.51.100.100"], [], 3n, { semantics: "ucarp" })).toEqual(
      carpHmacMessage(7, ["198.51.100.100"], [], 3n),
    );
    for (const [v4, v6] of [[[], []], [["198.51.100.1", "198.51.100.2"], []], [["198.51.100.1"], ["2001:db8::1"]], [["0.0.0.0"], []]] as [string[], string[]][]) {
      expect(isHmacError(carpHmacMessage(7, v4, v6, 0n, { semantics: "ucarp" }))).toBe(true);
    }
    expect(isHmacError(CarpAuth.create({ vhid: 7, v4: ["198.51.100.1"], semantics: "ucarp" }))).toBe(true);
  });
  it("bad input gives error values, not exceptions", () => {
    for (const bad of [
      carpHmacMessage(0, [], [], 0n),
      carpHmacMessage(256, [], [], 0n),
      carpHmacMessage(1, ["300.1.1.1"], [], 0n),
      carpHmacMessage(1, ["1.2.3"], [], 0n),
      carpHmacMessage(1, ["010.1.1.1"], [], 0n),
      carpHmacMessage(1, [], ["2001:db8:::1"], 0n),
      carpHmacMessage(1, [], ["1:2:3:4:5:6:7:8:9"], 0n),
      carpHmacMessage(1, [], [], 0n, { lladdr: "00:11:22:33:44:55" }),
      carpHmacMessage(1, [], [], 0n, { semantics: "openbsd", lladdr: "zz" }),
    ]) {
      expect(isHmacError(bad)).toBe(true);
    }
  });
  it("parseIpv6 handles ::, embedded IPv4 and zones", () => {
    expect(parseIpv6("::ffff:192.0.2.1")?.toString("hex")).toBe("00000000000000000000ffffc0000201");
    expect(parseIpv6("1::")?.toString("hex")).toBe("0001" + "00".repeat(14));
    expect(parseIpv6("fe80::1%veth0")?.toString("hex")).toBe("fe80" + "00".repeat(13) + "01");
    expect(parseIpv6("1:2:3:4:5:6:7:8")?.toString("hex")).toBe("00010002000300040005000600070008");
    expect(parseIpv6("1:2:3:4:5:6:7")).toBeNull();
    expect(parseIpv6("12345::")).toBeNull();
  });
});

describe("CarpAuth", () => {
  it("equals createHmac for random keys, VIP sets and counters (freebsd)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 255 }),
        fc.oneof(fc.string({ maxLength: 30 }), fc.uint8Array({ maxLength: 30 })),
        fc.array(ipv4, { maxLength: 12 }),
        fc.array(ipv6, { maxLength: 6 }),
        u64,
        (vhid, pw, v4, v6, counter) => {
          const auth = must(CarpAuth.create({ vhid, v4, v6, password: pw }));
          const msg = carpHmacMessage(vhid, v4, v6, counter) as Buffer;
          const want = ref(carpKey(pw), msg);
          expect(auth.message(counter)).toEqual(msg);
          expect(auth.sign(counter)).toEqual(want);
          const ctr = Buffer.alloc(8);
          ctr.writeBigUInt64BE(counter);
          expect(auth.verify(ctr, want)).toBe(true);
          expect(auth.verify(counter, want)).toBe(true);
          const wrong = Buffer.from(want);
          wrong[Number(counter % 20n)] ^= 1;
          expect(auth.verify(counter, wrong)).toBe(false);
          expect(auth.verify(counter ^ 1n, want)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("equals createHmac for raw keys up to 64 bytes and prefixes crossing block boundaries", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.array(ipv4, { minLength: 10, maxLength: 40 }), u64, (key, v4, counter) => {
        const auth = must(CarpAuth.create({ vhid: 200, v4, key }));
        const msg = carpHmacMessage(200, v4, [], counter) as Buffer;
        expect(auth.sign(counter)).toEqual(ref(key, msg));
      }),
      { numRuns: 200 },
    );
  });

  it("every prefix length 3..200 (one- and two-block tails)", () => {
    const key = carpKey("length-sweep");
    for (let n = 0; n < 50; n++) {
      const v4 = Array.from({ length: n }, (_, i) => `198.51.100.${i + 1}`);
      const auth = must(CarpAuth.create({ vhid: 1, v4, key }));
      const msg = carpHmacMessage(1, v4, [], 0xfedcba9876543210n) as Buffer;
      expect(auth.sign(0xfedcba9876543210n)).toEqual(ref(key, msg));
    }
  });

  it("signInto writes at an offset; verifyHeader reads counter at +8 and HMAC at +16", () => {
    const auth = must(CarpAuth.create({ vhid: 5, v4: ["203.0.113.5"], password: "pw" }));
    const buf = Buffer.alloc(50);
    buf.writeBigUInt64BE(77n, 10 + 8);
    auth.signInto(77n, buf, 10 + 16);
    expect(buf.subarray(26, 46)).toEqual(auth.sign(77n));
    expect(auth.verifyHeader(buf, 10)).toBe(true);
    buf[45] ^= 0x80;
    expect(auth.verifyHeader(buf, 10)).toBe(false);
    expect(auth.verify(77n, Buffer.alloc(10))).toBe(false); // short HMAC buffer: false, no throw
  });

  it("openbsd accepts both contexts and signs without link-locals", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 19 }),
        fc.array(ipv4, { maxLength: 4 }),
        fc.array(ipv6, { minLength: 1, maxLength: 5 }),
        u64,
        (pw, v4, v6, counter) => {
          const ob = must(CarpAuth.create({ vhid: 9, v4, v6, password: pw, semantics: "openbsd" }));
          const withLL = carpHmacMessage(9, v4, v6, counter, { includeV6LinkLocal: true }) as Buffer;
          const noLL = carpHmacMessage(9, v4, v6, counter, { includeV6LinkLocal: false }) as Buffer;
          const key = carpKey(pw);
          expect(ob.sign(counter)).toEqual(ref(key, noLL));
          expect(ob.verify(counter, ref(key, withLL))).toBe(true);
          expect(ob.verify(counter, ref(key, noLL))).toBe(true);
          expect(ob.verify(counter, ref(carpKey(pw + "!"), noLL))).toBe(false);
          // A FreeBSD peer with the same config signs withLL: OpenBSD accepts it.
          const fb = must(CarpAuth.create({ vhid: 9, v4, v6, password: pw }));
          expect(ob.verify(counter, fb.sign(counter))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("openbsd with a custom lladdr equals createHmac over 02 01 mac vhid …", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.array(ipv4, { maxLength: 3 }), u64, (mac, v4, counter) => {
        const ob = must(CarpAuth.create({ vhid: 12, v4, password: "ll", semantics: "openbsd", lladdr: mac }));
        const msg = carpHmacMessage(12, v4, [], counter, { semantics: "openbsd", lladdr: mac }) as Buffer;
        const isDefault = Buffer.from(mac).equals(Buffer.from([0, 0, 0x5e, 0, 1, 12]));
        expect(msg.subarray(2, 8).equals(Buffer.from(mac))).toBe(!isDefault);
        expect(ob.sign(counter)).toEqual(ref(carpKey("ll"), msg));
      }),
    );
  });

  it("openbsd with a link-local: FreeBSD semantics reject OpenBSD's no-LL signature", () => {
    const cfg = { vhid: 9, v4: ["192.0.2.9"], v6: ["fe80::9", "2001:db8::9"], password: "p" };
    const ob = must(CarpAuth.create({ ...cfg, semantics: "openbsd" }));
    const fb = must(CarpAuth.create(cfg));
    expect(ob.alternate).not.toBeNull();
    expect(fb.verify(1n, ob.sign(1n))).toBe(false);
    expect(ob.message(1n, "alternate")).toEqual(fb.message(1n));
  });
});
