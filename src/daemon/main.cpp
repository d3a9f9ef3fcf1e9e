// ftp-algd: the FTP application-layer gateway daemon.
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/worker_rules.h"

int main(int argc, char** argv) {
  ftpalg::daemon::DaemonConfig config;
  int exit_code = 0;
  if (ftpalg::daemon::ParseDaemonConfig(argc, argv, &config, &exit_code) ==
      ftpalg::daemon::ParseOutcome::kExit) {
    return exit_code;
  }
  if (!config.deprecation_notice.empty()) {
    ftpalg::daemon::Log(config.LogFormat()).Warning(config.deprecation_notice);
  }
  if (config.check_only || config.release_only) {
    ftpalg::daemon::Log log(config.LogFormat());
    if (!config.check_only) return ftpalg::daemon::ReleaseHelper(config, log);
    const int status = ftpalg::daemon::CheckKernel(log);
    // Warnings only: the rules may be loaded after the daemon starts.
    ftpalg::daemon::CheckRulesAgainstWorkers(config.helper_name, config.WorkerCount(), log);
    return status;
  }
  ftpalg::daemon::Daemon daemon(argc, argv, std::move(config));
  return daemon.Run();
}
