// `ftp-algd status`: the engine's read-only session view, the JSON document and its text, and the
// UNIX socket server that serves it off the packet path (a stuck client cannot delay the loop).
#include "daemon/status.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "engine_test_util.h"
#include "ftpalg/session.h"
#include "packet_loop_stub.h"

namespace ftpalg::daemon {
namespace {

using Clock = std::chrono::steady_clock;
using test::Conversation;
using test::Masqueraded;
using test::RecordingInstaller;

TEST(SessionView, ShowsBothSidesStateUserAndPendingExpectations) {
  RecordingInstaller installer;
  Engine engine(EngineConfig{}, installer);
  Conversation conversation(engine, Masqueraded());
  conversation.Handshake();
  std::vector<SessionView> views = engine.Sessions(conversation.now, 10);
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].state, "greeting");
  conversation.Server("220 ready\r\n");
  EXPECT_EQ(engine.Sessions(conversation.now, 10)[0].state, "login");
  conversation.Client("USER alice\r\n");
  conversation.Server("331 password please\r\n");
  conversation.Client("PASS secret\r\n");
  conversation.Server("230 logged in\r\n");
  conversation.Client("PORT 192,0,2,2,156,64\r\n");
  views = engine.Sessions(conversation.now, 10);
  ASSERT_EQ(views.size(), 1u);
  const SessionView& view = views[0];
  EXPECT_EQ(view.state, "logged-in");
  EXPECT_EQ(view.user, "alice");
  EXPECT_EQ(view.control.original, Masqueraded().original);
  EXPECT_EQ(view.control.reply, Masqueraded().reply);
  ASSERT_EQ(view.pending.size(), 1u);
  EXPECT_EQ(view.pending[0].cause, ExpectCause::kPort);
  EXPECT_GT(view.pending[0].time_left, 0);
  EXPECT_LE(view.pending[0].time_left, 300 * kNanosPerSecond);
  // The limit holds, and an expectation past its time is not shown.
  EXPECT_TRUE(engine.Sessions(conversation.now, 0).empty());
  EXPECT_TRUE(engine.Sessions(conversation.now + 3600 * kNanosPerSecond, 1)[0].pending.empty());
}

TEST(SessionView, UserIsBoundedAndStepAsideShows) {
  Session session(Masqueraded(), 512);
  RememberUser(session, std::string(1000, 'u'));
  EXPECT_EQ(session.user, std::string(kMaxUserLength, 'u') + "...");
  session.step_aside = StepAside::kTls;
  EXPECT_EQ(SessionStateName(session), "tls");
  session.step_aside = StepAside::kNotFtp;
  EXPECT_EQ(SessionStateName(session), "not-ftp");
  session.closed_at = 5;
  EXPECT_EQ(SessionStateName(session), "closing");
}

StatusReport OneSessionReport() {
  StatusReport report;
  SessionView view;
  view.control = Masqueraded();
  view.state = "logged-in";
  view.user = "alice";
  view.idle = 2 * kNanosPerSecond;
  PendingExpectationView pending;
  pending.cause = ExpectCause::kPort;
  pending.source = *IpAddress::Parse("198.51.100.2");
  pending.destination = Endpoint{*IpAddress::Parse("198.51.100.1"), 40001};
  pending.nat_to = Endpoint{*IpAddress::Parse("192.0.2.2"), 40000};
  pending.time_left = 299 * kNanosPerSecond;
  view.pending.push_back(pending);
  report.sessions.push_back(view);
  report.session_count = 1;
  report.totals.Add(Counter::kExpectations, 3);
  report.health = {{"queue_overruns", "", false, 0}, {"expectation_install_errors", "", false, 2}};
  return report;
}

TEST(StatusDocument, JsonAndTextSayTheSameThings) {
  const std::string json = StatusJson(OneSessionReport());
  EXPECT_NE(json.find("\"state\":\"logged-in\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"user\":\"alice\""), std::string::npos);
  EXPECT_NE(json.find("\"nat_to\":\"192.0.2.2:40000\""), std::string::npos);
  EXPECT_NE(json.find("\"queue_overruns\":0"), std::string::npos);
  const std::string text = StatusText(json);
  EXPECT_NE(text.find("sessions: 1\n"), std::string::npos) << text;
  const Tuple& client = Masqueraded().original;
  const Tuple& server = Masqueraded().reply;
  EXPECT_NE(text.find("  " + client.src.ToString() + " -> " + client.dst.ToString() +
                      "  (server side: " + server.src.ToString() + " -> " + server.dst.ToString() +
                      ")  logged-in  user alice  idle 2s\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("    expects 198.51.100.2 -> 198.51.100.1:40001 (to 192.0.2.2:40000) after "
                      "PORT, 299s left\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("totals: expectations=3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("health: queue_overruns=0 expectation_install_errors=2"), std::string::npos)
      << text;
  EXPECT_EQ(StatusText("garbage"), "unreadable status document\n");
  EXPECT_EQ(StatusText("{\"sessions\":5,\"sessions_total\":\"x\"}"), "sessions: 0\n");
}

// Two engines (two workers), each with one session seen from its handshake.
class TwoEngines : public ::testing::Test {
 protected:
  TwoEngines() {
    a.Handshake();
    b.Handshake();
  }
  RecordingInstaller installer;
  Engine first{EngineConfig{}, installer};
  Engine second{EngineConfig{}, installer};
  Conversation a{first, Masqueraded()};
  Conversation b{second, Masqueraded(Family::kIpv6)};
};

TEST_F(TwoEngines, AppendEngineGathersSeveralEngines) {
  StatusReport report;
  AppendEngine(first, a.now, &report);
  AppendEngine(second, b.now, &report);
  EXPECT_EQ(report.session_count, 2u);
  EXPECT_EQ(report.sessions.size(), 2u);
  EXPECT_EQ(report.totals.Get(Counter::kSessions), 2u);
}

// Each worker answers with its own engine's part; the daemon adds the parts up.
TEST_F(TwoEngines, AppendReportAddsTheWorkersParts) {
  StatusReport part_a;
  StatusReport part_b;
  AppendEngine(first, a.now, &part_a);
  AppendEngine(second, b.now, &part_b);
  StatusReport report;
  AppendReport(part_a, &report);
  AppendReport(part_b, &report);
  EXPECT_EQ(report.session_count, 2u);
  EXPECT_EQ(report.sessions.size(), 2u);
  EXPECT_EQ(report.totals.Get(Counter::kSessions), 2u);
  EXPECT_EQ(report.totals.Get(Counter::kPackets),
            first.counters().Get(Counter::kPackets) + second.counters().Get(Counter::kPackets));
}

std::string SocketPath() { return "/tmp/ftpalg-status-test-" + std::to_string(getpid()) + ".sock"; }

// The packet loop: numbered documents.
class PacketLoop : public test::PacketLoopStub<StatusServer> {
 public:
  explicit PacketLoop(StatusServer& server)
      : PacketLoopStub(server, [](int n) { return "{\"render\":" + std::to_string(n) + "}\n"; }) {}
};

TEST(StatusServer, AnswersAFreshDocumentOnARootOnlySocket) {
  const std::string path = SocketPath();
  StatusServer server;
  ASSERT_EQ(server.Listen(path), "");
  struct stat info {};
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  PacketLoop loop(server);
  std::string document;
  std::string error;
  ASSERT_TRUE(FetchStatus(path, 5000, &document, &error)) << error;
  EXPECT_EQ(document, "{\"render\":1}\n");
  ASSERT_TRUE(FetchStatus(path, 5000, &document, &error)) << error;
  EXPECT_EQ(document, "{\"render\":2}\n");
}

TEST(StatusServer, AStuckClientNeitherHoldsTheLoopNorTheNextClient) {
  const std::string path = SocketPath();
  StatusServer server;
  ASSERT_EQ(server.Listen(path), "");
  // A document much larger than the socket buffers, so that a client that never reads blocks
  // the server's send: the server must give up on it at its deadline.
  const std::string big = "{\"pad\":\"" + std::string(2 << 20, 'x') + "\"}\n";
  std::atomic<int> publishes{0};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> longest_publish_us{0};
  std::thread loop([&] {
    while (!stop) {
      pollfd waiter{server.wake_fd(), POLLIN, 0};
      if (poll(&waiter, 1, 20) != 1) continue;
      const Clock::time_point start = Clock::now();
      server.Publish(big);
      const int64_t took =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
      if (took > longest_publish_us) longest_publish_us = took;
      ++publishes;
    }
  });
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  const int stuck = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(connect(stuck, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  // The next client waits behind the stuck one for at most the response deadline.
  const Clock::time_point start = Clock::now();
  std::string document;
  std::string error;
  const bool fetched = FetchStatus(path, 5000, &document, &error);
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  close(stuck);
  stop = true;
  loop.join();
  EXPECT_TRUE(fetched) << error;
  EXPECT_EQ(document.size(), big.size());
  EXPECT_LT(waited, 3 * StatusServer::kResponseDeadlineMs);
  EXPECT_GE(publishes.load(), 2);
  // Publishing never waits for a client.
  EXPECT_LT(longest_publish_us.load(), 200000);
}

TEST(StatusServer, WithoutTheLoopTheClientGetsAnErrorDocumentInTime) {
  const std::string path = SocketPath();
  StatusServer server;
  ASSERT_EQ(server.Listen(path), "");
  std::string document;
  std::string error;
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(FetchStatus(path, 5000, &document, &error)) << error;
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  EXPECT_NE(document.find("\"error\""), std::string::npos);
}

TEST(StatusServer, NoDaemonIsAOneLineError) {
  std::string document;
  std::string error;
  EXPECT_FALSE(FetchStatus("/nonexistent/ftp-algd.sock", 1000, &document, &error));
  EXPECT_NE(error.find("is it running?"), std::string::npos) << error;
}

}  // namespace
}  // namespace ftpalg::daemon
