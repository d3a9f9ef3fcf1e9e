// The ruleset reader on real outputs: tests/unit/rulesets/ holds what `nft -j list ruleset` and
// iptables-save/ip6tables-save printed after the project's rules/ files (and wrong variants of
// them) were loaded in a network namespace (scripts/make-ruleset-fixtures.sh). They were loaded
// with the kernel's "ftp" helper in place of "ftp-alg" (a machine without nfnetlink_cthelper
// cannot register ours, and the kernel refuses a rule naming an unknown helper), so the daemon's
// helper is "ftp" here.
#include "settings/ruleset.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ftpalg::settings {
namespace {

constexpr std::string_view kHelper = "ftp";
const std::vector<uint16_t> kWatched = {21};

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(FTPALG_SOURCE_DIR) + "/tests/unit/rulesets/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

RulesetSource Nft(const std::string& name) {
  return {"nft", true, "", ReadNftRuleset(Fixture(name + ".nft.json"), kHelper)};
}

RulesetSource Iptables(const std::string& name, bool ipv6) {
  const std::string tool = ipv6 ? "ip6tables" : "iptables";
  return {tool + "-save", true, "",
          ReadIptablesSave(Fixture(name + "." + tool + "-save"), tool, ipv6)};
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

size_t CountPrefix(const std::vector<std::string>& lines, std::string_view prefix) {
  size_t n = 0;
  for (const std::string& line : lines) n += line.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

TEST(RulesetTest, NftNatGatewayAttachesForBothFamiliesAfterDnat) {
  RulesetReading reading = ReadNftRuleset(Fixture("nat-gateway.nft.json"), kHelper);
  ASSERT_TRUE(reading.error.empty()) << reading.error;
  ASSERT_EQ(reading.rules.size(), 1u);
  const HelperRule& rule = reading.rules[0];
  EXPECT_EQ(rule.helper, "ftp");
  EXPECT_EQ(rule.object, "ftp_helper");
  EXPECT_EQ(rule.where, "table inet ftp_alg chain helpers");
  EXPECT_EQ(rule.hook, "prerouting");
  EXPECT_EQ(rule.priority, 0);
  EXPECT_TRUE(rule.ipv4);
  EXPECT_TRUE(rule.ipv6);
  EXPECT_EQ(rule.ports, std::vector<uint16_t>{21});
  EXPECT_EQ(rule.placement, HelperPlacement::kAfterDnat);
  EXPECT_EQ(rule.matches, "iifname lan0 tcp dport 21 ct state new");
  EXPECT_FALSE(reading.has_dnat);

  auto lines = RulesetCheckLines({Nft("nat-gateway")}, kHelper, kWatched);
  EXPECT_EQ(CountPrefix(lines, "warning:"), 0u) << Joined(lines);
  ASSERT_EQ(lines.size(), 1u) << Joined(lines);
  EXPECT_EQ(lines[0],
            "ok: nft: table inet ftp_alg chain helpers (hook prerouting, priority 0) attaches "
            "helper ftp (ct helper object ftp_helper) for IPv4 and IPv6, tcp port 21, matching: "
            "iifname lan0 tcp dport 21 ct state new; runs after DNAT");
}

// rules/workers/ (ftp-algd --workers 2): a numgen map chooses one ct helper object per new
// connection; every object's type is one of the daemon's worker helpers (NAME-0, NAME-1), so the
// rule attaches the daemon's helpers (docs/workers.md).
TEST(RulesetTest, NftWorkersMapAttachesTheDaemonsWorkerHelpers) {
  RulesetReading reading = ReadNftRuleset(Fixture("workers.nft.json"), kHelper);
  ASSERT_TRUE(reading.error.empty()) << reading.error;
  ASSERT_EQ(reading.rules.size(), 1u);
  const HelperRule& rule = reading.rules[0];
  EXPECT_EQ(rule.helper, "ftp-0, ftp-1");
  EXPECT_EQ(rule.object, "ftp_worker_0, ftp_worker_1 (chosen by a map)");
  EXPECT_TRUE(rule.ipv4);
  EXPECT_TRUE(rule.ipv6);
  EXPECT_TRUE(reading.unused_helper_objects.empty());

  auto lines = RulesetCheckLines({Nft("workers")}, kHelper, kWatched);
  EXPECT_EQ(CountPrefix(lines, "warning:"), 0u) << Joined(lines);
  EXPECT_EQ(CountPrefix(lines, "ok:"), 1u) << Joined(lines);
}

TEST(RulesetTest, IptablesWorkerHelpersAreTheDaemons) {
  const std::string save =
      "*raw\n:PREROUTING ACCEPT [0:0]\n"
      "-A PREROUTING -i lan0 -p tcp -m tcp --dport 21 -m statistic --mode nth --every 2 "
      "--packet 0 -j CT --helper ftp-0\n"
      "-A PREROUTING -i lan0 -p tcp -m tcp --dport 21 -j CT --helper ftp-1\nCOMMIT\n";
  RulesetSource source{"iptables-save", true, "", ReadIptablesSave(save, "iptables", false)};
  auto lines = RulesetCheckLines({source}, kHelper, kWatched);
  EXPECT_EQ(CountPrefix(lines, "ok:"), 2u) << Joined(lines);
  EXPECT_EQ(CountPrefix(lines, "info:"), 0u) << Joined(lines);
  // Not a worker helper of "ftp": another daemon's name that merely starts with it.
  const std::string other =
      "*raw\n:PREROUTING ACCEPT [0:0]\n"
      "-A PREROUTING -p tcp -m tcp --dport 21 -j CT --helper ftp-x\nCOMMIT\n";
  RulesetSource source2{"iptables-save", true, "", ReadIptablesSave(other, "iptables", false)};
  lines = RulesetCheckLines({source2}, kHelper, kWatched);
  EXPECT_EQ(CountPrefix(lines, "ok:"), 0u) << Joined(lines);
}

TEST(RulesetTest, NftPublishedServerSeesDnat) {
  RulesetReading reading = ReadNftRuleset(Fixture("published-server.nft.json"), kHelper);
  EXPECT_TRUE(reading.has_dnat);
  ASSERT_EQ(reading.rules.size(), 1u);
  EXPECT_EQ(reading.rules[0].placement, HelperPlacement::kAfterDnat);
}

TEST(RulesetTest, NftForgottenHelperIsAWarningWithTheFix) {
  auto lines = RulesetCheckLines({Nft("forgets-helper")}, kHelper, kWatched);
  ASSERT_EQ(lines.size(), 3u) << Joined(lines);
  EXPECT_EQ(lines[0], "info: nft: no rule attaches a conntrack helper");
  EXPECT_EQ(lines[1],
            "warning: nft: table inet ftp_alg object ftp_helper (type \"ftp\") is set by no rule "
            "(`ct helper set`)");
  EXPECT_NE(lines[2].find("warning: no rule attaches helper \"ftp\": FTP control connections "
                          "are not helped"),
            std::string::npos);
  EXPECT_NE(lines[2].find("-t raw -A PREROUTING -p tcp --dport 21 -j CT --helper ftp"),
            std::string::npos);
  EXPECT_NE(lines[2].find("ct helper set \"ftp_helper\""), std::string::npos);
}

TEST(RulesetTest, NftIpv4OnlyTableLeavesIpv6Unhelped) {
  auto lines = RulesetCheckLines({Nft("ipv4-only")}, kHelper, kWatched);
  ASSERT_EQ(lines.size(), 2u) << Joined(lines);
  EXPECT_NE(lines[0].find("ok: nft: table ip ftp_alg chain helpers"), std::string::npos);
  EXPECT_NE(lines[0].find("for IPv4, tcp port 21"), std::string::npos);
  EXPECT_EQ(lines[1].rfind("warning: no rule attaches helper \"ftp\" for IPv6: IPv6 FTP control "
                           "connections are not helped",
                           0),
            0u);
  // The IPv6 rules of ip6tables fill the gap.
  lines = RulesetCheckLines({Nft("ipv4-only"), Iptables("nat-gateway", true)}, kHelper, kWatched);
  EXPECT_EQ(CountPrefix(lines, "warning:"), 0u) << Joined(lines);
}

TEST(RulesetTest, NftInetTableWithAnIpv4OnlyHelperObject) {
  RulesetReading reading = ReadNftRuleset(Fixture("ipv4-helper-only.nft.json"), kHelper);
  ASSERT_EQ(reading.rules.size(), 1u);
  EXPECT_TRUE(reading.rules[0].ipv4);
  EXPECT_FALSE(reading.rules[0].ipv6);
  auto lines = RulesetCheckLines({Nft("ipv4-helper-only")}, kHelper, kWatched);
  ASSERT_EQ(lines.size(), 2u) << Joined(lines);
  EXPECT_EQ(lines[1].rfind("warning: no rule attaches helper \"ftp\" for IPv6", 0), 0u);
}

TEST(RulesetTest, NftHelperChainBeforeDnatSaysWhatItMustMatch) {
  RulesetReading reading = ReadNftRuleset(Fixture("before-dnat.nft.json"), kHelper);
  ASSERT_EQ(reading.rules.size(), 1u);
  EXPECT_EQ(reading.rules[0].priority, -110);
  EXPECT_EQ(reading.rules[0].placement, HelperPlacement::kBeforeDnat);
  auto lines = RulesetCheckLines({Nft("before-dnat")}, kHelper, kWatched);
  ASSERT_EQ(lines.size(), 1u) << Joined(lines);
  EXPECT_NE(lines[0].find("ok: nft:"), std::string::npos);
  EXPECT_NE(lines[0].find("runs before DNAT: for a published server it must match the address "
                          "and port the client connects to"),
            std::string::npos);
}

TEST(RulesetTest, NftHelperChainBeforeConntrackAttachesNothing) {
  auto lines = RulesetCheckLines({Nft("before-conntrack")}, kHelper, kWatched);
  ASSERT_EQ(lines.size(), 2u) << Joined(lines);
  EXPECT_NE(lines[0].find("warning: nft: table inet ftp_alg chain helpers (hook prerouting, "
                          "priority -300)"),
            std::string::npos);
  EXPECT_NE(lines[0].find("attaches nothing"), std::string::npos);
  EXPECT_EQ(lines[1].rfind("warning: no rule attaches helper \"ftp\":", 0), 0u);
}

TEST(RulesetTest, IptablesRawRuleIsBeforeDnatAndPerFamily) {
  RulesetReading v4 =
      ReadIptablesSave(Fixture("published-server.iptables-save"), "iptables", false);
  ASSERT_TRUE(v4.error.empty());
  ASSERT_EQ(v4.rules.size(), 1u);
  EXPECT_EQ(v4.rules[0].where, "table raw chain PREROUTING");
  EXPECT_EQ(v4.rules[0].matches, "-i wan0 -p tcp -m tcp --dport 21");
  EXPECT_EQ(v4.rules[0].ports, std::vector<uint16_t>{21});
  EXPECT_EQ(v4.rules[0].placement, HelperPlacement::kBeforeDnat);
  EXPECT_TRUE(v4.has_dnat);
  EXPECT_TRUE(v4.rules[0].ipv4);
  EXPECT_FALSE(v4.rules[0].ipv6);

  auto lines = RulesetCheckLines({Iptables("published-server", false)}, kHelper, kWatched);
  ASSERT_EQ(lines.size(), 2u) << Joined(lines);
  EXPECT_EQ(lines[0],
            "ok: iptables: table raw chain PREROUTING (hook prerouting) attaches helper ftp for "
            "IPv4, tcp port 21, matching: -i wan0 -p tcp -m tcp --dport 21; runs before DNAT: for "
            "a published server it must match the address and port the client connects to "
            "(before translation)");
  EXPECT_EQ(lines[1].rfind("warning: no rule attaches helper \"ftp\" for IPv6", 0), 0u);

  lines = RulesetCheckLines(
      {Iptables("published-server", false), Iptables("published-server", true)}, kHelper, kWatched);
  EXPECT_EQ(CountPrefix(lines, "warning:"), 0u) << Joined(lines);
  EXPECT_EQ(CountPrefix(lines, "ok:"), 2u) << Joined(lines);
}

TEST(RulesetTest, FirewallRulesOfEveryToolRead) {
  for (const char* name : {"firewall", "nat-gateway"}) {
    auto lines = RulesetCheckLines({Nft(name), Iptables(name, false), Iptables(name, true)},
                                   kHelper, kWatched);
    EXPECT_EQ(CountPrefix(lines, "ok:"), 3u) << Joined(lines);
    EXPECT_EQ(CountPrefix(lines, "warning:"), 0u) << Joined(lines);
  }
}

TEST(RulesetTest, AnotherHelperAndAnUnwatchedPort) {
  // Read as a daemon named "ftp-alg", the fixtures attach someone else's helper.
  RulesetSource source{"nft", true, "", ReadNftRuleset(Fixture("nat-gateway.nft.json"), "ftp-alg")};
  auto lines = RulesetCheckLines({source}, "ftp-alg", kWatched);
  ASSERT_EQ(lines.size(), 2u) << Joined(lines);
  EXPECT_EQ(lines[0].rfind("info: nft: table inet ftp_alg chain helpers attaches helper ftp (not "
                           "this daemon's \"ftp-alg\")",
                           0),
            0u);
  // A watched port 2121 no rule covers.
  lines = RulesetCheckLines({Nft("nat-gateway")}, kHelper, {21, 2121});
  ASSERT_EQ(lines.size(), 3u) << Joined(lines);
  EXPECT_EQ(lines[1],
            "warning: no rule attaches helper \"ftp\" to IPv4 tcp port 2121 (a watched control "
            "port)");
}

TEST(RulesetTest, MissingToolsAndUnreadableOutputAreLinesNotFailures) {
  RulesetSource missing{"iptables-legacy-save", false, "", {}};
  RulesetSource failed{"nft", true, "exit status 1: Operation not permitted", {}};
  RulesetSource garbage{"nft", true, "", ReadNftRuleset("{not json", kHelper)};
  auto lines = RulesetCheckLines(
      {missing, failed, garbage, Iptables("nat-gateway", false), Iptables("nat-gateway", true)},
      kHelper, kWatched);
  ASSERT_EQ(lines.size(), 5u) << Joined(lines);
  EXPECT_EQ(lines[0], "info: iptables-legacy-save is not installed: its rules were not read");
  EXPECT_EQ(lines[1], "warning: nft failed: exit status 1: Operation not permitted");
  EXPECT_EQ(lines[2], "warning: nft: not the JSON of `nft -j list ruleset`");
  // Wrong shapes inside valid JSON are skipped, not thrown on.
  RulesetReading odd =
      ReadNftRuleset(R"({"nftables":[1,{"rule":{"family":3,"expr":[{"ct helper":7},{"match":5}]}},)"
                     R"({"chain":{"prio":"x"}}]})",
                     kHelper);
  EXPECT_TRUE(odd.error.empty());
  ASSERT_EQ(odd.rules.size(), 1u);
  EXPECT_EQ(ReadIptablesSave("garbage\n", "iptables", false).error,
            "not the output of iptables-save");
  EXPECT_TRUE(ReadIptablesSave("", "iptables", false).error.empty());
}

TEST(RulesetTest, IptablesBackendFromTheHeader) {
  EXPECT_EQ(IptablesSaveBackend("# Generated by iptables-save v1.8.9 (nf_tables) on Tue\n*raw\n"),
            "nf_tables");
  EXPECT_EQ(IptablesSaveBackend("# Generated by iptables-save v1.8.9 (legacy) on Tue\n"), "legacy");
  EXPECT_EQ(IptablesSaveBackend("*raw\n"), "");
}

TEST(RulesetTest, IptablesPortLists) {
  RulesetReading reading = ReadIptablesSave(
      "*raw\n-A PREROUTING -p tcp -m multiport --dports 21,2121,990:991 -j CT --helper ftp\n"
      "-A OUTPUT -p tcp --dport 21 -j CT --helper ftp\nCOMMIT\n",
      "iptables", false);
  ASSERT_EQ(reading.rules.size(), 2u);
  EXPECT_EQ(reading.rules[0].ports, (std::vector<uint16_t>{21, 2121}));
  EXPECT_TRUE(reading.rules[0].ports_unread);
  EXPECT_EQ(reading.rules[1].placement, HelperPlacement::kLocalOutput);
}

}  // namespace
}  // namespace ftpalg::settings
