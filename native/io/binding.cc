#include <napi.h>
#include <pcap/pcap.h>
static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("pcapVersion", Napi::String::New(env, pcap_lib_version()));
  return exports;
}
NODE_API_MODULE(carp_io, Init)
