// Helpers shared by the raw-socket and capture halves of carp_io: errno → JS error with a hint, the
// libuv poll handle that outlives its owner until uv_close finishes, and the wall clock in ms.
#pragma once
#include <napi.h>
#include <uv.h>
#include <cerrno>
#include <cstring>
#include <string>
#include <time.h>

namespace carpio {

inline const char* ErrnoName(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char* n = strerrorname_np(err);
  if (n) return n;
#endif
  switch (err) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case EMSGSIZE: return "EMSGSIZE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ENETUNREACH: return "ENETUNREACH";
    case ENOBUFS: return "ENOBUFS";
    case EBADF: return "EBADF";
    default: return "EIO";
  }
}

// The human part of an error: what the user can do about it.
inline std::string Hint(int err, const std::string& ifname) {
  switch (err) {
    case EPERM:
    case EACCES: return "needs root or CAP_NET_RAW";
    case ENODEV:
    case ENXIO: return "no such interface: " + ifname;
    case EADDRNOTAVAIL: return "address not available on " + ifname;
    case EMSGSIZE: return "packet too large for the interface MTU (no fragmentation)";
    case ENETDOWN: return "interface " + ifname + " is down";
    default: return "";
  }
}

// Error with .code (errno name), .errno (positive), .syscall; message "syscall ifname: CODE (hint)".
inline Napi::Error MakeErrnoError(Napi::Env env, int err, const char* syscall, const std::string& ifname,
                                  const std::string& detail = "") {
  std::string hint = Hint(err, ifname);
  std::string msg = std::string(syscall) + (ifname.empty() ? "" : " " + ifname) + ": " + ErrnoName(err);
  if (!hint.empty()) msg += " (" + hint + ")";
  else msg += " (" + std::string(detail.empty() ? strerror(err) : detail) + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Value().Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Value().Set("errno", Napi::Number::New(env, err));
  e.Value().Set("syscall", Napi::String::New(env, syscall));
  if (!ifname.empty()) e.Value().Set("interface", Napi::String::New(env, ifname));
  return e;
}

inline double NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// A uv_poll_t on the heap: uv_close completes asynchronously, after the owning object may be gone.
struct Poller {
  uv_poll_t handle;
  static Poller* Start(napi_env env, int fd, void* owner, uv_poll_cb cb, int* uvErr) {
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    Poller* p = new Poller();
    int r = uv_poll_init(loop, &p->handle, fd);
    if (r != 0) { delete p; *uvErr = r; return nullptr; }
    p->handle.data = owner;
    r = uv_poll_start(&p->handle, UV_READABLE, cb);
    if (r != 0) { p->handle.data = nullptr; uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), Freed); *uvErr = r; return nullptr; }
    return p;
  }
  // Stops polling and frees the handle once libuv lets go of it. Call before closing the fd.
  static void Stop(Poller*& p) {
    if (!p) return;
    uv_poll_stop(&p->handle);
    p->handle.data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), Freed);
    p = nullptr;
  }
  static void Freed(uv_handle_t* h) { delete reinterpret_cast<Poller*>(h); }
  void Ref(bool on) {
    if (on) uv_ref(reinterpret_cast<uv_handle_t*>(&handle));
    else uv_unref(reinterpret_cast<uv_handle_t*>(&handle));
  }
};

// A one-shot uv_timer_t on the heap, closed like Poller (the owner may be gone before libuv lets go).
struct Timer {
  uv_timer_t handle;
  static Timer* Create(napi_env env, void* owner) {
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    Timer* t = new Timer();
    if (uv_timer_init(loop, &t->handle) != 0) { delete t; return nullptr; }
    t->handle.data = owner;
    return t;
  }
  static void Stop(Timer*& t) {
    if (!t) return;
    uv_timer_stop(&t->handle);
    t->handle.data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&t->handle), Freed);
    t = nullptr;
  }
  static void Freed(uv_handle_t* h) { delete reinterpret_cast<Timer*>(h); }
  void Ref(bool on) {
    if (on) uv_ref(reinterpret_cast<uv_handle_t*>(&handle));
    else uv_unref(reinterpret_cast<uv_handle_t*>(&handle));
  }
};

// Calls this[prop](...args) from a libuv callback, with a handle scope and microtask processing.
// An exception thrown by JS becomes an uncaught exception (as for any event handler).
inline void CallJs(Napi::Env env, Napi::Object self, const char* prop, const std::initializer_list<napi_value>& args) {
  Napi::Value fn = self.Get(prop);
  if (!fn.IsFunction()) return;
  fn.As<Napi::Function>().MakeCallback(self, args, nullptr);
  if (env.IsExceptionPending()) {
    Napi::Error e = env.GetAndClearPendingException();
    napi_fatal_exception(env, e.Value());
  }
}

}  // namespace carpio
