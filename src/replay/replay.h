// ftp-alg-replay's work, as a library: read a capture, run every control-connection packet through
// the engine, write the rewritten capture and the JSON lines of every decision.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "ftpalg/engine.h"
#include "ftpalg/nat_description.h"

namespace ftpalg::replay {

struct ReplayOptions {
  std::string input_path;
  std::string write_path;  // empty: no output capture
  std::vector<SnatRule> snat;
  std::vector<DnatRule> dnat;
  std::vector<uint16_t> control_ports{21};
  EngineConfig engine;
};

struct ReplayTotals {
  uint64_t records = 0;
  uint64_t control_packets = 0;
  uint64_t data_connections = 0;           // SYNs of connections other than control ones
  uint64_t data_connections_expected = 0;  // ... that matched an expectation
};

// Exit statuses of the tool.
inline constexpr int kExitOk = 0;
inline constexpr int kExitBadInput = 2;

// Runs the replay. `events` receives one JSON object per line (nullptr: none); `report` receives
// the same decisions in plain words (nullptr: none); `transfers` one transfer log record per line
// (nullptr: none; docs/transfer-log.md). On an unreadable or unsupported input, or an
// unwritable output, returns kExitBadInput with a one-line reason in *error.
int RunReplay(const ReplayOptions& options, std::ostream* events, std::ostream* report,
              ReplayTotals* totals, std::string* error, std::ostream* transfers = nullptr);

}  // namespace ftpalg::replay
