// An AF_PACKET receive ring (TPACKET_V2, PACKET_RX_RING) for IP protocol 112 on one interface and
// family: the kernel copies each matching datagram into a shared mmap'd frame and flips its status,
// so reading a flood costs no system call per packet. V2 rather than V3: every frame is readable
// (and poll wakes) as soon as it is written, so a lone advert is not held back by a block timer.
#pragma once
#include <cstddef>
#include <cstdint>

namespace carpio {

// One received IP datagram, pointing into a ring frame (valid until Release()).
struct RingPacket {
  const uint8_t* ip;      // the IP header
  uint32_t caplen;        // bytes present at ip
  uint32_t wireLen;       // datagram length on the wire (> caplen: truncated by the frame size)
  uint32_t ifindex;       // receiving interface (after VLAN untagging)
  uint8_t pktType;        // PACKET_HOST, PACKET_MULTICAST, ...
  double timeMs;          // kernel receive time, ms since the epoch
};

class PacketRing {
 public:
  static constexpr uint32_t kFrameSize = 2048;  // bytes per frame (header + datagram)

  PacketRing() = default;
  ~PacketRing() { Close(); }
  PacketRing(const PacketRing&) = delete;
  PacketRing& operator=(const PacketRing&) = delete;

  // Opens the ring of about ringBytes on ifindex for family 4|6. Returns 0 or an errno; *step names
  // the call that failed.
  int Open(unsigned ifindex, int family, size_t ringBytes, const char** step);
  void Close();
  int fd() const { return fd_; }
  uint32_t frames() const { return frameNr_; }

  // The next filled frame, or false when the ring is empty. Call Release() before asking again.
  bool Next(RingPacket* out);
  void Release();
  // Packets the kernel dropped because the ring was full (since the last call).
  uint64_t TakeDrops();

 private:
  int fd_ = -1;
  uint8_t* map_ = nullptr;
  size_t mapLen_ = 0;
  uint32_t frameNr_ = 0;
  uint32_t head_ = 0;
};

// Attaches a filter that drops everything to fd (the raw socket kept for sending and group
// membership while the ring receives). Returns 0 or an errno.
int AttachDropAllFilter(int fd);

}  // namespace carpio
