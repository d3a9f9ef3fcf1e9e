#include "daemon/metrics.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "ftpalg/nat_description.h"

namespace ftpalg::daemon {

std::string RenderMetrics(const Counters& counters, const std::vector<ExtraMetric>& extra) {
  std::string out;
  auto emit = [&out](const std::string& name, std::string_view help, bool gauge, double value) {
    const std::string full = "ftpalg_" + name + (gauge ? "" : "_total");
    out += "# HELP " + full + " " + std::string(help) + "\n";
    out += "# TYPE " + full + (gauge ? " gauge\n" : " counter\n");
    char number[64];
    std::snprintf(number, sizeof number, "%.17g", value);
    out += full + " " + number + "\n";
  };
  for (size_t i = 0; i < static_cast<size_t>(Counter::kCount); ++i) {
    const auto counter = static_cast<Counter>(i);
    emit(std::string(CounterName(counter)), CounterHelp(counter),
         counter == Counter::kSessionsActive, static_cast<double>(counters.Get(counter)));
  }
  for (const ExtraMetric& metric : extra) {
    emit(metric.name, metric.help, metric.gauge, metric.value);
  }
  return out;
}

MetricsServer::~MetricsServer() = default;

std::string MetricsServer::Listen(const std::string& address_port) {
  auto endpoint = ParseEndpoint(address_port);
  if (!endpoint) return "--metrics '" + address_port + "': want ADDR:PORT or [ADDR]:PORT";
  const bool v4 = endpoint->addr.IsV4();
  const bool loopback =
      v4 ? endpoint->addr.bytes[0] == 127 : endpoint->addr == *IpAddress::Parse("::1");
  if (!loopback) return "--metrics " + address_port + ": only loopback addresses are allowed";
  if (thread_.running()) return "metrics: already listening";
  const int listen_fd =
      socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) return std::string("metrics socket: ") + std::strerror(errno);
  int one = 1;
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (v4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(endpoint->port);
    std::memcpy(&sin->sin_addr, endpoint->addr.bytes.data(), 4);
    length = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(endpoint->port);
    std::memcpy(&sin6->sin6_addr, endpoint->addr.bytes.data(), 16);
    length = sizeof *sin6;
  }
  if (bind(listen_fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
      listen(listen_fd, 16) != 0 ||
      getsockname(listen_fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    std::string error = "metrics on " + address_port + ": " + std::strerror(errno);
    close(listen_fd);
    return error;
  }
  port_ = ntohs(v4 ? reinterpret_cast<sockaddr_in*>(&storage)->sin_port
                   : reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
  if (std::string error = exchange_.Open(); !error.empty()) {
    close(listen_fd);
    return "metrics " + error;
  }
  if (std::string error = thread_.Start(listen_fd, [this](int client) { ServeClient(client); });
      !error.empty()) {
    return "metrics " + error;
  }
  return {};
}

SnapshotExchange::~SnapshotExchange() {
  if (wake_fd_ >= 0) close(wake_fd_);
}

std::string SnapshotExchange::Open() {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  return wake_fd_ < 0 ? std::string("eventfd: ") + std::strerror(errno) : std::string();
}

void SnapshotExchange::Publish(std::string snapshot) {
  uint64_t requests = 0;
  if (read(wake_fd_, &requests, sizeof requests) < 0) {
    // EAGAIN: published without a request (nothing to clear).
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    snapshot_ = std::move(snapshot);
    ++published_;
  }
  published_cv_.notify_all();
}

ServingThread::~ServingThread() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    if (write(stop_fd_, &one, sizeof one) != static_cast<ssize_t>(sizeof one)) {
      // An eventfd write fails only when its counter would overflow: the thread is told already.
    }
    thread_.join();
  }
  for (int fd : {listen_fd_, stop_fd_}) {
    if (fd >= 0) close(fd);
  }
}

std::string ServingThread::Start(int listen_fd, std::function<void(int client)> serve) {
  listen_fd_ = listen_fd;
  stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop_fd_ < 0) return std::string("eventfd: ") + std::strerror(errno);
  // The thread starts with every signal blocked (a new thread inherits its creator's mask): the
  // daemon takes SIGTERM and SIGHUP through its signalfd, and a thread that left them unblocked
  // would take them instead and end the process with the default action.
  sigset_t all;
  sigset_t creator_mask;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &creator_mask);
  thread_ = std::thread([this, serve = std::move(serve)] {
    for (;;) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
      if (fds[1].revents & POLLIN) return;
      if (!(fds[0].revents & POLLIN)) continue;
      const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (client < 0) continue;
      serve(client);
      close(client);
    }
  });
  pthread_sigmask(SIG_SETMASK, &creator_mask, nullptr);
  return {};
}

using Clock = std::chrono::steady_clock;

bool WaitFor(int fd, decltype(pollfd::events) events, int stop_fd, Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return false;
  pollfd fds[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
  if (poll(fds, 2, static_cast<int>(left)) <= 0) return false;
  return !(fds[1].revents & POLLIN) && (fds[0].revents & (events | POLLHUP | POLLERR));
}

std::thread StartServingThread(std::function<void()> body) {
  // The thread starts with every signal blocked (a new thread inherits its creator's mask): the
  // daemon takes SIGTERM and SIGHUP through its signalfd, and a thread that left them unblocked
  // would take them instead and end the process with the default action.
  sigset_t all;
  sigset_t creator_mask;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &creator_mask);
  std::thread thread(std::move(body));
  pthread_sigmask(SIG_SETMASK, &creator_mask, nullptr);
  return thread;
}

std::string SnapshotExchange::Fresh(int wait_ms) {
  std::unique_lock<std::mutex> lock(mutex_);
  const uint64_t wanted = published_ + 1;
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof one) != static_cast<ssize_t>(sizeof one)) {
    // Counter full: the loop has been asked many times already; wait for its answer anyway.
  }
  published_cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                         [&] { return published_ >= wanted; });
  return snapshot_;
}

void MetricsServer::ServeClient(int client) {
  // The request line, within one deadline for all of it (a per-read timeout would let a client
  // that drips one byte at a time hold the connection for as long as it likes).
  const Clock::time_point request_deadline =
      Clock::now() + std::chrono::milliseconds(kRequestDeadlineMs);
  char request[1024];
  size_t got = 0;
  while (got < sizeof request - 1 && WaitFor(client, POLLIN, thread_.stop_fd(), request_deadline)) {
    const ssize_t n = read(client, request + got, sizeof request - 1 - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
    if (std::memchr(request, '\n', got) != nullptr) break;
  }
  const std::string_view line(request, got);
  if (line.find('\n') == std::string_view::npos) return;  // incomplete: no answer
  const bool metrics = line.rfind("GET /metrics", 0) == 0 || line.rfind("GET / ", 0) == 0;
  std::string payload =
      metrics ? exchange_.Fresh(kFreshWaitMs) : std::string("not found: try /metrics\n");
  const char* status = "HTTP/1.0 200 OK\r\n";
  if (!metrics) {
    status = "HTTP/1.0 404 Not Found\r\n";
  } else if (payload.empty()) {
    status = "HTTP/1.0 503 Service Unavailable\r\n";
    payload = "the packet loop has not answered yet\n";
  }
  const std::string response =
      std::string(status) + "Content-Type: text/plain; version=0.0.4\r\nContent-Length: " +
      std::to_string(payload.size()) + "\r\nConnection: close\r\n\r\n" + payload;
  const Clock::time_point response_deadline =
      Clock::now() + std::chrono::milliseconds(kResponseDeadlineMs);
  size_t sent = 0;
  while (sent < response.size() && WaitFor(client, POLLOUT, thread_.stop_fd(), response_deadline)) {
    const ssize_t n = send(client, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
}

uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0;
  uint64_t resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace ftpalg::daemon
