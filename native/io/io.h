// The two halves of carp_io, each registering its class on the module exports.
#pragma once
#include <napi.h>

namespace carpio {
void InitRawSocket(Napi::Env env, Napi::Object exports);
void InitCapture(Napi::Env env, Napi::Object exports);
}  // namespace carpio
