#include "daemon/ruleset_check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

extern char** environ;

namespace ftpalg::daemon {
namespace {

// A large ruleset (thousands of rules) prints megabytes of JSON; more than this is not read.
constexpr size_t kMaxOutputBytes = size_t{64} * 1024 * 1024;
constexpr int kDeadlineMs = 10000;

int64_t MonotonicMs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

// Reads the child's stdout until EOF, the size bound or the deadline. False when cut short.
bool ReadAll(int fd, std::string* out, std::string* failure) {
  const int64_t deadline = MonotonicMs() + kDeadlineMs;
  char chunk[65536];
  while (true) {
    const int64_t left = deadline - MonotonicMs();
    if (left <= 0) {
      *failure = "no answer within " + std::to_string(kDeadlineMs / 1000) + " s";
      return false;
    }
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left)) < 0 && errno != EINTR) {
      *failure = std::string("poll: ") + std::strerror(errno);
      return false;
    }
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n == 0) return true;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      *failure = std::string("read: ") + std::strerror(errno);
      return false;
    }
    out->append(chunk, static_cast<size_t>(n));
    if (out->size() > kMaxOutputBytes) {
      *failure = "output larger than " + std::to_string(kMaxOutputBytes >> 20) + " MiB";
      return false;
    }
  }
}

}  // namespace

CommandOutput RunCommand(const std::vector<std::string>& argv) {
  CommandOutput output;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    output.failure = std::string("pipe: ") + std::strerror(errno);
    return output;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  // The tools' own complaints would interleave with the check's lines: their exit status says
  // enough, and stderr is not read.
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawn_error = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawn_error != 0) {
    close(pipe_fds[0]);
    if (spawn_error == ENOENT) {
      output.found = false;
    } else {
      output.failure = std::string("cannot run: ") + std::strerror(spawn_error);
    }
    return output;
  }
  const bool complete = ReadAll(pipe_fds[0], &output.text, &output.failure);
  close(pipe_fds[0]);
  if (!complete) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (complete && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    output.failure = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                       : "killed by signal " + std::to_string(WTERMSIG(status));
  }
  return output;
}

std::vector<settings::RulesetSource> ReadLoadedRulesets(const std::string& helper_name) {
  std::vector<settings::RulesetSource> sources;
  {
    CommandOutput nft = RunCommand({"nft", "-j", "list", "ruleset"});
    settings::RulesetSource source{"nft", nft.found, nft.failure, {}};
    if (nft.found && nft.failure.empty()) {
      source.reading = settings::ReadNftRuleset(nft.text, helper_name);
    }
    sources.push_back(std::move(source));
  }
  // iptables-save is either the nf_tables or the legacy variant (update-alternatives); the other
  // variant's rules are read with its own program, so that neither set goes unread.
  for (const bool ipv6 : {false, true}) {
    const std::string family_tool = ipv6 ? "ip6tables" : "iptables";
    auto read = [&](const std::string& variant) {
      const std::string program = family_tool + variant + "-save";
      CommandOutput run = RunCommand({program});
      settings::RulesetSource source{program, run.found, run.failure, {}};
      if (run.found && run.failure.empty()) {
        source.reading = settings::ReadIptablesSave(run.text, family_tool + variant, ipv6);
      }
      return std::make_pair(std::move(source), settings::IptablesSaveBackend(run.text));
    };
    auto [default_source, backend] = read("");
    sources.push_back(std::move(default_source));
    auto [other_source, unused] = read(backend == "legacy" ? "-nft" : "-legacy");
    // A system without the nf_tables variant has nothing more to say about it.
    if (other_source.available || backend != "legacy") sources.push_back(std::move(other_source));
  }
  return sources;
}

void CheckRuleset(const DaemonConfig& config, Log& log) {
  const std::vector<std::string> lines = settings::RulesetCheckLines(
      ReadLoadedRulesets(config.helper_name), config.helper_name, config.control_ports);
  for (const std::string& line : lines) {
    const std::string_view text = line;
    const size_t colon = text.find(": ");
    if (colon == std::string_view::npos) {
      log.Info(text);
    } else {
      log.Notice(text.substr(0, colon), text.substr(colon + 2));
    }
  }
}

}  // namespace ftpalg::daemon
