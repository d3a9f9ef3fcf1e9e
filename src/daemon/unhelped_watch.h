// Notices FTP control connections that no rule handed to the helper: conntrack NEW events for TCP
// connections to a watched port (default 21) that carry no CTA_HELP naming our helper are counted
// (ftpalg_unhelped_control_connections_total) and logged as a warning, at most once a minute,
// with an example tuple and the rule that would fix it.
//
// Why the event is proof (see kernel/conntrack_events.h): the NEW event goes out when the
// conntrack is confirmed, after every prerouting rule ran, and it names the helper whenever the
// conntrack has one. The socket is its own fd in the packet loop, read without waiting and at most
// a bounded number of datagrams per wakeup, with a bounded receive buffer: a burst of new
// connections costs dropped events (counted from ENOBUFS), never verdict latency.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/log.h"
#include "ftpalg/events.h"
#include "kernel/conntrack_events.h"

namespace ftpalg::daemon {

// The pure part: which events are unhelped control connections, and when to warn.
class UnhelpedControlTally {
 public:
  static constexpr Timestamp kWarningInterval = 60 * kNanosPerSecond;

  UnhelpedControlTally(std::string helper_name, std::vector<uint16_t> ports)
      : helper_name_(std::move(helper_name)), ports_(std::move(ports)) {}

  // True for a NEW TCP conntrack to a watched port whose helper is not ours (none, or another).
  bool IsUnhelpedControl(const kernel::ConntrackEvent& event) const;
  // Counts the event if it is one; returns the warning to log, if one is due at `now`.
  std::optional<std::string> Observe(const kernel::ConntrackEvent& event, Timestamp now);

  uint64_t count() const { return count_; }

 private:
  std::string helper_name_;
  std::vector<uint16_t> ports_;
  uint64_t count_ = 0;
  uint64_t count_at_last_warning_ = 0;
  std::optional<Timestamp> last_warning_;
};

// The adapter: the event socket and the tally, for the packet loop.
class UnhelpedControlWatch {
 public:
  // Receive buffer: a few hundred events; more in one burst are dropped and counted.
  static constexpr int kReceiveBufferBytes = 256 * 1024;
  // Datagrams read per wakeup, so that a flood of new connections cannot hold the loop.
  static constexpr size_t kMaxDatagramsPerWakeup = 32;

  UnhelpedControlWatch(std::string helper_name, std::vector<uint16_t> ports)
      : tally_(std::move(helper_name), std::move(ports)) {}

  // Joins the NEW group. On failure the daemon runs on without the watch (a warning says so).
  std::string Open();
  int fd() const { return socket_.is_open() ? socket_.fd() : -1; }
  void OnReadable(Timestamp now, Log& log);

  uint64_t unhelped() const { return tally_.count(); }
  uint64_t overruns() const { return socket_.overruns(); }
  uint64_t decode_errors() const { return socket_.decode_errors(); }

 private:
  UnhelpedControlTally tally_;
  kernel::ConntrackEventSocket socket_;
};

}  // namespace ftpalg::daemon
