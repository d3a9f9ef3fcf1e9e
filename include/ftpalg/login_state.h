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
  kLoggedIn,          // 230 received, or session picked up mid-stream
};

// Seen from its handshake, the greeting and the login are still to come. Picked up mid-stream,
// the login is assumed (a daemon restarted under running sessions must keep serving them).
LoginState InitialLoginState(bool seen_from_handshake, const PolicyConfig& policy);

// True while the policy's login checks apply: the login is required and has not happened.
bool BeforeLogin(LoginState state, const PolicyConfig& policy);

// The state after the greeting stage's reply (state kAwaitingGreeting): RFC 959 5.4, the
// connection opens with 120 (wait) then 220, or 220, or 421. Such a reply answers no command.
LoginState LoginAfterGreeting(int code);

// The state after a final reply to a command (past the greeting): 230 answering USER/PASS/ACCT
// logs in; 220 answering REIN logs out.
LoginState LoginAfterReply(LoginState state, int code, const AnsweredCommand& answered,
                           const PolicyConfig& policy);

}  // namespace ftpalg
