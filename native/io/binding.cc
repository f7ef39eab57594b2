// carp_io: raw IPv4/IPv6 sockets for IP protocol 112 and libpcap capture/inject (libpcap is dlopen()ed
// by capture.cc on first use). Moves packets and metadata only; every protocol decision lives in
// TypeScript (src/host/rawsock.ts, src/host/capture.ts).
#include <napi.h>
#include "io.h"
#include "sys.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  carpio::InitRawSocket(env, exports);
  carpio::InitCapture(env, exports);
  carpio::InitSys(env, exports);
  carpio::InitNetlink(env, exports);
  return exports;
}
NODE_API_MODULE(carp_io, Init)
