// ftp-algd's main loop: the netfilter queue in, the engine, verdicts and expectations out.
#pragma once

#include <memory>
#include <string>

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

// The helper registration a configuration asks for.
kernel::HelperRegistration Registration(const DaemonConfig& config);

// `ftp-algd --release`: disables the helper registration unless an instance serves its queue (run
// after the daemon died; see release_guard.h). Returns 0.
int ReleaseHelper(const DaemonConfig& config, Log& log);

}  // namespace ftpalg::daemon
