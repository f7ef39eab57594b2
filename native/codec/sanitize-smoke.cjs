// Sanitizer/valgrind smoke test for carp_codec: valid, mutated, short and hostile inputs through
// every SHA-1 back end. Usage: node native/codec/sanitize-smoke.cjs [path/to/carp_codec.node]
// (native/codec/asan-check.sh builds an ASan+UBSan copy in /tmp and runs this; or run it under
// `valgrind --error-exitcode=1 node ...`, where valgrind hides SHA-NI so only portable/openssl run).
const a = require(process.argv[2] ? require("node:path").resolve(process.argv[2]) : require("node:path").join(__dirname, "../../build/Release/carp_codec.node"));
const crypto = require("node:crypto");
let checks = 0;
for (const impl of a.sha1Impls()) {
  a.setSha1Impl(impl);
  const t = new a.KeyTable();
  const prefixes = [a.hmacPrefix(1, Buffer.from([192,0,2,254]), Buffer.alloc(0), 0), a.hmacPrefix(2, Buffer.alloc(40), crypto.randomBytes(64), 1), Buffer.alloc(130, 7)];
  const ks = prefixes.map((p, i) => new a.KeySchedule(crypto.randomBytes(i * 20), p));
  t.set(1, ks[0]); t.set(2, [ks[1], ks[2]]);
  const n = 64, buf = Buffer.alloc(n * 40);
  const offs = new Uint32Array(n), lens = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * 40; offs[i] = o; lens[i] = 36 + (i % 5);
    buf[o] = 0x21; buf[o + 1] = 1 + (i % 3); buf[o + 3] = 7; buf[o + 5] = 1;
    a.signInto(ks[i % 3 === 0 ? 0 : i % 3 === 1 ? 1 : 2], buf, o, BigInt(i) * 0x1000000001n);
    if (i % 7 === 3) buf[o + 20] ^= 1;
  }
  offs[n - 1] = buf.length - 10; lens[n - 2] = 4; offs[n - 3] = 0xffffffff; lens[n - 4] = 0xffffffff;
  const v = new Uint8Array(n);
  const f = { vhid: new Uint8Array(n), counterHi: new Uint32Array(n), counterLo: new Uint32Array(n), checksum: new Uint16Array(n), version: new Uint8Array(n) };
  const ok = a.verifyBatch(t, buf, offs, lens, v, f);
  a.decodeBatch(buf, offs, lens, v, f);
  a.decodeBatch(buf, offs, 36, v);
  checks += ok;
  for (let k = 0; k < 2000; k++) {
    const junk = crypto.randomBytes(k % 90);
    try { a.verifyBatch(t, junk, new Uint32Array([k % 100, 0]), k % 50, new Uint8Array(2)); } catch (e) {}
    try { a.checksum(junk, k % 7, k % 11); } catch (e) {}
    try { a.hmacPrefix(k % 300, junk.subarray(0, (k % 5) * 4), junk.subarray(0, 16 * (k % 3)), k % 4, k % 2 ? junk.subarray(0, 6) : null); } catch (e) {}
    try { new a.KeySchedule(junk, junk); } catch (e) {}
    try { a.signInto(ks[0], junk, k % 60, BigInt(k)); } catch (e) {}
    try { a.verifyBatch(t, buf, offs, lens, v, { vhid: new Uint8Array(k % 70) }); } catch (e) {}
    a.sha1(junk);
  }
  // fields getters that detach arrays already taken must be caught before the packet loop.
  for (let k = 0; k < 4; k++) {
    const arrs = [new Uint8Array(buf), offs.slice(), new Uint8Array(n), new Uint8Array(n)];
    const fields = { version: arrs[3], get vhid() { structuredClone(arrs[k].buffer, { transfer: [arrs[k].buffer] }); return undefined; } };
    try { a.verifyBatch(t, arrs[0], arrs[1], 36, arrs[2], fields); throw new Error("detach not noticed"); } catch (e) { if (!(e instanceof TypeError)) throw e; }
  }
  t.delete(1); t.clear();
}
console.log("impls", a.sha1Impls().join(","), "ok-count", checks);
