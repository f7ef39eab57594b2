// Registration of the host-effect functions of carp_io (sys.cc) and rtnetlink (netlink.cc).
#pragma once
#include <napi.h>

namespace carpio {
void InitSys(Napi::Env env, Napi::Object exports);
void InitNetlink(Napi::Env env, Napi::Object exports);
}  // namespace carpio
