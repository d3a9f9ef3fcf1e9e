#include "settings/engine_options.h"

#include <CLI/CLI.hpp>

namespace ftpalg::settings {

void EngineOptions::AddTo(CLI::App& app, EngineConfig* config) {
  PolicyConfig& policy = config->policy;
  app.add_flag("--loose", loose_,
               "accept PORT/EPRT/227 naming another address than the sender's (FTP bounce!)");
  app.add_flag("--allow-low-ports", allow_low_ports_, "accept data ports below 1024");
  app.add_flag("--allow-unpaired", allow_unpaired_,
               "act on 227/229 replies that answer no PASV/EPSV");
  app.add_flag("--no-login-check", no_login_check_,
               "act on PORT/EPRT before the login; do not check pre-login lines");
  app.add_flag("--no-tls-step-aside", no_tls_step_aside_,
               "keep parsing after AUTH TLS was accepted");

  const std::string max_pending_help =
      "pending expectations per control connection, oldest replaced (at most " +
      std::to_string(kMaxPendingLimit) + ": the kernel's limit for a helper)";
  CLI::Option* max_pending =
      app.add_option("--max-pending", policy.max_pending_expectations, max_pending_help)
          ->capture_default_str()
          ->check(CLI::Range(size_t{1}, kMaxPendingLimit));
  // Hidden (empty group), still read from the command line and from configuration files.
  max_expected_alias_ = app.add_option("--max-expected", policy.max_pending_expectations,
                                       "deprecated spelling of --max-pending")
                            ->group("")
                            ->check(CLI::Range(size_t{1}, kMaxPendingLimit))
                            ->excludes(max_pending);
  app.add_option("--expect-timeout", policy.expectation_timeout_seconds,
                 "seconds an expectation waits for its data connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_option("--max-line", config->max_line_length, "longest line parsed, in bytes")
      ->capture_default_str()
      ->check(CLI::Range(64, 65536));
  app.add_option("--max-sessions", config->max_sessions, "control connections tracked at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  idle_timeout_seconds_ = static_cast<uint32_t>(config->session_idle_timeout / kNanosPerSecond);
  app.add_option("--session-idle-timeout", idle_timeout_seconds_,
                 "seconds without a packet before a session's state is dropped")
      ->capture_default_str()
      ->check(CLI::Range(10, 7 * 86400));
}

void EngineOptions::Apply(EngineConfig* config) {
  max_expected_alias_used_ = max_expected_alias_ != nullptr && max_expected_alias_->count() > 0;
  PolicyConfig& policy = config->policy;
  policy.require_same_address = !loose_;
  policy.refuse_low_ports = !allow_low_ports_;
  policy.require_paired_reply = !allow_unpaired_;
  policy.require_login = !no_login_check_;
  policy.step_aside_on_tls = !no_tls_step_aside_;
  config->session_idle_timeout = static_cast<Timestamp>(idle_timeout_seconds_) * kNanosPerSecond;
}

std::string EngineOptions::DeprecationNotice() const {
  if (!max_expected_alias_used_) return "";
  return "max-expected is deprecated: use max-pending (the same setting)";
}

}  // namespace ftpalg::settings
