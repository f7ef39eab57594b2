#include "carp_codec.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "sha1.h"

namespace carp {

uint16_t inet_checksum(const uint8_t* p, size_t len) {
  uint64_t sum = 0;
  size_t i = 0;
  for (; i + 1 < len; i += 2) sum += (uint32_t(p[i]) << 8) | p[i + 1];
  if (i < len) sum += uint32_t(p[i]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum & 0xffff);
}

bool hmac_prepare(HmacCtx& ctx, const uint8_t* key, size_t keylen, const uint8_t* prefix, size_t plen) {
  if (keylen > kMaxKeyLen) return false;
  uint8_t pad[64];
  std::memset(pad, 0, sizeof pad);
  if (keylen > 0) std::memcpy(pad, key, keylen);
  for (auto& b : pad) b ^= 0x36;
  sha1_init_state(ctx.inner);
  sha1_compress(ctx.inner, pad, 1);
  for (auto& b : pad) b ^= 0x36 ^ 0x5c;
  sha1_init_state(ctx.outer);
  sha1_compress(ctx.outer, pad, 1);

  const size_t full = plen / 64;
  if (full > 0) sha1_compress(ctx.inner, prefix, full);
  const size_t rest = plen - full * 64;  // <= 63
  std::memset(ctx.tail, 0, sizeof ctx.tail);
  if (rest > 0) std::memcpy(ctx.tail, prefix + full * 64, rest);
  ctx.counter_off = uint8_t(rest);
  ctx.tail[rest + 8] = 0x80;
  ctx.tail_blocks = rest + 8 + 9 <= 64 ? 1 : 2;
  const uint64_t bits = (64 + uint64_t(plen) + 8) * 8;  // ipad block + message
  uint8_t* end = ctx.tail + 64 * ctx.tail_blocks;
  store_be32(end - 8, uint32_t(bits >> 32));
  store_be32(end - 4, uint32_t(bits));
  return true;
}

// The outer block is always: 20-byte inner digest, 0x80, zeros, bit length (64 + 20) * 8 = 672.
static inline void hmac_finish(const HmacCtx& ctx, const uint32_t ih[5], uint32_t oh[5]) {
  alignas(16) uint8_t blk[64] = {0};
  for (int i = 0; i < 5; i++) store_be32(blk + 4 * i, ih[i]);
  blk[20] = 0x80;
  blk[62] = 672 >> 8;
  blk[63] = 672 & 0xff;
  std::memcpy(oh, ctx.outer, 20);
  sha1_compress(oh, blk, 1);
}

static inline void hmac_words(const HmacCtx& ctx, const uint8_t counter8[8], uint32_t oh[5]) {
  alignas(16) uint8_t blk[128];
  const size_t n = size_t(ctx.tail_blocks) * 64;
  std::memcpy(blk, ctx.tail, n);
  std::memcpy(blk + ctx.counter_off, counter8, 8);
  uint32_t ih[5];
  std::memcpy(ih, ctx.inner, 20);
  sha1_compress(ih, blk, ctx.tail_blocks);
  hmac_finish(ctx, ih, oh);
}

void hmac_digest(const HmacCtx& ctx, const uint8_t counter8[8], uint8_t out[20]) {
  uint32_t oh[5];
  hmac_words(ctx, counter8, oh);
  for (int i = 0; i < 5; i++) store_be32(out + 4 * i, oh[i]);
}

bool hmac_verify(const HmacCtx& ctx, const uint8_t counter8[8], const uint8_t md[20]) {
  uint32_t oh[5];
  hmac_words(ctx, counter8, oh);
  uint32_t diff = 0;
  for (int i = 0; i < 5; i++) diff |= oh[i] ^ load_be32(md + 4 * i);
  return diff == 0;
}

void hmac_verify_x2(const HmacCtx& ca, const uint8_t ctra[8], const uint8_t mda[20], bool& oka, const HmacCtx& cb,
                    const uint8_t ctrb[8], const uint8_t mdb[20], bool& okb) {
  if (ca.tail_blocks != 1 || cb.tail_blocks != 1) {
    oka = hmac_verify(ca, ctra, mda);
    okb = hmac_verify(cb, ctrb, mdb);
    return;
  }
  alignas(16) uint8_t ba[64], bb[64];
  std::memcpy(ba, ca.tail, 64);
  std::memcpy(bb, cb.tail, 64);
  std::memcpy(ba + ca.counter_off, ctra, 8);
  std::memcpy(bb + cb.counter_off, ctrb, 8);
  uint32_t ha[5], hb[5];
  std::memcpy(ha, ca.inner, 20);
  std::memcpy(hb, cb.inner, 20);
  sha1_compress_x2(ha, ba, hb, bb);
  std::memset(ba, 0, 64);
  std::memset(bb, 0, 64);
  for (int i = 0; i < 5; i++) {
    store_be32(ba + 4 * i, ha[i]);
    store_be32(bb + 4 * i, hb[i]);
  }
  ba[20] = bb[20] = 0x80;
  ba[62] = bb[62] = 672 >> 8;
  ba[63] = bb[63] = 672 & 0xff;
  std::memcpy(ha, ca.outer, 20);
  std::memcpy(hb, cb.outer, 20);
  sha1_compress_x2(ha, ba, hb, bb);
  uint32_t da = 0, db = 0;
  for (int i = 0; i < 5; i++) {
    da |= ha[i] ^ load_be32(mda + 4 * i);
    db |= hb[i] ^ load_be32(mdb + 4 * i);
  }
  oka = da == 0;
  okb = db == 0;
}

// KAME IN6_IS_SCOPE_EMBED: link-local unicast (fe80::/10), interface-local and link-local multicast.
static bool v6_scope_embedded(const uint8_t* a) {
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return true;
  if (a[0] == 0xff && ((a[1] & 0x0f) == 0x01 || (a[1] & 0x0f) == 0x02)) return true;
  return false;
}

std::vector<uint8_t> hmac_prefix(uint8_t vhid, const uint8_t* v4, size_t n4, const uint8_t* v6, size_t n6,
                                 Variant variant, const uint8_t* lladdr) {
  std::vector<uint8_t> out;
  out.reserve(9 + 4 * n4 + 16 * n6);
  out.push_back(0x02);
  out.push_back(0x01);
  static const uint8_t vmac[5] = {0x00, 0x00, 0x5e, 0x00, 0x01};
  if (lladdr != nullptr && !(std::memcmp(lladdr, vmac, 5) == 0 && lladdr[5] == vhid))
    out.insert(out.end(), lladdr, lladdr + 6);
  out.push_back(vhid);
  if (variant == Variant::Ucarp) {
    if (n4 > 0) out.insert(out.end(), v4, v4 + 4);
    return out;
  }
  std::vector<uint32_t> a4;
  a4.reserve(n4);
  for (size_t i = 0; i < n4; i++) {
    const uint32_t v = load_be32(v4 + 4 * i);
    if (v != 0 && v != 0xffffffffu) a4.push_back(v);
  }
  std::sort(a4.begin(), a4.end());
  a4.erase(std::unique(a4.begin(), a4.end()), a4.end());
  for (uint32_t v : a4) {
    uint8_t b[4];
    store_be32(b, v);
    out.insert(out.end(), b, b + 4);
  }
  std::vector<std::array<uint8_t, 16>> a6;
  a6.reserve(n6);
  static const uint8_t zeros[16] = {0};
  static const uint8_t ones[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  for (size_t i = 0; i < n6; i++) {
    std::array<uint8_t, 16> a;
    std::memcpy(a.data(), v6 + 16 * i, 16);
    if (v6_scope_embedded(a.data())) {
      if (variant == Variant::SkipLL) continue;
      a[2] = a[3] = 0;
    }
    if (std::memcmp(a.data(), zeros, 16) == 0 || std::memcmp(a.data(), ones, 16) == 0) continue;
    a6.push_back(a);
  }
  std::sort(a6.begin(), a6.end());
  a6.erase(std::unique(a6.begin(), a6.end()), a6.end());
  for (const auto& a : a6) out.insert(out.end(), a.begin(), a.end());
  return out;
}

}  // namespace carp
