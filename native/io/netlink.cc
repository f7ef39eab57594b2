// rtnetlink (NETLINK_ROUTE) for the host layer: address add/delete/list, link get/list/set, macvlan
// create/delete (virtual MAC mode), neighbour lookup, the
// inet devconf promote_secondaries, and one event subscription (links, IPv4 and IPv6 addresses)
// driven by libuv. Requests are synchronous (send, then read until the kernel's ACK or NLMSG_DONE) on
// a socket the caller opens once per network namespace. Failures come back as errno names (strings).
// Parsing into plain objects only; what an event means is decided in TypeScript (src/host/netlink.ts).
#include <napi.h>
#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/netlink.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>
#include "io_common.h"
#include "netns.h"
#include "sys.h"

namespace carpio {
namespace {

constexpr size_t kRecvBuf = 64 * 1024;
uint32_t g_seq = 1;

Napi::Value Err(Napi::Env env, int err) { return Napi::String::New(env, ErrnoName(err)); }

// A netlink message under construction: header, family header, then attributes (nested ones too).
struct Msg {
  std::vector<char> buf;
  Msg(uint16_t type, uint16_t flags, const void* body, size_t bodyLen) {
    buf.resize(NLMSG_LENGTH(bodyLen));
    auto* h = hdr();
    h->nlmsg_type = type;
    h->nlmsg_flags = flags;
    h->nlmsg_seq = g_seq++;
    memcpy(NLMSG_DATA(h), body, bodyLen);
    h->nlmsg_len = buf.size();
  }
  nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf.data()); }
  size_t Attr(uint16_t type, const void* data, size_t len) {
    size_t at = NLMSG_ALIGN(buf.size());
    buf.resize(at + RTA_ALIGN(RTA_LENGTH(len)), 0);
    auto* rta = reinterpret_cast<rtattr*>(buf.data() + at);
    rta->rta_type = type;
    rta->rta_len = RTA_LENGTH(len);
    if (len) memcpy(RTA_DATA(rta), data, len);
    hdr()->nlmsg_len = buf.size();
    return at;
  }
  size_t Nest(uint16_t type) { return Attr(type | NLA_F_NESTED, nullptr, 0); }
  void EndNest(size_t at) { reinterpret_cast<rtattr*>(buf.data() + at)->rta_len = buf.size() - at; }
};

// Sends msg and reads replies until the ACK (or NLMSG_DONE for a dump); each data message goes to
// onMsg. Returns 0 or a positive errno.
int Request(int fd, Msg& m, const std::function<void(nlmsghdr*)>& onMsg) {
  sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  uint32_t seq = m.hdr()->nlmsg_seq;
  ssize_t n;
  do n = sendto(fd, m.buf.data(), m.buf.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  std::vector<char> rb(kRecvBuf);
  for (;;) {
    do n = recv(fd, rb.data(), rb.size(), 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EAGAIN ? ETIMEDOUT : errno;
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(rb.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue;  // a late reply to an earlier, timed-out request
      if (h->nlmsg_type == NLMSG_DONE) return 0;
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
        return -e->error;  // 0 = ACK
      }
      if (onMsg) onMsg(h);
    }
  }
}

bool IntArg(const Napi::CallbackInfo& info, size_t i, int64_t* out) {
  if (info.Length() <= i || !info[i].IsNumber()) return false;
  *out = info[i].As<Napi::Number>().Int64Value();
  return true;
}

std::string MacString(const unsigned char* p, size_t len) {
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < len; i++) {
    if (i) s += ':';
    s += hex[p[i] >> 4];
    s += hex[p[i] & 15];
  }
  return s;
}

const char* OperState(int s) {
  switch (s) {
    case IF_OPER_NOTPRESENT: return "NOTPRESENT";
    case IF_OPER_DOWN: return "DOWN";
    case IF_OPER_LOWERLAYERDOWN: return "LOWERLAYERDOWN";
    case IF_OPER_TESTING: return "TESTING";
    case IF_OPER_DORMANT: return "DORMANT";
    case IF_OPER_UP: return "UP";
    default: return "UNKNOWN";
  }
}

// RTM_NEWLINK/DELLINK -> { ifindex, name, mac, flags, up, running, lowerUp, operstate, mtu, linkType,
// promoteSecondaries? }.
Napi::Object ParseLink(Napi::Env env, nlmsghdr* h) {
  auto* ifi = static_cast<ifinfomsg*>(NLMSG_DATA(h));
  Napi::Object o = Napi::Object::New(env);
  o.Set("ifindex", Napi::Number::New(env, ifi->ifi_index));
  o.Set("flags", Napi::Number::New(env, ifi->ifi_flags));
  o.Set("up", Napi::Boolean::New(env, (ifi->ifi_flags & IFF_UP) != 0));
  o.Set("running", Napi::Boolean::New(env, (ifi->ifi_flags & IFF_RUNNING) != 0));
  o.Set("lowerUp", Napi::Boolean::New(env, (ifi->ifi_flags & IFF_LOWER_UP) != 0));
  o.Set("linkType", Napi::Number::New(env, ifi->ifi_type));
  o.Set("mac", env.Null());
  int len = IFLA_PAYLOAD(h);
  for (auto* a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    switch (a->rta_type) {
      case IFLA_IFNAME: o.Set("name", Napi::String::New(env, static_cast<const char*>(RTA_DATA(a)))); break;
      case IFLA_ADDRESS:
        if (RTA_PAYLOAD(a) == 6) o.Set("mac", Napi::String::New(env, MacString(static_cast<unsigned char*>(RTA_DATA(a)), 6)));
        break;
      case IFLA_MTU: o.Set("mtu", Napi::Number::New(env, *static_cast<uint32_t*>(RTA_DATA(a)))); break;
      case IFLA_OPERSTATE: o.Set("operstate", Napi::String::New(env, OperState(*static_cast<uint8_t*>(RTA_DATA(a))))); break;
      case IFLA_AF_SPEC: {
        int l2 = RTA_PAYLOAD(a);
        for (auto* af = static_cast<rtattr*>(RTA_DATA(a)); RTA_OK(af, l2); af = RTA_NEXT(af, l2)) {
          if ((af->rta_type & NLA_TYPE_MASK) != AF_INET) continue;
          int l3 = RTA_PAYLOAD(af);
          for (auto* c = static_cast<rtattr*>(RTA_DATA(af)); RTA_OK(c, l3); c = RTA_NEXT(c, l3)) {
            if ((c->rta_type & NLA_TYPE_MASK) != IFLA_INET_CONF) continue;
            // An array of u32 indexed by IPV4_DEVCONF_* - 1.
            size_t idx = IPV4_DEVCONF_PROMOTE_SECONDARIES - 1;
            if (RTA_PAYLOAD(c) >= (idx + 1) * 4)
              o.Set("promoteSecondaries", Napi::Boolean::New(env, static_cast<uint32_t*>(RTA_DATA(c))[idx] != 0));
          }
        }
        break;
      }
    }
  }
  return o;
}

// RTM_NEWADDR/DELADDR -> { ifindex, family, address, prefix, label?, flags }.
Napi::Object ParseAddr(Napi::Env env, nlmsghdr* h) {
  auto* ifa = static_cast<ifaddrmsg*>(NLMSG_DATA(h));
  Napi::Object o = Napi::Object::New(env);
  o.Set("ifindex", Napi::Number::New(env, ifa->ifa_index));
  o.Set("family", Napi::Number::New(env, ifa->ifa_family == AF_INET ? 4 : 6));
  o.Set("prefix", Napi::Number::New(env, ifa->ifa_prefixlen));
  o.Set("scope", Napi::Number::New(env, ifa->ifa_scope));
  uint32_t flags = ifa->ifa_flags;
  const void* local = nullptr;
  const void* address = nullptr;
  int len = IFA_PAYLOAD(h);
  for (auto* a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    switch (a->rta_type) {
      case IFA_LOCAL: local = RTA_DATA(a); break;
      case IFA_ADDRESS: address = RTA_DATA(a); break;
      case IFA_LABEL: o.Set("label", Napi::String::New(env, static_cast<const char*>(RTA_DATA(a)))); break;
      case IFA_FLAGS: flags = *static_cast<uint32_t*>(RTA_DATA(a)); break;
    }
  }
  // IPv4: IFA_LOCAL is the address (IFA_ADDRESS is the peer on point-to-point links); IPv6 has only IFA_ADDRESS.
  const void* p = local ? local : address;
  char text[INET6_ADDRSTRLEN] = "";
  if (p) inet_ntop(ifa->ifa_family, p, text, sizeof text);
  o.Set("address", Napi::String::New(env, text));
  o.Set("flags", Napi::Number::New(env, flags));
  return o;
}

// netlinkOpen(netns) -> fd | errno name. A request socket (no groups), blocking with a 2 s timeout.
Napi::Value NetlinkOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ns = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  int fd = -1;
  int err = InNetns(ns, [&]() -> int {
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    return fd < 0 ? errno : 0;
  });
  if (err != 0) return Err(env, err);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    err = errno;
    close(fd);
    return Err(env, err);
  }
  return Napi::Number::New(env, fd);
}

bool ParseIp(int family, const std::string& s, unsigned char* out) {
  return inet_pton(family == 4 ? AF_INET : AF_INET6, s.c_str(), out) == 1;
}

// addrAdd(fd, ifindex, family, address, prefix, label, nodad) -> true | errno name. Resolves after the
// kernel's ACK, i.e. once the address exists. EEXIST if it is already there.
// addrDel(fd, ifindex, family, address, prefix) -> true | errno name (EADDRNOTAVAIL when absent).
Napi::Value AddrChange(const Napi::CallbackInfo& info, bool add) {
  Napi::Env env = info.Env();
  int64_t fd, ifindex, family, prefix;
  if (!IntArg(info, 0, &fd) || !IntArg(info, 1, &ifindex) || !IntArg(info, 2, &family) || info.Length() < 5 ||
      !info[3].IsString() || !IntArg(info, 4, &prefix) || (family != 4 && family != 6) || prefix < 0 ||
      prefix > (family == 4 ? 32 : 128))
    return Err(env, EINVAL);
  unsigned char addr[16];
  if (!ParseIp(static_cast<int>(family), info[3].As<Napi::String>().Utf8Value(), addr)) return Err(env, EINVAL);
  size_t alen = family == 4 ? 4 : 16;
  ifaddrmsg ifa;
  memset(&ifa, 0, sizeof ifa);
  ifa.ifa_family = family == 4 ? AF_INET : AF_INET6;
  ifa.ifa_prefixlen = static_cast<unsigned char>(prefix);
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = static_cast<uint32_t>(ifindex);
  uint32_t flags = 0;
  std::string label;
  if (add) {
    if (info.Length() > 5 && info[5].IsString()) label = info[5].As<Napi::String>().Utf8Value();
    if (info.Length() > 6 && info[6].ToBoolean() && family == 6) flags |= IFA_F_NODAD;
    if (label.size() >= IFNAMSIZ) return Err(env, EINVAL);
    ifa.ifa_flags = static_cast<unsigned char>(flags);
  }
  Msg m(add ? RTM_NEWADDR : RTM_DELADDR,
        NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0), &ifa, sizeof ifa);
  m.Attr(IFA_LOCAL, addr, alen);
  m.Attr(IFA_ADDRESS, addr, alen);
  if (add && family == 4 && !label.empty()) m.Attr(IFA_LABEL, label.c_str(), label.size() + 1);
  if (add && flags) m.Attr(IFA_FLAGS, &flags, sizeof flags);
  int err = Request(static_cast<int>(fd), m, nullptr);
  if (err != 0) return Err(env, err);
  return Napi::Boolean::New(env, true);
}
Napi::Value AddrAdd(const Napi::CallbackInfo& info) { return AddrChange(info, true); }
Napi::Value AddrDel(const Napi::CallbackInfo& info) { return AddrChange(info, false); }

// addrList(fd, ifindex) -> [address objects] | errno name. ifindex 0 = every interface.
Napi::Value AddrList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, ifindex = 0;
  if (!IntArg(info, 0, &fd)) return Err(env, EBADF);
  IntArg(info, 1, &ifindex);
  ifaddrmsg ifa;
  memset(&ifa, 0, sizeof ifa);
  ifa.ifa_family = AF_UNSPEC;
  Msg m(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &ifa, sizeof ifa);
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  int err = Request(static_cast<int>(fd), m, [&](nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWADDR) return;
    auto* a = static_cast<ifaddrmsg*>(NLMSG_DATA(h));
    if (a->ifa_family != AF_INET && a->ifa_family != AF_INET6) return;
    if (ifindex != 0 && a->ifa_index != ifindex) return;
    out.Set(n++, ParseAddr(env, h));
  });
  if (err != 0) return Err(env, err);
  return out;
}

// linkGet(fd, ifindexOrName) -> link object | errno name (ENODEV when there is no such interface).
Napi::Value LinkGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!IntArg(info, 0, &fd) || info.Length() < 2) return Err(env, EINVAL);
  ifinfomsg ifi;
  memset(&ifi, 0, sizeof ifi);
  ifi.ifi_family = AF_UNSPEC;
  std::string name;
  if (info[1].IsNumber()) ifi.ifi_index = info[1].As<Napi::Number>().Int32Value();
  else if (info[1].IsString()) name = info[1].As<Napi::String>().Utf8Value();
  else return Err(env, EINVAL);
  if (ifi.ifi_index <= 0 && (name.empty() || name.size() >= IFNAMSIZ)) return Err(env, ENODEV);
  Msg m(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi, sizeof ifi);
  if (!name.empty()) m.Attr(IFLA_IFNAME, name.c_str(), name.size() + 1);
  Napi::Value result = env.Null();
  int err = Request(static_cast<int>(fd), m, [&](nlmsghdr* h) {
    if (h->nlmsg_type == RTM_NEWLINK) result = ParseLink(env, h);
  });
  // A GETLINK answers with the link and then, with NLM_F_ACK, an ACK; some kernels send no ACK after
  // data, so a timeout after the link arrived is still success.
  if (err != 0 && !(err == ETIMEDOUT && !result.IsNull())) return Err(env, err);
  if (result.IsNull()) return Err(env, ENODEV);
  return result;
}

// linkList(fd) -> [link objects] | errno name.
Napi::Value LinkList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!IntArg(info, 0, &fd)) return Err(env, EBADF);
  ifinfomsg ifi;
  memset(&ifi, 0, sizeof ifi);
  ifi.ifi_family = AF_UNSPEC;
  Msg m(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &ifi, sizeof ifi);
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  int err = Request(static_cast<int>(fd), m, [&](nlmsghdr* h) {
    if (h->nlmsg_type == RTM_NEWLINK) out.Set(n++, ParseLink(env, h));
  });
  if (err != 0) return Err(env, err);
  return out;
}

// linkSetUp(fd, ifindex, up) -> true | errno name.
Napi::Value LinkSetUp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, ifindex;
  if (!IntArg(info, 0, &fd) || !IntArg(info, 1, &ifindex) || info.Length() < 3) return Err(env, EINVAL);
  ifinfomsg ifi;
  memset(&ifi, 0, sizeof ifi);
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = static_cast<int>(ifindex);
  ifi.ifi_change = IFF_UP;
  ifi.ifi_flags = info[2].ToBoolean() ? IFF_UP : 0;
  Msg m(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi, sizeof ifi);
  int err = Request(static_cast<int>(fd), m, nullptr);
  if (err != 0) return Err(env, err);
  return Napi::Boolean::New(env, true);
}

// setPromoteSecondaries(fd, ifindex, on) -> true | errno name. The IPv4 devconf of one interface,
// set through IFLA_AF_SPEC/AF_INET/IFLA_INET_CONF (what the sysctl of the same name sets).
Napi::Value SetPromoteSecondaries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, ifindex;
  if (!IntArg(info, 0, &fd) || !IntArg(info, 1, &ifindex) || info.Length() < 3) return Err(env, EINVAL);
  ifinfomsg ifi;
  memset(&ifi, 0, sizeof ifi);
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = static_cast<int>(ifindex);
  Msg m(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi, sizeof ifi);
  size_t spec = m.Nest(IFLA_AF_SPEC);
  size_t inet = m.Nest(AF_INET);
  size_t conf = m.Nest(IFLA_INET_CONF);
  uint32_t v = info[2].ToBoolean() ? 1 : 0;
  m.Attr(IPV4_DEVCONF_PROMOTE_SECONDARIES, &v, sizeof v);
  m.EndNest(conf);
  m.EndNest(inet);
  m.EndNest(spec);
  int err = Request(static_cast<int>(fd), m, nullptr);
  if (err != 0) return Err(env, err);
  return Napi::Boolean::New(env, true);
}

bool ParseMac(const std::string& s, unsigned char* out) {
  unsigned v[6];
  if (sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return false;
  for (int i = 0; i < 6; i++) out[i] = static_cast<unsigned char>(v[i]);
  return true;
}

// macvlanAdd(fd, parentIfindex, name, mac) -> ifindex | errno name. A macvlan in bridge mode on the
// parent (ip link add link PARENT name NAME address MAC type macvlan mode bridge), created down.
// EEXIST when an interface of that name exists.
Napi::Value MacvlanAdd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, parent;
  if (!IntArg(info, 0, &fd) || !IntArg(info, 1, &parent) || info.Length() < 4 || !info[2].IsString() || !info[3].IsString())
    return Err(env, EINVAL);
  std::string name = info[2].As<Napi::String>().Utf8Value();
  unsigned char mac[6];
  if (name.empty() || name.size() >= IFNAMSIZ || !ParseMac(info[3].As<Napi::String>().Utf8Value(), mac)) return Err(env, EINVAL);
  ifinfomsg ifi;
  memset(&ifi, 0, sizeof ifi);
  ifi.ifi_family = AF_UNSPEC;
  Msg m(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
  m.Attr(IFLA_IFNAME, name.c_str(), name.size() + 1);
  uint32_t link = static_cast<uint32_t>(parent);
  m.Attr(IFLA_LINK, &link, sizeof link);
  m.Attr(IFLA_ADDRESS, mac, sizeof mac);
  size_t li = m.Nest(IFLA_LINKINFO);
  m.Attr(IFLA_INFO_KIND, "macvlan", 7);
  size_t data = m.Nest(IFLA_INFO_DATA);
  uint32_t mode = MACVLAN_MODE_BRIDGE;
  m.Attr(IFLA_MACVLAN_MODE, &mode, sizeof mode);
  m.EndNest(data);
  m.EndNest(li);
  int err = Request(static_cast<int>(fd), m, nullptr);
  if (err != 0) return Err(env, err);
  int64_t ifindex = 0;
  ifinfomsg q;
  memset(&q, 0, sizeof q);
  q.ifi_family = AF_UNSPEC;
  Msg g(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, &q, sizeof q);
  g.Attr(IFLA_IFNAME, name.c_str(), name.size() + 1);
  err = Request(static_cast<int>(fd), g, [&](nlmsghdr* h) {
    if (h->nlmsg_type == RTM_NEWLINK) ifindex = static_cast<ifinfomsg*>(NLMSG_DATA(h))->ifi_index;
  });
  if (ifindex == 0) return Err(env, err != 0 && err != ETIMEDOUT ? err : ENODEV);
  return Napi::Number::New(env, static_cast<double>(ifindex));
}

// linkDel(fd, ifindex) -> true | errno name (ip link del).
Napi::Value LinkDel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, ifindex;
  if (!IntArg(info, 0, &fd) || !IntArg(info, 1, &ifindex) || ifindex <= 0) return Err(env, EINVAL);
  ifinfomsg ifi;
  memset(&ifi, 0, sizeof ifi);
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = static_cast<int>(ifindex);
  Msg m(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi, sizeof ifi);
  int err = Request(static_cast<int>(fd), m, nullptr);
  if (err != 0) return Err(env, err);
  return Napi::Boolean::New(env, true);
}

// linkKind(fd, ifindex) -> { kind, parent, macvlanMode } | errno name: IFLA_LINKINFO of one link
// ("" kind for plain devices), to adopt a macvlan left behind by a crash.
Napi::Value LinkKind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, ifindex;
  if (!IntArg(info, 0, &fd) || !IntArg(info, 1, &ifindex) || ifindex <= 0) return Err(env, EINVAL);
  ifinfomsg ifi;
  memset(&ifi, 0, sizeof ifi);
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = static_cast<int>(ifindex);
  Msg m(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi, sizeof ifi);
  std::string kind;
  int64_t parent = 0, mode = -1;
  bool got = false;
  int err = Request(static_cast<int>(fd), m, [&](nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWLINK) return;
    got = true;
    auto* x = static_cast<ifinfomsg*>(NLMSG_DATA(h));
    int len = IFLA_PAYLOAD(h);
    for (auto* a = IFLA_RTA(x); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
      if (a->rta_type == IFLA_LINK) parent = *static_cast<uint32_t*>(RTA_DATA(a));
      if ((a->rta_type & NLA_TYPE_MASK) != IFLA_LINKINFO) continue;
      int l2 = RTA_PAYLOAD(a);
      for (auto* b = static_cast<rtattr*>(RTA_DATA(a)); RTA_OK(b, l2); b = RTA_NEXT(b, l2)) {
        int t = b->rta_type & NLA_TYPE_MASK;
        if (t == IFLA_INFO_KIND) kind.assign(static_cast<const char*>(RTA_DATA(b)), strnlen(static_cast<const char*>(RTA_DATA(b)), RTA_PAYLOAD(b)));
        if (t == IFLA_INFO_DATA) {
          int l3 = RTA_PAYLOAD(b);
          for (auto* c = static_cast<rtattr*>(RTA_DATA(b)); RTA_OK(c, l3); c = RTA_NEXT(c, l3))
            if ((c->rta_type & NLA_TYPE_MASK) == IFLA_MACVLAN_MODE) mode = *static_cast<uint32_t*>(RTA_DATA(c));
        }
      }
    }
  });
  if (err != 0 && !(err == ETIMEDOUT && got)) return Err(env, err);
  if (!got) return Err(env, ENODEV);
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", Napi::String::New(env, kind));
  o.Set("parent", Napi::Number::New(env, static_cast<double>(parent)));
  o.Set("macvlanMode", Napi::String::New(env, mode == MACVLAN_MODE_BRIDGE ? "bridge" : mode < 0 ? "" : "other"));
  return o;
}

// neighGet(fd, ifindex, family, address) -> "aa:bb:.." | null | errno name: the neighbour table's MAC
// for one address on one interface (REACHABLE, STALE, DELAY, PROBE or PERMANENT entries), null if none.
Napi::Value NeighGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, ifindex, family;
  if (!IntArg(info, 0, &fd) || !IntArg(info, 1, &ifindex) || !IntArg(info, 2, &family) || info.Length() < 4 || !info[3].IsString() ||
      (family != 4 && family != 6))
    return Err(env, EINVAL);
  unsigned char want[16];
  if (!ParseIp(static_cast<int>(family), info[3].As<Napi::String>().Utf8Value(), want)) return Err(env, EINVAL);
  size_t alen = family == 4 ? 4 : 16;
  ndmsg nd;
  memset(&nd, 0, sizeof nd);
  nd.ndm_family = family == 4 ? AF_INET : AF_INET6;
  Msg m(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, &nd, sizeof nd);
  std::string found;
  int err = Request(static_cast<int>(fd), m, [&](nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWNEIGH || !found.empty()) return;
    auto* n = static_cast<ndmsg*>(NLMSG_DATA(h));
    if (n->ndm_ifindex != ifindex) return;
    if (!(n->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP))) return;
    const unsigned char* dst = nullptr;
    const unsigned char* ll = nullptr;
    int len = RTM_PAYLOAD(h);
    for (auto* a = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(n) + NLMSG_ALIGN(sizeof *n)); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
      if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == alen) dst = static_cast<unsigned char*>(RTA_DATA(a));
      if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) ll = static_cast<unsigned char*>(RTA_DATA(a));
    }
    if (dst && ll && memcmp(dst, want, alen) == 0) found = MacString(ll, 6);
  });
  if (err != 0) return Err(env, err);
  if (found.empty()) return env.Null();
  return Napi::String::New(env, found);
}

// The event subscription: new NetlinkMonitor(netns) then monitor.onevents = (events[]) => ...; each
// event carries ts (ms since the epoch, taken when the batch was read). An { type: "overrun" } event
// means the kernel dropped events (ENOBUFS): the caller resyncs by listing.
class NetlinkMonitor : public Napi::ObjectWrap<NetlinkMonitor> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NetlinkMonitor", {
      InstanceMethod<&NetlinkMonitor::Close>("close"),
      InstanceMethod<&NetlinkMonitor::SetRef>("setRef"),
      InstanceAccessor<&NetlinkMonitor::GetFd>("fd"),
    });
  }

  explicit NetlinkMonitor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetlinkMonitor>(info) {
    Napi::Env env = info.Env();
    std::string ns = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    int err = InNetns(ns, [&]() -> int {
      fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
      return fd_ < 0 ? errno : 0;
    });
    if (err == 0) {
      // new NetlinkMonitor(netns, rcvbuf?): 4 MiB unless told (a small one provokes ENOBUFS in tests).
      int sz = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 4 << 20;
      if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) != 0)
        setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
      sockaddr_nl sa;
      memset(&sa, 0, sizeof sa);
      sa.nl_family = AF_NETLINK;
      sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
      if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) err = errno;
    }
    if (err != 0) {
      Shutdown();
      MakeErrnoError(env, err, "netlink", ns).ThrowAsJavaScriptException();
      return;
    }
    int uvErr = 0;
    poller_ = Poller::Start(env, fd_, this, OnReadable, &uvErr);
    if (!poller_) {
      Shutdown();
      Napi::Error::New(env, std::string("uv_poll: ") + uv_strerror(uvErr)).ThrowAsJavaScriptException();
      return;
    }
    Ref();
    held_ = true;
    buf_.resize(kRecvBuf);
  }
  ~NetlinkMonitor() override { Shutdown(); }

 private:
  int fd_ = -1;
  Poller* poller_ = nullptr;
  bool held_ = false;
  std::vector<char> buf_;

  void Shutdown() {
    Poller::Stop(poller_);
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  static void OnReadable(uv_poll_t* h, int status, int) {
    auto* self = static_cast<NetlinkMonitor*>(h->data);
    if (!self) return;
    if (status < 0 && self->poller_) uv_poll_start(&self->poller_->handle, UV_READABLE, OnReadable);
    self->Drain();
  }

  void Drain() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object obj = Value();
    if (obj.IsEmpty()) { Shutdown(); return; }
    Napi::Array events = Napi::Array::New(env);
    uint32_t n = 0;
    for (int round = 0; round < 64 && fd_ >= 0; round++) {
      ssize_t r = recv(fd_, buf_.data(), buf_.size(), MSG_DONTWAIT);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == ENOBUFS) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("type", Napi::String::New(env, "overrun"));
          o.Set("ts", Napi::Number::New(env, NowMs()));
          events.Set(n++, o);
          continue;
        }
        break;  // EAGAIN: drained
      }
      double ts = NowMs();
      int len = static_cast<int>(r);
      for (auto* m = reinterpret_cast<nlmsghdr*>(buf_.data()); NLMSG_OK(m, len); m = NLMSG_NEXT(m, len)) {
        Napi::Object o;
        switch (m->nlmsg_type) {
          case RTM_NEWLINK:
          case RTM_DELLINK:
            o = ParseLink(env, m);
            o.Set("type", Napi::String::New(env, "link"));
            break;
          case RTM_NEWADDR:
          case RTM_DELADDR: {
            auto* a = static_cast<ifaddrmsg*>(NLMSG_DATA(m));
            if (a->ifa_family != AF_INET && a->ifa_family != AF_INET6) continue;
            o = ParseAddr(env, m);
            o.Set("type", Napi::String::New(env, "address"));
            break;
          }
          default: continue;
        }
        bool isNew = m->nlmsg_type == RTM_NEWLINK || m->nlmsg_type == RTM_NEWADDR;
        o.Set("kind", Napi::String::New(env, isNew ? "new" : "del"));
        o.Set("ts", Napi::Number::New(env, ts));
        events.Set(n++, o);
      }
    }
    if (n > 0) CallJs(env, obj, "onevents", {events});
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    if (held_) { Unref(); held_ = false; }
    return info.Env().Undefined();
  }
  Napi::Value SetRef(const Napi::CallbackInfo& info) {
    if (poller_) poller_->Ref(info.Length() > 0 && info[0].ToBoolean());
    return info.Env().Undefined();
  }
  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
};

}  // namespace

void InitNetlink(Napi::Env env, Napi::Object exports) {
  exports.Set("netlinkOpen", Napi::Function::New<NetlinkOpen>(env, "netlinkOpen"));
  exports.Set("addrAdd", Napi::Function::New<AddrAdd>(env, "addrAdd"));
  exports.Set("addrDel", Napi::Function::New<AddrDel>(env, "addrDel"));
  exports.Set("addrList", Napi::Function::New<AddrList>(env, "addrList"));
  exports.Set("linkGet", Napi::Function::New<LinkGet>(env, "linkGet"));
  exports.Set("linkList", Napi::Function::New<LinkList>(env, "linkList"));
  exports.Set("linkSetUp", Napi::Function::New<LinkSetUp>(env, "linkSetUp"));
  exports.Set("setPromoteSecondaries", Napi::Function::New<SetPromoteSecondaries>(env, "setPromoteSecondaries"));
  exports.Set("macvlanAdd", Napi::Function::New<MacvlanAdd>(env, "macvlanAdd"));
  exports.Set("linkDel", Napi::Function::New<LinkDel>(env, "linkDel"));
  exports.Set("linkKind", Napi::Function::New<LinkKind>(env, "linkKind"));
  exports.Set("neighGet", Napi::Function::New<NeighGet>(env, "neighGet"));
  exports.Set("NetlinkMonitor", NetlinkMonitor::Define(env));
}

}  // namespace carpio
