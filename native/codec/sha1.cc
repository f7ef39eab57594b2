// SHA-1 compression back ends and the run-time choice between them.
//
// Which one is the default, and why. Measured on this machine (x86-64 with sha_ni, node 20.20,
// one core; `node bench/native-codec.bench.mjs` prints these via sha1CompressBench): one 64-byte
// compression from a saved state costs
//   portable C++ ~136 ns, our SHA-NI ~43 ns, OpenSSL SHA1_Transform (exported by node) ~45 ns.
// OpenSSL's assembly uses SHA-NI too, so the two are equal per block; ours wins because it is
// inlinable state-in-registers code with no SHA_CTX copy or cross-library call, and because we can
// interleave two independent compressions (sha1_compress_x2: sha1rnds4 is latency bound), which
// took batch verify from ~115 to ~75 ns per packet. So: SHA-NI when the CPU has it, else OpenSSL
// if node exports SHA1_Transform, else portable. CARP_SHA1=portable|shani|openssl forces one at
// load time and setSha1Impl() switches at run time (the tests run every back end).
#include "sha1.h"

#include <cstdlib>
#include <cstring>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CARP_HAVE_X86 1
#endif

// OpenSSL as exported by the node binary. Declared weak so that the addon still loads when the
// host process does not export it (the pointer is then null and the back end is unavailable).
extern "C" {
struct carp_sha_ctx {  // layout of OpenSSL's SHA_CTX (openssl/sha.h): h0..h4, Nl, Nh, data[16], num
  unsigned int h[5];
  unsigned int Nl, Nh;
  unsigned int data[16];
  unsigned int num;
};
void SHA1_Transform(carp_sha_ctx* c, const unsigned char* data) __attribute__((weak));
}

namespace carp {

Sha1CompressFn g_sha1_compress = sha1_compress_portable;
static Sha1Impl g_impl = Sha1Impl::Portable;

static inline uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

void sha1_compress_portable(uint32_t h[5], const uint8_t* p, size_t nblocks) {
  for (; nblocks > 0; nblocks--, p += 64) {
    uint32_t w[16];
    for (int i = 0; i < 16; i++) w[i] = load_be32(p + 4 * i);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    // Message schedule kept in a 16-word ring; rounds unrolled by the compiler (-O3).
#define CARP_W(i) (w[(i) & 15] = rol(w[((i) + 13) & 15] ^ w[((i) + 8) & 15] ^ w[((i) + 2) & 15] ^ w[(i) & 15], 1))
#define CARP_ROUND(f, k, wi)                         \
  do {                                               \
    uint32_t t = rol(a, 5) + (f) + e + (k) + (wi);   \
    e = d;                                           \
    d = c;                                           \
    c = rol(b, 30);                                  \
    b = a;                                           \
    a = t;                                           \
  } while (0)
    for (int i = 0; i < 16; i++) CARP_ROUND((b & c) | (~b & d), 0x5A827999u, w[i]);
    for (int i = 16; i < 20; i++) CARP_ROUND((b & c) | (~b & d), 0x5A827999u, CARP_W(i));
    for (int i = 20; i < 40; i++) CARP_ROUND(b ^ c ^ d, 0x6ED9EBA1u, CARP_W(i));
    for (int i = 40; i < 60; i++) CARP_ROUND((b & c) | (b & d) | (c & d), 0x8F1BBCDCu, CARP_W(i));
    for (int i = 60; i < 80; i++) CARP_ROUND(b ^ c ^ d, 0xCA62C1D6u, CARP_W(i));
#undef CARP_ROUND
#undef CARP_W
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
}

#ifdef CARP_HAVE_X86
// SHA-NI: each sha1rnds4 does four rounds on ABCD; E is carried by sha1nexte; the schedule is
// built four words at a time with sha1msg1 / xor / sha1msg2. Group g covers rounds 4g..4g+3 and
// keeps its four schedule words in w[g % 4].
#define CARP_SHANI __attribute__((target("sha,sse4.1")))

template <int G>
CARP_SHANI static inline void shani_group(__m128i& abcd, __m128i& e0, __m128i& e1, __m128i* w) {
  constexpr int f = G / 5;
  __m128i& cur = w[G & 3];
  if constexpr (G == 0) {
    e0 = _mm_add_epi32(e0, cur);
    e1 = abcd;
    abcd = _mm_sha1rnds4_epu32(abcd, e0, f);
  } else if constexpr (G & 1) {
    e1 = _mm_sha1nexte_epu32(e1, cur);
    e0 = abcd;
    if constexpr (G >= 3 && G <= 18) w[(G + 1) & 3] = _mm_sha1msg2_epu32(w[(G + 1) & 3], cur);
    abcd = _mm_sha1rnds4_epu32(abcd, e1, f);
  } else {
    e0 = _mm_sha1nexte_epu32(e0, cur);
    e1 = abcd;
    if constexpr (G >= 3 && G <= 18) w[(G + 1) & 3] = _mm_sha1msg2_epu32(w[(G + 1) & 3], cur);
    abcd = _mm_sha1rnds4_epu32(abcd, e0, f);
  }
  if constexpr (G >= 1 && G <= 16) w[(G + 3) & 3] = _mm_sha1msg1_epu32(w[(G + 3) & 3], cur);
  if constexpr (G >= 2 && G <= 17) w[(G + 2) & 3] = _mm_xor_si128(w[(G + 2) & 3], cur);
}

template <int... G>
CARP_SHANI static inline void shani_all(__m128i& abcd, __m128i& e0, __m128i& e1, __m128i* w,
                                        std::integer_sequence<int, G...>) {
  (shani_group<G>(abcd, e0, e1, w), ...);
}

CARP_SHANI static void sha1_compress_shani(uint32_t h[5], const uint8_t* p, size_t nblocks) {
  const __m128i bswap = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
  __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)), 0x1B);
  __m128i e0 = _mm_set_epi32(int(h[4]), 0, 0, 0);
  for (; nblocks > 0; nblocks--, p += 64) {
    const __m128i abcd_save = abcd, e_save = e0;
    __m128i e1;
    __m128i w[4];
    for (int i = 0; i < 4; i++)
      w[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i)), bswap);
    shani_all(abcd, e0, e1, w, std::make_integer_sequence<int, 20>{});
    // After group 19 (odd), e0 holds the ABCD that entered it: fold in the saved E.
    e0 = _mm_sha1nexte_epu32(e0, e_save);
    abcd = _mm_add_epi32(abcd, abcd_save);
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(h), _mm_shuffle_epi32(abcd, 0x1B));
  h[4] = uint32_t(_mm_extract_epi32(e0, 3));
}

template <int... G>
CARP_SHANI static inline void shani_all2(__m128i& a1, __m128i& e01, __m128i& e11, __m128i* w1, __m128i& a2,
                                         __m128i& e02, __m128i& e12, __m128i* w2,
                                         std::integer_sequence<int, G...>) {
  ((shani_group<G>(a1, e01, e11, w1), shani_group<G>(a2, e02, e12, w2)), ...);
}

// Two independent one-block compressions interleaved: sha1rnds4 is latency bound, so a second
// dependency chain fills the gaps (used by verifyBatch for pairs of packets).
CARP_SHANI static void sha1_compress_x2_shani(uint32_t ha[5], const uint8_t* pa, uint32_t hb[5], const uint8_t* pb) {
  const __m128i bswap = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
  __m128i abcd_a = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ha)), 0x1B);
  __m128i abcd_b = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(hb)), 0x1B);
  __m128i e0a = _mm_set_epi32(int(ha[4]), 0, 0, 0), e0b = _mm_set_epi32(int(hb[4]), 0, 0, 0);
  const __m128i sa = abcd_a, sb = abcd_b, esa = e0a, esb = e0b;
  __m128i e1a, e1b, wa[4], wb[4];
  for (int i = 0; i < 4; i++) {
    wa[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pa + 16 * i)), bswap);
    wb[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pb + 16 * i)), bswap);
  }
  shani_all2(abcd_a, e0a, e1a, wa, abcd_b, e0b, e1b, wb, std::make_integer_sequence<int, 20>{});
  e0a = _mm_sha1nexte_epu32(e0a, esa);
  e0b = _mm_sha1nexte_epu32(e0b, esb);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(ha), _mm_shuffle_epi32(_mm_add_epi32(abcd_a, sa), 0x1B));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(hb), _mm_shuffle_epi32(_mm_add_epi32(abcd_b, sb), 0x1B));
  ha[4] = uint32_t(_mm_extract_epi32(e0a, 3));
  hb[4] = uint32_t(_mm_extract_epi32(e0b, 3));
}
#endif

void sha1_compress_x2(uint32_t ha[5], const uint8_t* pa, uint32_t hb[5], const uint8_t* pb) {
#ifdef CARP_HAVE_X86
  if (g_impl == Sha1Impl::ShaNi) return sha1_compress_x2_shani(ha, pa, hb, pb);
#endif
  sha1_compress(ha, pa, 1);
  sha1_compress(hb, pb, 1);
}

static void sha1_compress_openssl(uint32_t h[5], const uint8_t* p, size_t nblocks) {
  carp_sha_ctx c;
  std::memcpy(c.h, h, 20);
  for (; nblocks > 0; nblocks--, p += 64) SHA1_Transform(&c, p);
  std::memcpy(h, c.h, 20);
}


bool sha1_impl_available(Sha1Impl impl) {
  switch (impl) {
    case Sha1Impl::Portable:
      return true;
    case Sha1Impl::ShaNi:
#ifdef CARP_HAVE_X86
      __builtin_cpu_init();
      return __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1");
#else
      return false;
#endif
    case Sha1Impl::OpenSsl:
      return SHA1_Transform != nullptr;
  }
  return false;
}

bool sha1_set_impl(Sha1Impl impl) {
  if (!sha1_impl_available(impl)) return false;
  switch (impl) {
    case Sha1Impl::Portable:
      g_sha1_compress = sha1_compress_portable;
      break;
    case Sha1Impl::ShaNi:
#ifdef CARP_HAVE_X86
      g_sha1_compress = sha1_compress_shani;
#endif
      break;
    case Sha1Impl::OpenSsl:
      g_sha1_compress = sha1_compress_openssl;
      break;
  }
  g_impl = impl;
  return true;
}

Sha1Impl sha1_current_impl() { return g_impl; }

const char* sha1_impl_name(Sha1Impl impl) {
  switch (impl) {
    case Sha1Impl::Portable:
      return "portable";
    case Sha1Impl::ShaNi:
      return "shani";
    case Sha1Impl::OpenSsl:
      return "openssl";
  }
  return "?";
}

void sha1_init_default() {
  const char* env = std::getenv("CARP_SHA1");
  if (env != nullptr) {
    if (std::strcmp(env, "portable") == 0 && sha1_set_impl(Sha1Impl::Portable)) return;
    if (std::strcmp(env, "shani") == 0 && sha1_set_impl(Sha1Impl::ShaNi)) return;
    if (std::strcmp(env, "openssl") == 0 && sha1_set_impl(Sha1Impl::OpenSsl)) return;
  }
  if (sha1_set_impl(Sha1Impl::ShaNi)) return;
  if (sha1_set_impl(Sha1Impl::OpenSsl)) return;
  sha1_set_impl(Sha1Impl::Portable);
}

void sha1_digest(const uint8_t* data, size_t len, uint8_t out[20]) {
  uint32_t h[5];
  sha1_init_state(h);
  const size_t full = len / 64;
  if (full > 0) sha1_compress(h, data, full);
  uint8_t tail[128] = {0};
  const size_t rest = len - full * 64;
  if (rest > 0) std::memcpy(tail, data + full * 64, rest);
  tail[rest] = 0x80;
  const size_t tlen = rest + 9 <= 64 ? 64 : 128;
  const uint64_t bits = uint64_t(len) * 8;
  store_be32(tail + tlen - 8, uint32_t(bits >> 32));
  store_be32(tail + tlen - 4, uint32_t(bits));
  sha1_compress(h, tail, tlen / 64);
  for (int i = 0; i < 5; i++) store_be32(out + 4 * i, h[i]);
}

}  // namespace carp
