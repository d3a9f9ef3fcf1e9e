// The engine's settings as command-line options: one definition of each (name, help, range,
// default) shared by ftp-alg-replay, ftp-algd and ftp-algd's configuration file, whose keys are the
// long option names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ftpalg/engine.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace ftpalg::settings {

// The largest pending-expectation limit. The daemon registers the limit as its helper's expect_max,
// which nfnetlink_cthelper refuses above NF_CT_EXPECT_MAX_CNT (255); the replay tool takes the same
// range so that a replay shows what a gateway with that setting would do.
inline constexpr size_t kMaxPendingLimit = 255;

class EngineOptions {
 public:
  // Adds the policy switches (each turns one protection off) and the engine's limits to `app`.
  // The limits are written into *config, whose current values are the defaults shown in --help;
  // *config must outlive the parse. Call Apply() after parsing.
  void AddTo(CLI::App& app, EngineConfig* config);

  // Writes the parsed switches and the idle timeout into *config, and notes whether a deprecated
  // spelling was used. Call it while the CLI::App of AddTo() still exists.
  void Apply(EngineConfig* config);

  // After Apply(): a one-line notice when a deprecated spelling was used (on the command line or
  // in a configuration file), else empty. Needs no CLI::App (it may be gone by then).
  std::string DeprecationNotice() const;

 private:
  bool loose_ = false;
  bool allow_low_ports_ = false;
  bool allow_unpaired_ = false;
  bool no_login_check_ = false;
  bool no_tls_step_aside_ = false;
  uint32_t idle_timeout_seconds_ = 0;
  // --max-expected: ftp-algd's name for --max-pending before both tools shared one definition.
  // Owned by the CLI::App: read only in Apply(), which records what DeprecationNotice() needs
  // (found by ASan: the tests called DeprecationNotice() after their app was gone).
  CLI::Option* max_expected_alias_ = nullptr;
  bool max_expected_alias_used_ = false;
};

}  // namespace ftpalg::settings
