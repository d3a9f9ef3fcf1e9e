// Hostile traffic through the real ftp-alg-replay binary: each attack is a capture built here
// (tests/replay/hostile_captures.h), replayed with the NAT description of its topology, and judged
// by the tool's JSON events. Every probe comes in two captures: the hostile one must open nothing
// (no expect event, every data connection in the capture unpredicted) and report its reason, the
// legitimate one (same script, legitimate text) must predict its data connection, which proves
// that the probe itself works.
//
// Some of these captures are committed under pcaps/hostile/ for people to replay by hand; the
// test HostileCaptureFiles.CommittedCapturesMatchTheirGenerator keeps them identical to what is
// built here. To regenerate them after changing a script:
//
//   FTPALG_UPDATE_HOSTILE_CAPTURES=1 build/tests/replay_tests --gtest_filter='HostileCaptureFiles*'
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <ostream>
#include <set>

#include "forwarded_stream.h"
#include "ftpalg/packet_rewrite.h"
#include "ftpalg/seq_shift.h"
#include "hostile_captures.h"
#include "replay_test_util.h"
#include "utf8_check.h"

namespace ftpalg::test {
namespace {

// A directory of its own for each test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("ftpalg-hostile-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

std::string Dump(const ReplayRun& run) {
  std::string out;
  for (const std::string& line : run.event_lines) out += "  " + line + "\n";
  return out + run.stderr_text;
}

// Writes the capture, replays it with `args` (the capture path first) and checks that every event
// line is valid UTF-8 and valid JSON.
ReplayRun Replay(const CaptureScript& script, const std::filesystem::path& capture,
                 const std::vector<std::string>& args) {
  std::string error;
  EXPECT_TRUE(WritePcap(capture, script, &error)) << error;
  std::vector<std::string> all = {capture.string()};
  all.insert(all.end(), args.begin(), args.end());
  ReplayRun run = RunReplayTool(all);
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_EQ(run.events.size(), run.event_lines.size()) << "an event line is not JSON";
  for (const std::string& line : run.event_lines) EXPECT_TRUE(IsValidUtf8(line)) << line;
  EXPECT_NE(run.Summary(), nullptr) << "no summary event";
  return run;
}

uint64_t CounterOf(const ReplayRun& run, const std::string& name) {
  const nlohmann::json* summary = run.Summary();
  if (summary == nullptr || !(*summary)["counters"].contains(name)) {
    ADD_FAILURE() << "no counter " << name;
    return 0;
  }
  return (*summary)["counters"][name].get<uint64_t>();
}

size_t CountWhere(const ReplayRun& run, const std::string& type, const std::string& reason) {
  size_t n = 0;
  for (const auto& e : run.Of(type)) n += e.value("reason", "") == reason ? 1 : 0;
  return n;
}

// ------------------------------------------------------------------------------------------------
// The probes.

using CaptureFn = std::function<void(CaptureScript&, bool hostile)>;

struct ReplayProbe {
  std::string name;
  Topology (*topology)();
  CaptureFn script;
  // What the hostile capture must report once: "refuse" or "step-aside" with `reason`; an empty
  // event means the hostile text is no announcement and must cause no refusal or step-aside.
  std::string event;
  std::string reason;
  std::string counter;  // the summary counter that counts it (exactly 1), "" for none
  std::string file;     // committed as pcaps/hostile/<file>.pcap (hostile variant), "" if not
};

void PrintTo(const ReplayProbe& probe, std::ostream* os) { *os << probe.name; }

const char kPort[] = "PORT 192,0,2,2,4,1\r\n";
const char kPub227[] = "227 Entering Passive Mode (192,0,2,10,195,80).\r\n";
const char kHttpRequest[] =
    "POST /upload HTTP/1.1\r\nHost: 198.51.100.2:21\r\nContent-Type: text/plain\r\n"
    "Content-Length: 20\r\n\r\n";

// The outside server's active-mode data connection as it reaches the inside client.
void ServerConnects(CaptureScript& ftp, const Endpoint& to) {
  ftp.DataSyn(Ep("198.51.100.2", 20), to);
}
// The outside client's passive-mode data connection to the published server, seen inside.
void ClientConnectsToPublished(CaptureScript& ftp) {
  ftp.DataSyn(Ep("198.51.100.2", 50001), Ep("192.0.2.10", 50000));
}

// Logged in, one client line, the server's 200, and the server connecting where the line said.
CaptureFn Active(std::string legit, std::string hostile, Endpoint hostile_target) {
  return [=](CaptureScript& ftp, bool h) {
    ftp.Handshake();
    ftp.Login();
    ftp.Client(h ? hostile : legit);
    ftp.Server("200 PORT command successful\r\n");
    ServerConnects(ftp, h ? hostile_target : Ep("192.0.2.2", 1025));
    ftp.Close();
  };
}

// Published server: logged in, then `hostile` (or PASV + 227), then the client connects.
CaptureFn PublishedPassive(std::function<void(CaptureScript&)> hostile) {
  return [hostile](CaptureScript& ftp, bool h) {
    ftp.Handshake();
    ftp.Login();
    if (h) {
      hostile(ftp);
    } else {
      ftp.Client("PASV\r\n");
      ftp.Server(kPub227);
    }
    ClientConnectsToPublished(ftp);
    ftp.Close();
  };
}

// NAT slipstreaming: the browser's request in the given segments (after what the attacker's server
// says first); legitimate: a real login and the same PORT line. Either way the server then
// connects to the port the PORT line names.
CaptureFn Slipstream(std::vector<std::string> segments, std::string server_first) {
  return [segments, server_first](CaptureScript& ftp, bool h) {
    ftp.Handshake();
    if (h) {
      if (!server_first.empty()) ftp.Server(server_first);
      for (const std::string& segment : segments) ftp.Client(segment);
    } else {
      ftp.Login();
      ftp.Client(kPort);
    }
    ServerConnects(ftp, Ep("192.0.2.2", 1025));
    ftp.Close();
  };
}

std::vector<ReplayProbe> Probes() {
  const std::string http = kHttpRequest;
  std::string nul_port = "PORT 192,0,2,2";
  nul_port.push_back('\0');
  nul_port += ",4,1\r\n";
  std::vector<ReplayProbe> p;
  p.push_back({"PortBounce", Snat4,
               Active(kPort, "PORT 203,0,113,9,4,1\r\n", Ep("203.0.113.9", 1025)), "refuse",
               "bounce", "refused_bounce", "port-bounce"});
  p.push_back(
      {"EprtLowPort", Snat4,
       Active("EPRT |1|192.0.2.2|1025|\r\n", "EPRT |1|192.0.2.2|22|\r\n", Ep("192.0.2.2", 22)),
       "refuse", "low-port", "refused_low_port", "eprt-low-port"});
  // RFC 1639 long forms: the same rules as PORT/227.
  p.push_back({"LprtBounce", Snat4,
               Active("LPRT 4,4,192,0,2,2,2,4,1\r\n", "LPRT 4,4,203,0,113,9,2,4,1\r\n",
                      Ep("203.0.113.9", 1025)),
               "refuse", "bounce", "refused_bounce", ""});
  p.push_back(
      {"LprtLowPort", Snat4,
       Active("LPRT 4,4,192,0,2,2,2,4,1\r\n", "LPRT 4,4,192,0,2,2,2,0,22\r\n", Ep("192.0.2.2", 22)),
       "refuse", "low-port", "refused_low_port", ""});
  p.push_back({"Unsolicited228FromPublishedServer", Dnat4, PublishedPassive([](CaptureScript& ftp) {
                 ftp.Server("228 Entering Long Passive Mode (4,4,192,0,2,10,2,195,80)\r\n");
               }),
               "refuse", "unpaired", "refused_unpaired", ""});
  p.push_back({"Unsolicited227FromPublishedServer", Dnat4,
               PublishedPassive([](CaptureScript& ftp) { ftp.Server(kPub227); }), "refuse",
               "unpaired", "refused_unpaired", "unsolicited-227-dnat"});
  p.push_back({"Reply227AfterThePasvWasRefused", Dnat4, PublishedPassive([](CaptureScript& ftp) {
                 ftp.Client("PASV\r\n");
                 ftp.Server("500 PASV not allowed\r\n");
                 ftp.Client("NOOP\r\n");
                 ftp.Server("200 ok\r\n");
                 ftp.Server(kPub227);
               }),
               "refuse", "unpaired", "refused_unpaired", "227-after-refused-pasv"});
  p.push_back({"Reply227AddressOnlyOnContinuationLines", Dnat4,
               PublishedPassive([](CaptureScript& ftp) {
                 ftp.Client("PASV\r\n");
                 ftp.Server(
                     "227-Entering Passive Mode (192,0,2,10,195,80).\r\n"
                     "227 Passive mode is off today\r\n");
               }),
               "refuse", "malformed", "refused_malformed", "227-multiline-continuation"});
  p.push_back({"Reply227InsideAnErrorReply", Dnat4, PublishedPassive([](CaptureScript& ftp) {
                 ftp.Client("PASV\r\n");
                 ftp.Server("500 227 Entering Passive Mode (192,0,2,10,195,80).\r\n");
               }),
               "", "", "", "227-in-error-reply"});
  p.push_back({"PortInTheMiddleOfALine", Snat4,
               Active(kPort, "NOOP PORT 192,0,2,2,4,1\r\n", Ep("192.0.2.2", 1025)), "", "", "",
               "port-mid-line"});
  p.push_back({"SlipstreamHttpAndPortInOneSegment", Snat4,
               Slipstream({http + kPort}, "220 ready\r\n"), "step-aside", "not-ftp",
               "step_aside_not_ftp", ""});
  p.push_back({"SlipstreamPortLineStartsItsOwnSegment", Snat4,
               Slipstream({http, kPort}, "220 ready\r\n"), "step-aside", "not-ftp",
               "step_aside_not_ftp", "slipstream-port-own-segment"});
  p.push_back({"SlipstreamHttpRequestSplitAcrossSegments", Snat4,
               Slipstream({"POST /upload HT", "TP/1.1\r\nHost: 198.5",
                           "1.100.2:21\r\nContent-Length: 20\r\n\r\n", kPort},
                          "220 ready\r\n"),
               "step-aside", "not-ftp", "step_aside_not_ftp", "slipstream-http-split"});
  p.push_back({"SlipstreamAfterUnsolicited230", Snat4,
               Slipstream({http, kPort}, "220 ready\r\n230 Logged in\r\n"), "step-aside", "not-ftp",
               "step_aside_not_ftp", "slipstream-unsolicited-230"});
  p.push_back({"PortAfterFailedLogin", Snat4,
               [](CaptureScript& ftp, bool h) {
                 ftp.Handshake();
                 if (h) {
                   ftp.Server("220 ready\r\n");
                   ftp.Client("USER anonymous\r\n");
                   ftp.Server("331 password please\r\n");
                   ftp.Client("PASS wrong\r\n");
                   ftp.Server("530 Login incorrect\r\n");
                 } else {
                   ftp.Login();
                 }
                 ftp.Client(kPort);
                 ftp.Server(h ? "530 Please login with USER and PASS\r\n" : "200 PORT ok\r\n");
                 ServerConnects(ftp, Ep("192.0.2.2", 1025));
                 ftp.Close();
               },
               "refuse", "not-logged-in", "refused_not_logged_in", "port-after-failed-login"});
  p.push_back({"PortWithNul", Snat4, Active(kPort, nul_port, Ep("192.0.2.2", 1025)), "refuse",
               "malformed", "refused_malformed", "port-nul"});
  p.push_back({"EprtIpv6OnIpv4Connection", Snat4,
               Active("EPRT |1|192.0.2.2|1025|\r\n", "EPRT |2|2001:db8:1::2|1025|\r\n",
                      Ep("192.0.2.2", 1025)),
               "refuse", "wrong-family", "refused_malformed", "eprt-wrong-family"});
  p.push_back({"EprtIpv4OnIpv6Connection", Snat6,
               [](CaptureScript& ftp, bool h) {
                 ftp.Handshake();
                 ftp.Login();
                 ftp.Client(h ? "EPRT |1|192.0.2.2|1025|\r\n" : "EPRT |2|2001:db8:1::2|1025|\r\n");
                 ftp.Server("200 EPRT ok\r\n");
                 ftp.DataSyn(Ep("2001:db8:2::2", 20), Ep("2001:db8:1::2", 1025));
                 ftp.Close();
               },
               "refuse", "wrong-family", "refused_malformed", ""});
  p.push_back({"PortPaddedPastTheLineBound", Snat4,
               Active("PORT 192,0,2,2,4,1   \r\n",
                      "PORT 192,0,2,2,4,1" + std::string(600, ' ') + "\r\n", Ep("192.0.2.2", 1025)),
               "refuse", "overlong", "lines_overlong", ""});
  p.push_back({"PortAddressSplitAcrossSegments", Snat4,
               [](CaptureScript& ftp, bool h) {
                 ftp.Handshake();
                 ftp.Login();
                 if (h) {
                   ftp.Client("PORT 192,0,");
                   ftp.Client("2,2,4,1\r\n");
                 } else {
                   ftp.Client("PORT ");
                   ftp.Client("192,0,2,2,4,1\r\n");
                 }
                 ftp.Server("200 PORT ok\r\n");
                 ServerConnects(ftp, Ep("192.0.2.2", 1025));
                 ftp.Close();
               },
               "refuse", "split", "refused_split", "port-split"});
  p.push_back({"PortAfterAuthTls", Snat4,
               [](CaptureScript& ftp, bool h) {
                 ftp.Handshake();
                 ftp.Login();
                 ftp.Client("AUTH TLS\r\n");
                 ftp.Server(h ? "234 Proceed with negotiation\r\n" : "534 TLS not available\r\n");
                 ftp.Client(kPort);
                 ServerConnects(ftp, Ep("192.0.2.2", 1025));
                 ftp.Close();
               },
               "step-aside", "tls", "step_aside_tls", "auth-tls-then-port"});
  // A gap and an attack (docs/gaps.md). The legitimate variants recover after the same gap.
  p.push_back({"GapThenUnsolicited227FromPublishedServer", Dnat4,
               [](CaptureScript& ftp, bool h) {
                 ftp.Handshake();
                 ftp.Login();
                 ftp.Client("PASV\r\n");
                 ftp.Advance(false, sizeof(kPub227) - 1);        // its 227 never seen
                 ftp.Server("150 Opening data connection\r\n");  // reveals the gap
                 ftp.Server("226 Transfer complete\r\n");
                 ftp.Client(h ? "NOOP\r\n" : "PASV\r\n");
                 ftp.Server(kPub227);
                 ClientConnectsToPublished(ftp);
                 ftp.Close();
               },
               "refuse", "unpaired", "refused_unpaired", ""});
  p.push_back({"GapBeforeLoginThenHttpAndPort", Snat4,
               [http](CaptureScript& ftp, bool h) {
                 ftp.Handshake();
                 ftp.Server("220 ready\r\n");
                 ftp.Client("USER anonymous\r\n");
                 ftp.Server("331 password please\r\n");
                 ftp.Client("PASS guest@\r\n");
                 ftp.Advance(false, 15);    // "230 logged in\r\n" never seen
                 ftp.Server("200 ok\r\n");  // reveals the gap
                 if (h) ftp.Client(http);
                 ftp.Client(kPort);
                 ftp.Server("200 PORT command successful\r\n");
                 ServerConnects(ftp, Ep("192.0.2.2", 1025));
                 ftp.Close();
               },
               "step-aside", "not-ftp", "step_aside_not_ftp", ""});
  return p;
}

// Issue 11 part 4: a refused announcement may be rewritten, but only to conceal the inside
// address (docs/gaps.md): every rewrite names no inside address; without one nothing changed.
void ExpectNothingPrivateRewrittenIn(const ReplayRun& run) {
  for (const auto& rewrite : run.Of("rewrite")) {
    const std::string text = rewrite["new"].get<std::string>();
    for (const char* inside : {"192,0,2,", "192.0.2.", "2001:db8:1:"}) {
      EXPECT_EQ(text.find(inside), std::string::npos) << Dump(run);
    }
  }
  EXPECT_EQ(run.Of("rewrite").size(), CounterOf(run, "addresses_concealed")) << Dump(run);
  if (run.Of("rewrite").empty()) {
    EXPECT_EQ(CounterOf(run, "packets_modified"), 0u);
  }
}

class HostileReplay : public ::testing::TestWithParam<ReplayProbe> {
 protected:
  ReplayRun Run(bool hostile) {
    const ReplayProbe& probe = GetParam();
    CaptureScript ftp(probe.topology());
    probe.script(ftp, hostile);
    return Replay(ftp, dir_ / (probe.name + ".pcap"), probe.topology().nat_args);
  }
  TempDir dir_;
};

TEST_P(HostileReplay, LegitimateCapturePredictsItsDataConnection) {
  const ReplayRun run = Run(/*hostile=*/false);
  const auto expects = run.Of("expect");
  EXPECT_EQ(expects.size(), 1u) << Dump(run);
  const auto data = run.Of("data");
  ASSERT_FALSE(data.empty()) << Dump(run);
  for (const auto& d : data) EXPECT_TRUE(d["expected"].get<bool>()) << Dump(run);
  EXPECT_TRUE(run.Of("refuse").empty()) << Dump(run);
  EXPECT_TRUE(run.Of("step-aside").empty()) << Dump(run);
  ASSERT_NE(run.Summary(), nullptr);
  EXPECT_EQ((*run.Summary())["data_connections_expected"], data.size());
  EXPECT_EQ(CounterOf(run, "expectations"), 1u);
  EXPECT_EQ(CounterOf(run, "refusals"), 0u);
}

TEST_P(HostileReplay, HostileCaptureOpensNothingAndSaysWhy) {
  const ReplayProbe& probe = GetParam();
  const ReplayRun run = Run(/*hostile=*/true);
  EXPECT_TRUE(run.Of("expect").empty()) << Dump(run);
  ExpectNothingPrivateRewrittenIn(run);
  const auto data = run.Of("data");
  ASSERT_FALSE(data.empty()) << Dump(run);
  for (const auto& d : data) EXPECT_FALSE(d["expected"].get<bool>()) << Dump(run);
  ASSERT_NE(run.Summary(), nullptr);
  EXPECT_EQ((*run.Summary())["data_connections_expected"], 0u);
  EXPECT_EQ(CounterOf(run, "expectations"), 0u);
  if (probe.event.empty()) {
    EXPECT_TRUE(run.Of("refuse").empty()) << Dump(run);
    EXPECT_TRUE(run.Of("step-aside").empty()) << Dump(run);
    EXPECT_EQ(CounterOf(run, "refusals"), 0u);
    return;
  }
  EXPECT_EQ(run.Of(probe.event).size(), 1u) << Dump(run);
  EXPECT_EQ(CountWhere(run, probe.event, probe.reason), 1u) << Dump(run);
  EXPECT_EQ(CounterOf(run, "refusals"), probe.event == "refuse" ? 1u : 0u) << Dump(run);
  if (!probe.counter.empty()) {
    EXPECT_EQ(CounterOf(run, probe.counter), 1u) << Dump(run);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, HostileReplay, ::testing::ValuesIn(Probes()),
                         [](const ::testing::TestParamInfo<ReplayProbe>& param) {
                           return param.param.name;
                         });

// ------------------------------------------------------------------------------------------------
// 6. A flood of PORT commands.

std::string PortTo(uint32_t port) {
  return "PORT 192,0,2,2," + std::to_string(port >> 8) + "," + std::to_string(port & 0xff) + "\r\n";
}

// `count` PORT commands (ports 1025 up), each answered, then the server connects to the first and
// to the last port.
CaptureScript FloodCapture(uint32_t count) {
  CaptureScript ftp(Snat4());
  ftp.Handshake();
  ftp.Login();
  for (uint32_t i = 0; i < count; ++i) {
    ftp.Client(PortTo(1025 + i));
    ftp.Server("200 PORT ok\r\n");
  }
  for (uint32_t i = 0; i < 6; ++i) {
    ServerConnects(ftp, Ep("192.0.2.2", static_cast<uint16_t>(1025 + count - 6 + i)));
  }
  ServerConnects(ftp, Ep("192.0.2.2", 1025));
  ftp.Close();
  return ftp;
}

void CheckFlood(uint32_t count, uint32_t bound, const std::vector<std::string>& extra) {
  TempDir dir;
  std::vector<std::string> args = Snat4().nat_args;
  args.insert(args.end(), extra.begin(), extra.end());
  const ReplayRun run = Replay(FloodCapture(count), dir / "flood.pcap", args);
  EXPECT_EQ(run.Of("expect").size(), count);
  EXPECT_EQ(CountWhere(run, "unexpect", "replaced"), count - bound);
  EXPECT_EQ(CounterOf(run, "expectations_replaced"), count - bound);
  EXPECT_EQ(CounterOf(run, "expectations"), count);
  EXPECT_TRUE(run.Of("refuse").empty()) << Dump(run);
  // Only the newest `bound` are still open: of the last six ports, the first 6 - bound are not.
  const auto data = run.Of("data");
  ASSERT_EQ(data.size(), 7u);
  for (uint32_t i = 0; i < 6; ++i) {
    EXPECT_EQ(data[i]["expected"].get<bool>(), i >= 6 - bound) << data[i].dump();
  }
  EXPECT_FALSE(data[6]["expected"].get<bool>()) << "the first PORT's port must be closed";
}

TEST(HostileReplayTest, PortFloodKeepsTheDefaultFourNewestExpectations) { CheckFlood(1000, 4, {}); }

TEST(HostileReplayTest, PortFloodHonoursMaxPending) { CheckFlood(300, 2, {"--max-pending", "2"}); }

// ------------------------------------------------------------------------------------------------
// 7. A 16 MiB line, streamed through the real tool.

TEST(HostileReplayTest, SixteenMebibytePortLineIsRefusedAndParsingResumes) {
  TempDir dir;
  const auto start = std::chrono::steady_clock::now();
  CaptureScript ftp(Snat4());
  ftp.Handshake();
  ftp.Login();
  ftp.Client("PORT 192,0,2,2,4,1");
  const std::string chunk(60000, ' ');
  constexpr size_t kSixteenMiB = 16u << 20;
  for (size_t sent = 0; sent < kSixteenMiB; sent += chunk.size()) {
    ftp.Client(chunk.substr(0, std::min(chunk.size(), kSixteenMiB - sent)));
  }
  ftp.Client("\r\n");
  ftp.Server("500 Line too long\r\n");
  ftp.Client("PORT 192,0,2,2,4,2\r\n");
  ftp.Server("200 PORT ok\r\n");
  ServerConnects(ftp, Ep("192.0.2.2", 1025));
  ServerConnects(ftp, Ep("192.0.2.2", 1026));
  ftp.Close();
  const ReplayRun run = Replay(ftp, dir / "long-line.pcap", Snat4().nat_args);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::testing::Test::RecordProperty("seconds", std::to_string(seconds));
  EXPECT_EQ(CountWhere(run, "refuse", "overlong"), 1u) << Dump(run);
  EXPECT_EQ(CounterOf(run, "lines_overlong"), 1u);
  const auto expects = run.Of("expect");
  ASSERT_EQ(expects.size(), 1u) << Dump(run);
  EXPECT_EQ(expects[0]["dport"], 1026);
  const auto data = run.Of("data");
  ASSERT_EQ(data.size(), 2u);
  EXPECT_FALSE(data[0]["expected"].get<bool>());
  EXPECT_TRUE(data[1]["expected"].get<bool>());
}

// ------------------------------------------------------------------------------------------------
// 7. Bytes that are not UTF-8 (and a NUL) in a reply the gateway rewrites.

std::string NonUtf8Reply(const std::string& address) {
  std::string reply =
      "227 Entr\xe9"
      "e en mode passif \xff\xfe\x80 (" +
      address + ")";
  reply.push_back('\0');
  return reply + "\xc3(\r\n";
}

CaptureScript NonUtf8Capture() {
  CaptureScript ftp(Dnat4());
  ftp.Handshake();
  ftp.Login();
  ftp.Client("PASV\r\n");
  ftp.Server(NonUtf8Reply("192,0,2,10,195,80"));
  ClientConnectsToPublished(ftp);
  ftp.Close();
  return ftp;
}

TEST(HostileReplayTest, NonUtf8ReplyIsRewrittenWithItsBytesIntactAndJsonStaysValid) {
  TempDir dir;
  std::vector<std::string> args = Dnat4().nat_args;
  args.insert(args.end(), {"--write", (dir / "out.pcap").string()});
  const ReplayRun run = Replay(NonUtf8Capture(), dir / "in.pcap", args);  // checks UTF-8/JSON
  const auto rewrites = run.Of("rewrite");
  ASSERT_EQ(rewrites.size(), 1u) << Dump(run);
  const std::string old_text = rewrites[0]["old"].get<std::string>();
  EXPECT_NE(old_text.find("(192,0,2,10,195,80)"), std::string::npos) << old_text;
  EXPECT_NE(old_text.find("\xef\xbf\xbd"), std::string::npos) << "U+FFFD for invalid bytes";
  EXPECT_NE(old_text.find('\0'), std::string::npos) << "NUL written as \\u0000";
  EXPECT_EQ(run.Of("expect").size(), 1u);
  ASSERT_EQ(run.Of("data").size(), 1u);
  EXPECT_TRUE(run.Of("data")[0]["expected"].get<bool>());

  // The forwarded reply keeps every byte but the address.
  std::string error;
  auto reader = replay::CaptureReader::Open((dir / "out.pcap").string(), &error);
  ASSERT_NE(reader, nullptr) << error;
  std::vector<std::string> server_payloads;
  while (auto record = reader->Next()) {
    auto parsed = ParseTcpPacket(record->frame.subspan(record->ip_offset));
    if (!parsed.ok() || parsed.view.tuple.src.port != 21 || parsed.view.payload.empty()) continue;
    EXPECT_TRUE(TcpChecksumValid(parsed.view));
    server_payloads.emplace_back(parsed.view.payload.begin(), parsed.view.payload.end());
  }
  ASSERT_FALSE(server_payloads.empty());
  EXPECT_EQ(server_payloads.back(), NonUtf8Reply("198,51,100,1,195,80"));
}

// ------------------------------------------------------------------------------------------------
// 10. Retransmitted, overlapping and reordered segments of a rewritten command, checked in the
// capture the tool writes.

struct RetransmitCapture {
  CaptureScript ftp{Snat4()};
  uint32_t port_seq = 0;
  size_t port_frame = 0;        // the first transmission of the PORT segment
  size_t retransmit_frame = 0;  // its identical retransmission
  size_t inside_frame = 0;      // a resend from the PORT segment's fourth byte
  size_t overlap_frame = 0;     // TYPE + PORT again, plus the new PASV
};

RetransmitCapture BuildRetransmitCapture() {
  RetransmitCapture c;
  CaptureScript& ftp = c.ftp;
  constexpr uint8_t kPsh = tcp_flags::kAck | tcp_flags::kPsh;
  ftp.Handshake();
  ftp.Login();
  const uint32_t type_seq = ftp.client_seq();
  ftp.Client("TYPE I\r\n");
  ftp.Server("200 Type set to I\r\n");
  c.port_seq = ftp.client_seq();
  c.port_frame = ftp.frames().size();
  ftp.Client(kPort);
  c.retransmit_frame = ftp.frames().size();
  ftp.Send(true, kPort, kPsh, c.port_seq);
  c.inside_frame = ftp.frames().size();
  ftp.Send(true, std::string(kPort).substr(3), kPsh, c.port_seq + 3);
  c.overlap_frame = ftp.frames().size();
  ftp.Send(true, std::string("TYPE I\r\n") + kPort + "PASV\r\n", kPsh, type_seq);
  ftp.Advance(true, 6);
  ftp.Server("200 PORT ok\r\n227 Entering Passive Mode (198,51,100,2,195,80)\r\n");
  // LIST overtakes NOOP.
  const uint32_t noop_seq = ftp.client_seq();
  ftp.Send(true, "LIST\r\n", kPsh, noop_seq + 6);
  ftp.Send(true, "NOOP\r\n", kPsh, noop_seq);
  ftp.Advance(true, 12);
  ftp.Server("200 NOOP ok\r\n150 Here it comes\r\n");
  ServerConnects(ftp, Ep("192.0.2.2", 1025));
  ftp.DataSyn(Ep("192.0.2.2", 50001), Ep("198.51.100.2", 50000));
  ftp.Server("226 Done\r\n");
  ftp.Client("QUIT\r\n");
  ftp.Server("221 Bye\r\n");
  ftp.Close();
  return c;
}

struct SegmentSeen {
  bool control = false;  // a packet of the control connection (port 21)
  bool from_client = false;
  uint32_t seq = 0;
  uint32_t ack = 0;
  std::string payload;
  bool checksum_ok = false;
};

std::vector<SegmentSeen> ReadSegments(const std::filesystem::path& capture) {
  std::vector<SegmentSeen> out;
  std::string error;
  auto reader = replay::CaptureReader::Open(capture.string(), &error);
  EXPECT_NE(reader, nullptr) << error;
  if (!reader) return out;
  while (auto record = reader->Next()) {
    SegmentSeen seen;
    auto parsed = ParseTcpPacket(record->frame.subspan(record->ip_offset));
    if (parsed.ok()) {
      const auto& v = parsed.view;
      seen.control = v.tuple.dst.port == 21 || v.tuple.src.port == 21;
      seen.from_client = v.tuple.dst.port == 21;
      seen.seq = v.seq;
      seen.ack = v.ack;
      seen.payload.assign(v.payload.begin(), v.payload.end());
      seen.checksum_ok = TcpChecksumValid(v);
    }
    out.push_back(std::move(seen));  // one per record, so indexes match the script's frames
  }
  return out;
}

TEST(HostileReplayTest, RetransmittedOverlappingAndReorderedSegmentsStayConsistentWhenWritten) {
  TempDir dir;
  const RetransmitCapture capture = BuildRetransmitCapture();
  std::vector<std::string> args = Snat4().nat_args;
  args.insert(args.end(), {"--write", (dir / "out.pcap").string()});
  const ReplayRun run = Replay(capture.ftp, dir / "in.pcap", args);
  const std::vector<SegmentSeen> in = ReadSegments(dir / "in.pcap");
  const std::vector<SegmentSeen> out = ReadSegments(dir / "out.pcap");
  ASSERT_EQ(in.size(), capture.ftp.frames().size());
  ASSERT_EQ(out.size(), in.size());

  // One expectation per announcement, none for the copies; both data connections predicted.
  EXPECT_EQ(run.Of("expect").size(), 2u) << Dump(run);
  EXPECT_EQ(run.Of("rewrite").size(), 1u) << Dump(run);
  EXPECT_EQ(CounterOf(run, "retransmit_rewrites"), 3u);
  // The PORT copy, the resend from inside it and the late NOOP.
  EXPECT_EQ(CounterOf(run, "segments_retransmitted"), 3u);
  EXPECT_EQ(CounterOf(run, "segments_overlapping"), 1u);
  EXPECT_EQ(CounterOf(run, "segments_out_of_order"), 1u);
  EXPECT_EQ((*run.Summary())["data_connections_expected"], 2u) << Dump(run);

  // The retransmission carries exactly the bytes of the first rewritten copy.
  const SegmentSeen& first = out[capture.port_frame];
  const SegmentSeen& again = out[capture.retransmit_frame];
  EXPECT_EQ(first.payload, "PORT 198,51,100,1,4,1\r\n");
  EXPECT_EQ(again.payload, first.payload);
  EXPECT_EQ(again.seq, first.seq);
  // The resend from inside lands 3 further on (as any segment after the PORT's first byte) and
  // carries, at its own length, the first copy's bytes there (found live, tests/vm row 10g).
  EXPECT_EQ(out[capture.inside_frame].payload, "98,51,100,1,4,1\r\n");
  EXPECT_EQ(out[capture.inside_frame].seq, capture.port_seq + 3 + 3);
  EXPECT_EQ(out[capture.overlap_frame].payload, "TYPE I\r\nPORT 198,51,100,1,4,1\r\nPASV\r\n");

  // Sequence numbers: client segments after the PORT segment move by +3, server acks of bytes
  // after it too; nothing before it moves.
  const uint32_t after_port = capture.port_seq;
  ForwardedStream stream(1001);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_TRUE(out[i].checksum_ok) << "record " << i;
    if (!in[i].control) continue;  // a data connection's SYN
    if (in[i].from_client) {
      const uint32_t shift = SeqAfter(in[i].seq, after_port) ? 3 : 0;
      EXPECT_EQ(out[i].seq, in[i].seq + shift) << "client record " << i;
      stream.Add(out[i].seq,
                 std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(out[i].payload.data()),
                                          out[i].payload.size()));
    } else {
      const uint32_t shift = SeqAfter(in[i].ack, after_port) ? 3 : 0;
      EXPECT_EQ(out[i].ack, in[i].ack + shift) << "server record " << i;
      EXPECT_EQ(out[i].seq, in[i].seq) << "server record " << i;
    }
  }
  EXPECT_TRUE(stream.conflicts().empty()) << stream.conflicts().front();
  EXPECT_EQ(stream.Contiguous(),
            "USER anonymous\r\nPASS guest@\r\nTYPE I\r\nPORT 198,51,100,1,4,1\r\nPASV\r\n"
            "NOOP\r\nLIST\r\nQUIT\r\n");
}

// ------------------------------------------------------------------------------------------------
// The committed captures under pcaps/hostile/ are exactly what the scripts above build.

struct SavedCapture {
  std::string file;
  CaptureScript script;
};

std::vector<SavedCapture> SavedCaptures() {
  std::vector<SavedCapture> out;
  for (const ReplayProbe& probe : Probes()) {
    if (probe.file.empty()) continue;
    CaptureScript ftp(probe.topology());
    probe.script(ftp, /*hostile=*/true);
    out.push_back({probe.file, std::move(ftp)});
  }
  out.push_back({"port-flood", FloodCapture(100)});
  out.push_back({"227-non-utf8", NonUtf8Capture()});
  out.push_back({"retransmit-overlap-reorder", BuildRetransmitCapture().ftp});
  return out;
}

TEST(HostileCaptureFiles, CommittedCapturesMatchTheirGenerator) {
  const auto committed_dir = SourceDir() / "pcaps" / "hostile";
  const bool update = std::getenv("FTPALG_UPDATE_HOSTILE_CAPTURES") != nullptr;
  if (update) std::filesystem::create_directories(committed_dir);
  const std::string readme = ReadFile(committed_dir / "README.md");
  TempDir dir;
  std::set<std::string> generated;
  for (const SavedCapture& saved : SavedCaptures()) {
    const std::string name = saved.file + ".pcap";
    generated.insert(name);
    std::string error;
    const auto fresh = dir / name;
    ASSERT_TRUE(WritePcap(fresh, saved.script, &error)) << error;
    if (update) {
      std::filesystem::copy_file(fresh, committed_dir / name,
                                 std::filesystem::copy_options::overwrite_existing);
    }
    const std::string committed = ReadFile(committed_dir / name);
    EXPECT_TRUE(committed == ReadFile(fresh))
        << name << " (" << committed.size() << " bytes) differs from its generator; "
        << "regenerate it (see the top of this file)";
    EXPECT_NE(readme.find("`" + name + "`"), std::string::npos)
        << name << " is not described in pcaps/hostile/README.md";
  }
  // Every committed capture has a generator.
  for (const auto& entry : std::filesystem::directory_iterator(committed_dir)) {
    if (entry.path().extension() != ".pcap") continue;
    EXPECT_EQ(generated.count(entry.path().filename().string()), 1u)
        << entry.path() << " has no generator in this file";
  }
}

}  // namespace
}  // namespace ftpalg::test
