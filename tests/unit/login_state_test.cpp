#include "ftpalg/login_state.h"

#include <gtest/gtest.h>

namespace ftpalg {
namespace {

AnsweredCommand Answering(CommandVerb verb, bool paired = true) {
  AnsweredCommand answered;
  answered.command.verb = verb;
  answered.paired = paired;
  return answered;
}

TEST(LoginStateTest, HandshakeWaitsForGreetingMidStreamIsUnknown) {
  const PolicyConfig policy;
  EXPECT_EQ(InitialLoginState(true, policy), LoginState::kAwaitingGreeting);
  EXPECT_EQ(InitialLoginState(false, policy), LoginState::kUnknown);
  PolicyConfig no_check;
  no_check.require_login = false;
  EXPECT_EQ(InitialLoginState(true, no_check), LoginState::kLoggedIn);
}

TEST(LoginStateTest, GreetingIs220Only) {
  EXPECT_EQ(LoginAfterGreeting(220), LoginState::kAwaitingLogin);
  EXPECT_EQ(LoginAfterGreeting(120), LoginState::kAwaitingGreeting);
  EXPECT_EQ(LoginAfterGreeting(230), LoginState::kAwaitingGreeting);
}

TEST(LoginStateTest, Only230AnsweringUserPassOrAcctLogsIn) {
  const PolicyConfig policy;
  const LoginState waiting = LoginState::kAwaitingLogin;
  for (CommandVerb verb : {CommandVerb::kUser, CommandVerb::kPass, CommandVerb::kAcct}) {
    EXPECT_EQ(LoginAfterReply(waiting, 230, Answering(verb), policy), LoginState::kLoggedIn);
  }
  EXPECT_EQ(LoginAfterReply(waiting, 230, Answering(CommandVerb::kOther), policy), waiting);
  EXPECT_EQ(LoginAfterReply(waiting, 230, Answering(CommandVerb::kPass, false), policy), waiting);
  EXPECT_EQ(LoginAfterReply(waiting, 530, Answering(CommandVerb::kPass), policy), waiting);
}

TEST(LoginStateTest, ReinLogsOut) {
  PolicyConfig policy;
  const LoginState in = LoginState::kLoggedIn;
  EXPECT_EQ(LoginAfterReply(in, 220, Answering(CommandVerb::kRein), policy),
            LoginState::kAwaitingLogin);
  EXPECT_EQ(LoginAfterReply(in, 500, Answering(CommandVerb::kRein), policy), in);
  policy.require_login = false;
  EXPECT_EQ(LoginAfterReply(in, 220, Answering(CommandVerb::kRein), policy), in);
}

TEST(LoginStateTest, ChecksApplyOnlyBeforeLoginAndWhenRequired) {
  PolicyConfig policy;
  EXPECT_TRUE(BeforeLogin(LoginState::kAwaitingGreeting, policy));
  EXPECT_TRUE(BeforeLogin(LoginState::kAwaitingLogin, policy));
  EXPECT_FALSE(BeforeLogin(LoginState::kLoggedIn, policy));
  policy.require_login = false;
  EXPECT_FALSE(BeforeLogin(LoginState::kAwaitingLogin, policy));
}

// docs/gaps.md, login evidence.
TEST(LoginStateTest, AGapBeforeTheLoginMakesItUnknownAfterItChangesNothing) {
  EXPECT_EQ(LoginAfterGap(LoginState::kAwaitingGreeting), LoginState::kUnknown);
  EXPECT_EQ(LoginAfterGap(LoginState::kAwaitingLogin), LoginState::kUnknown);
  EXPECT_EQ(LoginAfterGap(LoginState::kLoggedIn), LoginState::kLoggedIn);
  EXPECT_TRUE(BeforeLogin(LoginState::kUnknown, PolicyConfig{}));
}

TEST(LoginStateTest, AnUnknownLoginIsProvedOnlyByTheServersAnswerToADataCommand) {
  const PolicyConfig policy;
  const LoginState unknown = LoginState::kUnknown;
  const LoginState in = LoginState::kLoggedIn;
  EXPECT_EQ(LoginAfterReply(unknown, 227, Answering(CommandVerb::kPasv), policy), in);
  EXPECT_EQ(LoginAfterReply(unknown, 229, Answering(CommandVerb::kEpsv), policy), in);
  EXPECT_EQ(LoginAfterReply(unknown, 228, Answering(CommandVerb::kLpsv), policy), in);
  EXPECT_EQ(LoginAfterReply(unknown, 200, Answering(CommandVerb::kPort), policy), in);
  EXPECT_EQ(LoginAfterReply(unknown, 200, Answering(CommandVerb::kEprt), policy), in);
  // Not evidence: a refusal, a reply that answers nothing seen, a 200 to anything else; and a
  // 530 does not log out (servers use it for "not allowed" too).
  EXPECT_EQ(LoginAfterReply(unknown, 530, Answering(CommandVerb::kPort), policy), unknown);
  EXPECT_EQ(LoginAfterReply(unknown, 200, Answering(CommandVerb::kPort, false), policy), unknown);
  EXPECT_EQ(LoginAfterReply(unknown, 227, Answering(CommandVerb::kPasv, false), policy), unknown);
  EXPECT_EQ(LoginAfterReply(unknown, 200, Answering(CommandVerb::kOther), policy), unknown);
  EXPECT_EQ(LoginAfterReply(unknown, 227, Answering(CommandVerb::kOther), policy), unknown);
  // Seen to be waiting for the login, the server's 200 to a PORT proves nothing: it may be the
  // attacker's own server.
  EXPECT_EQ(LoginAfterReply(LoginState::kAwaitingLogin, 200, Answering(CommandVerb::kPort), policy),
            LoginState::kAwaitingLogin);
}

}  // namespace
}  // namespace ftpalg
