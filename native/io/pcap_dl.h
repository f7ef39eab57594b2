// libpcap loaded on first use with dlopen, so carp_io links no libpcap: the daemon's raw sockets and
// rings need none, and only live capture/injection asks for it. Our own declarations of the few types
// and functions we use (libpcap's ABI is stable since 1.0: same struct layouts and error codes), no
// <pcap.h>, so building needs no libpcap-dev either.
#pragma once
#include <dlfcn.h>
#include <sys/time.h>
#include <sys/types.h>
#include <cstdint>
#include <string>

namespace carpio {
namespace pcap {

struct pcap_t;         // opaque
struct pcap_dumper_t;  // opaque
struct bpf_insn;       // opaque to us
struct bpf_program {
  unsigned int bf_len;
  bpf_insn* bf_insns;
};
struct pkthdr {
  struct timeval ts;
  uint32_t caplen;
  uint32_t len;
};
struct stat {
  unsigned int ps_recv;
  unsigned int ps_drop;
  unsigned int ps_ifdrop;
};
using handler = void (*)(unsigned char* user, const pkthdr* h, const unsigned char* bytes);

constexpr int ERRBUF_SIZE = 256;
constexpr uint32_t NETMASK_UNKNOWN = 0xffffffff;
constexpr int ERROR_BREAK = -2;
constexpr int ERROR_NO_SUCH_DEVICE = -5;
constexpr int ERROR_PERM_DENIED = -8;
constexpr int ERROR_IFACE_NOT_UP = -9;

constexpr const char* kMissing = "libpcap not found: apt-get install libpcap0.8";

// Function table; X(name, return type, parameter list).
#define CARP_PCAP_FUNCS(X)                                                                     \
  X(pcap_create, pcap_t*, (const char*, char*))                                                \
  X(pcap_set_snaplen, int, (pcap_t*, int))                                                     \
  X(pcap_set_promisc, int, (pcap_t*, int))                                                     \
  X(pcap_set_immediate_mode, int, (pcap_t*, int))                                              \
  X(pcap_set_timeout, int, (pcap_t*, int))                                                     \
  X(pcap_set_buffer_size, int, (pcap_t*, int))                                                 \
  X(pcap_activate, int, (pcap_t*))                                                             \
  X(pcap_compile, int, (pcap_t*, bpf_program*, const char*, int, uint32_t))                    \
  X(pcap_setfilter, int, (pcap_t*, bpf_program*))                                              \
  X(pcap_freecode, void, (bpf_program*))                                                       \
  X(pcap_setnonblock, int, (pcap_t*, int, char*))                                              \
  X(pcap_datalink, int, (pcap_t*))                                                             \
  X(pcap_get_selectable_fd, int, (pcap_t*))                                                    \
  X(pcap_geterr, char*, (pcap_t*))                                                             \
  X(pcap_statustostr, const char*, (int))                                                      \
  X(pcap_dispatch, int, (pcap_t*, int, handler, unsigned char*))                               \
  X(pcap_breakloop, void, (pcap_t*))                                                           \
  X(pcap_inject, int, (pcap_t*, const void*, size_t))                                          \
  X(pcap_stats, int, (pcap_t*, stat*))                                                         \
  X(pcap_close, void, (pcap_t*))                                                               \
  X(pcap_dump_open, pcap_dumper_t*, (pcap_t*, const char*))                                    \
  X(pcap_dump, void, (unsigned char*, const pkthdr*, const unsigned char*))                    \
  X(pcap_dump_flush, int, (pcap_dumper_t*))                                                    \
  X(pcap_dump_close, void, (pcap_dumper_t*))                                                   \
  X(pcap_lib_version, const char*, ())

struct Lib {
#define CARP_PCAP_FIELD(name, ret, params) ret(*name) params = nullptr;
  CARP_PCAP_FUNCS(CARP_PCAP_FIELD)
#undef CARP_PCAP_FIELD
};

// The loaded library, or nullptr with *why set. Tried once per process (the answer is cached).
inline const Lib* Load(std::string* why) {
  static Lib lib;
  static bool tried = false;
  static bool ok = false;
  static std::string error;
  if (!tried) {
    tried = true;
    void* h = nullptr;
    for (const char* so : {"libpcap.so.0.8", "libpcap.so.1", "libpcap.so"}) {
      if ((h = dlopen(so, RTLD_NOW | RTLD_LOCAL))) break;
    }
    if (!h) {
      error = kMissing;
    } else {
      ok = true;
#define CARP_PCAP_SYM(name, ret, params)                                          \
  if (ok && !(lib.name = reinterpret_cast<ret(*) params>(dlsym(h, #name)))) { \
    ok = false;                                                                   \
    error = std::string("libpcap is too old (no ") + #name + "): install libpcap 1.5 or newer"; \
  }
      CARP_PCAP_FUNCS(CARP_PCAP_SYM)
#undef CARP_PCAP_SYM
    }
  }
  if (!ok && why) *why = error;
  return ok ? &lib : nullptr;
}

}  // namespace pcap
}  // namespace carpio
