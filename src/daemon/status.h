// `ftp-algd status`: the running daemon's sessions and health on demand, over a UNIX socket
// (default /run/ftp-algd/status.sock, root-owned, mode 0600). The client connects and reads one
// JSON document; it sends nothing. The server runs on a thread of its own, like the metrics
// endpoint: the packet loop only renders the document when a client waits (an eventfd wakes it),
// and the server gives up on the loop after kFreshWaitMs and on a client that does not take its
// answer after kResponseDeadlineMs, so no client, stuck or slow, delays a verdict.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "daemon/config.h"
#include "daemon/metrics.h"
#include "ftpalg/engine.h"

namespace ftpalg::daemon {

// What the document holds. With several workers (one engine each) the caller appends every
// engine's sessions and counters to one report: AppendEngine is the one function to point at
// each of them.
struct StatusReport {
  static constexpr size_t kMaxListedSessions = 1000;  // the document stays small
  std::vector<SessionView> sessions;                  // at most kMaxListedSessions
  size_t session_count = 0;                           // all of them, listed or not
  Counters totals;
  std::vector<ExtraMetric> health;  // queue overruns (fail-open passes), install errors, ...
};
void AppendEngine(const Engine& engine, Timestamp now, StatusReport* report);
// The sessions and totals of `part` (one worker's AppendEngine) added to `report`.
void AppendReport(const StatusReport& part, StatusReport* report);

// The JSON document (one line) and its text rendering for the operator. StatusText returns a
// one-line error when `json_text` is not such a document.
std::string StatusJson(const StatusReport& report);
std::string StatusText(std::string_view json_text);

class StatusServer {
 public:
  static constexpr int kFreshWaitMs = 500;
  static constexpr int kResponseDeadlineMs = 1000;

  StatusServer() = default;
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;
  ~StatusServer();  // stops the thread, closes and removes the socket

  // Listens on the UNIX socket `path` (a stale socket file there is replaced; the file is made
  // mode 0600 before anyone can connect) and starts the thread. Empty string or a one-line error.
  std::string Listen(const std::string& path);
  // Readable when a client waits; the packet loop answers with Publish(StatusJson(...)).
  int wake_fd() const { return exchange_.wake_fd(); }
  void Publish(std::string document) { exchange_.Publish(std::move(document)); }

 private:
  void ServeClient(int client);

  std::string path_;  // non-empty once bound: removed by the destructor
  SnapshotExchange exchange_;
  ServingThread thread_;  // last: stopped first
};

// The client side of `ftp-algd status`: reads the document from `path` within `timeout_ms`.
// Returns false with a one-line reason in *error.
bool FetchStatus(const std::string& path, int timeout_ms, std::string* document,
                 std::string* error);
// `ftp-algd status [--json]`: prints the document or its text to stdout. 0, or 1 with a one-line
// reason on stderr.
int PrintStatus(const DaemonConfig& config);

}  // namespace ftpalg::daemon
