// ftp-alg-replay --transfers: the transfer log written from real captures, with the users,
// commands, names and payload sizes those sessions are known to have moved.
#include <gtest/gtest.h>

#include "replay_test_util.h"

namespace ftpalg::test {
namespace {

// Runs the replay with --transfers and returns its records.
std::vector<nlohmann::json> Transfers(const std::filesystem::path& capture,
                                      std::vector<std::string> args = {}) {
  const auto path =
      std::filesystem::temp_directory_path() / ("ftpalg-transfers-" + std::to_string(getpid()) +
                                                "-" + capture.filename().string() + ".jsonl");
  args.insert(args.begin(), capture.string());
  args.push_back("--transfers");
  args.push_back(path.string());
  const ReplayRun run = RunReplayTool(args);
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  std::vector<nlohmann::json> records;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << line;
    if (!parsed.is_discarded()) records.push_back(parsed);
  }
  std::filesystem::remove(path);
  return records;
}

// The payload the file travelled with: towards the client for downloads, the server for uploads.
uint64_t FilePayload(const nlohmann::json& record) {
  const bool upload =
      record["command"] == "STOR" || record["command"] == "APPE" || record["command"] == "STOU";
  return record[upload ? "to_server" : "to_client"]["payload"].get<uint64_t>();
}

struct SuricataCase {
  const char* file;
  const char* user;
  const char* file_command;  // the middle transfer, between two NLSTs
  const char* mode;
};

class SuricataTransfers : public ::testing::TestWithParam<SuricataCase> {};

// suricata-verify's ftp-{download,upload}-{active,passive}: vsftpd, NLST, RETR/STOR index.html,
// NLST; index.html is 39 bytes (the 150 reply to RETR says so).
TEST_P(SuricataTransfers, UserCommandNameAndSizeAreLogged) {
  REQUIRE_CORPUS();
  const SuricataCase& c = GetParam();
  const auto records = Transfers(CorpusDir() / "suricata-verify" / c.file);
  ASSERT_EQ(records.size(), 3u);
  const char* commands[] = {"NLST", c.file_command, "NLST"};
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(records[i].dump());
    EXPECT_EQ(records[i]["user"], c.user);
    EXPECT_EQ(records[i]["command"], commands[i]);
    EXPECT_EQ(records[i]["mode"], c.mode);
    EXPECT_EQ(records[i]["reply"], 226);
    EXPECT_FALSE(records[i].contains("incomplete"));
    EXPECT_TRUE(records[i]["data"].is_object());
  }
  EXPECT_EQ(records[1]["name"], "index.html");
  EXPECT_EQ(FilePayload(records[1]), 39u);
}

INSTANTIATE_TEST_SUITE_P(
    Corpus, SuricataTransfers,
    ::testing::Values(SuricataCase{"ftp-download-active.pcap", "bob", "RETR", "active"},
                      SuricataCase{"ftp-download-passive.pcap", "bob", "RETR", "passive"},
                      SuricataCase{"ftp-upload-active.pcap", "alice", "STOR", "active"},
                      SuricataCase{"ftp-upload-passive.pcap", "alice", "STOR", "passive"}),
    [](const auto& test_info) {
      std::string name = test_info.param.file;
      name = name.substr(0, name.find('.'));
      for (char& ch : name) {
        if (ch == '-') ch = '_';
      }
      return name;
    });

// The project's own captures: curl RETRs small.txt (2048 bytes) and LISTs pub/ as ftpuser through
// a masquerading gateway; both sides of the NAT are in the record.
TEST(OwnCaptureTransfers, RetrOfSmallTxtThroughMasquerade) {
  const auto records = Transfers(SourceDir() / "pcaps" / "ipv4-port-inside.pcap",
                                 {"--snat", "192.0.2.0/24=198.51.100.1"});
  ASSERT_GE(records.size(), 1u);
  const nlohmann::json* retr = nullptr;
  for (const auto& record : records) {
    if (record["command"] == "RETR") retr = &record;
  }
  ASSERT_NE(retr, nullptr);
  SCOPED_TRACE(retr->dump());
  EXPECT_EQ((*retr)["user"], "ftpuser");
  EXPECT_EQ((*retr)["name"], "small.txt");
  EXPECT_EQ((*retr)["mode"], "active");
  EXPECT_EQ((*retr)["reply"], 226);
  EXPECT_EQ(FilePayload(*retr), 2048u);
  // The inside capture: the server's connection to the public address, and where NAT sent it.
  EXPECT_EQ((*retr)["control"]["original"]["src"], "192.0.2.2");
  EXPECT_EQ((*retr)["data"]["original"]["dst"], "198.51.100.1");
  EXPECT_EQ((*retr)["data"]["reply"]["src"], "192.0.2.2");
}

TEST(OwnCaptureTransfers, PassiveRetrIsLoggedAsPassive) {
  const auto records = Transfers(SourceDir() / "pcaps" / "ipv4-pasv-outside.pcap",
                                 {"--snat", "192.0.2.0/24=198.51.100.1"});
  ASSERT_GE(records.size(), 1u);
  bool found = false;
  for (const auto& record : records) {
    if (record["command"] != "RETR") continue;
    found = true;
    EXPECT_EQ(record["mode"], "passive");
    EXPECT_EQ(record["name"], "small.txt");
    EXPECT_EQ(FilePayload(record), 2048u);
  }
  EXPECT_TRUE(found);
}

TEST(OwnCaptureTransfers, NoTransfersFileNoTransferLog) {
  const ReplayRun run = RunReplayTool({(SourceDir() / "pcaps" / "ipv4-port-inside.pcap").string(),
                                       "--snat", "192.0.2.0/24=198.51.100.1"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_TRUE(run.Of("transfer").empty()) << "records belong in --transfers, not --events";
}

}  // namespace
}  // namespace ftpalg::test
