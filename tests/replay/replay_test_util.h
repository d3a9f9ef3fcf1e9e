// Helpers for replay tests: run the real ftp-alg-replay binary, read its JSON lines, and read
// captures independently of the engine (to know which data connections really appear).
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ftpalg/packet_view.h"
#include "replay/capture.h"

namespace ftpalg::test {

inline std::filesystem::path SourceDir() { return FTPALG_SOURCE_DIR; }
inline std::filesystem::path CorpusDir() {
  return SourceDir() / ".." / "shared" / "pcaps" / "corpus";
}

// Skips the test (reported as skipped by CTest) where ../shared is absent.
#define REQUIRE_CORPUS()                                                                   \
  do {                                                                                     \
    if (!std::filesystem::exists(::ftpalg::test::CorpusDir())) {                           \
      GTEST_SKIP() << "shared capture corpus not found at " << ::ftpalg::test::CorpusDir() \
                   << " (clone the project with ../shared beside it)";                     \
    }                                                                                      \
  } while (0)

struct ReplayRun {
  int exit_code = -1;
  std::vector<nlohmann::json> events;
  std::vector<std::string> event_lines;  // the raw JSON lines, as written
  std::string stdout_text;
  std::string stderr_text;

  std::vector<nlohmann::json> Of(const std::string& type) const {
    std::vector<nlohmann::json> out;
    for (const auto& e : events) {
      if (e.value("event", "") == type) out.push_back(e);
    }
    return out;
  }
  const nlohmann::json* Summary() const {
    for (const auto& e : events) {
      if (e.value("event", "") == "summary") return &e;
    }
    return nullptr;
  }
};

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs ftp-alg-replay with `args` (the capture path among them) and --events to a temp file.
inline ReplayRun RunReplayTool(const std::vector<std::string>& args) {
  static int counter = 0;
  const auto dir =
      std::filesystem::temp_directory_path() /
      ("ftpalg-replay-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(dir);
  const auto events_path = dir / "events.jsonl";
  const auto out_path = dir / "stdout.txt";
  const auto err_path = dir / "stderr.txt";
  // FTPALG_REPLAY_UNDER_TEST: another build's binary (a "before" figure from main's build).
  const char* binary = std::getenv("FTPALG_REPLAY_UNDER_TEST");
  std::string command =
      std::string("'") + (binary != nullptr ? binary : FTPALG_REPLAY_BINARY) + "'";
  for (const std::string& arg : args) command += " '" + arg + "'";
  command += " --events '" + events_path.string() + "' >'" + out_path.string() + "' 2>'" +
             err_path.string() + "'";
  const int status = std::system(command.c_str());
  ReplayRun run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.stdout_text = ReadFile(out_path);
  run.stderr_text = ReadFile(err_path);
  std::ifstream in(events_path);
  std::string line;
  while (std::getline(in, line)) {
    run.event_lines.push_back(line);
    auto parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << line;
    if (!parsed.is_discarded()) run.events.push_back(parsed);
  }
  std::filesystem::remove_all(dir);
  return run;
}

struct SynSeen {
  double time = 0;
  Tuple tuple;
};

// Every bare SYN in the capture whose ports are not the control port: the data connections.
inline std::vector<SynSeen> DataConnectionSyns(const std::filesystem::path& capture,
                                               uint16_t control_port = 21) {
  std::vector<SynSeen> out;
  std::string error;
  auto reader = replay::CaptureReader::Open(capture.string(), &error);
  EXPECT_NE(reader, nullptr) << error;
  if (!reader) return out;
  std::map<Tuple, bool> seen;  // retransmitted SYNs count once
  while (auto record = reader->Next()) {
    if (!record->has_ip) continue;
    auto parsed = ParseTcpPacket(record->frame.subspan(record->ip_offset));
    if (!parsed.ok()) continue;
    const auto& v = parsed.view;
    if (!v.HasFlag(tcp_flags::kSyn) || v.HasFlag(tcp_flags::kAck)) continue;
    if (v.tuple.src.port == control_port || v.tuple.dst.port == control_port) continue;
    if (seen[v.tuple]) continue;
    seen[v.tuple] = true;
    out.push_back({static_cast<double>(record->time) / 1e9, v.tuple});
  }
  return out;
}

// True when an expect event before the SYN names its destination (and its source, or "*"),
// directly or as the NAT target (a capture behind the gateway shows the translated connection).
inline bool PredictedBy(const SynSeen& syn, const std::vector<nlohmann::json>& expects) {
  for (const auto& e : expects) {
    if (e["time"].get<double>() > syn.time + 1e-6) continue;
    const bool to_dst =
        (e["dst"] == syn.tuple.dst.addr.ToString() && e["dport"] == syn.tuple.dst.port) ||
        (e.contains("nat") && e["nat"]["addr"] == syn.tuple.dst.addr.ToString() &&
         e["nat"]["port"] == syn.tuple.dst.port);
    const bool from_src =
        e["src"] == "*" || e["src"] == syn.tuple.src.addr.ToString() || e.contains("nat");
    if (to_dst && from_src) return true;
  }
  return false;
}

}  // namespace ftpalg::test
