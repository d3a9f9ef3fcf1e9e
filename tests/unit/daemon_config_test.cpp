#include "daemon/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "daemon/metrics.h"

namespace ftpalg::daemon {
namespace {

std::vector<const char*> Argv(const std::vector<std::string>& args) {
  std::vector<const char*> out;
  for (const std::string& arg : args) out.push_back(arg.c_str());
  return out;
}

TEST(DaemonConfig, DefaultsKeepEveryProtectionOn) {
  std::vector<std::string> args = {"ftp-algd"};
  auto argv = Argv(args);
  DaemonConfig config;
  int code = -1;
  ASSERT_EQ(ParseDaemonConfig(static_cast<int>(argv.size()), argv.data(), &config, &code),
            ParseOutcome::kRun);
  EXPECT_EQ(config.helper_name, "ftp-alg");
  EXPECT_EQ(config.queue_num, 21);
  const PolicyConfig& policy = config.engine.policy;
  EXPECT_TRUE(policy.require_same_address);
  EXPECT_TRUE(policy.refuse_low_ports);
  EXPECT_TRUE(policy.require_paired_reply);
  EXPECT_TRUE(policy.require_login);
  EXPECT_TRUE(policy.step_aside_on_tls);
  EXPECT_FALSE(config.engine.shift_sequence_numbers);  // the kernel does it live
}

TEST(DaemonConfig, FileAndFlagsCombineAndReloadRereadsTheFile) {
  const auto path = std::filesystem::temp_directory_path() / "ftpalg-config-test.conf";
  std::ofstream(path) << "queue = 7\nmax-pending = 9\nloose = true\n";
  std::vector<std::string> args = {"ftp-algd", "--config", path.string(), "--allow-low-ports"};
  auto argv = Argv(args);
  DaemonConfig config;
  int code = -1;
  ASSERT_EQ(ParseDaemonConfig(static_cast<int>(argv.size()), argv.data(), &config, &code),
            ParseOutcome::kRun);
  EXPECT_EQ(config.queue_num, 7);
  EXPECT_EQ(config.engine.policy.max_pending_expectations, 9u);
  EXPECT_FALSE(config.engine.policy.require_same_address);
  EXPECT_FALSE(config.engine.policy.refuse_low_ports);
  EXPECT_EQ(config.deprecation_notice, "");

  std::ofstream(path) << "queue = 7\nmax-expected = 2\n";  // the deprecated key still works
  std::string error;
  ASSERT_TRUE(ReloadDaemonConfig(static_cast<int>(argv.size()), argv.data(), &config, &error))
      << error;
  EXPECT_EQ(config.engine.policy.max_pending_expectations, 2u);
  EXPECT_TRUE(config.engine.policy.require_same_address);
  EXPECT_NE(config.deprecation_notice, "");

  std::ofstream(path) << "max-pending = many\n";
  EXPECT_FALSE(ReloadDaemonConfig(static_cast<int>(argv.size()), argv.data(), &config, &error));
  EXPECT_FALSE(error.empty());
  EXPECT_EQ(config.engine.policy.max_pending_expectations, 2u);  // unchanged
  std::filesystem::remove(path);
}

TEST(DaemonConfig, BadValuesExitWithStatusTwo) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"ftp-algd", "--helper-name", "a-name-that-is-too-long"},
        std::vector<std::string>{"ftp-algd", "--max-pending", "0"},
        std::vector<std::string>{"ftp-algd", "--max-pending", "256"},
        std::vector<std::string>{"ftp-algd", "--log-format", "xml"}}) {
    auto argv = Argv(args);
    DaemonConfig config;
    int code = -1;
    EXPECT_EQ(ParseDaemonConfig(static_cast<int>(argv.size()), argv.data(), &config, &code),
              ParseOutcome::kExit);
    EXPECT_EQ(code, 2) << args[1];
  }
}

TEST(Metrics, PrometheusTextHasHelpTypeAndValue) {
  Counters counters;
  counters.Add(Counter::kRewrites, 3);
  counters.Add(Counter::kSessionsActive, 2);
  const std::string text = RenderMetrics(counters, {{"queue_packets", "packets", false, 5}});
  EXPECT_NE(text.find("# TYPE ftpalg_rewrites_total counter\nftpalg_rewrites_total 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE ftpalg_sessions_active gauge\nftpalg_sessions_active 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("ftpalg_queue_packets_total 5\n"), std::string::npos);
}

TEST(Metrics, OnlyLoopbackMayListen) {
  MetricsServer server;
  EXPECT_NE(server.Listen("192.0.2.1:9477").find("loopback"), std::string::npos);
  EXPECT_FALSE(server.Listen("nonsense").empty());
}

}  // namespace
}  // namespace ftpalg::daemon
