// LPRT and LPSV/228 (RFC 1639) through the engine: the same policy as the other announcement
// forms (login, bounce, low ports, pairing, NAT rewrite, expectation, withdrawal), each hostile
// case with its legitimate twin.
#include <gtest/gtest.h>

#include "engine_test_util.h"
#include "ftpalg/engine.h"

namespace ftpalg::test {
namespace {

class LongAddressEngineTest : public ::testing::Test {
 protected:
  // A session through the gateway, logged in (unless `login` is false).
  Conversation& Start(ControlConnection control, bool login = true) {
    ftp_ = std::make_unique<Conversation>(engine_, control);
    ftp_->Handshake();
    if (login) ftp_->Login();
    return *ftp_;
  }
  std::vector<Event> Refusals() const { return ftp_->EventsOf(EventType::kRefuse); }

  RecordingInstaller installer;
  Engine engine_{ReplayConfig(), installer};
  std::unique_ptr<Conversation> ftp_;
};

TEST_F(LongAddressEngineTest, MasqueradedLprtIsRewrittenAndExpected) {
  Conversation& ftp = Start(Masqueraded());
  Decision d = ftp.Client("LPRT 4,4,192,0,2,2,2,4,1\r\n");
  ASSERT_TRUE(d.modified);
  EXPECT_EQ(PayloadOf(d.packet), "LPRT 4,4,198,51,100,1,2,4,1\r\n");
  EXPECT_EQ(d.payload_delta, 3);
  ASSERT_EQ(installer.installed.size(), 1u);
  const Expectation& exp = installer.installed[0];
  EXPECT_EQ(exp.cause, ExpectCause::kLprt);
  EXPECT_EQ(exp.source, Ep("198.51.100.2", 0).addr);
  EXPECT_EQ(exp.destination, Ep("198.51.100.1", 1025));
  ASSERT_TRUE(exp.nat_to.has_value());
  EXPECT_EQ(*exp.nat_to, Ep("192.0.2.2", 1025));
  auto rewrites = ftp.EventsOf(EventType::kRewrite);
  ASSERT_EQ(rewrites.size(), 1u);
  EXPECT_EQ(rewrites[0].cause, "LPRT");
  EXPECT_EQ(rewrites[0].new_text, "LPRT 4,4,198,51,100,1,2,4,1");
}

TEST_F(LongAddressEngineTest, MasqueradedIpv6LprtIsRewritten) {
  Conversation& ftp = Start(Masqueraded(Family::kIpv6));
  // 2001:db8:1::2 port 40001 (156,65), masqueraded to 2001:db8:2::1.
  Decision d = ftp.Client("LPRT 6,16,32,1,13,184,0,1,0,0,0,0,0,0,0,0,0,2,2,156,65\r\n");
  ASSERT_TRUE(d.modified);
  EXPECT_EQ(PayloadOf(d.packet), "LPRT 6,16,32,1,13,184,0,2,0,0,0,0,0,0,0,0,0,1,2,156,65\r\n");
  ASSERT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(*installer.installed[0].nat_to, Ep("2001:db8:1::2", 40001));
}

TEST_F(LongAddressEngineTest, PublishedServer228IsRewrittenToThePublicAddress) {
  Conversation& ftp = Start(Published());
  ftp.Client("LPSV\r\n");
  Decision d = ftp.Server("228 Entering Long Passive Mode (4,4,192,0,2,10,2,195,80)\r\n");
  ASSERT_TRUE(d.modified);
  EXPECT_EQ(PayloadOf(d.packet), "228 Entering Long Passive Mode (4,4,198,51,100,1,2,195,80)\r\n");
  ASSERT_EQ(installer.installed.size(), 1u);
  const Expectation& exp = installer.installed[0];
  EXPECT_EQ(exp.cause, ExpectCause::k228);
  EXPECT_EQ(exp.destination, Ep("198.51.100.1", 50000));
  ASSERT_TRUE(exp.nat_to.has_value());
  EXPECT_EQ(*exp.nat_to, Ep("192.0.2.10", 50000));
  EXPECT_EQ(exp.nat_direction, Direction::kOriginal);
}

TEST_F(LongAddressEngineTest, BounceViaLprtIsRefused) {
  Conversation& ftp = Start(Masqueraded());
  ftp.Client("LPRT 4,4,203,0,113,9,2,4,1\r\n");
  EXPECT_TRUE(installer.installed.empty());
  ASSERT_EQ(Refusals().size(), 1u);
  EXPECT_EQ(Refusals()[0].cause, "LPRT");
  EXPECT_EQ(Refusals()[0].reason, Reason::kBounce);
  EXPECT_EQ(Refusals()[0].detail, "203.0.113.9");
  EXPECT_EQ(engine_.counters().Get(Counter::kRefusedBounce), 1u);
  // The session still works: the client's own address opens.
  ftp.Client("LPRT 4,4,192,0,2,2,2,4,1\r\n");
  EXPECT_EQ(installer.installed.size(), 1u);
}

TEST_F(LongAddressEngineTest, LowPortIsRefused) {
  Conversation& ftp = Start(Masqueraded());
  ftp.Client("LPRT 4,4,192,0,2,2,2,0,22\r\n");
  EXPECT_TRUE(installer.installed.empty());
  ASSERT_EQ(Refusals().size(), 1u);
  EXPECT_EQ(Refusals()[0].reason, Reason::kLowPort);
  EXPECT_EQ(Refusals()[0].detail, "22");
}

TEST_F(LongAddressEngineTest, LprtBeforeLoginIsRefused) {
  Conversation& ftp = Start(Masqueraded(), /*login=*/false);
  ftp.Server("220 ready\r\n");
  ftp.Client("USER x\r\n");
  ftp.Server("331 password\r\n");
  ftp.Client("PASS y\r\n");
  ftp.Server("530 no\r\n");
  ftp.Client("LPRT 4,4,192,0,2,2,2,4,1\r\n");
  EXPECT_TRUE(installer.installed.empty());
  ASSERT_EQ(Refusals().size(), 1u);
  EXPECT_EQ(Refusals()[0].reason, Reason::kNotLoggedIn);
}

TEST_F(LongAddressEngineTest, Unsolicited228IsRefused) {
  Conversation& ftp = Start(Published());
  ftp.Client("PASV\r\n");  // a 228 does not answer PASV, nor a 227 LPSV
  ftp.Server("228 Entering Long Passive Mode (4,4,192,0,2,10,2,195,80)\r\n");
  ftp.Client("LPSV\r\n");
  ftp.Server("227 Entering Passive Mode (192,0,2,10,195,81)\r\n");
  ftp.Server("228 Entering Long Passive Mode (4,4,192,0,2,10,2,195,82)\r\n");  // answers nothing
  EXPECT_TRUE(installer.installed.empty());
  ASSERT_EQ(Refusals().size(), 3u);
  for (const Event& refusal : Refusals()) EXPECT_EQ(refusal.reason, Reason::kUnpaired);
  EXPECT_EQ(Refusals()[0].cause, "228");
  EXPECT_EQ(Refusals()[1].cause, "227");
}

TEST_F(LongAddressEngineTest, MalformedAndWrongFamilyAreRefused) {
  Conversation& ftp = Start(Masqueraded());
  ftp.Client("LPRT 4,4,192,0,2\r\n");
  ftp.Client("LPRT 6,16,32,1,13,184,0,1,0,0,0,0,0,0,0,0,0,2,2,4,1\r\n");
  ftp.Client("LPRT 9,4,192,0,2,2,2,4,1\r\n");
  EXPECT_TRUE(installer.installed.empty());
  ASSERT_EQ(Refusals().size(), 3u);
  EXPECT_EQ(Refusals()[0].reason, Reason::kMalformed);
  EXPECT_EQ(Refusals()[0].detail, "missing-field");
  EXPECT_EQ(Refusals()[1].reason, Reason::kWrongFamily);
  EXPECT_EQ(Refusals()[2].reason, Reason::kMalformed);
  EXPECT_EQ(Refusals()[2].detail, "unknown-protocol");
}

TEST_F(LongAddressEngineTest, ServerRefusingLprtWithdrawsTheExpectation) {
  Conversation& ftp = Start(Masqueraded());
  ftp.Client("LPRT 4,4,192,0,2,2,2,4,1\r\n");
  ASSERT_EQ(installer.installed.size(), 1u);
  ftp.Server("502 LPRT not implemented\r\n");
  ASSERT_EQ(installer.removed.size(), 1u);
  auto withdrawn = ftp.EventsOf(EventType::kUnexpect);
  ASSERT_EQ(withdrawn.size(), 1u);
  EXPECT_EQ(withdrawn[0].cause, "LPRT");
  EXPECT_EQ(withdrawn[0].reason, Reason::kServerRefused);
}

TEST_F(LongAddressEngineTest, EpsvAllForbidsLprt) {
  Conversation& ftp = Start(Masqueraded());
  ftp.Client("EPSV ALL\r\n");
  ftp.Server("200 EPSV ALL ok\r\n");
  ftp.Client("LPRT 4,4,192,0,2,2,2,4,1\r\n");
  EXPECT_TRUE(installer.installed.empty());
  ASSERT_EQ(Refusals().size(), 1u);
  EXPECT_EQ(Refusals()[0].reason, Reason::kEpsvAll);
}

TEST_F(LongAddressEngineTest, BusyPortMovesToTheNextAndTheTextSaysSo) {
  installer.busy_ports = {1025};
  Conversation& ftp = Start(Masqueraded());
  Decision d = ftp.Client("LPRT 4,4,192,0,2,2,2,4,1\r\n");
  EXPECT_EQ(PayloadOf(d.packet), "LPRT 4,4,198,51,100,1,2,4,2\r\n");
  ASSERT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(installer.installed[0].destination.port, 1026);
  EXPECT_EQ(*installer.installed[0].nat_to, Ep("192.0.2.2", 1025));
}

}  // namespace
}  // namespace ftpalg::test
