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

// The hand-over between a serving thread (metrics, status) and the packet loop, which owns the
// figures: the thread asks (wake_fd() becomes readable) and waits a bounded time; the loop answers
// with Publish() between two receive batches, which also clears the request.
class SnapshotExchange {
 public:
  SnapshotExchange() = default;
  SnapshotExchange(const SnapshotExchange&) = delete;
  SnapshotExchange& operator=(const SnapshotExchange&) = delete;
  ~SnapshotExchange();

  std::string Open();  // creates the eventfd: an empty string or a one-line error
  int wake_fd() const { return wake_fd_; }  // -1 before Open
  void Publish(std::string snapshot);
  // Asks the loop and waits up to `wait_ms` for its answer; else the last snapshot (empty before
  // the first).
  std::string Fresh(int wait_ms);

 private:
  int wake_fd_ = -1;
  std::mutex mutex_;
  std::condition_variable published_cv_;
  std::string snapshot_;    // guarded by mutex_
  uint64_t published_ = 0;  // guarded by mutex_: Publish calls so far
};

// The thread behind a listening socket (metrics, status): accepts connections and serves them one
// at a time with `serve(client)`, which bounds its own time (WaitFor with stop_fd()). The
// destructor stops and joins the thread and closes both sockets.
class ServingThread {
 public:
  ServingThread() = default;
  ServingThread(const ServingThread&) = delete;
  ServingThread& operator=(const ServingThread&) = delete;
  ~ServingThread();

  // Takes `listen_fd` (listening, non-blocking) and starts the thread with every signal blocked.
  // An empty string or a one-line error.
  std::string Start(int listen_fd, std::function<void(int client)> serve);
  int stop_fd() const { return stop_fd_; }
  bool running() const { return thread_.joinable(); }

 private:
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // destructor -> thread
  std::thread thread_;
};

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
  int wake_fd() const { return exchange_.wake_fd(); }
  void Publish(std::string body) { exchange_.Publish(std::move(body)); }

 private:
  void ServeClient(int client);

  uint16_t port_ = 0;
  SnapshotExchange exchange_;  // server -> packet loop: "a client waits"
  ServingThread thread_;       // last: stopped first
};

// For the serving threads (metrics, status): waits until `fd` has `events` (pollfd::events) or the
// deadline passes or `stop_fd` fires; true only for the first.
bool WaitFor(int fd, decltype(pollfd::events) events, int stop_fd,
             std::chrono::steady_clock::time_point deadline);

// Resident set size of this process in bytes (from /proc/self/statm), 0 if unknown.
uint64_t ResidentBytes();

}  // namespace ftpalg::daemon
