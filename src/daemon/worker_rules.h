// `ftp-algd --check`: do the firewall rules and the worker count agree? (docs/workers.md)
//
// N workers serve the helpers NAME-0..NAME-(N-1) (and worker 0 also the plain NAME); the rules
// pick one per control connection. Rules that name a worker the daemon does not run leave those
// connections unhelped (a stale registration from an earlier start stays disabled), and rules that
// leave a worker out waste it. This is the minimal, self-contained reading of the rule sets for
// that one question.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/log.h"

namespace ftpalg::daemon {

// The conntrack helper names a rule set text refers to: `--helper NAME` (iptables-save) and
// `type "NAME"` (nft list ruleset), in order of appearance, each once.
std::vector<std::string> HelperNamesInRules(const std::string& rules);

// What is wrong between `rules` (the helper names they refer to) and a daemon serving `workers`
// workers under `helper_name`; empty when they agree. One line per finding.
std::vector<std::string> CompareRulesWithWorkers(const std::vector<std::string>& rules,
                                                 const std::string& helper_name, uint32_t workers);

// Reads the live rule sets (`nft list ruleset`, `iptables-save`, `ip6tables-save`, whichever
// exist) and logs CompareRulesWithWorkers' findings as warnings (or one info line when they
// agree). Returns the number of findings.
size_t CheckRulesAgainstWorkers(const std::string& helper_name, uint32_t workers, Log& log);

}  // namespace ftpalg::daemon
