// Runs a socket-creating function inside a named network namespace (/run/netns/NAME, as `ip netns`
// makes them). setns() changes only the calling thread, so it happens on a short-lived thread: the
// sockets it creates stay bound to that namespace, and the event loop thread never leaves ours.
#pragma once
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>
#include <cerrno>
#include <functional>
#include <string>
#include <thread>

namespace carpio {

// Returns fn's errno result (0 = ok) or the errno of opening/entering the namespace.
inline int InNetns(const std::string& name, const std::function<int()>& fn) {
  if (name.empty()) return fn();
  if (name.find('/') != std::string::npos && name[0] != '/') return EINVAL;
  std::string path = name[0] == '/' ? name : "/run/netns/" + name;
  int nsfd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) return errno;
  int result = 0;
  std::thread t([&]() {
    if (setns(nsfd, CLONE_NEWNET) != 0) { result = errno; return; }
    result = fn();
  });
  t.join();
  close(nsfd);
  return result;
}

}  // namespace carpio
