// Raw IPv4/IPv6 sockets for IP protocol 112 (CARP/VRRP), one per interface and family.
// Receive: recvmmsg batches driven by uv_poll; each batch reaches JS as one data Buffer plus one
// metadata Buffer of fixed 64-byte records (layout below, mirrored in src/host/rawsock.ts).
// Send: sendmsg to the group or a unicast peer, optionally choosing the source address (PKTINFO).
// Ring mode (ringBytes > 0): receive through an AF_PACKET TPACKET_V2 ring instead (packet_ring.h),
// same records, up to kRingBatch packets per JS call; the raw socket stays for sending and for the
// group membership (so the NIC accepts the group) but gets a drop-all filter. Ring batches are
// staged in memory this socket reuses and lent to JS for the call only: onpackets(data, meta,
// count, true) gets Buffers whose ArrayBuffers are detached when it returns (a kept view reads as
// empty, never as stale or freed memory), so a flood costs no allocation or page fault per batch.
// Flood mitigation (ring mode, as NAPI does for NICs): a lone advert is delivered the moment it is
// written, but once more than kBusyPackets arrive within a millisecond the socket stops waking on
// every packet and drains the ring from a 1 ms timer instead, until a tick finds fewer than
// kIdlePackets; so a flood is delivered in large batches at a bounded extra delay of ~1 ms.
#include <napi.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netpacket/packet.h>
#include <sys/socket.h>
#include <unistd.h>
#include <memory>
#include <vector>
#include "io.h"
#include "io_common.h"
#include "packet_ring.h"

namespace carpio {
namespace {

constexpr int kProto = 112;
constexpr int kBatch = 64;         // datagrams per recvmmsg
constexpr int kMaxBatches = 16;    // per poll wakeup, so a flood cannot starve the event loop
constexpr size_t kSlot = 2048;     // bytes per datagram; CARP/VRRP adverts are < 100 bytes
constexpr size_t kCtl = 256;       // ancillary data per datagram
constexpr size_t kMeta = 64;       // bytes per metadata record
constexpr int kRingBatch = 1024;   // ring mode: packets per JS call
constexpr size_t kStage = 256 * 1024;  // ring mode: payload staging bytes per JS call
constexpr int kBusyPackets = 64;       // ring mode: packets within 1 ms that switch to timer draining
constexpr int kIdlePackets = 8;        // ring mode: fewer per timer tick switch back to waking per packet

// Metadata record (little endian):
//   0 u32 offset of the IP payload in the data buffer   4 u32 payload length
//   8 i32 TTL / hop limit (-1 unknown)                  12 u32 ifindex
//  16 f64 kernel receive time, ms since the epoch       24 u8 family (4|6)   25 u8 flags (1 = truncated)
//  32 16 bytes source address                            48 16 bytes destination address
constexpr uint8_t kFlagTrunc = 1;

class RawSocket : public Napi::ObjectWrap<RawSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RawSocket", {
      InstanceMethod<&RawSocket::Send>("send"),
      InstanceMethod<&RawSocket::Close>("close"),
      InstanceMethod<&RawSocket::SetRef>("setRef"),
      InstanceAccessor<&RawSocket::GetFd>("fd"),
      InstanceAccessor<&RawSocket::GetRingFd>("ringFd"),
      InstanceAccessor<&RawSocket::GetRingFrames>("ringFrames"),
      InstanceAccessor<&RawSocket::GetIfindex>("ifindex"),
      InstanceAccessor<&RawSocket::GetStats>("stats"),
    });
  }

  // new RawSocket(ifname, family, group, ttl, tos, rcvbuf?, ringBytes?)   tos < 0 / rcvbuf 0: kernel
  // defaults; ringBytes > 0: receive through a packet ring of about that size.
  explicit RawSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RawSocket>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 5 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsString() ||
        !info[3].IsNumber() || !info[4].IsNumber()) {
      Napi::TypeError::New(env, "RawSocket(ifname, family, group, ttl, tos)").ThrowAsJavaScriptException();
      return;
    }
    ifname_ = info[0].As<Napi::String>().Utf8Value();
    family_ = info[1].As<Napi::Number>().Int32Value();
    std::string group = info[2].As<Napi::String>().Utf8Value();
    int ttl = info[3].As<Napi::Number>().Int32Value();
    int tos = info[4].As<Napi::Number>().Int32Value();
    int rcvbuf = info.Length() > 5 && info[5].IsNumber() ? info[5].As<Napi::Number>().Int32Value() : 0;
    double ringBytes = info.Length() > 6 && info[6].IsNumber() ? info[6].As<Napi::Number>().DoubleValue() : 0;
    if (!(ringBytes >= 0 && ringBytes <= 1024.0 * 1024 * 1024)) {
      Napi::RangeError::New(env, "ring size must be 0..1 GiB").ThrowAsJavaScriptException();
      return;
    }
    ring_ = ringBytes > 0;
    if (family_ != 4 && family_ != 6) {
      Napi::TypeError::New(env, "family must be 4 or 6").ThrowAsJavaScriptException();
      return;
    }
    if (ttl < 1 || ttl > 255) {
      Napi::RangeError::New(env, "ttl must be 1..255").ThrowAsJavaScriptException();
      return;
    }
    if (ifname_.empty() || ifname_.size() >= IFNAMSIZ) {
      MakeErrnoError(env, ENODEV, "open", ifname_).ThrowAsJavaScriptException();
      return;
    }
    if (family_ == 4 ? inet_pton(AF_INET, group.c_str(), &group4_) != 1
                     : inet_pton(AF_INET6, group.c_str(), &group6_) != 1) {
      Napi::TypeError::New(env, "bad IPv" + std::to_string(family_) + " group address: " + group)
          .ThrowAsJavaScriptException();
      return;
    }
    ifindex_ = if_nametoindex(ifname_.c_str());
    if (ifindex_ == 0) {
      MakeErrnoError(env, ENODEV, "open", ifname_).ThrowAsJavaScriptException();
      return;
    }
    const char* step = "socket";
    int err = Open(ttl, tos, ring_ ? 0 : rcvbuf, &step);
    if (err == 0 && ring_) {
      step = "SO_ATTACH_FILTER";
      err = AttachDropAllFilter(fd_);
      if (err == 0) err = ring_buf_.Open(ifindex_, family_, static_cast<size_t>(ringBytes), &step);
    }
    if (err != 0) {
      CloseFd();
      MakeErrnoError(env, err, step, ifname_).ThrowAsJavaScriptException();
      return;
    }
    AllocBuffers();
    int uvErr = 0;
    poller_ = Poller::Start(env, ring_ ? ring_buf_.fd() : fd_, this, OnReadable, &uvErr);
    if (!poller_) {
      CloseFd();
      Napi::Error::New(env, std::string("uv_poll: ") + uv_strerror(uvErr)).ThrowAsJavaScriptException();
      return;
    }
    if (ring_) timer_ = Timer::Create(env, this);
    HoldSelf(true);
  }

  ~RawSocket() override { Shutdown(); }

 private:
  int Set(int level, int opt, int val) { return setsockopt(fd_, level, opt, &val, sizeof val) == 0 ? 0 : errno; }

  int Open(int ttl, int tos, int rcvbuf, const char** step) {
    int af = family_ == 4 ? AF_INET : AF_INET6;
    fd_ = socket(af, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, kProto);
    if (fd_ < 0) { *step = "socket"; return errno; }
    *step = "SO_BINDTODEVICE";
    if (setsockopt(fd_, SOL_SOCKET, SO_BINDTODEVICE, ifname_.c_str(), ifname_.size() + 1) != 0) return errno;
    int err;
    if (rcvbuf > 0) {
      // Root may exceed net.core.rmem_max (FORCE); otherwise the kernel caps the request.
      *step = "SO_RCVBUF";
      if (Set(SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf) != 0 && (err = Set(SOL_SOCKET, SO_RCVBUF, rcvbuf))) return err;
    }
    *step = "SO_TIMESTAMPNS";
    if ((err = Set(SOL_SOCKET, SO_TIMESTAMPNS, 1))) return err;
    if (family_ == 4) {
      struct ip_mreqn mreq{};
      mreq.imr_multiaddr = group4_;
      mreq.imr_ifindex = static_cast<int>(ifindex_);
      *step = "IP_ADD_MEMBERSHIP";
      if (setsockopt(fd_, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0) return errno;
      *step = "IP_MULTICAST_IF";
      if (setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof mreq) != 0) return errno;
      *step = "IP_MULTICAST_TTL";
      if ((err = Set(IPPROTO_IP, IP_MULTICAST_TTL, ttl))) return err;
      *step = "IP_TTL";
      if ((err = Set(IPPROTO_IP, IP_TTL, ttl))) return err;
      *step = "IP_MULTICAST_LOOP";
      if ((err = Set(IPPROTO_IP, IP_MULTICAST_LOOP, 0))) return err;
      *step = "IP_RECVTTL";
      if ((err = Set(IPPROTO_IP, IP_RECVTTL, 1))) return err;
      *step = "IP_PKTINFO";
      if ((err = Set(IPPROTO_IP, IP_PKTINFO, 1))) return err;
      // DF set and no local fragmentation (as FreeBSD, OpenBSD and ucarp); oversize sends fail EMSGSIZE.
      *step = "IP_MTU_DISCOVER";
      if ((err = Set(IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO))) return err;
      if (tos >= 0) {
        *step = "IP_TOS";
        if ((err = Set(IPPROTO_IP, IP_TOS, tos))) return err;
      }
    } else {
      struct ipv6_mreq mreq{};
      mreq.ipv6mr_multiaddr = group6_;
      mreq.ipv6mr_interface = ifindex_;
      *step = "IPV6_JOIN_GROUP";
      if (setsockopt(fd_, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof mreq) != 0) return errno;
      *step = "IPV6_MULTICAST_IF";
      if ((err = Set(IPPROTO_IPV6, IPV6_MULTICAST_IF, static_cast<int>(ifindex_)))) return err;
      *step = "IPV6_MULTICAST_HOPS";
      if ((err = Set(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl))) return err;
      *step = "IPV6_UNICAST_HOPS";
      if ((err = Set(IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl))) return err;
      *step = "IPV6_MULTICAST_LOOP";
      if ((err = Set(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0))) return err;
      *step = "IPV6_RECVHOPLIMIT";
      if ((err = Set(IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1))) return err;
      *step = "IPV6_RECVPKTINFO";
      if ((err = Set(IPPROTO_IPV6, IPV6_RECVPKTINFO, 1))) return err;
      // No local fragmentation either: oversize sends fail with EMSGSIZE.
      *step = "IPV6_MTU_DISCOVER";
      if ((err = Set(IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO))) return err;
      *step = "IPV6_DONTFRAG";
      if ((err = Set(IPPROTO_IPV6, IPV6_DONTFRAG, 1))) return err;
      if (tos >= 0) {
        *step = "IPV6_TCLASS";
        if ((err = Set(IPPROTO_IPV6, IPV6_TCLASS, tos))) return err;
      }
    }
    return 0;
  }

  void AllocBuffers() {
    data_.resize(kBatch * kSlot);
    ctl_.resize(kBatch * kCtl);
    names_.resize(kBatch);
    iov_.resize(kBatch);
    msgs_.resize(kBatch);
    out_.reserve(kBatch * 128);
    meta_.resize((ring_ ? kRingBatch : kBatch) * kMeta);
    if (ring_) stage_.reset(new uint8_t[kStage]);
  }

  void CloseFd() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    ring_buf_.Close();
  }

  // Idempotent: stop polling (handle freed by libuv later), then close the fd.
  void Shutdown() {
    Poller::Stop(poller_);
    Timer::Stop(timer_);
    CloseFd();
  }

  static void OnReadable(uv_poll_t* h, int status, int /*events*/) {
    auto* self = static_cast<RawSocket*>(h->data);
    if (!self) return;
    if (status < 0) {
      // POLLERR: libuv has stopped the handle. Clear the socket error, count it, keep listening.
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(self->ring_ ? self->ring_buf_.fd() : self->fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      self->recvErrors_++;
      if (self->poller_ && !self->deferred_) uv_poll_start(&self->poller_->handle, UV_READABLE, OnReadable);
    }
    self->Drain();
  }

  void Drain() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object obj = Value();
    if (obj.IsEmpty()) { Shutdown(); return; }  // collected, finalizer pending
    if (ring_) { Mitigate(DrainRing(env, obj)); return; }
    for (int round = 0; round < kMaxBatches && fd_ >= 0; round++) {
      for (int i = 0; i < kBatch; i++) {
        iov_[i].iov_base = &data_[i * kSlot];
        iov_[i].iov_len = kSlot;
        msghdr& m = msgs_[i].msg_hdr;
        m.msg_name = &names_[i];
        m.msg_namelen = sizeof names_[i];
        m.msg_iov = &iov_[i];
        m.msg_iovlen = 1;
        m.msg_control = &ctl_[i * kCtl];
        m.msg_controllen = kCtl;
        m.msg_flags = 0;
      }
      int n = recvmmsg(fd_, msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) {
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) recvErrors_++;
        return;
      }
      int count = Pack(n);
      received_ += n;
      if (count == 0) continue;
      Napi::Buffer<uint8_t> data = Napi::Buffer<uint8_t>::Copy(env, out_.data(), out_.size());
      Napi::Buffer<uint8_t> meta = Napi::Buffer<uint8_t>::Copy(env, meta_.data(), count * kMeta);
      CallJs(env, obj, "onpackets", {data, meta, Napi::Number::New(env, count)});
      if (n < kBatch) return;
    }
  }

  static void OnTimer(uv_timer_t* h) {
    auto* self = static_cast<RawSocket*>(h->data);
    if (self) self->Drain();
  }

  // After a drain of n packets: switch between waking per packet and draining from the timer.
  void Mitigate(int n) {
    if (!poller_ || !timer_) return;
    uint64_t now = uv_hrtime();
    if (deferred_) {
      if (n >= kIdlePackets) {
        uv_timer_start(&timer_->handle, OnTimer, 1, 0);
        return;
      }
      deferred_ = false;
      uv_poll_start(&poller_->handle, UV_READABLE, OnReadable);
      windowStart_ = now;
      windowCount_ = 0;
      return;
    }
    if (now - windowStart_ > 1000000) {
      windowStart_ = now;
      windowCount_ = 0;
    }
    windowCount_ += n;
    if (windowCount_ >= kBusyPackets) {
      deferred_ = true;
      floods_++;
      uv_poll_stop(&poller_->handle);
      uv_timer_start(&timer_->handle, OnTimer, 1, 0);
    }
  }

  // Returns the packets delivered.
  int DrainRing(Napi::Env env, Napi::Object obj) {
    int total = 0;
    for (int round = 0; round < kMaxBatches && fd_ >= 0; round++) {
      stageLen_ = 0;
      int count = 0;
      RingPacket p;
      // Stop while a whole frame's payload still fits the staging area.
      while (count < kRingBatch && kStage - stageLen_ >= PacketRing::kFrameSize && ring_buf_.Next(&p)) {
        if (PackRing(p, &meta_[count * kMeta])) count++;
        ring_buf_.Release();
      }
      if (count == 0) return total;
      received_ += count;
      total += count;
      // Lent, not copied: external Buffers over the staging memory, detached after the call.
      Napi::Buffer<uint8_t> data = Napi::Buffer<uint8_t>::New(env, stage_.get(), stageLen_);
      Napi::Buffer<uint8_t> meta = Napi::Buffer<uint8_t>::New(env, meta_.data(), count * kMeta);
      CallJs(env, obj, "onpackets", {data, meta, Napi::Number::New(env, count), Napi::Boolean::New(env, true)});
      data.ArrayBuffer().Detach();
      meta.ArrayBuffer().Detach();
      if (count < kRingBatch && kStage - stageLen_ >= PacketRing::kFrameSize) return total;
    }
    return total;
  }

  // Checks one ring datagram as the IP layer would for a raw socket (this interface, addressed to
  // this host, whole header, IPv4 header checksum, not a fragment, protocol 112 after any IPv6
  // extension headers), then appends its payload to stage_ and fills its record. False: skipped.
  bool PackRing(const RingPacket& p, uint8_t* rec) {
    if (p.ifindex != ifindex_ || p.pktType == PACKET_OTHERHOST || p.pktType == PACKET_OUTGOING) {
      filtered_++;  // e.g. a VLAN sub-interface's traffic seen on its parent
      return false;
    }
    const uint8_t* ip = p.ip;
    size_t len = p.caplen, off;
    int32_t ttl;
    std::memset(rec, 0, kMeta);
    if (family_ == 4) {
      if (len < 20 || (ip[0] >> 4) != 4) { badLen_++; return false; }
      size_t ihl = (ip[0] & 0x0f) * 4u;
      size_t total = (size_t(ip[2]) << 8) | ip[3];
      if (ihl < 20 || ihl > len || total < ihl) { badLen_++; return false; }
      uint32_t sum = 0;
      for (size_t i = 0; i < ihl; i += 2) sum += (uint32_t(ip[i]) << 8) | ip[i + 1];
      while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
      if (sum != 0xffff || (((ip[6] << 8) | ip[7]) & 0x3fff) != 0) { filtered_++; return false; }  // bad sum / fragment
      if (total < len) len = total;
      off = ihl;
      ttl = ip[8];
      std::memcpy(rec + 32, ip + 12, 4);
      std::memcpy(rec + 48, ip + 16, 4);
    } else {
      if (len < 40 || (ip[0] >> 4) != 6) { badLen_++; return false; }
      size_t total = 40 + ((size_t(ip[4]) << 8) | ip[5]);
      if (total < len) len = total;
      uint8_t nh = ip[6];
      off = 40;
      for (int hops = 0; nh != kProto; hops++) {
        if ((nh != 0 && nh != 43 && nh != 60) || hops == 8 || off + 2 > len) { filtered_++; return false; }
        nh = ip[off];
        off += (size_t(ip[off + 1]) + 1) * 8;
      }
      if (off > len) { badLen_++; return false; }
      ttl = ip[7];
      std::memcpy(rec + 32, ip + 8, 16);
      std::memcpy(rec + 48, ip + 24, 16);
    }
    uint32_t o = static_cast<uint32_t>(stageLen_);
    uint32_t l = static_cast<uint32_t>(len - off);
    std::memcpy(stage_.get() + stageLen_, ip + off, l);  // l < kFrameSize: the caller checked room
    stageLen_ += l;
    std::memcpy(rec + 0, &o, 4);
    std::memcpy(rec + 4, &l, 4);
    std::memcpy(rec + 8, &ttl, 4);
    std::memcpy(rec + 12, &p.ifindex, 4);
    std::memcpy(rec + 16, &p.timeMs, 8);
    rec[24] = static_cast<uint8_t>(family_);
    rec[25] = p.wireLen > p.caplen ? kFlagTrunc : 0;
    return true;
  }

  // Moves the IP payloads of n received datagrams into out_ and writes their records into meta_.
  int Pack(int n) {
    out_.clear();
    std::memset(meta_.data(), 0, n * kMeta);
    int count = 0;
    for (int i = 0; i < n; i++) {
      const msghdr& m = msgs_[i].msg_hdr;
      const uint8_t* pkt = &data_[i * kSlot];
      size_t len = msgs_[i].msg_len;
      uint8_t* rec = &meta_[count * kMeta];
      int32_t ttl = -1;
      uint32_t ifindex = 0;
      double time = 0;
      uint8_t flags = (m.msg_flags & MSG_TRUNC) ? kFlagTrunc : 0;
      if (len > kSlot) len = kSlot;
      size_t off = 0;
      if (family_ == 4) {
        // IPv4 raw sockets deliver the IP header; strip it (the payload is what the codec wants).
        if (len < 20) { badLen_++; continue; }
        size_t ihl = (pkt[0] & 0x0f) * 4u;
        size_t total = (size_t(pkt[2]) << 8) | pkt[3];
        if (ihl < 20 || ihl > len) { badLen_++; continue; }
        if (total >= ihl && total < len) len = total;
        off = ihl;
        ttl = pkt[8];
        std::memcpy(rec + 32, pkt + 12, 4);  // src, dst from the header; PKTINFO below refines
        std::memcpy(rec + 48, pkt + 16, 4);
      } else {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&names_[i]);
        std::memcpy(rec + 32, &sin6->sin6_addr, 16);
      }
      for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&m), c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts;
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          time = ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
          int v;
          std::memcpy(&v, CMSG_DATA(c), sizeof v);
          ttl = v;
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
          in_pktinfo pi;
          std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
          ifindex = static_cast<uint32_t>(pi.ipi_ifindex);
          std::memcpy(rec + 48, &pi.ipi_addr, 4);
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
          int v;
          std::memcpy(&v, CMSG_DATA(c), sizeof v);
          ttl = v;
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
          in6_pktinfo pi;
          std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
          ifindex = pi.ipi6_ifindex;
          std::memcpy(rec + 48, &pi.ipi6_addr, 16);
        }
      }
      if (time == 0) time = NowMs();
      uint32_t o = static_cast<uint32_t>(out_.size());
      uint32_t l = static_cast<uint32_t>(len - off);
      out_.insert(out_.end(), pkt + off, pkt + len);
      std::memcpy(rec + 0, &o, 4);
      std::memcpy(rec + 4, &l, 4);
      std::memcpy(rec + 8, &ttl, 4);
      std::memcpy(rec + 12, &ifindex, 4);
      std::memcpy(rec + 16, &time, 8);
      rec[24] = static_cast<uint8_t>(family_);
      rec[25] = flags;
      count++;
    }
    return count;
  }

  // send(payload: Buffer, dst?: string, src?: string) → 0 on success, else the errno (a value, so the
  // caller can count send errors). Misuse (closed socket, bad address text) throws.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) {
      Napi::Error e = Napi::Error::New(env, "send on closed socket (" + ifname_ + ")");
      e.Value().Set("code", Napi::String::New(env, "ERR_SOCKET_CLOSED"));
      e.ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (info.Length() < 1 || !info[0].IsBuffer()) {
      Napi::TypeError::New(env, "send(payload: Buffer, dst?: string, src?: string)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto buf = info[0].As<Napi::Buffer<uint8_t>>();
    bool hasDst = info.Length() > 1 && info[1].IsString();
    bool hasSrc = info.Length() > 2 && info[2].IsString();
    std::string dst = hasDst ? info[1].As<Napi::String>().Utf8Value() : "";
    std::string src = hasSrc ? info[2].As<Napi::String>().Utf8Value() : "";

    msghdr m{};
    iovec iov{buf.Data(), buf.Length()};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    alignas(cmsghdr) uint8_t ctl[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
    sockaddr_in sin{};
    sockaddr_in6 sin6{};
    if (family_ == 4) {
      sin.sin_family = AF_INET;
      sin.sin_addr = group4_;
      if (hasDst && inet_pton(AF_INET, dst.c_str(), &sin.sin_addr) != 1) return BadAddr(env, "dst", dst);
      m.msg_name = &sin;
      m.msg_namelen = sizeof sin;
      if (hasSrc) {
        in_pktinfo pi{};
        if (inet_pton(AF_INET, src.c_str(), &pi.ipi_spec_dst) != 1) return BadAddr(env, "src", src);
        pi.ipi_ifindex = static_cast<int>(ifindex_);
        m.msg_control = ctl;
        m.msg_controllen = CMSG_SPACE(sizeof pi);
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof pi);
        std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
      }
    } else {
      sin6.sin6_family = AF_INET6;
      sin6.sin6_addr = group6_;
      if (hasDst && inet_pton(AF_INET6, dst.c_str(), &sin6.sin6_addr) != 1) return BadAddr(env, "dst", dst);
      sin6.sin6_scope_id = ifindex_;  // needed for link-local destinations, ignored for global ones
      m.msg_name = &sin6;
      m.msg_namelen = sizeof sin6;
      if (hasSrc) {
        in6_pktinfo pi{};
        if (inet_pton(AF_INET6, src.c_str(), &pi.ipi6_addr) != 1) return BadAddr(env, "src", src);
        pi.ipi6_ifindex = ifindex_;
        m.msg_control = ctl;
        m.msg_controllen = CMSG_SPACE(sizeof pi);
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof pi);
        std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
      }
    }
    ssize_t r;
    do r = sendmsg(fd_, &m, MSG_DONTWAIT); while (r < 0 && errno == EINTR);
    if (r < 0) {
      sendErrors_++;
      return Napi::Number::New(env, errno);
    }
    sent_++;
    return Napi::Number::New(env, 0);
  }

  Napi::Value BadAddr(Napi::Env env, const char* what, const std::string& text) {
    Napi::TypeError::New(env, std::string("bad IPv") + std::to_string(family_) + " " + what + " address: " + text)
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    HoldSelf(false);
    return info.Env().Undefined();
  }

  Napi::Value SetRef(const Napi::CallbackInfo& info) {
    bool on = info.Length() > 0 && info[0].ToBoolean();
    if (poller_) poller_->Ref(on);
    if (timer_) timer_->Ref(on);
    if (poller_) HoldSelf(on);
    return info.Env().Undefined();
  }

  // While open and referenced the JS object is strongly held (as node holds its own handles), so a
  // socket nobody stores keeps delivering; unref'd or closed it is weak and the GC may finalize it.
  void HoldSelf(bool on) {
    if (on && !held_) { Ref(); held_ = true; }
    else if (!on && held_) { Unref(); held_ = false; }
  }

  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  Napi::Value GetRingFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ring_buf_.fd()); }
  Napi::Value GetRingFrames(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ring_buf_.frames()); }
  Napi::Value GetIfindex(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ifindex_); }
  Napi::Value GetStats(const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("received", Napi::Number::New(info.Env(), double(received_)));
    o.Set("sent", Napi::Number::New(info.Env(), double(sent_)));
    o.Set("sendErrors", Napi::Number::New(info.Env(), double(sendErrors_)));
    o.Set("recvErrors", Napi::Number::New(info.Env(), double(recvErrors_)));
    o.Set("badLen", Napi::Number::New(info.Env(), double(badLen_)));
    if (ring_) {
      dropped_ += ring_buf_.TakeDrops();
      o.Set("filtered", Napi::Number::New(info.Env(), double(filtered_)));
      o.Set("dropped", Napi::Number::New(info.Env(), double(dropped_)));
      o.Set("floods", Napi::Number::New(info.Env(), double(floods_)));
    }
    return o;
  }

  std::string ifname_;
  int family_ = 4;
  unsigned ifindex_ = 0;
  in_addr group4_{};
  in6_addr group6_{};
  int fd_ = -1;
  Poller* poller_ = nullptr;
  Timer* timer_ = nullptr;  // ring mode: flood mitigation
  bool deferred_ = false;
  uint64_t windowStart_ = 0;
  int windowCount_ = 0;
  bool held_ = false;
  bool ring_ = false;
  PacketRing ring_buf_;
  std::vector<uint8_t> data_, ctl_, out_, meta_;
  std::unique_ptr<uint8_t[]> stage_;
  size_t stageLen_ = 0;
  std::vector<sockaddr_storage> names_;
  std::vector<iovec> iov_;
  std::vector<mmsghdr> msgs_;
  uint64_t received_ = 0, sent_ = 0, sendErrors_ = 0, recvErrors_ = 0, badLen_ = 0;
  uint64_t filtered_ = 0, dropped_ = 0, floods_ = 0;
};

}  // namespace

void InitRawSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("RawSocket", RawSocket::Define(env));
}

}  // namespace carpio
