// The engine settings shared by ftp-alg-replay and ftp-algd (src/settings/engine_options.h).
#include "settings/engine_options.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace ftpalg::settings {
namespace {

// Parses `args` (without the program name) as a tool with only the engine options would.
// Returns the CLI11 error text, empty on success.
std::string Parse(std::vector<std::string> args, EngineConfig* config,
                  EngineOptions* options = nullptr) {
  EngineOptions local;
  if (options == nullptr) options = &local;
  CLI::App app;
  app.set_config("--config");
  options->AddTo(app, config);
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
  try {
    app.parse(args);
  } catch (const CLI::ParseError& error) {
    return error.what();
  }
  options->Apply(config);
  return "";
}

TEST(EngineOptions, DefaultsAreTheEngineDefaultsWithEveryProtectionOn) {
  EngineConfig config;
  EngineOptions options;
  ASSERT_EQ(Parse({}, &config, &options), "");
  const EngineConfig defaults;
  EXPECT_EQ(config.policy.max_pending_expectations, defaults.policy.max_pending_expectations);
  EXPECT_EQ(config.policy.expectation_timeout_seconds,
            defaults.policy.expectation_timeout_seconds);
  EXPECT_EQ(config.max_line_length, defaults.max_line_length);
  EXPECT_EQ(config.max_sessions, defaults.max_sessions);
  EXPECT_EQ(config.session_idle_timeout, defaults.session_idle_timeout);
  EXPECT_TRUE(config.policy.require_same_address);
  EXPECT_TRUE(config.policy.refuse_low_ports);
  EXPECT_TRUE(config.policy.require_paired_reply);
  EXPECT_TRUE(config.policy.require_login);
  EXPECT_TRUE(config.policy.step_aside_on_tls);
  EXPECT_EQ(options.DeprecationNotice(), "");
}

TEST(EngineOptions, EverySwitchTurnsOneProtectionOff) {
  EngineConfig config;
  ASSERT_EQ(Parse({"--loose", "--allow-low-ports", "--allow-unpaired", "--no-login-check",
                   "--no-tls-step-aside", "--max-pending", "7", "--expect-timeout", "60",
                   "--max-line", "1024", "--max-sessions", "10", "--session-idle-timeout", "20"},
                  &config),
            "");
  EXPECT_FALSE(config.policy.require_same_address);
  EXPECT_FALSE(config.policy.refuse_low_ports);
  EXPECT_FALSE(config.policy.require_paired_reply);
  EXPECT_FALSE(config.policy.require_login);
  EXPECT_FALSE(config.policy.step_aside_on_tls);
  EXPECT_EQ(config.policy.max_pending_expectations, 7u);
  EXPECT_EQ(config.policy.expectation_timeout_seconds, 60u);
  EXPECT_EQ(config.max_line_length, 1024u);
  EXPECT_EQ(config.max_sessions, 10u);
  EXPECT_EQ(config.session_idle_timeout, 20 * kNanosPerSecond);
}

TEST(EngineOptions, RangesAreRefused) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--max-pending", "0"},
           {"--max-pending", "256"},  // above the kernel's NF_CT_EXPECT_MAX_CNT
           {"--max-expected", "256"},
           {"--max-pending", "many"},
           {"--expect-timeout", "0"},
           {"--expect-timeout", "86401"},
           {"--max-line", "63"},
           {"--max-line", "65537"},
           {"--max-sessions", "0"},
           {"--session-idle-timeout", "9"}}) {
    EngineConfig config;
    EXPECT_NE(Parse(args, &config), "") << args[0] << ' ' << args[1];
  }
  EngineConfig config;
  EXPECT_EQ(Parse({"--max-pending", std::to_string(kMaxPendingLimit)}, &config), "");
  EXPECT_EQ(config.policy.max_pending_expectations, kMaxPendingLimit);
}

TEST(EngineOptions, MaxExpectedIsAcceptedAsADeprecatedAlias) {
  EngineConfig config;
  EngineOptions options;
  ASSERT_EQ(Parse({"--max-expected", "9"}, &config, &options), "");
  EXPECT_EQ(config.policy.max_pending_expectations, 9u);
  EXPECT_NE(options.DeprecationNotice().find("max-pending"), std::string::npos);

  EngineConfig both;
  EXPECT_NE(Parse({"--max-expected", "9", "--max-pending", "3"}, &both), "");
}

TEST(EngineOptions, ConfigFileKeysAreTheLongNamesAliasIncluded) {
  const auto path = std::filesystem::temp_directory_path() / "ftpalg-engine-options-test.conf";
  std::ofstream(path) << "max-expected = 5\nmax-line = 300\nallow-unpaired = true\n";
  EngineConfig config;
  EngineOptions options;
  ASSERT_EQ(Parse({"--config", path.string()}, &config, &options), "");
  EXPECT_EQ(config.policy.max_pending_expectations, 5u);
  EXPECT_EQ(config.max_line_length, 300u);
  EXPECT_FALSE(config.policy.require_paired_reply);
  EXPECT_NE(options.DeprecationNotice(), "");

  std::ofstream(path) << "max-pending = 6\n";
  EngineConfig current;
  EngineOptions current_options;
  ASSERT_EQ(Parse({"--config", path.string()}, &current, &current_options), "");
  EXPECT_EQ(current.policy.max_pending_expectations, 6u);
  EXPECT_EQ(current_options.DeprecationNotice(), "");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ftpalg::settings
