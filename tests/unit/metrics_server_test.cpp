// The metrics endpoint runs off the packet path: its clients, however slow, never wait on the
// packet loop and never make it wait (issue 13; before, one byte every 190 ms held the loop).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "daemon/metrics.h"
#include "packet_loop_stub.h"

namespace ftpalg::daemon {
namespace {

using Clock = std::chrono::steady_clock;

int ConnectTo(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads until the server closes (or 5 s pass): the whole response.
std::string ReadAll(int fd) {
  std::string out;
  char buffer[4096];
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
  pollfd waiter{fd, POLLIN, 0};
  while (Clock::now() < deadline && poll(&waiter, 1, 100) >= 0) {
    if (!(waiter.revents & (POLLIN | POLLHUP))) continue;
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

std::string Get(uint16_t port, const std::string& request = "GET /metrics HTTP/1.0\r\n\r\n") {
  const int fd = ConnectTo(port);
  if (fd < 0) return "connect failed";
  EXPECT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::string response = ReadAll(fd);
  close(fd);
  return response;
}

// The packet loop: numbered figures.
class PacketLoop : public test::PacketLoopStub<MetricsServer> {
 public:
  explicit PacketLoop(MetricsServer& server)
      : PacketLoopStub(server, [](int n) { return "ftpalg_figures " + std::to_string(n) + "\n"; }) {
  }
};

TEST(MetricsServer, AnswersWithTheFiguresThePacketLoopRenders) {
  MetricsServer server;
  ASSERT_EQ(server.Listen("127.0.0.1:0"), "");
  ASSERT_NE(server.port(), 0);
  PacketLoop loop(server);
  const std::string first = Get(server.port());
  EXPECT_EQ(first.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << first;
  EXPECT_NE(first.find("\r\n\r\nftpalg_figures 1\n"), std::string::npos) << first;
  // Each request gets figures rendered for it, not a cached copy.
  EXPECT_NE(Get(server.port()).find("ftpalg_figures 2\n"), std::string::npos);
  EXPECT_EQ(Get(server.port(), "GET /other HTTP/1.0\r\n\r\n").rfind("HTTP/1.0 404", 0), 0u);
  EXPECT_EQ(loop.renders(), 2);  // the 404 did not wake the loop
}

TEST(MetricsServer, ADrippingClientIsCutOffAndNeverWakesTheLoop) {
  MetricsServer server;
  ASSERT_EQ(server.Listen("127.0.0.1:0"), "");
  PacketLoop loop(server);
  const int dripper = ConnectTo(server.port());
  ASSERT_GE(dripper, 0);
  // One byte every 100 ms, never a newline: the request cannot complete. The server must close
  // the connection at its request deadline (a send then fails or the peer reads EOF).
  const Clock::time_point start = Clock::now();
  bool cut_off = false;
  while (Clock::now() - start < std::chrono::seconds(5)) {
    if (send(dripper, "G", 1, MSG_NOSIGNAL) != 1) {
      cut_off = true;
      break;
    }
    pollfd waiter{dripper, POLLIN, 0};
    if (poll(&waiter, 1, 100) == 1) {
      char byte;
      if (read(dripper, &byte, 1) <= 0) {
        cut_off = true;
        break;
      }
    }
  }
  const auto held = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  close(dripper);
  EXPECT_TRUE(cut_off);
  EXPECT_LT(held.count(), 4 * MetricsServer::kRequestDeadlineMs);
  EXPECT_EQ(loop.renders(), 0);
  // The next client is served as usual.
  EXPECT_NE(Get(server.port()).find("ftpalg_figures 1\n"), std::string::npos);
}

TEST(MetricsServer, ABusyLoopGetsTheLastFiguresNotAWait) {
  MetricsServer server;
  ASSERT_EQ(server.Listen("127.0.0.1:0"), "");
  // Nothing answers the wake fd (a loop busy with packets): before any figures exist the answer
  // is 503; after one Publish, the last figures, after the short fresh-wait.
  EXPECT_EQ(Get(server.port()).rfind("HTTP/1.0 503", 0), 0u);
  server.Publish("ftpalg_figures 7\n");
  const std::string stale = Get(server.port());
  EXPECT_EQ(stale.rfind("HTTP/1.0 200 OK\r\n", 0), 0u);
  EXPECT_NE(stale.find("ftpalg_figures 7\n"), std::string::npos);
}

TEST(MetricsServer, StopsWhileAClientHoldsItsConnection) {
  const int stuck = [] {
    MetricsServer server;
    EXPECT_EQ(server.Listen("127.0.0.1:0"), "");
    const int fd = ConnectTo(server.port());
    EXPECT_GE(fd, 0);
    EXPECT_EQ(send(fd, "GET", 3, MSG_NOSIGNAL), 3);
    return fd;  // the server's destructor must not wait for this client
  }();
  close(stuck);
}

// The daemon takes SIGTERM/SIGHUP through a signalfd with the signals blocked; a thread that
// left them unblocked would take them instead and die of the default action (found live:
// fault-sighup, the daemon vanished at its first SIGHUP). A process-directed signal goes to a
// thread that does not block it, so a pending one must wait for the main thread.
std::atomic<pthread_t> g_signalled_thread;
void RecordThread(int) { g_signalled_thread = pthread_self(); }

TEST(MetricsServer, ItsThreadTakesNoSignals) {
  struct sigaction action {};
  struct sigaction previous {};
  action.sa_handler = RecordThread;
  sigemptyset(&action.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR1, &action, &previous), 0);
  MetricsServer server;
  ASSERT_EQ(server.Listen("127.0.0.1:0"), "");
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigset_t old_mask;
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &usr1, &old_mask), 0);
  g_signalled_thread = pthread_t{};
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(pthread_sigmask(SIG_SETMASK, &old_mask, nullptr), 0);  // delivered here, now
  EXPECT_TRUE(pthread_equal(g_signalled_thread.load(), pthread_self()));
  sigaction(SIGUSR1, &previous, nullptr);
}

}  // namespace
}  // namespace ftpalg::daemon
