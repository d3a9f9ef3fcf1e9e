// ftp-alg-replay over real captures written by other projects (../shared/pcaps/corpus): it must
// predict every legitimate data connection and none of the hostile ones, and survive the rest.
#include <gtest/gtest.h>

#include "replay_test_util.h"

namespace ftpalg::test {
namespace {

std::string TestNameFromPath(std::string name) {
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

struct PredictionCase {
  const char* capture;
  size_t data_connections;
};

class CorpusPrediction : public ::testing::TestWithParam<PredictionCase> {};

TEST_P(CorpusPrediction, EveryDataConnectionIsPrecededByAMatchingExpectation) {
  REQUIRE_CORPUS();
  const auto capture = CorpusDir() / GetParam().capture;
  const ReplayRun run = RunReplayTool({capture.string()});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  const auto syns = DataConnectionSyns(capture);
  ASSERT_EQ(syns.size(), GetParam().data_connections) << "the capture is not what SOURCES.md says";
  const auto expects = run.Of("expect");
  for (const SynSeen& syn : syns) {
    EXPECT_TRUE(PredictedBy(syn, expects))
        << "no expectation before the data connection " << syn.tuple.src.ToString() << " -> "
        << syn.tuple.dst.ToString();
  }
  // The tool's own matching agrees, and nothing was refused in these legitimate sessions.
  const nlohmann::json* summary = run.Summary();
  ASSERT_NE(summary, nullptr);
  EXPECT_EQ((*summary)["data_connections_expected"], GetParam().data_connections);
  EXPECT_TRUE(run.Of("refuse").empty()) << run.Of("refuse")[0].dump();
}

INSTANTIATE_TEST_SUITE_P(
    RealSessions, CorpusPrediction,
    ::testing::Values(PredictionCase{"zeek/ipv4.pcap", 4}, PredictionCase{"zeek/ipv6.pcap", 5},
                      PredictionCase{"zeek/retr.pcap", 1}, PredictionCase{"ndpi/ftp.pcap", 2},
                      PredictionCase{"suricata-verify/ftp-download-active.pcap", 3},
                      PredictionCase{"suricata-verify/ftp-download-passive.pcap", 3},
                      PredictionCase{"suricata-verify/ftp-upload-active.pcap", 3},
                      PredictionCase{"suricata-verify/ftp-upload-passive.pcap", 3}),
    [](const ::testing::TestParamInfo<PredictionCase>& test) {
      return TestNameFromPath(test.param.capture);
    });

TEST(CorpusHostile, BounceIsRefusedAndTheThirdPartyNeverExpected) {
  REQUIRE_CORPUS();
  const ReplayRun run = RunReplayTool({(CorpusDir() / "suricata-verify/ftp-bounce.pcap").string()});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  const auto refusals = run.Of("refuse");
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0]["reason"], "bounce");
  EXPECT_EQ(refusals[0]["cause"], "PORT");
  for (const auto& e : run.Of("expect")) EXPECT_NE(e["dst"], "2.2.2.3") << e.dump();
  // The valid PORT before it is still honoured.
  EXPECT_EQ(run.Of("expect").size(), 1u);
}

TEST(CorpusHostile, FiveHundredThirdPartyPortsOpenNothing) {
  REQUIRE_CORPUS();
  const auto capture = (CorpusDir() / "zeek/ftp-many-port-expected.pcap.gz").string();
  // The capture has a greeting but no login: by default every PORT is refused for that.
  const ReplayRun run = RunReplayTool({capture});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_TRUE(run.Of("expect").empty());
  EXPECT_EQ(run.Of("refuse").size(), 500u);
  for (const auto& r : run.Of("refuse")) EXPECT_EQ(r["reason"], "not-logged-in") << r.dump();
  // Without the login rule, the bounce rule catches every one of them.
  const ReplayRun unchecked = RunReplayTool({capture, "--no-login-check"});
  ASSERT_EQ(unchecked.exit_code, 0) << unchecked.stderr_text;
  EXPECT_TRUE(unchecked.Of("expect").empty());
  EXPECT_EQ(unchecked.Of("refuse").size(), 500u);
  for (const auto& r : unchecked.Of("refuse")) EXPECT_EQ(r["reason"], "bounce") << r.dump();
}

TEST(CorpusHostile, NothingIsParsedAfterAuthTls) {
  REQUIRE_CORPUS();
  const ReplayRun run = RunReplayTool({(CorpusDir() / "zeek/ftp-auth-tls.pcap").string()});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  const auto aside = run.Of("step-aside");
  ASSERT_EQ(aside.size(), 1u);
  EXPECT_EQ(aside[0]["reason"], "tls");
  const double stepped_at = aside[0]["time"];
  for (const auto& e : run.events) {
    const std::string type = e["event"];
    if (type == "expect" || type == "rewrite" || type == "refuse") {
      EXPECT_LE(e["time"].get<double>(), stepped_at) << e.dump();
    }
  }
  EXPECT_GT((*run.Summary())["counters"]["bytes_ignored"].get<uint64_t>(), 0u);
}

TEST(CorpusHostile, EprtIpv6OnIpv4ControlIsRefusedAsWrongFamily) {
  REQUIRE_CORPUS();
  const ReplayRun run = RunReplayTool(
      {(CorpusDir() / "suricata-verify/eprt-ipv6-addr-over-ipv4-control.pcap").string()});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_TRUE(run.Of("expect").empty());
  const auto refusals = run.Of("refuse");
  ASSERT_FALSE(refusals.empty());
  for (const auto& r : refusals) EXPECT_EQ(r["reason"], "wrong-family") << r.dump();
}

TEST(CorpusHostile, FakeLongCommandsAndAddresslessRepliesAreRefusedAsMalformed) {
  REQUIRE_CORPUS();
  const ReplayRun run =
      RunReplayTool({(CorpusDir() / "zeek/fake-long-commands.pcap").string(), "--allow-unpaired"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_TRUE(run.Of("expect").empty());
  bool saw_malformed = false;
  for (const auto& r : run.Of("refuse")) saw_malformed |= r["reason"] == "malformed";
  EXPECT_TRUE(saw_malformed);
}

// Captures that are malformed or hostile in other ways: the tool reads them to the end, exits 0,
// and reports a summary; nothing in them is a legitimate data connection.
class CorpusSurvives : public ::testing::TestWithParam<const char*> {};

TEST_P(CorpusSurvives, ReadsToTheEndWithoutCrashing) {
  REQUIRE_CORPUS();
  const auto capture = CorpusDir() / GetParam();
  const ReplayRun run = RunReplayTool({capture.string()});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  ASSERT_NE(run.Summary(), nullptr);
  EXPECT_GT((*run.Summary())["records"].get<uint64_t>(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Malformed, CorpusSurvives,
                         ::testing::Values("zeek/fake-long-commands.pcap",
                                           "zeek/ftp-invalid-reply-code.pcap",
                                           "suricata-verify/ftp-too-long-command-buffered.pcap",
                                           "suricata-verify/malformed-port-args.pcap",
                                           "suricata-verify/pipelined-commands-one-segment.pcap",
                                           "suricata-verify/eprt-ipv6-addr-over-ipv4-control.pcap"),
                         [](const ::testing::TestParamInfo<const char*>& test) {
                           return TestNameFromPath(test.param);
                         });

TEST(CorpusHostile, OverlongCommandIsSkippedThenParsingResumes) {
  REQUIRE_CORPUS();
  const ReplayRun run = RunReplayTool(
      {(CorpusDir() / "suricata-verify/ftp-too-long-command-buffered.pcap").string(),
       "--max-line", "1024"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  const auto& counters = (*run.Summary())["counters"];
  EXPECT_GE(counters["lines_overlong"].get<uint64_t>(), 1u);
  // Lines after the 42 KB one were framed again.
  EXPECT_GT(counters["lines"].get<uint64_t>(), counters["lines_overlong"].get<uint64_t>());
}

TEST(ReplayTool, UnreadableFileExitsTwoWithOneLineReason) {
  const ReplayRun missing = RunReplayTool({"/nonexistent/capture.pcap"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.stderr_text.find("capture.pcap"), std::string::npos);
  EXPECT_EQ(std::count(missing.stderr_text.begin(), missing.stderr_text.end(), '\n'), 1);

  const auto not_pcap = SourceDir() / "README.md";
  const ReplayRun text = RunReplayTool({not_pcap.string()});
  EXPECT_EQ(text.exit_code, 2);
  EXPECT_NE(text.stderr_text.find("not a pcap"), std::string::npos) << text.stderr_text;
}

TEST(ReplayTool, BadNatDescriptionIsRejected) {
  REQUIRE_CORPUS();
  const ReplayRun run =
      RunReplayTool({(CorpusDir() / "zeek/ipv4.pcap").string(), "--snat", "192.0.2.0=nope"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.stderr_text.find("--snat"), std::string::npos);
}

}  // namespace
}  // namespace ftpalg::test
