// Every vector in test/fixtures/carp-vectors.json (D1–D6) and the protocol reference's appendix A.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { carpChecksumOk, decodeCarp, encodeCarp } from "../../src/protocol/carp.js";
import { CarpAuth, carpHmacMessage, carpKey } from "../../src/protocol/hmac.js";
import { receiveCarp } from "../../src/protocol/receive.js";
import { carpVectors, counterOf, ipPayload, type CarpVector as Vector } from "../helpers/vectors.js";

const vectors: Vector[] = carpVectors;

describe("carp-vectors.json", () => {
  it("has the six vectors D1–D6", () => {
    expect(vectors.map((v) => v.name.slice(0, 2))).toEqual(["D1", "D2", "D3", "D4", "D5", "D6"]);
  });

  for (const v of vectors) {
    describe(v.name, () => {
      const counter = counterOf(v);
      it("message builder reproduces hmac_input", () => {
        const msg = carpHmacMessage(v.vhid, v.v4, v.v6, counter);
        expect(Buffer.isBuffer(msg) && msg.toString("hex")).toBe(v.hmac_input);
      });
      it("HMAC(pw, hmac_input) = hmac, via CarpAuth and via node:crypto", () => {
        const auth = CarpAuth.create({ vhid: v.vhid, v4: v.v4, v6: v.v6, password: v.pw });
        if (!(auth instanceof CarpAuth)) throw new Error(auth.error);
        expect(auth.sign(counter).toString("hex")).toBe(v.hmac);
        expect(auth.message(counter).toString("hex")).toBe(v.hmac_input);
        const ref = createHmac("sha1", carpKey(v.pw)).update(Buffer.from(v.hmac_input, "hex")).digest("hex");
        expect(ref).toBe(v.hmac);
      });
      it("encoder reproduces carp_header byte for byte, with carp_cksum", () => {
        const auth = CarpAuth.create({ vhid: v.vhid, v4: v.v4, v6: v.v6, password: v.pw }) as CarpAuth;
        const hdr = encodeCarp({
          vhid: v.vhid,
          advskew: v.advskew,
          advbase: v.advbase,
          demote: v.demote,
          counter,
          hmac: auth.sign(counter),
        });
        expect(hdr.toString("hex")).toBe(v.carp_header);
        expect(hdr.readUInt16BE(6).toString(16).padStart(4, "0")).toBe(v.carp_cksum);
      });
      it("frame decodes, checksums and is accepted by receiveCarp", () => {
        const { payload, ttl } = ipPayload(v.frame);
        expect(payload.toString("hex")).toBe(v.carp_header);
        expect(carpChecksumOk(payload)).toBe(true);
        const h = decodeCarp(payload);
        if ("error" in h) throw new Error("decode failed");
        expect(h).toMatchObject({ version: 2, type: 1, vhid: v.vhid, advskew: v.advskew, authlen: 7, demote: v.demote, advbase: v.advbase, counter });
        expect(h.hmac.toString("hex")).toBe(v.hmac);
        const auth = CarpAuth.create({ vhid: v.vhid, v4: v.v4, v6: v.v6, password: v.pw }) as CarpAuth;
        const r = receiveCarp(payload, { ttl, dst: v.v6.length ? "ff02::12" : "224.0.0.18" }, (id) =>
          id === v.vhid ? { auth } : undefined,
        );
        expect(r.ok).toBe(true);
        // And the wrong password is refused.
        const bad = CarpAuth.create({ vhid: v.vhid, v4: v.v4, v6: v.v6, password: v.pw + "x" }) as CarpAuth;
        const r2 = receiveCarp(payload, { ttl, dstMulticast: true }, () => ({ auth: bad }));
        expect(r2).toMatchObject({ ok: false, reason: "badauth" });
      });
    });
  }
});

describe("docs/carp-protocol.md appendix A", () => {
  const cases = [
    {
      pw: "secret", vhid: 1, v4: ["192.168.1.1"], v6: [] as string[], counter: 0x0102030405060708n, advskew: 0,
      input: "020101c0a801010102030405060708",
      hmac: "adea55cad5e9881574e82c1c92cb99ca28c1d1f8",
      header: "210100070001a4d90102030405060708adea55cad5e9881574e82c1c92cb99ca28c1d1f8",
    },
    {
      pw: "secret", vhid: 1, v4: ["10.0.0.10", "10.0.0.2"], v6: [], counter: 0x0102030405060708n, advskew: 100,
      input: "0201010a0000020a00000a0102030405060708",
      hmac: "687aacc697912ffda6859b9ed6478478e9667309",
      header: "21016407000194bd0102030405060708687aacc697912ffda6859b9ed6478478e9667309",
    },
    {
      pw: "", vhid: 7, v4: ["192.0.2.1"], v6: ["2001:db8::1"], counter: 1n, advskew: 0,
      input: "020107c000020120010db8000000000000000000000001" + "0000000000000001",
      hmac: "15ad34f0189e88ea4971bc64c54b0f8615596a29",
      header: "210700070001989f000000000000000115ad34f0189e88ea4971bc64c54b0f8615596a29",
    },
  ];
  for (const c of cases) {
    it(`pass=${JSON.stringify(c.pw)} vhid=${c.vhid} v4=${c.v4} v6=${c.v6}`, () => {
      const msg = carpHmacMessage(c.vhid, c.v4, c.v6, c.counter);
      expect(Buffer.isBuffer(msg) && msg.toString("hex")).toBe(c.input);
      const auth = CarpAuth.create({ vhid: c.vhid, v4: c.v4, v6: c.v6, password: c.pw }) as CarpAuth;
      const mac = auth.sign(c.counter);
      expect(mac.toString("hex")).toBe(c.hmac);
      const hdr = encodeCarp({ vhid: c.vhid, advskew: c.advskew, advbase: 1, counter: c.counter, hmac: mac });
      expect(hdr.toString("hex")).toBe(c.header);
      expect(auth.verifyHeader(hdr)).toBe(true);
    });
  }
});
