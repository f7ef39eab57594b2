// libpcap live capture, frame injection and pcap file writing (libpcap dlopen()ed on first use, see pcap_dl.h). Non-blocking pcap driven by uv_poll on
// the selectable fd; batches reach JS as one data Buffer plus a metadata Buffer of 24-byte records
// (layout below, mirrored in src/host/capture.ts). Both are lent, not copied: external Buffers over
// this capture's reused staging vectors, detached when onpackets(data, meta, count, linktype, true)
// returns (a kept view reads as empty); the TS wrapper copies what must outlive the call.
#include <napi.h>
#include <net/if.h>
#include <vector>
#include "io.h"
#include "io_common.h"
#include "pcap_dl.h"

namespace carpio {
namespace {

constexpr int kBatch = 1024;      // packets per pcap_dispatch
constexpr int kMaxBatches = 16;   // per poll wakeup
constexpr size_t kMeta = 24;
constexpr size_t kMaxStage = 4 << 20;  // frame bytes per batch before pcap_breakloop ends it early

// Metadata record (little endian): 0 u32 offset, 4 u32 captured length, 8 u32 original length,
// 12 u32 reserved, 16 f64 capture time in ms since the epoch.

// libpcap, set by the first Capture that finds it; every call below runs on a handle that Capture opened.
const pcap::Lib* pc = nullptr;

class Capture : public Napi::ObjectWrap<Capture> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Capture", {
      InstanceMethod<&Capture::Inject>("inject"),
      InstanceMethod<&Capture::DumpOpen>("dumpOpen"),
      InstanceMethod<&Capture::DumpClose>("dumpClose"),
      InstanceMethod<&Capture::Close>("close"),
      InstanceMethod<&Capture::SetRef>("setRef"),
      InstanceMethod<&Capture::Stats>("stats"),
      InstanceAccessor<&Capture::GetLinktype>("linktype"),
    });
  }

  // new Capture(ifname, filter, snaplen, promisc, immediate, bufferSize)   bufferSize 0 = default
  explicit Capture(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Capture>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 6 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber() ||
        !info[5].IsNumber()) {
      Napi::TypeError::New(env, "Capture(ifname, filter, snaplen, promisc, immediate, bufferSize)")
          .ThrowAsJavaScriptException();
      return;
    }
    std::string missing;
    if (!(pc = pcap::Load(&missing))) {
      Napi::Error e = Napi::Error::New(env, missing);
      e.Value().Set("code", Napi::String::New(env, "ERR_NO_LIBPCAP"));
      e.ThrowAsJavaScriptException();
      return;
    }
    ifname_ = info[0].As<Napi::String>().Utf8Value();
    std::string filter = info[1].As<Napi::String>().Utf8Value();
    int snaplen = info[2].As<Napi::Number>().Int32Value();
    bool promisc = info[3].ToBoolean();
    bool immediate = info[4].ToBoolean();
    int bufferSize = info[5].As<Napi::Number>().Int32Value();
    if (ifname_ != "any" && (ifname_.empty() || ifname_.size() >= IFNAMSIZ || if_nametoindex(ifname_.c_str()) == 0)) {
      MakeErrnoError(env, ENODEV, "pcap_create", ifname_).ThrowAsJavaScriptException();
      return;
    }
    char errbuf[pcap::ERRBUF_SIZE] = "";
    p_ = pc->pcap_create(ifname_.c_str(), errbuf);
    if (!p_) {
      Napi::Error::New(env, "pcap_create " + ifname_ + ": " + errbuf).ThrowAsJavaScriptException();
      return;
    }
    pc->pcap_set_snaplen(p_, snaplen > 0 ? snaplen : 262144);
    pc->pcap_set_promisc(p_, promisc ? 1 : 0);
    pc->pcap_set_immediate_mode(p_, immediate ? 1 : 0);
    pc->pcap_set_timeout(p_, immediate ? 1 : 100);
    if (bufferSize > 0) pc->pcap_set_buffer_size(p_, bufferSize);
    int r = pc->pcap_activate(p_);
    if (r < 0) {
      ThrowActivate(env, r);
      Shutdown();
      return;
    }
    if (!filter.empty()) {
      pcap::bpf_program prog;
      if (pc->pcap_compile(p_, &prog, filter.c_str(), 1, pcap::NETMASK_UNKNOWN) != 0) {
        Napi::Error e = Napi::Error::New(env, "bad capture filter \"" + filter + "\": " + pc->pcap_geterr(p_));
        e.Value().Set("code", Napi::String::New(env, "ERR_BAD_FILTER"));
        e.ThrowAsJavaScriptException();
        Shutdown();
        return;
      }
      int fr = pc->pcap_setfilter(p_, &prog);
      pc->pcap_freecode(&prog);
      if (fr != 0) {
        Napi::Error::New(env, std::string("pcap_setfilter: ") + pc->pcap_geterr(p_)).ThrowAsJavaScriptException();
        Shutdown();
        return;
      }
    }
    if (pc->pcap_setnonblock(p_, 1, errbuf) != 0) {
      Napi::Error::New(env, std::string("pcap_setnonblock: ") + errbuf).ThrowAsJavaScriptException();
      Shutdown();
      return;
    }
    linktype_ = pc->pcap_datalink(p_);
    int fd = pc->pcap_get_selectable_fd(p_);
    int uvErr = 0;
    if (fd < 0 || !(poller_ = Poller::Start(env, fd, this, OnReadable, &uvErr))) {
      Napi::Error::New(env, "capture on " + ifname_ + ": no pollable fd").ThrowAsJavaScriptException();
      Shutdown();
      return;
    }
    meta_.resize(kBatch * kMeta);
    out_.reserve(64 * 1024);
    HoldSelf(true);
  }

  ~Capture() override { Shutdown(); }

 private:
  void ThrowActivate(Napi::Env env, int r) {
    std::string detail = pc->pcap_geterr(p_);
    switch (r) {
      case pcap::ERROR_PERM_DENIED:
        MakeErrnoError(env, EPERM, "pcap_activate", ifname_).ThrowAsJavaScriptException();
        return;
      case pcap::ERROR_NO_SUCH_DEVICE:
        MakeErrnoError(env, ENODEV, "pcap_activate", ifname_).ThrowAsJavaScriptException();
        return;
      case pcap::ERROR_IFACE_NOT_UP:
        MakeErrnoError(env, ENETDOWN, "pcap_activate", ifname_).ThrowAsJavaScriptException();
        return;
      default:
        Napi::Error::New(env, "pcap_activate " + ifname_ + ": " + pc->pcap_statustostr(r) +
                                  (detail.empty() ? "" : " (" + detail + ")"))
            .ThrowAsJavaScriptException();
    }
  }

  // Idempotent: stop polling, close the dump file (flushing it), close the pcap handle.
  void Shutdown() {
    Poller::Stop(poller_);
    if (dumper_) { pc->pcap_dump_close(dumper_); dumper_ = nullptr; }
    if (p_) { pc->pcap_close(p_); p_ = nullptr; }
  }

  static void OnReadable(uv_poll_t* h, int status, int /*events*/) {
    auto* self = static_cast<Capture*>(h->data);
    if (!self) return;
    // On POLLERR (e.g. the interface was deleted) libuv stops the handle and reports an error;
    // Drain then gets libpcap's reason from pcap_dispatch and reports it.
    self->Drain(status < 0);
  }

  static void OnPacket(unsigned char* user, const pcap::pkthdr* hdr, const unsigned char* bytes) {
    auto* self = reinterpret_cast<Capture*>(user);
    if (self->dumper_) pc->pcap_dump(reinterpret_cast<unsigned char*>(self->dumper_), hdr, bytes);
    uint8_t* rec = &self->meta_[self->count_ * kMeta];
    uint32_t off = static_cast<uint32_t>(self->out_.size());
    uint32_t caplen = hdr->caplen, len = hdr->len, zero = 0;
    double time = hdr->ts.tv_sec * 1e3 + hdr->ts.tv_usec / 1e3;
    std::memcpy(rec, &off, 4);
    std::memcpy(rec + 4, &caplen, 4);
    std::memcpy(rec + 8, &len, 4);
    std::memcpy(rec + 12, &zero, 4);
    std::memcpy(rec + 16, &time, 8);
    self->out_.insert(self->out_.end(), bytes, bytes + caplen);
    self->count_++;
    if (self->out_.size() >= kMaxStage) pc->pcap_breakloop(self->p_);  // big frames: deliver what we have
  }

  void Drain(bool pollError = false) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object obj = Value();
    if (obj.IsEmpty()) { Shutdown(); return; }
    for (int round = 0; round < kMaxBatches && p_; round++) {
      out_.clear();
      count_ = 0;
      int r = pc->pcap_dispatch(p_, kBatch, OnPacket, reinterpret_cast<unsigned char*>(this));
      if (r == pcap::ERROR_BREAK) r = kBatch;  // our own breakloop: more may be waiting
      if (dumper_ && count_ > 0) pc->pcap_dump_flush(dumper_);
      if (count_ > 0) {
        // out_ keeps its capacity across batches and is not touched during the call.
        Napi::Buffer<uint8_t> data = Napi::Buffer<uint8_t>::New(env, out_.data(), out_.size());
        Napi::Buffer<uint8_t> meta = Napi::Buffer<uint8_t>::New(env, meta_.data(), count_ * kMeta);
        CallJs(env, obj, "onpackets", {data, meta, Napi::Number::New(env, count_), Napi::Number::New(env, linktype_),
                                       Napi::Boolean::New(env, true)});
        data.ArrayBuffer().Detach();
        meta.ArrayBuffer().Detach();
      }
      if ((r < 0 || (pollError && r == 0)) && p_) {
        // Interface gone or similar: report once and stop polling; the capture stays closable.
        std::string why = r < 0 ? pc->pcap_geterr(p_) : "poll error";
        std::string msg = "capture on " + ifname_ + " failed: " + why;
        Poller::Stop(poller_);
        HoldSelf(false);
        CallJs(env, obj, "onerror", {Napi::Error::New(env, msg).Value()});
        return;
      }
      if (r < kBatch && !pollError) return;
    }
    if (pollError && poller_) {
      // Still frames queued after a POLLERR wakeup; libuv stopped the handle, so resume it.
      uv_poll_start(&poller_->handle, UV_READABLE, OnReadable);
    }
  }

  Napi::Value Inject(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!p_) return ThrowClosed(env, "inject");
    if (info.Length() < 1 || !info[0].IsBuffer()) {
      Napi::TypeError::New(env, "inject(frame: Buffer)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto buf = info[0].As<Napi::Buffer<uint8_t>>();
    int r = pc->pcap_inject(p_, buf.Data(), buf.Length());
    if (r < 0) {
      int err = errno;
      std::string detail = pc->pcap_geterr(p_);
      Napi::Error e = (err == EPERM || err == EACCES || err == ENODEV || err == EMSGSIZE || err == ENETDOWN)
                          ? MakeErrnoError(env, err, "pcap_inject", ifname_, detail)
                          : Napi::Error::New(env, "pcap_inject " + ifname_ + ": " + detail);
      if (err == EMSGSIZE) e.Value().Set("message", Napi::String::New(env, "pcap_inject " + ifname_ + ": EMSGSIZE (frame of " + std::to_string(buf.Length()) + " bytes is larger than the interface MTU)"));
      e.ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, r);
  }

  Napi::Value DumpOpen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!p_) return ThrowClosed(env, "dumpTo");
    if (info.Length() < 1 || !info[0].IsString()) {
      Napi::TypeError::New(env, "dumpOpen(path: string)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::string path = info[0].As<Napi::String>().Utf8Value();
    pcap::pcap_dumper_t* d = pc->pcap_dump_open(p_, path.c_str());
    if (!d) {
      Napi::Error::New(env, "pcap_dump_open " + path + ": " + pc->pcap_geterr(p_)).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (dumper_) pc->pcap_dump_close(dumper_);
    dumper_ = d;
    return env.Undefined();
  }

  Napi::Value DumpClose(const Napi::CallbackInfo& info) {
    if (dumper_) { pc->pcap_dump_close(dumper_); dumper_ = nullptr; }
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    HoldSelf(false);
    return info.Env().Undefined();
  }

  Napi::Value SetRef(const Napi::CallbackInfo& info) {
    bool on = info.Length() > 0 && info[0].ToBoolean();
    if (poller_) poller_->Ref(on);
    if (poller_) HoldSelf(on);
    return info.Env().Undefined();
  }

  // While open and referenced the JS object is strongly held (as node holds its own handles), so a
  // socket nobody stores keeps delivering; unref'd or closed it is weak and the GC may finalize it.
  void HoldSelf(bool on) {
    if (on && !held_) { Ref(); held_ = true; }
    else if (!on && held_) { Unref(); held_ = false; }
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!p_) return ThrowClosed(env, "stats");
    pcap::stat st{};
    if (pc->pcap_stats(p_, &st) != 0) {
      Napi::Error::New(env, std::string("pcap_stats: ") + pc->pcap_geterr(p_)).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("received", Napi::Number::New(env, st.ps_recv));
    o.Set("dropped", Napi::Number::New(env, st.ps_drop));
    o.Set("ifDropped", Napi::Number::New(env, st.ps_ifdrop));
    return o;
  }

  Napi::Value GetLinktype(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), linktype_); }

  Napi::Value ThrowClosed(Napi::Env env, const char* what) {
    Napi::Error e = Napi::Error::New(env, std::string(what) + " on closed capture (" + ifname_ + ")");
    e.Value().Set("code", Napi::String::New(env, "ERR_CAPTURE_CLOSED"));
    e.ThrowAsJavaScriptException();
    return env.Undefined();
  }

  std::string ifname_;
  pcap::pcap_t* p_ = nullptr;
  pcap::pcap_dumper_t* dumper_ = nullptr;
  Poller* poller_ = nullptr;
  bool held_ = false;
  int linktype_ = -1;
  int count_ = 0;
  std::vector<uint8_t> out_, meta_;
};

}  // namespace

void InitCapture(Napi::Env env, Napi::Object exports) {
  exports.Set("Capture", Capture::Define(env));
  // libpcap's version string, or "" when it is not installed; asked for lazily (dlopen on first read).
  exports.DefineProperty(Napi::PropertyDescriptor::Accessor(
      env, exports, "pcapVersion",
      [](const Napi::CallbackInfo& info) -> Napi::Value {
        const pcap::Lib* lib = pcap::Load(nullptr);
        return Napi::String::New(info.Env(), lib ? lib->pcap_lib_version() : "");
      },
      napi_enumerable));
}

}  // namespace carpio
