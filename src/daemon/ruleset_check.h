// The command runner behind `ftp-algd --check`'s ruleset lines: runs `nft -j list ruleset`,
// `iptables-save`, `ip6tables-save` and their legacy variants, and hands their output to the pure
// reader (settings/ruleset.h). A program that is not installed is a line saying so, not a failure.
#pragma once

#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/log.h"
#include "settings/ruleset.h"

namespace ftpalg::daemon {

// The output of one program run with a deadline and a size bound.
struct CommandOutput {
  bool found = true;    // false: no such program on PATH
  std::string failure;  // non-empty: it did not run to a clean exit (status, signal, deadline)
  std::string text;     // its standard output
};
CommandOutput RunCommand(const std::vector<std::string>& argv);

// Every ruleset source, read.
std::vector<settings::RulesetSource> ReadLoadedRulesets(const std::string& helper_name);

// Logs the check's lines (level "ok", "info" or "warning"). Never fails the check: rules are often
// loaded after the daemon, so their absence is a warning.
void CheckRuleset(const DaemonConfig& config, Log& log);

}  // namespace ftpalg::daemon
