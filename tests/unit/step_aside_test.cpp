#include "ftpalg/step_aside.h"

#include <gtest/gtest.h>

#include "engine_test_util.h"

namespace ftpalg {
namespace {

TEST(StepAsideTest, NotFtpIsAnythingButAnRfc959CommandLine) {
  EXPECT_FALSE(IsNotFtp(ParseCommandLine("USER anonymous"), false));
  EXPECT_FALSE(IsNotFtp(ParseCommandLine("LPRT 4,4,192,0,2,2,2,4,1"), false));
  EXPECT_TRUE(IsNotFtp(ParseCommandLine("POST / HTTP/1.1"), false));
  EXPECT_TRUE(IsNotFtp(ParseCommandLine("Host: example"), false));
  EXPECT_TRUE(IsNotFtp(ParseCommandLine("\x16\x03\x01"), false));
  EXPECT_TRUE(IsNotFtp(ParseCommandLine("USER anonymous"), /*overlong=*/true));
}

TEST(StepAsideTest, TlsStartsWith234AnsweringAuth) {
  PolicyConfig policy;
  AnsweredCommand auth;
  auth.command.verb = CommandVerb::kAuth;
  auth.paired = true;
  EXPECT_TRUE(StartsTls(234, auth, policy));
  EXPECT_FALSE(StartsTls(334, auth, policy));
  AnsweredCommand unpaired = auth;
  unpaired.paired = false;
  EXPECT_FALSE(StartsTls(234, unpaired, policy));
  policy.step_aside_on_tls = false;
  EXPECT_FALSE(StartsTls(234, auth, policy));
}

TEST(StepAsideTest, SteppingAsideWithdrawsEveryPendingExpectation) {
  const EngineConfig config;
  test::RecordingInstaller installer;
  Counters counters;
  const EngineContext context{config, installer, counters};
  Session session(test::Masqueraded(), 512);
  for (const uint16_t port : {uint16_t{1025}, uint16_t{1026}}) {
    PendingExpectation pending;
    pending.expectation.destination = test::Ep("198.51.100.1", port);
    session.expectations.push_back(pending);
  }
  const TcpPacketView view{};
  Decision decision;
  PacketWork work{session, view, Direction::kReply, 5, decision};
  StepAsideSession(context, work, StepAside::kTls, "AUTH");
  EXPECT_EQ(session.step_aside, StepAside::kTls);
  EXPECT_TRUE(session.expectations.empty());
  EXPECT_EQ(installer.removed.size(), 2u);
  ASSERT_EQ(decision.events.size(), 3u);
  EXPECT_EQ(decision.events[0].type, EventType::kStepAside);
  EXPECT_EQ(decision.events[0].reason, Reason::kTls);
  EXPECT_EQ(decision.events[1].type, EventType::kUnexpect);
  EXPECT_EQ(counters.Get(Counter::kStepAsideTls), 1u);
}

}  // namespace
}  // namespace ftpalg
