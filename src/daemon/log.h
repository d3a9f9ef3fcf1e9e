// ftp-algd's log: one line per decision or notice on stderr (journald keeps it), as JSON with the
// same fields as ftp-alg-replay's events, or as plain text.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "ftpalg/events.h"

namespace ftpalg::daemon {

class Log {
 public:
  enum class Format { kJson, kText };
  explicit Log(Format format = Format::kJson, std::FILE* out = stderr)
      : format_(format), out_(out) {}
  void set_format(Format format) { format_ = format; }

  void Decision(const Event& event);
  // Notices about the daemon itself ("info", "warning", "error").
  void Notice(std::string_view level, std::string_view message);
  void Info(std::string_view message) { Notice("info", message); }
  void Warning(std::string_view message) { Notice("warning", message); }
  void Error(std::string_view message) { Notice("error", message); }

 private:
  Format format_;
  std::FILE* out_;
};

// CLOCK_REALTIME in nanoseconds: the engine's clock in the daemon.
Timestamp Now();

}  // namespace ftpalg::daemon
