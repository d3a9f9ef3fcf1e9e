#include "ftpalg/login_state.h"

namespace ftpalg {

LoginState InitialLoginState(bool seen_from_handshake, const PolicyConfig& policy) {
  if (!policy.require_login) return LoginState::kLoggedIn;
  return seen_from_handshake ? LoginState::kAwaitingGreeting : LoginState::kUnknown;
}

LoginState LoginAfterGap(LoginState state) {
  return state == LoginState::kLoggedIn ? state : LoginState::kUnknown;
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
  // RFC 959 4.1.2 / RFC 2428 / RFC 1639: a server answers PASV/EPSV/LPSV with 227/229/228 and
  // accepts PORT/EPRT/LPRT with 200 only in a logged-in session (before it: 530, RFC 959 5.4).
  // This is the server's own word, never the client's, so a client cannot log itself in.
  if (state == LoginState::kUnknown && answered.paired) {
    const CommandVerb verb = answered.command.verb;
    const bool passive_answer = (code == 227 && verb == CommandVerb::kPasv) ||
                                (code == 229 && verb == CommandVerb::kEpsv) ||
                                (code == 228 && verb == CommandVerb::kLpsv);
    const bool active_accepted =
        code >= 200 && code < 300 &&
        (verb == CommandVerb::kPort || verb == CommandVerb::kEprt || verb == CommandVerb::kLprt);
    if (passive_answer || active_accepted) return LoginState::kLoggedIn;
  }
  // RFC 959 4.1.1: REIN flushes the login; the user must log in again.
  if (code == 220 && answered.Is(CommandVerb::kRein)) {
    return policy.require_login ? LoginState::kAwaitingLogin : LoginState::kLoggedIn;
  }
  return state;
}

}  // namespace ftpalg
