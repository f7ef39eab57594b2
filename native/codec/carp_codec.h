// CARP header codec and HMAC contexts, kernel style: the message prefix (02 01 [lladdr] vhid VIPs)
// is absorbed once into a saved SHA-1 state, so signing or verifying a packet costs two compressions
// (three when the prefix leaves more than 47 bytes in its last block).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace carp {

constexpr size_t kCarpHeaderLen = 36;
constexpr size_t kMaxKeyLen = 64;  // HMAC block; CARP keys are at most 20 bytes

// Verdict codes shared with src/protocol/native-codec.ts (VERDICTS there, same order).
enum Verdict : uint8_t { kOk = 0, kBadLen = 1, kBadSum = 2, kBadVhid = 3, kBadVer = 4, kBadAuth = 5 };

// One-complement Internet checksum (RFC 1071) of len bytes; returns the complemented 16-bit sum.
uint16_t inet_checksum(const uint8_t* p, size_t len);

// HMAC-SHA1 context for one message prefix (one OpenBSD "context"; FreeBSD/ucarp use one).
struct HmacCtx {
  uint32_t inner[5];    // state after key^ipad and the prefix's whole 64-byte blocks
  uint32_t outer[5];    // state after key^opad
  uint8_t tail[128];    // last inner block(s): prefix tail, counter slot, 0x80, bit length
  uint8_t tail_blocks;  // 1 or 2
  uint8_t counter_off;  // where the 8 counter bytes go in tail
};

// Prepares ctx from key (<= 64 bytes, zero-padded) and the message prefix (everything before the
// counter). Returns false if the key is too long.
bool hmac_prepare(HmacCtx& ctx, const uint8_t* key, size_t keylen, const uint8_t* prefix, size_t plen);
// HMAC over prefix || counter8 (counter8 = the 8 header bytes, big-endian).
void hmac_digest(const HmacCtx& ctx, const uint8_t counter8[8], uint8_t out[20]);
// Compares the HMAC of counter8 with md (20 bytes) without early exit.
bool hmac_verify(const HmacCtx& ctx, const uint8_t counter8[8], const uint8_t md[20]);

// IncludeLL: FreeBSD, and OpenBSD's HMAC_ORIG context. SkipLL: OpenBSD's HMAC_NOV6LL (what it
// sends). Ucarp: the first IPv4 address only, no IPv6.
// Two independent verifies at once (interleaved SHA-NI when both need one inner block).
void hmac_verify_x2(const HmacCtx& ca, const uint8_t ctra[8], const uint8_t mda[20], bool& oka, const HmacCtx& cb,
                    const uint8_t ctrb[8], const uint8_t mdb[20], bool& okb);

enum class Variant : uint8_t { IncludeLL = 0, SkipLL = 1, Ucarp = 2 };

// Builds the message prefix: 02 01 [lladdr 6] vhid, IPv4 ascending (duplicates, 0.0.0.0 and
// 255.255.255.255 skipped), IPv6 ascending (duplicates, :: and all-ones skipped; scope-embedded
// addresses get bytes 2-3 zeroed, or are skipped entirely for SkipLL). lladdr (OpenBSD's custom
// carp MAC) is hashed unless it is the default virtual MAC 00:00:5e:00:01:vhid.
std::vector<uint8_t> hmac_prefix(uint8_t vhid, const uint8_t* v4, size_t n4, const uint8_t* v6, size_t n6,
                                 Variant variant, const uint8_t* lladdr /* 6 bytes or null */);

// Up to this many contexts per vhid (OpenBSD uses two).
constexpr size_t kMaxCtxPerVhid = 4;
struct VhidKeys {
  uint8_t n = 0;
  HmacCtx ctx[kMaxCtxPerVhid];
};

}  // namespace carp
