// ftp-algd: the FTP application-layer gateway daemon.
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/ruleset_check.h"
#include "daemon/status.h"
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
  if (config.status_only) return ftpalg::daemon::PrintStatus(config);
  if (config.check_only) {
    ftpalg::daemon::Log log(config.LogFormat());
    const int kernel = ftpalg::daemon::CheckKernel(log);
    ftpalg::daemon::CheckRuleset(config, log);
    // Warnings only: the rules may be loaded after the daemon starts.
    ftpalg::daemon::CheckRulesAgainstWorkers(config.helper_name, config.WorkerCount(), log);
    return kernel;
  }
  if (config.release_only) {
    ftpalg::daemon::Log log(config.LogFormat());
    return ftpalg::daemon::ReleaseHelper(config, log);
  }
  ftpalg::daemon::Daemon daemon(argc, argv, std::move(config));
  return daemon.Run();
}
