// TPACKET_V2 receive ring for IP protocol 112 (see packet_ring.h).
#include "packet_ring.h"

#include <arpa/inet.h>
#include <cerrno>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

namespace carpio {
namespace {

constexpr uint32_t kBlockSize = 64 * 1024;  // 32 frames per block; a multiple of the page size

// Classic BPF, run on the network header (SOCK_DGRAM): IPv4 with protocol 112, or IPv6 whose next
// header is 112 or an extension header that may precede it (hop-by-hop 0, routing 43, dest opts 60;
// the chain is walked in C++). Accepted packets are kept whole (up to the frame size).
const sock_filter kFilter4[] = {
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 112, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, 0x40000),
    BPF_STMT(BPF_RET | BPF_K, 0),
};
const sock_filter kFilter6[] = {
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 112, 3, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 43, 1, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 60, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, 0x40000),
    BPF_STMT(BPF_RET | BPF_K, 0),
};
const sock_filter kDropAll[] = {BPF_STMT(BPF_RET | BPF_K, 0)};

int Attach(int fd, const sock_filter* code, size_t n) {
  sock_fprog prog{static_cast<unsigned short>(n), const_cast<sock_filter*>(code)};
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) == 0 ? 0 : errno;
}

}  // namespace

int AttachDropAllFilter(int fd) { return Attach(fd, kDropAll, 1); }

int PacketRing::Open(unsigned ifindex, int family, size_t ringBytes, const char** step) {
  uint16_t proto = htons(family == 4 ? ETH_P_IP : ETH_P_IPV6);
  // Protocol 0: nothing is queued before the filter and the ring are in place and bind() says what.
  *step = "socket(AF_PACKET)";
  fd_ = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return errno;
  int version = TPACKET_V2;
  *step = "PACKET_VERSION";
  if (setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0) return errno;
  *step = "SO_ATTACH_FILTER";
  int err = family == 4 ? Attach(fd_, kFilter4, sizeof kFilter4 / sizeof kFilter4[0])
                        : Attach(fd_, kFilter6, sizeof kFilter6 / sizeof kFilter6[0]);
  if (err) return err;
  uint32_t blocks = static_cast<uint32_t>((ringBytes + kBlockSize - 1) / kBlockSize);
  if (blocks < 1) blocks = 1;
  tpacket_req req{};
  req.tp_block_size = kBlockSize;
  req.tp_block_nr = blocks;
  req.tp_frame_size = kFrameSize;
  req.tp_frame_nr = blocks * (kBlockSize / kFrameSize);
  *step = "PACKET_RX_RING";
  if (setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) return errno;
  mapLen_ = size_t(req.tp_block_size) * req.tp_block_nr;
  *step = "mmap";
  void* m = mmap(nullptr, mapLen_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (m == MAP_FAILED) { mapLen_ = 0; return errno; }
  map_ = static_cast<uint8_t*>(m);
  frameNr_ = req.tp_frame_nr;
  head_ = 0;
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = proto;
  sll.sll_ifindex = static_cast<int>(ifindex);
  *step = "bind(AF_PACKET)";
  if (bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) return errno;
  return 0;
}

void PacketRing::Close() {
  if (map_) munmap(map_, mapLen_);
  map_ = nullptr;
  mapLen_ = 0;
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool PacketRing::Next(RingPacket* out) {
  if (!map_) return false;
  auto* h = reinterpret_cast<tpacket2_hdr*>(map_ + size_t(head_) * kFrameSize);
  uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
  if (!(status & TP_STATUS_USER)) return false;
  // The frames were written by another CPU: start fetching the next ones' headers and data.
  const uint8_t* ahead = map_ + size_t(head_ + 2 < frameNr_ ? head_ + 2 : head_ + 2 - frameNr_) * kFrameSize;
  __builtin_prefetch(ahead);
  __builtin_prefetch(ahead + 64);
  const auto* sll = reinterpret_cast<const sockaddr_ll*>(reinterpret_cast<const uint8_t*>(h) +
                                                          TPACKET_ALIGN(sizeof(tpacket2_hdr)));
  out->ip = reinterpret_cast<const uint8_t*>(h) + h->tp_net;
  out->caplen = h->tp_snaplen;
  out->wireLen = h->tp_len;
  out->ifindex = static_cast<uint32_t>(sll->sll_ifindex);
  out->pktType = sll->sll_pkttype;
  out->timeMs = h->tp_sec * 1e3 + h->tp_nsec / 1e6;
  return true;
}

void PacketRing::Release() {
  auto* h = reinterpret_cast<tpacket2_hdr*>(map_ + size_t(head_) * kFrameSize);
  __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
  head_ = head_ + 1 == frameNr_ ? 0 : head_ + 1;
}

uint64_t PacketRing::TakeDrops() {
  if (fd_ < 0) return 0;
  tpacket_stats st{};
  socklen_t len = sizeof st;
  if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0) return 0;
  return st.tp_drops;
}

}  // namespace carpio
