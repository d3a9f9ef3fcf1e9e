// Stands in for the daemon's packet loop in the tests of the serving threads (metrics, status):
// answers each wake-up of `server` with `render(n)` for the n-th render, and counts the wake-ups
// (each one is a render the loop had to do).
#pragma once

#include <poll.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace ftpalg::test {

template <typename Server>
class PacketLoopStub {
 public:
  PacketLoopStub(Server& server, std::function<std::string(int)> render)
      : server_(server), render_(std::move(render)), thread_([this] { Run(); }) {}
  ~PacketLoopStub() {
    stop_ = true;
    thread_.join();
  }
  int renders() const { return renders_; }

 private:
  void Run() {
    while (!stop_) {
      pollfd waiter{server_.wake_fd(), POLLIN, 0};
      if (poll(&waiter, 1, 20) == 1) server_.Publish(render_(++renders_));
    }
  }
  Server& server_;
  std::function<std::string(int)> render_;
  std::atomic<bool> stop_{false};
  std::atomic<int> renders_{0};
  std::thread thread_;
};

}  // namespace ftpalg::test
