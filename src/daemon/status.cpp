#include "daemon/status.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "ftpalg/event_json.h"

namespace ftpalg::daemon {
namespace {

using nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

ordered_json TupleJson(const Tuple& tuple) {
  return {{"src", tuple.src.ToString()}, {"dst", tuple.dst.ToString()}};
}

ordered_json SessionJson(const SessionView& view) {
  ordered_json session = {{"client_side", TupleJson(view.control.original)},
                          {"server_side", TupleJson(view.control.reply)},
                          {"translated", view.control.Translated()},
                          {"state", view.state},
                          {"user", view.user},
                          {"idle_s", TimestampSeconds(view.idle)}};
  if (view.control.zone != 0) session["zone"] = view.control.zone;
  if (view.control.conntrack_id != 0) session["conntrack_id"] = view.control.conntrack_id;
  if (view.epsv_all) session["epsv_all"] = true;
  ordered_json pending = ordered_json::array();
  for (const PendingExpectationView& p : view.pending) {
    ordered_json one = {{"cause", ExpectCauseName(p.cause)},
                        {"from", p.source_any_address ? "*" : p.source.ToString()},
                        {"to", p.destination.ToString()},
                        {"time_left_s", TimestampSeconds(p.time_left)}};
    if (p.nat_to.has_value()) one["nat_to"] = p.nat_to->ToString();
    pending.push_back(std::move(one));
  }
  session["pending"] = std::move(pending);
  return session;
}

// Reads a field without throwing (the client reads whatever the socket gave it).
template <typename T>
T Field(const nlohmann::ordered_json& object, const char* key, T fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  if constexpr (std::is_same_v<T, std::string>) {
    return it->is_string() ? it->get<std::string>() : fallback;
  } else if constexpr (std::is_same_v<T, bool>) {
    return it->is_boolean() ? it->get<bool>() : fallback;
  } else {
    return it->is_number() ? it->get<T>() : fallback;
  }
}

std::string Seconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0fs", seconds);
  return text;
}

}  // namespace

void AppendEngine(const Engine& engine, Timestamp now, StatusReport* report) {
  report->session_count += engine.session_count();
  const size_t room = StatusReport::kMaxListedSessions -
                      std::min(report->sessions.size(), StatusReport::kMaxListedSessions);
  for (SessionView& view : engine.Sessions(now, room)) report->sessions.push_back(std::move(view));
  report->totals.AddAll(engine.counters());
}

void AppendReport(const StatusReport& part, StatusReport* report) {
  report->session_count += part.session_count;
  for (const SessionView& view : part.sessions) {
    if (report->sessions.size() >= StatusReport::kMaxListedSessions) break;
    report->sessions.push_back(view);
  }
  report->totals.AddAll(part.totals);
}

std::string StatusJson(const StatusReport& report) {
  ordered_json sessions = ordered_json::array();
  for (const SessionView& view : report.sessions) sessions.push_back(SessionJson(view));
  ordered_json totals = ordered_json::object();
  for (size_t i = 0; i < static_cast<size_t>(Counter::kCount); ++i) {
    const auto counter = static_cast<Counter>(i);
    totals[std::string(CounterName(counter))] = report.totals.Get(counter);
  }
  ordered_json health = ordered_json::object();
  for (const ExtraMetric& figure : report.health) {
    // The figures are counts and byte sizes: whole numbers print as such.
    const bool whole = figure.value >= 0 && figure.value < 9.0e15 &&
                       figure.value == static_cast<double>(static_cast<uint64_t>(figure.value));
    if (whole) {
      health[figure.name] = static_cast<uint64_t>(figure.value);
    } else {
      health[figure.name] = figure.value;
    }
  }
  ordered_json document = {{"sessions_total", report.session_count},
                           {"sessions_listed", report.sessions.size()},
                           {"sessions", std::move(sessions)},
                           {"totals", std::move(totals)},
                           {"health", std::move(health)}};
  return document.dump() + "\n";
}

std::string StatusText(std::string_view json_text) {
  nlohmann::ordered_json document =
      nlohmann::ordered_json::parse(json_text.begin(), json_text.end(), nullptr, false);
  if (document.is_discarded() || !document.is_object()) return "unreadable status document\n";
  std::string out;
  const auto total = Field<uint64_t>(document, "sessions_total", 0);
  const auto listed = Field<uint64_t>(document, "sessions_listed", 0);
  out += "sessions: " + std::to_string(total);
  if (listed < total) out += " (" + std::to_string(listed) + " listed)";
  out += "\n";
  const nlohmann::ordered_json& sessions = document["sessions"];
  for (const nlohmann::ordered_json& s :
       sessions.is_array() ? sessions : nlohmann::ordered_json::array()) {
    const nlohmann::ordered_json& client =
        s.contains("client_side") ? s["client_side"] : nlohmann::ordered_json();
    const nlohmann::ordered_json& server =
        s.contains("server_side") ? s["server_side"] : nlohmann::ordered_json();
    out += "  " + Field<std::string>(client, "src", "?") + " -> " +
           Field<std::string>(client, "dst", "?");
    if (Field<bool>(s, "translated", false)) {
      out += "  (server side: " + Field<std::string>(server, "src", "?") + " -> " +
             Field<std::string>(server, "dst", "?") + ")";
    }
    out += "  " + Field<std::string>(s, "state", "?");
    const std::string user = Field<std::string>(s, "user", "");
    if (!user.empty()) out += "  user " + user;
    out += "  idle " + Seconds(Field<double>(s, "idle_s", 0)) + "\n";
    const nlohmann::ordered_json& pending =
        s.contains("pending") ? s["pending"] : nlohmann::ordered_json();
    for (const nlohmann::ordered_json& p :
         pending.is_array() ? pending : nlohmann::ordered_json::array()) {
      out += "    expects " + Field<std::string>(p, "from", "?") + " -> " +
             Field<std::string>(p, "to", "?");
      const std::string nat_to = Field<std::string>(p, "nat_to", "");
      if (!nat_to.empty()) out += " (to " + nat_to + ")";
      out += " after " + Field<std::string>(p, "cause", "?") + ", " +
             Seconds(Field<double>(p, "time_left_s", 0)) + " left\n";
    }
  }
  for (const char* section : {"totals", "health"}) {
    if (!document.contains(section) || !document[section].is_object()) continue;
    out += std::string(section) + ":";
    for (const auto& [name, value] : document[section].items()) {
      if (!value.is_number()) continue;
      // Totals that are zero say nothing; health figures are shown even when zero.
      if (section == std::string("totals") && value.get<double>() == 0) continue;
      out += " " + name + "=" + value.dump();
    }
    out += "\n";
  }
  return out;
}

StatusServer::~StatusServer() {
  if (!path_.empty()) unlink(path_.c_str());
}

std::string StatusServer::Listen(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path) {
    return "--status-socket '" + path + "': want a path of 1 to " +
           std::to_string(sizeof address.sun_path - 1) + " bytes";
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) return std::string("status socket: ") + std::strerror(errno);
  // Run by hand there is no RuntimeDirectory (the unit's): make the directory, root only.
  if (const size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0) {
    mkdir(path.substr(0, slash).c_str(), 0700);  // EEXIST is fine; bind reports the rest
  }
  // A socket file left by an earlier instance (after a crash) would make bind fail.
  struct stat existing {};
  if (lstat(path.c_str(), &existing) == 0 && S_ISSOCK(existing.st_mode)) unlink(path.c_str());
  // Created with mode 0600 (umask 0177 during bind): the status names users and addresses, so only
  // root reads it, and there is no moment in which another user could connect.
  const mode_t old_umask = umask(0177);
  const int bound = bind(listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  const int bind_error = errno;
  umask(old_umask);
  if (bound != 0 || listen(listen_fd, 16) != 0) {
    std::string error =
        "status socket " + path + ": " + std::strerror(bound != 0 ? bind_error : errno);
    close(listen_fd);
    return error;
  }
  path_ = path;
  if (std::string error = exchange_.Open(); !error.empty()) {
    close(listen_fd);
    return "status " + error;
  }
  if (std::string error = thread_.Start(listen_fd, [this](int client) { ServeClient(client); });
      !error.empty()) {
    return "status " + error;
  }
  return {};
}

void StatusServer::ServeClient(int client) {
  // Nothing is read from the client: connecting is the request. One deadline for the whole
  // answer, so a client that never reads holds this thread (not the packet loop) for 1 s at most.
  std::string document = exchange_.Fresh(kFreshWaitMs);
  if (document.empty()) document = "{\"error\":\"the packet loop has not answered\"}\n";
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(kResponseDeadlineMs);
  size_t sent = 0;
  while (sent < document.size() && WaitFor(client, POLLOUT, thread_.stop_fd(), deadline)) {
    const ssize_t n = send(client, document.data() + sent, document.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
}

bool FetchStatus(const std::string& path, int timeout_ms, std::string* document,
                 std::string* error) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) {
    *error = "status socket path too long: " + path;
    return false;
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    *error = "cannot reach ftp-algd at " + path + ": " + std::strerror(errno) +
             (errno == ENOENT || errno == ECONNREFUSED ? " (is it running?)" : "");
    close(fd);
    return false;
  }
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const int never = -1;
  char chunk[65536];
  document->clear();
  bool complete = false;
  while (WaitFor(fd, POLLIN, never, deadline)) {
    const ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0) {
      complete = n == 0;
      break;
    }
    document->append(chunk, static_cast<size_t>(n));
  }
  close(fd);
  if (!complete) *error = "no complete answer from ftp-algd at " + path;
  return complete;
}

int PrintStatus(const DaemonConfig& config) {
  std::string document;
  std::string error;
  // The server answers within kFreshWaitMs plus the time to send; 5 s covers a loaded machine.
  if (!FetchStatus(config.status_socket, 5000, &document, &error)) {
    std::fprintf(stderr, "ftp-algd status: %s\n", error.c_str());
    return 1;
  }
  const std::string out = config.status_json ? document : StatusText(document);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace ftpalg::daemon
