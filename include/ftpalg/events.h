// Decisions the engine reports: the replay tool writes them as JSON lines, the daemon logs them
// with the same fields.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ftpalg/expectation.h"
#include "ftpalg/ip_address.h"

namespace ftpalg {

// Nanoseconds on the injected clock (capture time in replay, CLOCK_REALTIME in the daemon).
using Timestamp = int64_t;
inline constexpr Timestamp kNanosPerSecond = 1'000'000'000;

enum class EventType : uint8_t {
  kExpect,      // an expectation was installed
  kUnexpect,    // an expectation was withdrawn (replaced, refused by the server, session ended)
  kRewrite,     // address/port text in a line was rewritten
  kRefuse,      // a PORT/EPRT/227/229 was not acted on
  kStepAside,   // the session stopped being parsed (TLS, not FTP)
  kSessionEnd,  // a control connection's state was dropped
  kGap,         // bytes of one direction were never seen (docs/gaps.md)
};

std::string_view EventTypeName(EventType type);  // "expect", "unexpect", ...

// Why something was refused or withdrawn. Names are stable (they appear in JSON and logs).
enum class Reason : uint8_t {
  kNone,
  kBounce,         // third-party address
  kLowPort,        // data port below 1024
  kUnpaired,       // 227/229 not answering PASV/EPSV
  kMalformed,      // did not parse
  kTls,            // control connection switched to TLS
  kLimit,          // session table full
  kNotLoggedIn,    // PORT/EPRT before the login succeeded
  kNotFtp,         // not an FTP command before login (NAT slipstreaming)
  kSplit,          // the address text began in an earlier, already forwarded segment
  kEpsvAll,        // PORT/EPRT/PASV after EPSV ALL (RFC 2428 4)
  kOverlong,       // the line was longer than the bound
  kWrongFamily,    // PORT on IPv6, EPRT/229 of the other family
  kInstallFailed,  // the kernel refused the expectation
  kNoPortFree,     // every candidate outside port was taken
  kReplaced,       // (unexpect) the per-session bound replaced the oldest expectation
  kServerRefused,  // (unexpect) the server answered the PORT/EPRT with 4xx/5xx
  kSessionEnded,   // (unexpect/session-end) the control connection closed
  kIdle,           // (session-end) idle timeout
};

std::string_view ReasonName(Reason reason);

struct Event {
  EventType type = EventType::kRefuse;
  Timestamp time = 0;
  Tuple master;                                // the control connection's original tuple
  Direction direction = Direction::kOriginal;  // whose line caused it
  std::string cause;                           // "PORT", "EPRT", "227", "229", "AUTH", a verb, ...
  Reason reason = Reason::kNone;
  std::string detail;                      // parse error name or other specifics
  std::string old_text;                    // rewrite: the replaced text
  std::string new_text;                    // rewrite: its replacement
  int32_t delta = 0;                       // rewrite: length change in bytes
  std::optional<Expectation> expectation;  // expect/unexpect
};

}  // namespace ftpalg
