#include "daemon/config.h"

#include <sched.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>

#include "settings/engine_options.h"

namespace ftpalg::daemon {
namespace {

void Describe(CLI::App& app, DaemonConfig* config, settings::EngineOptions* engine_options) {
  app.description(
      "ftp-algd: FTP application-layer gateway, a userspace conntrack helper.\n"
      "Rewrites PORT/EPRT/LPRT and 227/229/228 for NAT and installs conntrack expectations for\n"
      "the data connections of the control connections that the firewall rules hand to the\n"
      "helper "
      "(nft: ct helper \"ftp-alg\"; iptables: -j CT --helper ftp-alg). See README.md.");
  app.set_config("-c,--config", "", "configuration file (the same keys as the long flags)");
  app.add_option("-q,--queue", config->queue_num, "netfilter queue number for the helper")
      ->capture_default_str();
  app.add_option("--queue-maxlen", config->queue_max_len,
                 "packets the kernel keeps waiting for a verdict (fail-open past it)")
      ->capture_default_str()
      ->check(CLI::Range(16, 1 << 20));
  app.add_option("-n,--helper-name", config->helper_name,
                 "conntrack helper name the rules refer to (at most 15 characters)")
      ->capture_default_str()
      ->check([](const std::string& name) {
        return (name.empty() || name.size() > 15) ? std::string("1 to 15 characters") : "";
      });
  app.add_option("--workers", config->workers,
                 "packet workers, one helper and queue each: helpers HELPER-NAME-0.. on queues "
                 "QUEUE.. (0 = one per CPU; docs/workers.md)")
      ->capture_default_str()
      ->check(CLI::Range(0U, kMaxWorkers));
  app.add_flag("--payload-only", config->payload_only,
               "experimental: keep the helpers disabled (attached, queueing nothing); the rules "
               "queue the segments with payload (docs/workers.md)");
  engine_options->AddTo(app, &config->engine);
  app.add_option("--metrics", config->metrics_listen,
                 "serve Prometheus metrics on this loopback ADDR:PORT ('' = off)")
      ->capture_default_str();
  app.add_option("--log-format", config->log_format, "json or text")
      ->capture_default_str()
      ->check(CLI::IsMember({"json", "text"}));
  app.add_option("--transfer-log", config->transfer_log,
                 "one JSON line per data transfer: off, journal (stderr), stdout or a file "
                 "(reopened on SIGHUP)")
      ->capture_default_str()
      ->check([](const std::string& value) {
        return value.empty() ? std::string("off, journal, stdout or a file path") : "";
      });
  app.add_flag("--log-packets", config->log_packets, "log every queued packet (debug)");
  app.add_flag("--check", config->check_only,
               "check that the kernel and privileges allow running, then exit");
  app.add_flag("--release", config->release_only,
               "disable the helper registration unless a running instance serves its queue, "
               "then exit (for after a crash: systemd ExecStopPost)");
  app.add_option("--control-port", config->control_ports,
                 "TCP ports of FTP control connections: a new connection to one of them that no "
                 "rule gave the helper is counted and logged (0 = off)")
      ->capture_default_str();
  app.add_option("--status-socket", config->status_socket,
                 "UNIX socket for `ftp-algd status` ('' = off)")
      ->capture_default_str();
  CLI::App* status = app.add_subcommand(
      "status", "print the running daemon's sessions, totals and health, then exit");
  status->add_flag("--json", config->status_json, "print the daemon's JSON document");
  status->fallthrough();
  status->callback([config] { config->status_only = true; });
  app.set_version_flag("--version", "ftp-algd 0.1.0");
}

void Apply(settings::EngineOptions& engine_options, DaemonConfig* config) {
  engine_options.Apply(&config->engine);
  config->deprecation_notice = engine_options.DeprecationNotice();
  // The kernel shifts sequence numbers on a live gateway (nf_ct_seqadj, which the daemon sets over
  // ctnetlink from each decision's seq_adjustment).
  config->engine.shift_sequence_numbers = false;
  std::erase(config->control_ports, uint16_t{0});
}

}  // namespace

uint32_t DaemonConfig::WorkerCount() const {
  if (workers > 0) return workers;
  // The CPUs this process may use (systemd's CPUAffinity=, taskset), not every CPU of the machine.
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 1;
  const int count = CPU_COUNT(&allowed);
  return count < 1 ? 1 : static_cast<uint32_t>(std::min<int>(count, kMaxWorkers));
}

ParseOutcome ParseDaemonConfig(int argc, const char* const* argv, DaemonConfig* config,
                               int* exit_code) {
  CLI::App app;
  settings::EngineOptions engine_options;
  Describe(app, config, &engine_options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) {
    *exit_code = app.exit(success);
    return ParseOutcome::kExit;
  } catch (const CLI::ParseError& error) {
    std::cerr << "ftp-algd: " << error.what() << '\n';
    *exit_code = 2;
    return ParseOutcome::kExit;
  }
  Apply(engine_options, config);
  if (auto* option = app.get_config_ptr(); option != nullptr && option->count() > 0) {
    config->config_file = option->as<std::string>();
  }
  return ParseOutcome::kRun;
}

bool ReloadDaemonConfig(int argc, const char* const* argv, DaemonConfig* config,
                        std::string* error) {
  DaemonConfig fresh;
  CLI::App app;
  settings::EngineOptions engine_options;
  Describe(app, &fresh, &engine_options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Error& e) {
    *error = e.what();
    return false;
  }
  Apply(engine_options, &fresh);
  fresh.config_file = config->config_file;
  *config = fresh;
  return true;
}

}  // namespace ftpalg::daemon
