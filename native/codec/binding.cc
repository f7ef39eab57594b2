// N-API surface of carp_codec. Flat functions and two small classes (KeySchedule, KeyTable); every
// argument is type- and bounds-checked here and bad ones become a TypeError/RangeError, never a crash.
// Packet-level problems (short packet, offset past the end) are verdicts, not exceptions.
#include <napi.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "carp_codec.h"
#include "sha1.h"

using namespace carp;

namespace {

// Type tags tell our wrapped objects apart from look-alikes (e.g. Object.create(KeyTable.prototype)).
const napi_type_tag kScheduleTag = {0x6361727073636865ULL, 0x64756c6531000001ULL};
const napi_type_tag kTableTag = {0x636172707461626cULL, 0x6531000000000002ULL};

Napi::Value throwType(Napi::Env env, const char* msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}
Napi::Value throwRange(Napi::Env env, const char* msg) {
  Napi::RangeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

struct Bytes {
  uint8_t* data = nullptr;
  size_t len = 0;
};

// Any Uint8Array (including Buffer). Returns false if v is not one.
bool getU8(const Napi::Value& v, Bytes& out) {
  if (!v.IsTypedArray()) return false;
  auto ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) return false;
  auto u8 = v.As<Napi::Uint8Array>();
  out.data = u8.Data();
  out.len = u8.ElementLength();
  if (out.data == nullptr) out.len = 0;  // detached
  return true;
}

template <typename T>
bool getTyped(const Napi::Value& v, napi_typedarray_type type, T*& data, size_t& len) {
  if (!v.IsTypedArray()) return false;
  auto ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != type) return false;
  auto arr = v.As<Napi::TypedArrayOf<T>>();
  data = arr.Data();
  len = arr.ElementLength();
  if (data == nullptr) len = 0;
  return true;
}

// A typed array whose raw pointer we hold: re-checked after any JS may have run (property getters
// on `fields` can detach or resize ArrayBuffers), so the packet loop never touches freed memory.
struct Pin {
  Napi::Value handle;
  void* data;
  size_t len;
};
bool pinsIntact(Napi::Env env, const std::vector<Pin>& pins) {
  for (const auto& p : pins) {
    napi_typedarray_type t;
    size_t len = 0;
    void* data = nullptr;
    napi_value ab;
    size_t off = 0;
    if (napi_get_typedarray_info(env, p.handle, &t, &len, &data, &ab, &off) != napi_ok) return false;
    if (data == nullptr) len = 0;
    if (data != p.data || len != p.len) return false;
  }
  return true;
}

bool getCounter(const Napi::Value& v, uint8_t out[8]) {
  if (!v.IsBigInt()) return false;
  bool lossless = false;
  uint64_t c = v.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) return false;
  store_be32(out, uint32_t(c >> 32));
  store_be32(out + 4, uint32_t(c));
  return true;
}

bool hasTag(Napi::Env env, const Napi::Value& v, const napi_type_tag& tag) {
  if (!v.IsObject()) return false;
  bool result = false;
  if (napi_check_object_type_tag(env, v, &tag, &result) != napi_ok) return false;
  return result;
}

class KeySchedule : public Napi::ObjectWrap<KeySchedule> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "KeySchedule",
                       {InstanceMethod<&KeySchedule::Sign>("sign"), InstanceMethod<&KeySchedule::Verify>("verify")});
  }

  // new KeySchedule(key: Uint8Array (<= 64 bytes), prefix: Uint8Array)
  KeySchedule(const Napi::CallbackInfo& info) : Napi::ObjectWrap<KeySchedule>(info) {
    Napi::Env env = info.Env();
    Bytes key, prefix;
    if (info.Length() < 2 || !getU8(info[0], key) || !getU8(info[1], prefix)) {
      throwType(env, "KeySchedule(key, prefix): key and prefix must be Uint8Arrays");
      return;
    }
    if (key.len > kMaxKeyLen) {
      throwRange(env, "KeySchedule: key longer than 64 bytes");
      return;
    }
    if (prefix.len > (1u << 20)) {
      throwRange(env, "KeySchedule: prefix longer than 1 MiB");
      return;
    }
    hmac_prepare(ctx_, key.data, key.len, prefix.data, prefix.len);
    napi_type_tag_object(env, info.This(), &kScheduleTag);
  }

  const HmacCtx& ctx() const { return ctx_; }

  static KeySchedule* From(Napi::Env env, const Napi::Value& v) {
    if (!hasTag(env, v, kScheduleTag)) return nullptr;
    return Unwrap(v.As<Napi::Object>());
  }

 private:
  // sign(counter: bigint): Buffer (20 bytes)
  Napi::Value Sign(const Napi::CallbackInfo& info) {
    uint8_t c[8];
    if (info.Length() < 1 || !getCounter(info[0], c))
      return throwType(info.Env(), "sign(counter): counter must be a bigint in 0..2^64-1");
    auto out = Napi::Buffer<uint8_t>::New(info.Env(), 20);
    hmac_digest(ctx_, c, out.Data());
    return out;
  }
  // verify(counter: bigint, hmac: Uint8Array): boolean (false unless hmac is exactly 20 bytes)
  Napi::Value Verify(const Napi::CallbackInfo& info) {
    uint8_t c[8];
    Bytes md;
    if (info.Length() < 2 || !getCounter(info[0], c) || !getU8(info[1], md))
      return throwType(info.Env(), "verify(counter, hmac): counter must be a bigint, hmac a Uint8Array");
    if (md.len != 20) return Napi::Boolean::New(info.Env(), false);
    return Napi::Boolean::New(info.Env(), hmac_verify(ctx_, c, md.data));
  }

  HmacCtx ctx_;
};

class KeyTable : public Napi::ObjectWrap<KeyTable> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "KeyTable",
                       {InstanceMethod<&KeyTable::Set>("set"), InstanceMethod<&KeyTable::Delete>("delete"),
                        InstanceMethod<&KeyTable::Has>("has"), InstanceMethod<&KeyTable::Clear>("clear")});
  }
  KeyTable(const Napi::CallbackInfo& info) : Napi::ObjectWrap<KeyTable>(info) {
    napi_type_tag_object(info.Env(), info.This(), &kTableTag);
  }
  static KeyTable* From(Napi::Env env, const Napi::Value& v) {
    if (!hasTag(env, v, kTableTag)) return nullptr;
    return Unwrap(v.As<Napi::Object>());
  }
  const std::vector<HmacCtx>& at(uint8_t vhid) const { return slots_[vhid]; }

 private:
  static bool vhidArg(const Napi::Value& v, uint8_t& out) {
    if (!v.IsNumber()) return false;
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 255) || d != double(int(d))) return false;
    out = uint8_t(d);
    return true;
  }
  // set(vhid: 0..255, schedules: KeySchedule | KeySchedule[] (1..4)): copies the contexts in.
  Napi::Value Set(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint8_t vhid;
    if (info.Length() < 2 || !vhidArg(info[0], vhid))
      return throwType(env, "KeyTable.set(vhid, schedules): vhid must be an integer 0..255");
    std::vector<HmacCtx> ctxs;
    if (auto* ks = KeySchedule::From(env, info[1])) {
      ctxs.push_back(ks->ctx());
    } else if (info[1].IsArray()) {
      auto arr = info[1].As<Napi::Array>();
      const uint32_t n = arr.Length();
      if (n < 1 || n > kMaxCtxPerVhid) return throwRange(env, "KeyTable.set: 1 to 4 key schedules per vhid");
      for (uint32_t i = 0; i < n; i++) {
        Napi::Value el = arr.Get(i);
        if (env.IsExceptionPending()) return env.Undefined();
        auto* k = KeySchedule::From(env, el);
        if (k == nullptr) return throwType(env, "KeyTable.set: schedules must be KeySchedule objects");
        ctxs.push_back(k->ctx());
      }
    } else {
      return throwType(env, "KeyTable.set: schedules must be a KeySchedule or an array of them");
    }
    slots_[vhid] = std::move(ctxs);
    return env.Undefined();
  }
  Napi::Value Delete(const Napi::CallbackInfo& info) {
    uint8_t vhid;
    if (info.Length() < 1 || !vhidArg(info[0], vhid))
      return throwType(info.Env(), "KeyTable.delete(vhid): vhid must be an integer 0..255");
    const bool had = !slots_[vhid].empty();
    slots_[vhid].clear();
    return Napi::Boolean::New(info.Env(), had);
  }
  Napi::Value Has(const Napi::CallbackInfo& info) {
    uint8_t vhid;
    if (info.Length() < 1 || !vhidArg(info[0], vhid)) return Napi::Boolean::New(info.Env(), false);
    return Napi::Boolean::New(info.Env(), !slots_[vhid].empty());
  }
  Napi::Value Clear(const Napi::CallbackInfo& info) {
    for (auto& s : slots_) s.clear();
    return info.Env().Undefined();
  }

  std::vector<HmacCtx> slots_[256];
};

// Optional per-packet output arrays. Each present array must hold at least `count` elements.
struct Fields {
  uint8_t *version = nullptr, *type = nullptr, *vhid = nullptr, *advskew = nullptr, *authlen = nullptr,
          *demote = nullptr, *advbase = nullptr;
  uint16_t* checksum = nullptr;
  uint32_t *counterHi = nullptr, *counterLo = nullptr;

  void put(size_t i, const uint8_t* h) {
    if (version) version[i] = h[0] >> 4;
    if (type) type[i] = h[0] & 0x0f;
    if (vhid) vhid[i] = h[1];
    if (advskew) advskew[i] = h[2];
    if (authlen) authlen[i] = h[3];
    if (demote) demote[i] = h[4];
    if (advbase) advbase[i] = h[5];
    if (checksum) checksum[i] = uint16_t((h[6] << 8) | h[7]);
    if (counterHi) counterHi[i] = load_be32(h + 8);
    if (counterLo) counterLo[i] = load_be32(h + 12);
  }
  void zero(size_t i) {
    static const uint8_t z[kCarpHeaderLen] = {0};
    put(i, z);
  }
};

// Parses (buf, offsets, lengths, verdicts, fields?) starting at info[first].
struct Batch {
  Bytes buf;
  uint32_t* offsets = nullptr;
  size_t count = 0;
  uint32_t* lengths = nullptr;  // null: fixed length
  uint32_t fixedLen = 0;
  uint8_t* verdicts = nullptr;
  Fields f;

  // Bytes available for packet i (0 when the offset is out of range).
  size_t avail(size_t i, const uint8_t*& p) const {
    const size_t off = offsets[i];
    if (off >= buf.len) {
      p = nullptr;
      return 0;
    }
    p = buf.data + off;
    size_t want = lengths ? lengths[i] : fixedLen;
    return want < buf.len - off ? want : buf.len - off;
  }
};

const char* parseField(Napi::Env env, Napi::Object obj, const char* name, napi_typedarray_type type, size_t count,
                       void** slot, size_t elsize, std::vector<Pin>& pins) {
  Napi::Value v = obj.Get(name);
  if (env.IsExceptionPending()) return "fields: reading a property threw";
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  size_t len = 0;
  bool ok = false;
  if (elsize == 1) ok = getTyped<uint8_t>(v, type, *reinterpret_cast<uint8_t**>(slot), len);
  if (elsize == 2) ok = getTyped<uint16_t>(v, type, *reinterpret_cast<uint16_t**>(slot), len);
  if (elsize == 4) ok = getTyped<uint32_t>(v, type, *reinterpret_cast<uint32_t**>(slot), len);
  if (!ok) return "fields: wrong typed array type (Uint8Array; checksum Uint16Array; counterHi/Lo Uint32Array)";
  if (len < count) {
    *slot = nullptr;
    return "fields: a field array is shorter than offsets";
  }
  pins.push_back({v, *slot, len});
  return nullptr;
}

bool parseBatch(const Napi::CallbackInfo& info, size_t first, Batch& b) {
  Napi::Env env = info.Env();
  if (info.Length() < first + 4) {
    throwType(env, "expected (buf, offsets, lengths, verdicts, fields?)");
    return false;
  }
  if (!getU8(info[first], b.buf)) {
    throwType(env, "buf must be a Uint8Array");
    return false;
  }
  if (!getTyped<uint32_t>(info[first + 1], napi_uint32_array, b.offsets, b.count)) {
    throwType(env, "offsets must be a Uint32Array");
    return false;
  }
  Napi::Value lv = info[first + 2];
  size_t lengthsLen = 0;
  std::vector<Pin> pins;
  if (lv.IsNumber()) {
    double d = lv.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 4294967295.0) || d != double(uint32_t(d))) {
      throwType(env, "lengths must be a Uint32Array or an integer 0..2^32-1");
      return false;
    }
    b.fixedLen = uint32_t(d);
  } else {
    if (!getTyped<uint32_t>(lv, napi_uint32_array, b.lengths, lengthsLen)) {
      throwType(env, "lengths must be a Uint32Array or an integer");
      return false;
    }
    if (lengthsLen < b.count) {
      throwRange(env, "lengths is shorter than offsets");
      return false;
    }
  }
  size_t vn = 0;
  if (!getTyped<uint8_t>(info[first + 3], napi_uint8_array, b.verdicts, vn)) {
    throwType(env, "verdicts must be a Uint8Array");
    return false;
  }
  if (vn < b.count) {
    throwRange(env, "verdicts is shorter than offsets");
    return false;
  }
  if (info.Length() > first + 4 && !info[first + 4].IsUndefined() && !info[first + 4].IsNull()) {
    if (!info[first + 4].IsObject()) {
      throwType(env, "fields must be an object of typed arrays");
      return false;
    }
    Napi::Object o = info[first + 4].As<Napi::Object>();
    struct {
      const char* name;
      napi_typedarray_type type;
      void** slot;
      size_t size;
    } specs[] = {
        {"version", napi_uint8_array, reinterpret_cast<void**>(&b.f.version), 1},
        {"type", napi_uint8_array, reinterpret_cast<void**>(&b.f.type), 1},
        {"vhid", napi_uint8_array, reinterpret_cast<void**>(&b.f.vhid), 1},
        {"advskew", napi_uint8_array, reinterpret_cast<void**>(&b.f.advskew), 1},
        {"authlen", napi_uint8_array, reinterpret_cast<void**>(&b.f.authlen), 1},
        {"demote", napi_uint8_array, reinterpret_cast<void**>(&b.f.demote), 1},
        {"advbase", napi_uint8_array, reinterpret_cast<void**>(&b.f.advbase), 1},
        {"checksum", napi_uint16_array, reinterpret_cast<void**>(&b.f.checksum), 2},
        {"counterHi", napi_uint32_array, reinterpret_cast<void**>(&b.f.counterHi), 4},
        {"counterLo", napi_uint32_array, reinterpret_cast<void**>(&b.f.counterLo), 4},
    };
    for (auto& s : specs) {
      if (const char* err = parseField(env, o, s.name, s.type, b.count, s.slot, s.size, pins)) {
        if (!env.IsExceptionPending()) throwType(env, err);
        return false;
      }
    }
  }
  pins.push_back({info[first], b.buf.data, b.buf.len});
  pins.push_back({info[first + 1], b.offsets, b.count});
  if (b.lengths != nullptr) pins.push_back({lv, b.lengths, lengthsLen});
  pins.push_back({info[first + 3], b.verdicts, vn});
  if (!pinsIntact(env, pins)) {
    throwType(env, "a typed array was detached or replaced while reading fields");
    return false;
  }
  return true;
}

// decodeBatch(buf, offsets, lengths, verdicts, fields?): number of packets with verdict ok.
// Verdicts: badlen (< 36 bytes available), badsum (checksum over the 36 bytes != 0), else ok.
// Fields are filled whenever 36 bytes are available (zeroed otherwise).
Napi::Value DecodeBatch(const Napi::CallbackInfo& info) {
  Batch b;
  if (!parseBatch(info, 0, b)) return info.Env().Undefined();
  uint32_t ok = 0;
  for (size_t i = 0; i < b.count; i++) {
    const uint8_t* p;
    if (b.avail(i, p) < kCarpHeaderLen) {
      b.verdicts[i] = kBadLen;
      b.f.zero(i);
      continue;
    }
    b.f.put(i, p);
    if (inet_checksum(p, kCarpHeaderLen) != 0) {
      b.verdicts[i] = kBadSum;
      continue;
    }
    b.verdicts[i] = kOk;
    ok++;
  }
  return Napi::Number::New(info.Env(), ok);
}

// verifyBatch(table, buf, offsets, lengths, verdicts, fields?): number of packets with verdict ok.
// Kernel order (FreeBSD carp_input/carp_input_c): badlen, badsum, badvhid (no key for the vhid),
// badver (version nibble != 2), badauth (no context of the vhid matches).
Napi::Value VerifyBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KeyTable* table = info.Length() > 0 ? KeyTable::From(env, info[0]) : nullptr;
  if (table == nullptr) return throwType(env, "verifyBatch: first argument must be a KeyTable");
  Batch b;
  if (!parseBatch(info, 1, b)) return env.Undefined();
  uint32_t ok = 0;
  const HmacCtx* pendingCtx = nullptr;  // a packet waiting for a partner
  const uint8_t* pendingPkt = nullptr;
  size_t pendingIdx = 0;
  for (size_t i = 0; i < b.count; i++) {
    const uint8_t* p;
    if (b.avail(i, p) < kCarpHeaderLen) {
      b.verdicts[i] = kBadLen;
      b.f.zero(i);
      continue;
    }
    b.f.put(i, p);
    if (inet_checksum(p, kCarpHeaderLen) != 0) {
      b.verdicts[i] = kBadSum;
      continue;
    }
    const auto& ctxs = table->at(p[1]);
    if (ctxs.empty()) {
      b.verdicts[i] = kBadVhid;
      continue;
    }
    if ((p[0] >> 4) != 2) {
      b.verdicts[i] = kBadVer;
      continue;
    }
    if (ctxs.size() == 1) {
      // Pair single-context packets so two HMACs run interleaved (see sha1_compress_x2).
      if (pendingCtx == nullptr) {
        pendingCtx = &ctxs[0];
        pendingPkt = p;
        pendingIdx = i;
        continue;
      }
      bool okA, okB;
      hmac_verify_x2(*pendingCtx, pendingPkt + 8, pendingPkt + 16, okA, ctxs[0], p + 8, p + 16, okB);
      b.verdicts[pendingIdx] = okA ? kOk : kBadAuth;
      b.verdicts[i] = okB ? kOk : kBadAuth;
      ok += okA + okB;
      pendingCtx = nullptr;
      continue;
    }
    bool good = false;
    for (const auto& c : ctxs) good = hmac_verify(c, p + 8, p + 16) || good;
    b.verdicts[i] = good ? kOk : kBadAuth;
    ok += good;
  }
  if (pendingCtx != nullptr) {
    const bool good = hmac_verify(*pendingCtx, pendingPkt + 8, pendingPkt + 16);
    b.verdicts[pendingIdx] = good ? kOk : kBadAuth;
    ok += good;
  }
  return Napi::Number::New(env, ok);
}

// signInto(schedule, buf, offset, counter: bigint): writes the counter (bytes 8-15), the HMAC
// (16-35) and the checksum (6-7) of the 36-byte header at buf[offset]; bytes 0-5 are the caller's.
Napi::Value SignInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KeySchedule* ks = info.Length() > 0 ? KeySchedule::From(env, info[0]) : nullptr;
  if (ks == nullptr) return throwType(env, "signInto: first argument must be a KeySchedule");
  Bytes buf;
  uint8_t c[8];
  if (info.Length() < 4 || !getU8(info[1], buf) || !info[2].IsNumber() || !getCounter(info[3], c))
    return throwType(env, "signInto(schedule, buf: Uint8Array, offset: number, counter: bigint)");
  const double off = info[2].As<Napi::Number>().DoubleValue();
  if (!(off >= 0) || off != double(size_t(off)) || size_t(off) > buf.len || buf.len - size_t(off) < kCarpHeaderLen)
    return throwRange(env, "signInto: offset out of range (need 36 bytes at offset)");
  uint8_t* p = buf.data + size_t(off);
  std::memcpy(p + 8, c, 8);
  hmac_digest(ks->ctx(), c, p + 16);
  p[6] = p[7] = 0;
  const uint16_t ck = inet_checksum(p, kCarpHeaderLen);
  p[6] = uint8_t(ck >> 8);
  p[7] = uint8_t(ck);
  return env.Undefined();
}

// checksum(buf, offset?, length?): Internet checksum (complemented) of the bytes; 0 means valid.
Napi::Value Checksum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes buf;
  if (info.Length() < 1 || !getU8(info[0], buf)) return throwType(env, "checksum(buf, offset?, length?)");
  size_t off = 0, len = buf.len;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsNumber()) return throwType(env, "checksum: offset must be a number");
    double d = info[1].As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d != double(size_t(d)) || size_t(d) > buf.len) return throwRange(env, "checksum: offset out of range");
    off = size_t(d);
    len = buf.len - off;
  }
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    if (!info[2].IsNumber()) return throwType(env, "checksum: length must be a number");
    double d = info[2].As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d != double(size_t(d)) || size_t(d) > buf.len - off) return throwRange(env, "checksum: length out of range");
    len = size_t(d);
  }
  return Napi::Number::New(env, inet_checksum(buf.data + off, len));
}

// hmacPrefix(vhid, v4: Uint8Array (4n bytes), v6: Uint8Array (16n bytes), variant: 0..2, lladdr?):
// the HMAC message without the counter. Variants: 0 link-local IPv6 included (FreeBSD, OpenBSD
// HMAC_ORIG), 1 link-local skipped (OpenBSD HMAC_NOV6LL, what OpenBSD sends), 2 ucarp.
Napi::Value HmacPrefix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes v4, v6, ll;
  if (info.Length() < 4 || !info[0].IsNumber() || !getU8(info[1], v4) || !getU8(info[2], v6) || !info[3].IsNumber())
    return throwType(env, "hmacPrefix(vhid, v4: Uint8Array, v6: Uint8Array, variant, lladdr?)");
  const double vh = info[0].As<Napi::Number>().DoubleValue();
  const double var = info[3].As<Napi::Number>().DoubleValue();
  if (!(vh >= 0 && vh <= 255) || vh != double(int(vh))) return throwRange(env, "hmacPrefix: vhid must be 0..255");
  if (!(var >= 0 && var <= 2) || var != double(int(var))) return throwRange(env, "hmacPrefix: variant must be 0..2");
  if (v4.len % 4 != 0 || v6.len % 16 != 0) return throwRange(env, "hmacPrefix: v4 must be 4n bytes, v6 16n bytes");
  const uint8_t* lladdr = nullptr;
  if (info.Length() > 4 && !info[4].IsUndefined() && !info[4].IsNull()) {
    if (!getU8(info[4], ll) || ll.len != 6) return throwType(env, "hmacPrefix: lladdr must be 6 bytes");
    lladdr = ll.data;
  }
  auto out = hmac_prefix(uint8_t(vh), v4.data, v4.len / 4, v6.data, v6.len / 16, Variant(int(var)), lladdr);
  return Napi::Buffer<uint8_t>::Copy(env, out.data(), out.size());
}

Napi::Value Sha1(const Napi::CallbackInfo& info) {
  Bytes d;
  if (info.Length() < 1 || !getU8(info[0], d)) return throwType(info.Env(), "sha1(data: Uint8Array)");
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), 20);
  sha1_digest(d.data, d.len, out.Data());
  return out;
}

bool implFromName(const std::string& s, Sha1Impl& out) {
  if (s == "portable") out = Sha1Impl::Portable;
  else if (s == "shani") out = Sha1Impl::ShaNi;
  else if (s == "openssl") out = Sha1Impl::OpenSsl;
  else return false;
  return true;
}

Napi::Value GetSha1Impl(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), sha1_impl_name(sha1_current_impl()));
}

// setSha1Impl("portable"|"shani"|"openssl"): false if not available here. Key schedules made
// before the switch stay valid (all back ends compute the same states).
Napi::Value SetSha1Impl(const Napi::CallbackInfo& info) {
  Sha1Impl impl;
  if (info.Length() < 1 || !info[0].IsString() || !implFromName(info[0].As<Napi::String>().Utf8Value(), impl))
    return throwType(info.Env(), "setSha1Impl: expected \"portable\", \"shani\" or \"openssl\"");
  return Napi::Boolean::New(info.Env(), sha1_set_impl(impl));
}

Napi::Value Sha1Impls(const Napi::CallbackInfo& info) {
  auto arr = Napi::Array::New(info.Env());
  uint32_t n = 0;
  for (Sha1Impl i : {Sha1Impl::Portable, Sha1Impl::ShaNi, Sha1Impl::OpenSsl})
    if (sha1_impl_available(i)) arr.Set(n++, Napi::String::New(info.Env(), sha1_impl_name(i)));
  return arr;
}

// sha1CompressBench(n): nanoseconds per single-block compression from a saved state, current
// back end (the CARP verify pattern: copy state, compress one block).
Napi::Value Sha1CompressBench(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) return throwType(info.Env(), "sha1CompressBench(n)");
  double nd = info[0].As<Napi::Number>().DoubleValue();
  if (!(nd >= 1 && nd <= 1e9)) return throwRange(info.Env(), "sha1CompressBench: n must be 1..1e9");
  const uint64_t n = uint64_t(nd);
  alignas(16) uint8_t blk[64];
  for (int i = 0; i < 64; i++) blk[i] = uint8_t(i * 7);
  uint32_t saved[5];
  sha1_init_state(saved);
  uint32_t acc = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < n; i++) {
    uint32_t h[5];
    std::memcpy(h, saved, 20);
    blk[0] = uint8_t(i);
    sha1_compress(h, blk, 1);
    acc ^= h[0];
  }
  auto t1 = std::chrono::steady_clock::now();
  volatile uint32_t sink = acc;
  (void)sink;
  return Napi::Number::New(info.Env(), double(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()) / double(n));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  sha1_init_default();
  exports.Set("KeySchedule", KeySchedule::Define(env));
  exports.Set("KeyTable", KeyTable::Define(env));
  exports.Set("decodeBatch", Napi::Function::New<DecodeBatch>(env, "decodeBatch"));
  exports.Set("verifyBatch", Napi::Function::New<VerifyBatch>(env, "verifyBatch"));
  exports.Set("signInto", Napi::Function::New<SignInto>(env, "signInto"));
  exports.Set("checksum", Napi::Function::New<Checksum>(env, "checksum"));
  exports.Set("hmacPrefix", Napi::Function::New<HmacPrefix>(env, "hmacPrefix"));
  exports.Set("sha1", Napi::Function::New<Sha1>(env, "sha1"));
  exports.Set("sha1Impl", Napi::Function::New<GetSha1Impl>(env, "sha1Impl"));
  exports.Set("setSha1Impl", Napi::Function::New<SetSha1Impl>(env, "setSha1Impl"));
  exports.Set("sha1Impls", Napi::Function::New<Sha1Impls>(env, "sha1Impls"));
  exports.Set("sha1CompressBench", Napi::Function::New<Sha1CompressBench>(env, "sha1CompressBench"));
  return exports;
}

}  // namespace

NODE_API_MODULE(carp_codec, Init)
