// A read-only picture of one session for the operator (`ftp-algd status`): plain values, copied
// out of the engine, so that nothing outside the engine holds a reference into its table.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ftpalg/events.h"
#include "ftpalg/expectation.h"

namespace ftpalg {

struct Session;

struct PendingExpectationView {
  ExpectCause cause = ExpectCause::kPort;
  IpAddress source;  // the data connection's expected source address
  bool source_any_address = false;
  Endpoint destination;            // where it will connect to on the gateway
  std::optional<Endpoint> nat_to;  // where the gateway sends it, when translated
  Timestamp time_left = 0;         // until the expectation expires
};

struct SessionView {
  ControlConnection control;  // both sides of the NAT (original and reply tuples)
  // "greeting", "login" (greeting seen, no login yet), "logged-in", "tls", "not-ftp", "closing".
  std::string_view state;
  std::string user;  // USER's argument (at most kMaxUserLength bytes), empty when none seen
  bool epsv_all = false;
  Timestamp idle = 0;  // since the last packet
  std::vector<PendingExpectationView> pending;
};

// USER arguments longer than this are cut (and marked with "..."): the view is for reading, and
// the session table must not grow with what a client sends.
inline constexpr size_t kMaxUserLength = 64;

// Records USER's argument in the session (bounded; control characters cannot occur: the command
// parser accepts only printable arguments).
void RememberUser(Session& session, std::string_view argument);

// The one place that reads a session's login and step-aside state for the view.
std::string_view SessionStateName(const Session& session);

SessionView ViewOf(const Session& session, Timestamp now);

}  // namespace ftpalg
