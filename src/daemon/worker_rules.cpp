#include "daemon/worker_rules.h"

#include <stdio.h>

#include <algorithm>
#include <array>
#include <optional>
#include <regex>

#include "daemon/daemon.h"

namespace ftpalg::daemon {
namespace {

// The worker index of `name` when it is HELPER_NAME-INDEX.
std::optional<uint32_t> WorkerIndex(const std::string& name, const std::string& helper_name) {
  const std::string prefix = helper_name + "-";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) {
    return std::nullopt;
  }
  const std::string digits = name.substr(prefix.size());
  if (digits.size() > 5 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(std::stoul(digits));
}

// The standard output of `command`, empty when it cannot run (the tool is not installed).
std::string Output(const char* command) {
  std::string out;
  FILE* pipe = popen(command, "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buffer;
  size_t got;
  while ((got = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), got);
  pclose(pipe);
  return out;
}

}  // namespace

std::vector<std::string> HelperNamesInRules(const std::string& rules) {
  static const std::regex kReference(R"((?:--helper\s+"?|\btype\s+")([A-Za-z0-9_.-]+))");
  std::vector<std::string> names;
  for (auto it = std::sregex_iterator(rules.begin(), rules.end(), kReference);
       it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[1].str();
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

std::vector<std::string> CompareRulesWithWorkers(const std::vector<std::string>& rules,
                                                 const std::string& helper_name, uint32_t workers) {
  std::vector<std::string> findings;
  bool plain = false;
  std::vector<bool> named(workers, false);
  for (const std::string& name : rules) {
    if (name == helper_name) {
      plain = true;
    } else if (auto index = WorkerIndex(name, helper_name)) {
      // One worker serves only the plain name (Registrations in daemon.h).
      if (workers > 1 && *index < workers) {
        named[*index] = true;
      } else {
        findings.push_back("the rules name helper '" + name + "' but ftp-algd runs " +
                           std::to_string(workers) + (workers == 1 ? " worker" : " workers") +
                           ": those control connections pass unhelped");
      }
    }
  }
  const auto unnamed = static_cast<uint32_t>(std::count(named.begin(), named.end(), false));
  if (!plain && unnamed == workers) {
    findings.push_back("the rules name none of ftp-algd's helpers ('" + helper_name +
                       (workers > 1 ? "', '" + WorkerHelperName(helper_name, 0) + "'..." : "'") +
                       "): no control connection is helped");
  } else if (workers > 1 && unnamed == workers) {
    findings.push_back("the rules use the single helper '" + helper_name + "': every control " +
                       "connection goes to worker 0 of " + std::to_string(workers) +
                       " (rules/workers/ spreads them over all)");
  } else if (workers > 1 && unnamed > 0) {
    for (uint32_t i = 0; i < workers; ++i) {
      if (!named[i]) {
        findings.push_back("worker " + std::to_string(i) + " gets no control connection: the " +
                           "rules do not name helper '" + WorkerHelperName(helper_name, i) + "'");
      }
    }
  }
  return findings;
}

size_t CheckRulesAgainstWorkers(const std::string& helper_name, uint32_t workers, Log& log) {
  const std::string rules = Output("nft list ruleset 2>/dev/null") +
                            Output("iptables-save 2>/dev/null") +
                            Output("ip6tables-save 2>/dev/null");
  const std::vector<std::string> findings =
      CompareRulesWithWorkers(HelperNamesInRules(rules), helper_name, workers);
  for (const std::string& finding : findings) log.Warning(finding);
  if (findings.empty()) {
    log.Info("the rules spread control connections over all " + std::to_string(workers) +
             (workers == 1 ? " worker" : " workers"));
  }
  return findings.size();
}

}  // namespace ftpalg::daemon
