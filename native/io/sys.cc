// Small host effects the daemon needs without spawning anything: unix datagram sends (sd_notify,
// syslog), SCHED_FIFO for CARP_RTPRIO, SO_PEERCRED of the control socket, and an AF_PACKET frame
// sender for GARP/NA and the --nomcast broadcast advert. Flat functions on file descriptors; every
// failure comes back as the errno name (a string), never as an exception.
#include <napi.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <net/ethernet.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <string>
#include "io_common.h"
#include "netns.h"
#include "sys.h"

namespace carpio {
namespace {

Napi::Value Err(Napi::Env env, int err) { return Napi::String::New(env, ErrnoName(err)); }

bool IntArg(const Napi::CallbackInfo& info, size_t i, int64_t* out) {
  if (info.Length() <= i || !info[i].IsNumber()) return false;
  *out = info[i].As<Napi::Number>().Int64Value();
  return true;
}

// unixDgramOpen(sendTimeoutMs) -> fd | errno name. Close-on-exec. A send to a full receiver waits at
// most sendTimeoutMs (SO_SNDTIMEO), then fails with EAGAIN; 0 = never wait.
Napi::Value UnixDgramOpen(const Napi::CallbackInfo& info) {
  int64_t ms = 0;
  IntArg(info, 0, &ms);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | (ms > 0 ? 0 : SOCK_NONBLOCK), 0);
  if (fd < 0) return Err(info.Env(), errno);
  if (ms > 0) {
    struct timeval tv;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  return Napi::Number::New(info.Env(), fd);
}

// unixDgramSend(fd, path, data, dontWait) -> true | errno name. A path starting with '@' is an abstract
// name. dontWait: fail with EAGAIN at once instead of waiting for room.
Napi::Value UnixDgramSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!IntArg(info, 0, &fd) || info.Length() < 3 || !info[1].IsString() || !info[2].IsBuffer()) return Err(env, EINVAL);
  std::string path = info[1].As<Napi::String>().Utf8Value();
  auto data = info[2].As<Napi::Buffer<uint8_t>>();
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() > sizeof(sa.sun_path) - (path[0] == '@' ? 0 : 1)) return Err(env, ENAMETOOLONG);
  memcpy(sa.sun_path, path.data(), path.size());
  if (path[0] == '@') sa.sun_path[0] = '\0';
  socklen_t len = offsetof(struct sockaddr_un, sun_path) + path.size() + (path[0] == '@' ? 0 : 1);
  ssize_t n;
  int flags = MSG_NOSIGNAL | (info.Length() > 3 && info[3].ToBoolean() ? MSG_DONTWAIT : 0);
  do n = sendto(static_cast<int>(fd), data.Data(), data.Length(), flags, reinterpret_cast<sockaddr*>(&sa), len);
  while (n < 0 && errno == EINTR);
  if (n < 0) return Err(env, errno);
  return Napi::Boolean::New(env, true);
}

// closeFd(fd) -> true | errno name.
Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int64_t fd;
  if (!IntArg(info, 0, &fd) || fd < 0) return Err(info.Env(), EBADF);
  if (close(static_cast<int>(fd)) != 0 && errno != EINTR) return Err(info.Env(), errno);
  return Napi::Boolean::New(info.Env(), true);
}

// setRealtimePriority(prio) -> true | errno name. SCHED_FIFO for the calling (event loop) thread, as
// `chrt -f -p PRIO PID` does for the main thread.
Napi::Value SetRealtimePriority(const Napi::CallbackInfo& info) {
  int64_t prio;
  if (!IntArg(info, 0, &prio)) return Err(info.Env(), EINVAL);
  struct sched_param sp;
  memset(&sp, 0, sizeof sp);
  sp.sched_priority = static_cast<int>(prio);
  if (sched_setscheduler(0, prio > 0 ? SCHED_FIFO : SCHED_OTHER, &sp) != 0) return Err(info.Env(), errno);
  return Napi::Boolean::New(info.Env(), true);
}

// schedulerOf() -> { policy, priority } of the calling thread (for tests and status).
Napi::Value SchedulerOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pol = sched_getscheduler(0);
  struct sched_param sp;
  if (pol < 0 || sched_getparam(0, &sp) != 0) return Err(env, errno);
  Napi::Object o = Napi::Object::New(env);
  o.Set("policy", Napi::String::New(env, pol == SCHED_FIFO ? "fifo" : pol == SCHED_RR ? "rr" : "other"));
  o.Set("priority", Napi::Number::New(env, sp.sched_priority));
  return o;
}

// peerCredentials(fd) -> { pid, uid, gid } | errno name.
Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!IntArg(info, 0, &fd) || fd < 0) return Err(env, EBADF);
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return Err(env, errno);
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", Napi::Number::New(env, cred.pid));
  o.Set("uid", Napi::Number::New(env, cred.uid));
  o.Set("gid", Napi::Number::New(env, cred.gid));
  return o;
}

// packetOpen(ifindex, netns) -> fd | errno name. An AF_PACKET SOCK_RAW socket bound to the interface
// (protocol 0: it receives nothing), created inside netns when one is named ("" = ours).
Napi::Value PacketOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t ifindex;
  if (!IntArg(info, 0, &ifindex) || ifindex <= 0) return Err(env, ENODEV);
  std::string ns = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  int fd = -1;
  int err = InNetns(ns, [&]() -> int {
    fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    return fd < 0 ? errno : 0;
  });
  if (err != 0) return Err(env, err);
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = 0;
  sll.sll_ifindex = static_cast<int>(ifindex);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
    err = errno;
    close(fd);
    return Err(env, err);
  }
  return Napi::Number::New(env, fd);
}

// packetSend(fd, frame) -> true | errno name. The frame is a whole Ethernet frame (dst, src, type, ...).
Napi::Value PacketSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!IntArg(info, 0, &fd) || info.Length() < 2 || !info[1].IsBuffer()) return Err(env, EINVAL);
  auto data = info[1].As<Napi::Buffer<uint8_t>>();
  if (data.Length() < 14) return Err(env, EINVAL);
  ssize_t n;
  do n = send(static_cast<int>(fd), data.Data(), data.Length(), 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return Err(env, errno);
  return Napi::Boolean::New(env, true);
}

}  // namespace

void InitSys(Napi::Env env, Napi::Object exports) {
  exports.Set("unixDgramOpen", Napi::Function::New<UnixDgramOpen>(env, "unixDgramOpen"));
  exports.Set("unixDgramSend", Napi::Function::New<UnixDgramSend>(env, "unixDgramSend"));
  exports.Set("closeFd", Napi::Function::New<CloseFd>(env, "closeFd"));
  exports.Set("setRealtimePriority", Napi::Function::New<SetRealtimePriority>(env, "setRealtimePriority"));
  exports.Set("schedulerOf", Napi::Function::New<SchedulerOf>(env, "schedulerOf"));
  exports.Set("peerCredentials", Napi::Function::New<PeerCredentials>(env, "peerCredentials"));
  exports.Set("packetOpen", Napi::Function::New<PacketOpen>(env, "packetOpen"));
  exports.Set("packetSend", Napi::Function::New<PacketSend>(env, "packetSend"));
}

}  // namespace carpio
