// RFC 1071 Internet checksum. CARP sums only its 36-byte header (no pseudo-header);
// VRRPv3 adds an IPv4/IPv6 pseudo-header, which callers fold in through `initial`.

/**
 * One's-complement sum of the 16-bit big-endian words in buf[start, end), added to `initial`
 * (a previous, uncomplemented partial sum), folded to 16 bits and NOT complemented.
 * An odd trailing byte is padded with a zero low byte (RFC 1071). To chain ranges, give
 * every range but the last an even length.
 */
export function inetSum(buf: Uint8Array, start = 0, end = buf.length, initial = 0): number {
  if (start < 0) start = 0;
  if (end > buf.length) end = buf.length;
  let sum = initial >>> 0;
  let i = start;
  // 32-bit JS numbers hold up to 2^53 exactly, so fold only once at the end.
  for (; i + 1 < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < end) sum += buf[i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * The Internet checksum of buf[start, end): the complement of inetSum. Writing this value into
 * a zeroed checksum field makes the range sum to 0xffff; a received range verifies when
 * inetChecksum(...) === 0.
 */
export function inetChecksum(buf: Uint8Array, start = 0, end = buf.length, initial = 0): number {
  return ~inetSum(buf, start, end, initial) & 0xffff;
}
