#include "daemon/release_guard.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "daemon/log.h"
#include "kernel/kernel_status.h"

namespace ftpalg::daemon {

bool WaitForQueueRelease(const std::function<bool()>& queue_bound, int attempts,
                         std::chrono::milliseconds interval) {
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (!queue_bound()) return true;
    if (attempt + 1 < attempts) std::this_thread::sleep_for(interval);
  }
  return false;
}

std::string ReleaseRegistration(const kernel::HelperRegistration& registration,
                                std::chrono::milliseconds grace) {
  constexpr std::chrono::milliseconds kInterval(20);
  const int attempts = 1 + static_cast<int>(grace / kInterval);
  const auto queue_bound = [&registration] {
    return kernel::QueueOwnerPortid(registration.queue_num).has_value();
  };
  if (!WaitForQueueRelease(queue_bound, attempts, kInterval)) {
    return "queue " + std::to_string(registration.queue_num) +
           " is bound by a running instance: registration left enabled";
  }
  kernel::CthelperClient client;
  if (auto status = client.Open(); !status.ok()) return status.message;
  if (auto status = client.SetEnabled(registration, false); !status.ok()) return status.message;
  return "helper '" + registration.name + "' disabled: control connections pass unhelped";
}

std::vector<std::string> ReleaseRegistrations(
    const std::vector<kernel::HelperRegistration>& registrations, std::chrono::milliseconds grace) {
  std::vector<std::string> lines;
  lines.reserve(registrations.size());
  for (const kernel::HelperRegistration& registration : registrations) {
    lines.push_back(ReleaseRegistration(registration, grace));
  }
  return lines;
}

bool ReleaseGuard::Start(const std::vector<kernel::HelperRegistration>& registrations,
                         std::string* error) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    *error = std::string("release guard: pipe: ") + std::strerror(errno);
    return false;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("release guard: fork: ") + std::strerror(errno);
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid == 0) {
    close(fds[1]);
    prctl(PR_SET_NAME, "ftp-algd-guard", 0, 0, 0);
    // Signals aimed at the daemon's process group (Ctrl-C) are the daemon's to handle.
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    char byte = 0;
    ssize_t got;
    do {
      got = read(fds[0], &byte, 1);
    } while (got < 0 && errno == EINTR);
    // EOF without the dismiss byte: the daemon is gone without a clean stop.
    if (!(got == 1 && byte == 'x')) {
      Log log;
      // Two seconds for the dead daemon's queue sockets to go; a new instance keeps them longer.
      for (const std::string& line : ReleaseRegistrations(registrations, std::chrono::seconds(2))) {
        log.Warning("ftp-algd ended without a clean stop; " + line);
      }
    }
    _exit(0);
  }
  close(fds[0]);
  pipe_write_ = fds[1];
  pid_ = pid;
  return true;
}

void ReleaseGuard::Dismiss() {
  if (pipe_write_ < 0) return;
  const char byte = 'x';
  [[maybe_unused]] ssize_t ignored = write(pipe_write_, &byte, 1);
  close(pipe_write_);
  pipe_write_ = -1;
  if (pid_ > 0) waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

ReleaseGuard::~ReleaseGuard() { Dismiss(); }

}  // namespace ftpalg::daemon
