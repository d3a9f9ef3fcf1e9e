// Keeping the gateway fail-open when ftp-algd dies without a clean stop.
//
// While the helper registration is enabled, the kernel hands every packet of a helped control
// connection to the daemon's queue from inside conntrack's confirm step (nf_confirm on 6.1).
// With nobody on the queue the packet takes the queue's bypass path, which skips the rest of that
// step: a new control connection is never confirmed (its SYN-ACK is then dropped) and later
// sequence numbers of rewritten connections are not adjusted. Found live on the stock kernel
// (docs/faults.md). A disabled registration is skipped by the kernel (NF_ACCEPT), and
// confirmation and sequence adjustment work as without a helper.
//
// So the registration must be disabled whenever no daemon serves it: Stop() does it on SIGTERM,
// the guard below does it after SIGKILL or a crash, and `ftp-algd --release` (the systemd unit's
// ExecStopPost) after anything else.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "kernel/cthelper_client.h"

namespace ftpalg::daemon {

// Disables the registration for every family unless a process has bound the helper's queue (a new
// instance already serves it). `grace`: how long a bound queue may take to be released before it
// counts as served (see WaitForQueueRelease). Returns a one-line description of what it did.
std::string ReleaseRegistration(const kernel::HelperRegistration& registration,
                                std::chrono::milliseconds grace = std::chrono::milliseconds(0));

// Asks `queue_bound` until it says false, at most `attempts` times, `interval` apart; true when
// the queue was found free. The guard learns of the daemon's death when the kernel closes the
// daemon's end of its pipe, which can come a moment before the queue's netlink socket of the same
// dead process is released: checking once then took the dead daemon for a running instance and
// left the registration enabled (found live: fault-sigkill, once the daemon had a second thread).
bool WaitForQueueRelease(const std::function<bool()>& queue_bound, int attempts,
                         std::chrono::milliseconds interval);

// ReleaseRegistration for each registration (one per worker, docs/workers.md): a line each.
std::vector<std::string> ReleaseRegistrations(
    const std::vector<kernel::HelperRegistration>& registrations,
    std::chrono::milliseconds grace = std::chrono::milliseconds(0));

class ReleaseGuard {
 public:
  // Forks the guard process, which releases every one of `registrations` when the daemon dies.
  // Call it before opening any netlink socket: the guard must not hold a queue's socket, or the
  // queue would stay bound after the daemon died.
  bool Start(const std::vector<kernel::HelperRegistration>& registrations, std::string* error);
  // Clean stop: the daemon released the registration itself; the guard just exits.
  void Dismiss();
  ~ReleaseGuard();

 private:
  int pipe_write_ = -1;
  pid_t pid_ = -1;
};

}  // namespace ftpalg::daemon
