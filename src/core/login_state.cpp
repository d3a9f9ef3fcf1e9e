#include "ftpalg/login_state.h"

namespace ftpalg {

LoginState InitialLoginState(bool seen_from_handshake, const PolicyConfig& policy) {
  return (seen_from_handshake && policy.require_login) ? LoginState::kAwaitingGreeting
                                                       : LoginState::kLoggedIn;
}

bool BeforeLogin(LoginState state, const PolicyConfig& policy) {
  return policy.require_login && state != LoginState::kLoggedIn;
}

LoginState LoginAfterGreeting(int code) {
  return code == 220 ? LoginState::kAwaitingLogin : LoginState::kAwaitingGreeting;
}

LoginState LoginAfterReply(LoginState state, int code, const AnsweredCommand& answered,
                           const PolicyConfig& policy) {
  // RFC 959 5.4: 230 answers USER, PASS or ACCT. A 230 that answers nothing (a server speaking
  // first, as a NAT-slipstreaming server would before the browser's request) or another command
  // logs nobody in: it would switch off the checks on the client's pre-login lines.
  if (code == 230 && (answered.Is(CommandVerb::kUser) || answered.Is(CommandVerb::kPass) ||
                      answered.Is(CommandVerb::kAcct))) {
    return LoginState::kLoggedIn;
  }
  // RFC 959 4.1.1: REIN flushes the login; the user must log in again.
  if (code == 220 && answered.Is(CommandVerb::kRein)) {
    return policy.require_login ? LoginState::kAwaitingLogin : LoginState::kLoggedIn;
  }
  return state;
}

}  // namespace ftpalg
