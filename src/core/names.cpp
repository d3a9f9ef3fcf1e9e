// Stable names for enums that appear in events, logs and metrics.
#include "ftpalg/counters.h"
#include "ftpalg/events.h"

namespace ftpalg {

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kExpect:
      return "expect";
    case EventType::kUnexpect:
      return "unexpect";
    case EventType::kRewrite:
      return "rewrite";
    case EventType::kRefuse:
      return "refuse";
    case EventType::kStepAside:
      return "step-aside";
    case EventType::kSessionEnd:
      return "session-end";
    case EventType::kGap:
      return "gap";
  }
  return "unknown";
}

std::string_view ReasonName(Reason reason) {
  switch (reason) {
    case Reason::kNone:
      return "none";
    case Reason::kBounce:
      return "bounce";
    case Reason::kLowPort:
      return "low-port";
    case Reason::kUnpaired:
      return "unpaired";
    case Reason::kMalformed:
      return "malformed";
    case Reason::kTls:
      return "tls";
    case Reason::kLimit:
      return "limit";
    case Reason::kNotLoggedIn:
      return "not-logged-in";
    case Reason::kNotFtp:
      return "not-ftp";
    case Reason::kSplit:
      return "split";
    case Reason::kEpsvAll:
      return "epsv-all";
    case Reason::kOverlong:
      return "overlong";
    case Reason::kWrongFamily:
      return "wrong-family";
    case Reason::kInstallFailed:
      return "install-failed";
    case Reason::kNoPortFree:
      return "no-port-free";
    case Reason::kReplaced:
      return "replaced";
    case Reason::kServerRefused:
      return "server-refused";
    case Reason::kSessionEnded:
      return "session-ended";
    case Reason::kIdle:
      return "idle";
  }
  return "unknown";
}

namespace {
struct CounterInfo {
  std::string_view name;
  std::string_view help;
};
constexpr CounterInfo kCounterInfo[] = {
#define FTPALG_COUNTER_INFO(id, name, help) {name, help},
    FTPALG_COUNTERS(FTPALG_COUNTER_INFO)
#undef FTPALG_COUNTER_INFO
};
static_assert(std::size(kCounterInfo) == static_cast<size_t>(Counter::kCount));
}  // namespace

std::string_view CounterName(Counter counter) {
  return kCounterInfo[static_cast<size_t>(counter)].name;
}
std::string_view CounterHelp(Counter counter) {
  return kCounterInfo[static_cast<size_t>(counter)].help;
}

}  // namespace ftpalg
