// ftp-algd's main loop: the netfilter queue in, the engine, verdicts and expectations out.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/log.h"
#include "kernel/cthelper_client.h"

namespace ftpalg::daemon {

class Daemon {
 public:
  // argc/argv are kept to re-read the configuration on SIGHUP.
  Daemon(int argc, const char* const* argv, DaemonConfig config);
  ~Daemon();
  // Runs until SIGTERM/SIGINT. Returns the process exit status: 0 after a clean shutdown, 1 when
  // the kernel or the privileges do not allow running (with a one-line reason on stderr).
  int Run();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// `ftp-algd --check`: what the kernel and the process allow, one line each. Returns 0 when the
// daemon can run.
int CheckKernel(Log& log);

// The name of worker `index`'s own helper: "PREFIX-INDEX" (docs/workers.md).
std::string WorkerHelperName(const std::string& prefix, uint32_t index);

// The helper registrations a configuration asks for, and the worker serving each (docs/workers.md):
// one worker serves `helper_name` on `queue_num`; N > 1 workers serve `helper_name-i` on
// `queue_num + i`, and worker 0 also serves the plain `helper_name` (on its queue), so that rules
// written for one helper keep working. Empty, with a one-line reason in *error, when a name or
// queue number would not fit.
struct WorkerRegistration {
  uint32_t worker = 0;
  kernel::HelperRegistration registration;
};
std::vector<WorkerRegistration> Registrations(const DaemonConfig& config, std::string* error);

// `ftp-algd --release`: disables the helper registrations unless an instance serves their queues
// (run after the daemon died; see release_guard.h). Returns 0.
int ReleaseHelper(const DaemonConfig& config, Log& log);

}  // namespace ftpalg::daemon
