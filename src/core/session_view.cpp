#include "ftpalg/session_view.h"

#include "ftpalg/session.h"

namespace ftpalg {

void RememberUser(Session& session, std::string_view argument) {
  if (argument.size() <= kMaxUserLength) {
    session.user.assign(argument);
    return;
  }
  session.user.assign(argument.substr(0, kMaxUserLength));
  session.user += "...";
}

std::string_view SessionStateName(const Session& session) {
  if (session.closed_at != 0) return "closing";
  switch (session.step_aside) {
    case StepAside::kTls:
      return "tls";
    case StepAside::kNotFtp:
      return "not-ftp";
    case StepAside::kNo:
      break;
  }
  switch (session.login) {
    case LoginState::kAwaitingGreeting:
      return "greeting";
    case LoginState::kAwaitingLogin:
      return "login";
    case LoginState::kLoggedIn:
      return "logged-in";
    case LoginState::kUnknown:
      return "login-unknown";  // picked up mid-stream or a gap before the login (docs/gaps.md)
  }
  return "logged-in";
}

SessionView ViewOf(const Session& session, Timestamp now) {
  SessionView view;
  view.control = session.control;
  view.state = SessionStateName(session);
  view.user = session.user;
  view.epsv_all = session.epsv_all;
  view.idle = now > session.last_seen ? now - session.last_seen : 0;
  for (const PendingExpectation& pending : session.expectations) {
    if (pending.expires <= now) continue;  // gone from the kernel already
    const Expectation& e = pending.expectation;
    view.pending.push_back(PendingExpectationView{e.cause, e.source, e.source_any_address,
                                                  e.destination, e.nat_to, pending.expires - now});
  }
  return view;
}

}  // namespace ftpalg
