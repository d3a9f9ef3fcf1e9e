#include "daemon/metrics.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
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
  for (const ExtraMetric& metric : extra) emit(metric.name, metric.help, metric.gauge, metric.value);
  return out;
}

MetricsServer::~MetricsServer() {
  if (listen_fd_ >= 0) close(listen_fd_);
}

std::string MetricsServer::Listen(const std::string& address_port) {
  auto endpoint = ParseEndpoint(address_port);
  if (!endpoint) return "--metrics '" + address_port + "': want ADDR:PORT or [ADDR]:PORT";
  const bool v4 = endpoint->addr.IsV4();
  const bool loopback = v4 ? endpoint->addr.bytes[0] == 127
                           : endpoint->addr == *IpAddress::Parse("::1");
  if (!loopback) return "--metrics " + address_port + ": only loopback addresses are allowed";
  listen_fd_ = socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return std::string("metrics socket: ") + std::strerror(errno);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
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
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
      listen(listen_fd_, 16) != 0) {
    std::string error = "metrics on " + address_port + ": " + std::strerror(errno);
    close(listen_fd_);
    listen_fd_ = -1;
    return error;
  }
  return {};
}

void MetricsServer::ServeOne(const std::string& body) {
  const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (client < 0) return;
  // Read the request line with a short deadline; the answer does not depend on the headers.
  char request[1024];
  size_t got = 0;
  pollfd waiter{client, POLLIN, 0};
  while (got < sizeof request - 1 && poll(&waiter, 1, 200) == 1) {
    const ssize_t n = read(client, request + got, sizeof request - 1 - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
    if (std::memchr(request, '\n', got) != nullptr) break;
  }
  const std::string_view line(request, got);
  const bool metrics = line.rfind("GET /metrics", 0) == 0 || line.rfind("GET / ", 0) == 0;
  const std::string payload = metrics ? body : std::string("not found: try /metrics\n");
  const std::string response =
      std::string(metrics ? "HTTP/1.0 200 OK\r\n" : "HTTP/1.0 404 Not Found\r\n") +
      "Content-Type: text/plain; version=0.0.4\r\nContent-Length: " +
      std::to_string(payload.size()) + "\r\nConnection: close\r\n\r\n" + payload;
  size_t sent = 0;
  pollfd writer{client, POLLOUT, 0};
  while (sent < response.size() && poll(&writer, 1, 200) == 1) {
    const ssize_t n = send(client, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  close(client);
}

uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0;
  uint64_t resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace ftpalg::daemon
