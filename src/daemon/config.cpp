#include "daemon/config.h"

#include <CLI/CLI.hpp>

#include <iostream>

namespace ftpalg::daemon {
namespace {

struct Switches {
  bool loose = false;
  bool allow_low_ports = false;
  bool allow_unpaired = false;
  bool no_login_check = false;
  bool no_tls_step_aside = false;
  uint32_t idle_timeout_seconds = 3600;
};

void Describe(CLI::App& app, DaemonConfig* config, Switches* switches) {
  app.description(
      "ftp-algd: FTP application-layer gateway, a userspace conntrack helper.\n"
      "Rewrites PORT/EPRT/227/229 for NAT and installs conntrack expectations for the data\n"
      "connections of the control connections that the firewall rules hand to the helper\n"
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
  auto& policy = config->engine.policy;
  app.add_option("--max-expected", policy.max_pending_expectations,
                 "pending expectations per control connection (oldest replaced)")
      ->capture_default_str()
      ->check(CLI::Range(1, 255));
  app.add_option("--expect-timeout", policy.expectation_timeout_seconds,
                 "seconds an expectation waits for its data connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_flag("--loose", switches->loose,
               "accept PORT/EPRT/227 naming another address than the sender's (FTP bounce!)");
  app.add_flag("--allow-low-ports", switches->allow_low_ports, "accept data ports below 1024");
  app.add_flag("--allow-unpaired", switches->allow_unpaired,
               "act on 227/229 replies that answer no PASV/EPSV");
  app.add_flag("--no-login-check", switches->no_login_check,
               "act on PORT/EPRT before the login; do not check pre-login lines");
  app.add_flag("--no-tls-step-aside", switches->no_tls_step_aside,
               "keep parsing after AUTH TLS was accepted");
  app.add_option("--max-line", config->engine.max_line_length, "longest line parsed (bytes)")
      ->capture_default_str()
      ->check(CLI::Range(64, 65536));
  app.add_option("--max-sessions", config->engine.max_sessions,
                 "control connections tracked at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  app.add_option("--session-idle-timeout", switches->idle_timeout_seconds,
                 "seconds without a packet before a session's state is dropped")
      ->capture_default_str()
      ->check(CLI::Range(10, 7 * 86400));
  app.add_option("--metrics", config->metrics_listen,
                 "serve Prometheus metrics on this loopback ADDR:PORT ('' = off)")
      ->capture_default_str();
  app.add_option("--log-format", config->log_format, "json or text")
      ->capture_default_str()
      ->check(CLI::IsMember({"json", "text"}));
  app.add_flag("--log-packets", config->log_packets, "log every queued packet (debug)");
  app.add_flag("--check", config->check_only,
               "check that the kernel and privileges allow running, then exit");
  app.add_flag("--release", config->release_only,
               "disable the helper registration unless a running instance serves its queue, "
               "then exit (for after a crash: systemd ExecStopPost)");
  app.set_version_flag("--version", "ftp-algd 0.1.0");
}

void Apply(const Switches& switches, DaemonConfig* config) {
  auto& policy = config->engine.policy;
  policy.require_same_address = !switches.loose;
  policy.refuse_low_ports = !switches.allow_low_ports;
  policy.require_paired_reply = !switches.allow_unpaired;
  policy.require_login = !switches.no_login_check;
  policy.step_aside_on_tls = !switches.no_tls_step_aside;
  config->engine.session_idle_timeout =
      static_cast<Timestamp>(switches.idle_timeout_seconds) * kNanosPerSecond;
  // The kernel shifts sequence numbers on a live gateway (verdicts carry the conntrack).
  config->engine.shift_sequence_numbers = false;
}

}  // namespace

ParseOutcome ParseDaemonConfig(int argc, const char* const* argv, DaemonConfig* config,
                               int* exit_code) {
  CLI::App app;
  Switches switches;
  Describe(app, config, &switches);
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
  Apply(switches, config);
  if (auto* option = app.get_config_ptr(); option != nullptr && option->count() > 0) {
    config->config_file = option->as<std::string>();
  }
  return ParseOutcome::kRun;
}

bool ReloadDaemonConfig(int argc, const char* const* argv, DaemonConfig* config,
                        std::string* error) {
  DaemonConfig fresh;
  CLI::App app;
  Switches switches;
  Describe(app, &fresh, &switches);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Error& e) {
    *error = e.what();
    return false;
  }
  Apply(switches, &fresh);
  fresh.config_file = config->config_file;
  *config = fresh;
  return true;
}

}  // namespace ftpalg::daemon
