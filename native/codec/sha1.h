// SHA-1 block compression with three interchangeable back ends (portable C++, x86 SHA-NI, and the
// OpenSSL that the node binary exports). Only the compression function is exposed: the HMAC code
// in carp_codec.cc does its own padding so that per-packet work is exactly two compressions.
#pragma once
#include <cstddef>
#include <cstdint>

namespace carp {

enum class Sha1Impl : int { Portable = 0, ShaNi = 1, OpenSsl = 2 };

// Compress `nblocks` 64-byte blocks into state h[5] (standard SHA-1 word order, host endian words).
using Sha1CompressFn = void (*)(uint32_t h[5], const uint8_t* blocks, size_t nblocks);

void sha1_compress_portable(uint32_t h[5], const uint8_t* blocks, size_t nblocks);

bool sha1_impl_available(Sha1Impl impl);
// Selects the back end used by sha1_compress(); returns false (and changes nothing) if unavailable.
bool sha1_set_impl(Sha1Impl impl);
Sha1Impl sha1_current_impl();
const char* sha1_impl_name(Sha1Impl impl);
// Picks the default: CARP_SHA1=portable|shani|openssl forces one (if available), otherwise the fastest.
void sha1_init_default();

extern Sha1CompressFn g_sha1_compress;
inline void sha1_compress(uint32_t h[5], const uint8_t* blocks, size_t nblocks) {
  g_sha1_compress(h, blocks, nblocks);
}

inline void sha1_init_state(uint32_t h[5]) {
  h[0] = 0x67452301u;
  h[1] = 0xEFCDAB89u;
  h[2] = 0x98BADCFEu;
  h[3] = 0x10325476u;
  h[4] = 0xC3D2E1F0u;
}

// Two independent single-block compressions (interleaved on SHA-NI, sequential otherwise).
void sha1_compress_x2(uint32_t ha[5], const uint8_t* pa, uint32_t hb[5], const uint8_t* pb);

// Whole-message SHA-1 (used by tests to compare back ends on arbitrary lengths).
void sha1_digest(const uint8_t* data, size_t len, uint8_t out[20]);

inline uint32_t load_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

}  // namespace carp
