// Whether the client has logged in, as far as the control connection shows it. PORT/EPRT/LPRT are
// acted on only after the login, and before it every client line must be an FTP command (NAT
// slipstreaming: step_aside.h).
#pragma once

#include <cstdint>

#include "ftpalg/command_pairing.h"
#include "ftpalg/policy.h"

namespace ftpalg {

enum class LoginState : uint8_t {
  kAwaitingGreeting,  // connection seen from its SYN, no 220 yet
  kAwaitingLogin,     // greeting received, no 230 yet
  kLoggedIn,          // 230 received, or the server's own evidence (docs/gaps.md)
  // The login was not seen: the session was picked up mid-stream (a daemon restart without saved
  // state, a backup gateway after failover) or bytes before the 230 were never seen. The client's
  // lines get the pre-login checks; PORT/EPRT/LPRT are acted on (a server that is not logged in
  // refuses them with 530, which withdraws the expectation); the server's own answers that only
  // a logged-in session gets make it kLoggedIn (docs/gaps.md).
  kUnknown,
};

// Seen from its handshake, the greeting and the login are still to come. Picked up mid-stream,
// the login is unknown (not assumed: that switched the slipstreaming defence off).
LoginState InitialLoginState(bool seen_from_handshake, const PolicyConfig& policy);

// True while the policy's login checks apply: the login is required and not known to have
// happened (kUnknown included).
bool BeforeLogin(LoginState state, const PolicyConfig& policy);

// After bytes of either direction were never seen: a 230 may have been among them.
LoginState LoginAfterGap(LoginState state);

// The state after the greeting stage's reply (state kAwaitingGreeting): RFC 959 5.4, the
// connection opens with 120 (wait) then 220, or 220, or 421. Such a reply answers no command.
LoginState LoginAfterGreeting(int code);

// The state after a final reply to a command (past the greeting): 230 answering USER/PASS/ACCT
// logs in; 220 answering REIN logs out; while the login is unknown, a reply only a logged-in
// session gets (227/229/228 answering PASV/EPSV/LPSV, 2xx answering PORT/EPRT/LPRT) logs in. A
// 530 does not log out: servers also use it for "not allowed" in a logged-in session.
LoginState LoginAfterReply(LoginState state, int code, const AnsweredCommand& answered,
                           const PolicyConfig& policy);

}  // namespace ftpalg
