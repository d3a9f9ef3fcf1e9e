#include "daemon/log.h"

#include <ctime>

#include "ftpalg/event_json.h"

namespace ftpalg::daemon {

Timestamp Now() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<Timestamp>(now.tv_sec) * kNanosPerSecond + now.tv_nsec;
}

void Log::Decision(const Event& event) {
  if (format_ == Format::kJson) {
    const std::string line = JsonLine(EventToJson(event));
    std::fprintf(out_, "%s\n", line.c_str());
  } else {
    std::fprintf(out_, "%.6f %s\n", TimestampSeconds(event.time), EventToText(event).c_str());
  }
  std::fflush(out_);
}

void Log::Notice(std::string_view level, std::string_view message) {
  if (format_ == Format::kJson) {
    nlohmann::ordered_json line = {
        {"event", "log"}, {"time", TimestampSeconds(Now())}, {"level", level}, {"msg", message}};
    std::fprintf(out_, "%s\n", JsonLine(line).c_str());
  } else {
    std::fprintf(out_, "%.6f %.*s: %.*s\n", TimestampSeconds(Now()), static_cast<int>(level.size()),
                 level.data(), static_cast<int>(message.size()), message.data());
  }
  std::fflush(out_);
}

}  // namespace ftpalg::daemon
