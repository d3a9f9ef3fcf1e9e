// The watch for FTP control connections that no rule gave the helper: which conntrack events
// count, and the warning at most once a minute, naming the rule that fixes it.
#include "daemon/unhelped_watch.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "daemon/config.h"

namespace ftpalg::daemon {
namespace {

kernel::ConntrackEvent NewTcp(uint16_t dport, std::string helper) {
  kernel::ConntrackEvent event;
  event.kind = kernel::ConntrackEventKind::kNew;
  event.protonum = IPPROTO_TCP;
  event.original = Tuple{Endpoint{IpAddress::V4(192, 0, 2, 2), 40000},
                         Endpoint{IpAddress::V4(198, 51, 100, 2), dport}};
  event.reply = event.original.Reversed();
  event.helper_name = std::move(helper);
  return event;
}

TEST(UnhelpedControlTally, CountsNewControlConnectionsWithoutOurHelper) {
  UnhelpedControlTally tally("ftp-alg", {21, 2121});
  EXPECT_TRUE(tally.IsUnhelpedControl(NewTcp(21, "")));
  EXPECT_TRUE(tally.IsUnhelpedControl(NewTcp(2121, "")));
  EXPECT_TRUE(tally.IsUnhelpedControl(NewTcp(21, "ftp")));  // the kernel's helper, not ours
  EXPECT_FALSE(tally.IsUnhelpedControl(NewTcp(21, "ftp-alg")));
  EXPECT_FALSE(tally.IsUnhelpedControl(NewTcp(80, "")));
  kernel::ConntrackEvent udp = NewTcp(21, "");
  udp.protonum = IPPROTO_UDP;
  EXPECT_FALSE(tally.IsUnhelpedControl(udp));
  kernel::ConntrackEvent destroyed = NewTcp(21, "");
  destroyed.kind = kernel::ConntrackEventKind::kDestroy;
  EXPECT_FALSE(tally.IsUnhelpedControl(destroyed));
  kernel::ConntrackEvent update = NewTcp(21, "");
  update.kind = kernel::ConntrackEventKind::kUpdate;
  EXPECT_FALSE(tally.IsUnhelpedControl(update));
}

TEST(UnhelpedControlTally, WarnsAtMostOnceAMinuteWithExampleAndFix) {
  UnhelpedControlTally tally("ftp-alg", {21});
  const Timestamp t0 = 1'700'000'000 * kNanosPerSecond;
  auto first = tally.Observe(NewTcp(21, ""), t0);
  ASSERT_TRUE(first.has_value());
  EXPECT_NE(first->find("192.0.2.2:40000 -> 198.51.100.2:21 (no helper)"), std::string::npos)
      << *first;
  EXPECT_NE(first->find("-t raw -A PREROUTING -p tcp --dport 21 -j CT --helper ftp-alg"),
            std::string::npos)
      << *first;
  EXPECT_NE(first->find("ct helper set \"ftp_helper\""), std::string::npos) << *first;
  EXPECT_FALSE(tally.Observe(NewTcp(21, ""), t0 + kNanosPerSecond).has_value());
  EXPECT_FALSE(tally.Observe(NewTcp(21, "ftp-alg"), t0 + 2 * kNanosPerSecond).has_value());
  EXPECT_FALSE(tally.Observe(NewTcp(21, ""), t0 + 59 * kNanosPerSecond).has_value());
  auto next = tally.Observe(NewTcp(21, "ftp"), t0 + 60 * kNanosPerSecond);
  ASSERT_TRUE(next.has_value());
  EXPECT_NE(next->find("(helper \"ftp\"), 3 such connections since the last warning"),
            std::string::npos)
      << *next;
  EXPECT_EQ(tally.count(), 4u);
}

std::vector<const char*> Argv(const std::vector<std::string>& args) {
  std::vector<const char*> out;
  for (const std::string& arg : args) out.push_back(arg.c_str());
  return out;
}

DaemonConfig Parse(const std::vector<std::string>& args,
                   ParseOutcome expected = ParseOutcome::kRun) {
  auto argv = Argv(args);
  DaemonConfig config;
  int code = -1;
  EXPECT_EQ(ParseDaemonConfig(static_cast<int>(argv.size()), argv.data(), &config, &code),
            expected);
  return config;
}

TEST(DaemonConfigOperatorViews, ControlPortsStatusSocketAndTheStatusCommand) {
  DaemonConfig defaults = Parse({"ftp-algd"});
  EXPECT_EQ(defaults.control_ports, std::vector<uint16_t>{21});
  EXPECT_EQ(defaults.status_socket, "/run/ftp-algd/status.sock");
  EXPECT_FALSE(defaults.status_only);
  EXPECT_EQ(Parse({"ftp-algd", "--control-port", "21", "--control-port", "2121"}).control_ports,
            (std::vector<uint16_t>{21, 2121}));
  EXPECT_TRUE(Parse({"ftp-algd", "--control-port", "0"}).control_ports.empty());
  DaemonConfig status = Parse({"ftp-algd", "--status-socket", "/tmp/x.sock", "status", "--json"});
  EXPECT_TRUE(status.status_only);
  EXPECT_TRUE(status.status_json);
  EXPECT_EQ(status.status_socket, "/tmp/x.sock");
  EXPECT_TRUE(Parse({"ftp-algd", "status"}).status_only);
  EXPECT_FALSE(Parse({"ftp-algd", "status"}).status_json);
  // The same keys in the configuration file.
  const auto path = std::filesystem::temp_directory_path() / "ftpalg-views-test.conf";
  std::ofstream(path) << "control-port = [21, 990]\nstatus-socket = \"/run/x.sock\"\n";
  DaemonConfig file = Parse({"ftp-algd", "--config", path.string()});
  EXPECT_EQ(file.control_ports, (std::vector<uint16_t>{21, 990}));
  EXPECT_EQ(file.status_socket, "/run/x.sock");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ftpalg::daemon
