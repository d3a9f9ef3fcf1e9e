// The counters an operator reads while the daemon runs: Prometheus text exposition on a loopback
// HTTP endpoint (GET /metrics), e.g. `curl -s 127.0.0.1:9477/metrics`.
#pragma once

#include <poll.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ftpalg/counters.h"

namespace ftpalg::daemon {

// Figures from outside the engine (queue, kernel, process).
struct ExtraMetric {
  std::string name;  // without the ftpalg_ prefix
  std::string help;
  bool gauge = false;
  double value = 0;
};

// Prometheus text format 0.0.4: counters end in _total, gauges do not.
std::string RenderMetrics(const Counters& counters, const std::vector<ExtraMetric>& extra);

// A minimal HTTP/1.0 responder for the metrics, on a thread of its own: no client, however slow,
// can hold the packet loop (when it ran on the loop, a client sending one byte every 190 ms kept
// every verdict waiting for minutes). The figures still come from the packet loop, which owns the
// engine: a client's complete request wakes the loop through wake_fd(), the loop renders the text
// and hands it over with Publish(); the server then answers with the fresh text, or with the last
// one if the loop has not answered within kFreshWait.
class MetricsServer {
 public:
  // Bounds for one client: its request line must arrive, and the answer must be taken, within
  // these; then the connection is closed.
  static constexpr int kRequestDeadlineMs = 1000;
  static constexpr int kResponseDeadlineMs = 1000;
  static constexpr int kFreshWaitMs = 500;

  MetricsServer() = default;
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  ~MetricsServer();  // stops the thread (within its deadlines) and closes the sockets

  // Listens on "ADDR:PORT" (loopback addresses only: metrics are not for the network; port 0
  // picks a free one, see port()) and starts the serving thread. Returns an empty string or a
  // one-line error.
  std::string Listen(const std::string& address_port);
  uint16_t port() const { return port_; }
  // Readable (an eventfd) when a client waits for the figures; -1 before Listen. The packet loop
  // polls it, and answers with Publish() (which also clears it).
  int wake_fd() const { return wake_fd_; }
  void Publish(std::string body);

 private:
  void ServeClients();
  void ServeClient(int client);
  std::string FreshBody();

  int listen_fd_ = -1;
  int wake_fd_ = -1;  // server -> packet loop: "a client waits"
  int stop_fd_ = -1;  // destructor -> server thread
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable published_cv_;
  std::string body_;        // guarded by mutex_
  uint64_t published_ = 0;  // guarded by mutex_: Publish calls so far
};

// For the serving threads (metrics, status): waits until `fd` has `events` (pollfd::events) or the
// deadline passes or `stop_fd` fires; true only for the first.
bool WaitFor(int fd, decltype(pollfd::events) events, int stop_fd,
             std::chrono::steady_clock::time_point deadline);
// Starts a serving thread with every signal blocked (see metrics.cpp).
std::thread StartServingThread(std::function<void()> body);

// Resident set size of this process in bytes (from /proc/self/statm), 0 if unknown.
uint64_t ResidentBytes();

}  // namespace ftpalg::daemon
