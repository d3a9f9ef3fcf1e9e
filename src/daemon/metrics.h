// The counters an operator reads while the daemon runs: Prometheus text exposition on a loopback
// HTTP endpoint (GET /metrics), e.g. `curl -s 127.0.0.1:9477/metrics`.
#pragma once

#include <cstdint>
#include <string>
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

// A minimal HTTP/1.0 responder for the metrics, driven by the daemon's poll loop (no threads).
class MetricsServer {
 public:
  ~MetricsServer();
  // Listens on "ADDR:PORT" (loopback addresses only: metrics are not for the network). Returns an
  // empty string or a one-line error.
  std::string Listen(const std::string& address_port);
  int fd() const { return listen_fd_; }
  // Accepts one connection and answers it with `body` for GET /metrics, 404 otherwise. Reads and
  // writes are bounded in size and time so that a stuck client cannot stall the daemon.
  void ServeOne(const std::string& body);

 private:
  int listen_fd_ = -1;
};

// Resident set size of this process in bytes (from /proc/self/statm), 0 if unknown.
uint64_t ResidentBytes();

}  // namespace ftpalg::daemon
