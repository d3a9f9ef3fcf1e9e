#include "ftpalg/engine.h"

#include <gtest/gtest.h>

#include "engine_test_util.h"
#include "ftpalg/packet_rewrite.h"
#include "ftpalg/packet_view.h"
#include "ftpalg/seq_shift.h"

namespace ftpalg::test {
namespace {

// A second control connection through the same gateway: Masqueraded() from another client port.
ControlConnection AnotherMasqueradedClient() {
  ControlConnection control = Masqueraded();
  control.original.src.port = 40001;
  control.reply.dst.port = 40001;
  return control;
}

class EngineTest : public ::testing::Test {
 protected:
  RecordingInstaller installer;
};

TEST_F(EngineTest, MasqueradedPortIsRewrittenAndExpected) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  Decision d = ftp.Client("PORT 192,0,2,2,4,1\r\n");
  ASSERT_TRUE(d.modified);
  EXPECT_EQ(PayloadOf(d.packet), "PORT 198,51,100,1,4,1\r\n");
  EXPECT_EQ(d.payload_delta, 3);
  TcpPacketResult parsed = ParseTcpPacket(d.packet);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(TcpChecksumValid(parsed.view));

  ASSERT_EQ(installer.installed.size(), 1u);
  const Expectation& exp = installer.installed[0];
  EXPECT_EQ(exp.cause, ExpectCause::kPort);
  EXPECT_EQ(exp.source, Ep("198.51.100.2", 0).addr);  // the server connects
  EXPECT_EQ(exp.destination, Ep("198.51.100.1", 1025));
  ASSERT_TRUE(exp.nat_to.has_value());
  EXPECT_EQ(*exp.nat_to, Ep("192.0.2.2", 1025));
  EXPECT_EQ(exp.nat_direction, Direction::kReply);

  auto rewrites = ftp.EventsOf(EventType::kRewrite);
  ASSERT_EQ(rewrites.size(), 1u);
  EXPECT_EQ(rewrites[0].old_text, "PORT 192,0,2,2,4,1");
  EXPECT_EQ(rewrites[0].new_text, "PORT 198,51,100,1,4,1");
  EXPECT_EQ(rewrites[0].delta, 3);
  EXPECT_EQ(engine.counters().Get(Counter::kRewrites), 1u);
}

TEST_F(EngineTest, LaterSequenceAndAckNumbersAreShifted) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  ftp.Client("PORT 192,0,2,2,4,1\r\n");
  const uint32_t next_client_seq = ftp.client_seq();
  // The server acknowledges the client's bytes; in the rewritten stream they are 3 longer.
  Decision reply = ftp.Server("200 PORT ok\r\n");
  ASSERT_TRUE(reply.modified);
  TcpPacketResult reply_view = ParseTcpPacket(reply.packet);
  EXPECT_EQ(reply_view.view.ack, next_client_seq + 3);
  EXPECT_TRUE(TcpChecksumValid(reply_view.view));
  Decision next = ftp.Client("RETR file\r\n");
  ASSERT_TRUE(next.modified);
  EXPECT_EQ(ParseTcpPacket(next.packet).view.seq, next_client_seq + 3);
  EXPECT_EQ(PayloadOf(next.packet), "RETR file\r\n");
}

TEST_F(EngineTest, ShiftHoldsAcrossSequenceWraparound) {
  Engine engine(ReplayConfig(), installer);
  // The PORT command starts a few bytes before 2^32 and the next command lies after it.
  Conversation ftp(engine, Masqueraded(), /*client_isn=*/0xffffffd0u);
  ftp.Handshake();
  ftp.Login();
  ASSERT_TRUE(SeqBefore(ftp.client_seq(), 0u));
  Decision port = ftp.Client("PORT 192,0,2,2,4,1\r\n");
  ASSERT_TRUE(port.modified);
  const uint32_t next_seq = ftp.client_seq();
  ASSERT_LT(next_seq, 0x100u);  // wrapped
  Decision next = ftp.Client("RETR file\r\n");
  EXPECT_EQ(ParseTcpPacket(next.packet).view.seq, next_seq + 3);
  Decision ack = ftp.Server("150 go\r\n");
  EXPECT_EQ(ParseTcpPacket(ack.packet).view.ack, ftp.client_seq() + 3);
}

TEST_F(EngineTest, RetransmittedPortGetsTheSameRewriteAndNoSecondExpectation) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  const uint32_t port_seq = ftp.client_seq();
  Decision first = ftp.Client("PORT 192,0,2,2,4,1\r\n");
  Decision again = ftp.Send(Direction::kOriginal, "PORT 192,0,2,2,4,1\r\n",
                            tcp_flags::kAck | tcp_flags::kPsh, port_seq);
  ASSERT_TRUE(again.modified);
  EXPECT_EQ(again.packet, first.packet);
  EXPECT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(engine.counters().Get(Counter::kRetransmitRewrites), 1u);
  EXPECT_EQ(engine.counters().Get(Counter::kSegmentsRetransmitted), 1u);
}

// A live gateway hands the kernel its sequence adjustment after each length-changing rewrite
// (the queue's own path records it at a wrong position for IPv6); a retransmission changes none.
TEST_F(EngineTest, DecisionCarriesTheKernelsSequenceAdjustment) {
  Engine engine(EngineConfig{}, installer);
  Conversation ftp(engine, Masqueraded(Family::kIpv6));
  ftp.Handshake();
  ftp.Login();
  EXPECT_FALSE(ftp.Client("TYPE I\r\n").seq_adjustment.has_value());
  // 2001:db8:1::2 -> 2001:db8:2::1 keeps the length: no adjustment.
  Decision same_length = ftp.Client("EPRT |2|2001:db8:1::2|40001|\r\n");
  ASSERT_TRUE(same_length.modified);
  EXPECT_FALSE(same_length.seq_adjustment.has_value());
  ftp.Server("200 ok\r\n");
  // The zero-padded spelling is 7 bytes longer than the canonical one written back.
  const uint32_t port_seq = ftp.client_seq();
  Decision shorter = ftp.Client("EPRT |2|2001:0db8:0001::0002|40002|\r\n");
  ASSERT_TRUE(shorter.modified);
  ASSERT_EQ(shorter.payload_delta, -7);
  EXPECT_EQ(shorter.seq_adjustment, (SeqAdjustment{port_seq, 0, -7}));
  Decision again = ftp.Send(Direction::kOriginal, "EPRT |2|2001:0db8:0001::0002|40002|\r\n",
                            tcp_flags::kAck | tcp_flags::kPsh, port_seq);
  ASSERT_TRUE(again.modified);
  EXPECT_FALSE(again.seq_adjustment.has_value());
  ftp.Server("200 ok\r\n");
  const uint32_t next_seq = ftp.client_seq();
  Decision next = ftp.Client("EPRT |2|2001:0db8:0001::0002|40003|\r\n");
  EXPECT_EQ(next.seq_adjustment, (SeqAdjustment{next_seq, -7, -14}));
}

TEST_F(EngineTest, OverlappingSegmentRewritesOnlyTheNewLineOnce) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  const uint32_t seq = ftp.client_seq();
  ftp.Client("TYPE I\r\n");
  // The retransmission of TYPE carries the PORT command too.
  Decision d = ftp.Send(Direction::kOriginal, "TYPE I\r\nPORT 192,0,2,2,4,1\r\n",
                        tcp_flags::kAck | tcp_flags::kPsh, seq);
  ASSERT_TRUE(d.modified);
  EXPECT_EQ(PayloadOf(d.packet), "TYPE I\r\nPORT 198,51,100,1,4,1\r\n");
  EXPECT_EQ(installer.installed.size(), 1u);
}

TEST_F(EngineTest, PortSplitBeforeItsAddressIsStillRewritten) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  EXPECT_FALSE(ftp.Client("PO").modified);
  Decision d = ftp.Client("RT 192,0,2,2,4,1\r\n");
  ASSERT_TRUE(d.modified);
  EXPECT_EQ(PayloadOf(d.packet), "RT 198,51,100,1,4,1\r\n");
  EXPECT_EQ(installer.installed.size(), 1u);
}

TEST_F(EngineTest, AddressSplitAcrossSegmentsIsRefusedUnderNat) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  ftp.Client("PORT 192,0,");
  Decision d = ftp.Client("2,2,4,1\r\n");
  EXPECT_FALSE(d.modified);
  EXPECT_TRUE(installer.installed.empty());
  auto refusals = ftp.EventsOf(EventType::kRefuse);
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].reason, Reason::kSplit);
}

TEST_F(EngineTest, ByteByByteWithoutNatStillPredictsTheConnection) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Untranslated());
  ftp.Handshake();
  ftp.Login();
  for (char c : std::string("PORT 192,0,2,2,4,1\r\n")) ftp.Client(std::string(1, c));
  ASSERT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(installer.installed[0].destination, Ep("192.0.2.2", 1025));
  EXPECT_FALSE(installer.installed[0].nat_to.has_value());
}

TEST_F(EngineTest, BounceAndLowPortAreRefused) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  EXPECT_FALSE(ftp.Client("PORT 2,2,2,3,0,80\r\n").modified);
  // Refused, but the inside address does not leave (issue 11 part 4, docs/gaps.md).
  const Decision low = ftp.Client("PORT 192,0,2,2,0,25\r\n");
  ASSERT_TRUE(low.modified);
  EXPECT_EQ(PayloadOf(low.packet), "PORT 198,51,100,1,0,25\r\n");
  EXPECT_TRUE(installer.installed.empty());
  auto refusals = ftp.EventsOf(EventType::kRefuse);
  ASSERT_EQ(refusals.size(), 2u);
  EXPECT_EQ(refusals[0].reason, Reason::kBounce);
  EXPECT_EQ(refusals[1].reason, Reason::kLowPort);
}

TEST_F(EngineTest, LoosePolicyAcceptsThirdPartyAddress) {
  EngineConfig config = ReplayConfig();
  config.policy.require_same_address = false;
  Engine engine(config, installer);
  Conversation ftp(engine, Untranslated());
  ftp.Handshake();
  ftp.Login();
  ftp.Client("PORT 203,0,113,9,4,1\r\n");
  ASSERT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(installer.installed[0].destination, Ep("203.0.113.9", 1025));
}

TEST_F(EngineTest, PortBeforeLoginIsRefused) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Server("220 ready\r\n");
  ftp.Client("PORT 192,0,2,2,4,1\r\n");
  EXPECT_TRUE(installer.installed.empty());
  auto refusals = ftp.EventsOf(EventType::kRefuse);
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].reason, Reason::kNotLoggedIn);
}

TEST_F(EngineTest, HttpRequestWithPortLineStepsAside) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Server("220 ready\r\n");
  ftp.Client(
      "POST /upload HTTP/1.1\r\nHost: 198.51.100.2:21\r\nContent-Length: 20\r\n\r\n"
      "PORT 192,0,2,2,4,1\r\n");
  // The PORT line in a segment of its own after the request: still nothing.
  ftp.Client("PORT 192,0,2,2,4,2\r\n");
  EXPECT_TRUE(installer.installed.empty());
  auto aside = ftp.EventsOf(EventType::kStepAside);
  ASSERT_EQ(aside.size(), 1u);
  EXPECT_EQ(aside[0].reason, Reason::kNotFtp);
  EXPECT_EQ(engine.counters().Get(Counter::kStepAsideNotFtp), 1u);
}

TEST_F(EngineTest, SessionPickedUpMidStreamActsOnItsPort) {
  // Its login is unknown, not assumed: the pre-login checks still apply (docs/gaps.md).
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Client("PORT 192,0,2,2,4,1\r\n");  // no handshake seen
  EXPECT_EQ(installer.installed.size(), 1u);
}

TEST_F(EngineTest, PublishedServer227IsRewrittenToThePublicAddress) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Published());
  ftp.Handshake();
  ftp.Login();
  ftp.Client("PASV\r\n");
  Decision d = ftp.Server("227 Entering Passive Mode (192,0,2,10,195,80).\r\n");
  ASSERT_TRUE(d.modified);
  EXPECT_EQ(PayloadOf(d.packet), "227 Entering Passive Mode (198,51,100,1,195,80).\r\n");
  ASSERT_EQ(installer.installed.size(), 1u);
  const Expectation& exp = installer.installed[0];
  EXPECT_EQ(exp.cause, ExpectCause::k227);
  EXPECT_EQ(exp.source, Ep("198.51.100.2", 0).addr);
  EXPECT_EQ(exp.destination, Ep("198.51.100.1", 50000));
  ASSERT_TRUE(exp.nat_to.has_value());
  EXPECT_EQ(*exp.nat_to, Ep("192.0.2.10", 50000));
  EXPECT_EQ(exp.nat_direction, Direction::kOriginal);
}

TEST_F(EngineTest, MasqueradedPasvNeedsNoRewrite) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  ftp.Client("PASV\r\n");
  Decision d = ftp.Server("227 Entering Passive Mode (198,51,100,2,195,80)\r\n");
  EXPECT_TRUE(ftp.EventsOf(EventType::kRewrite).empty());
  ASSERT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(installer.installed[0].source, Ep("192.0.2.2", 0).addr);
  EXPECT_EQ(installer.installed[0].destination, Ep("198.51.100.2", 50000));
}

TEST_F(EngineTest, Unsolicited227IsRefused) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Published());
  ftp.Handshake();
  ftp.Login();
  ftp.Client("NOOP\r\n");
  ftp.Server("227 Entering Passive Mode (192,0,2,10,195,80).\r\n");  // answers NOOP
  ftp.Server("227 Entering Passive Mode (192,0,2,10,195,81).\r\n");  // answers nothing
  EXPECT_TRUE(installer.installed.empty());
  auto refusals = ftp.EventsOf(EventType::kRefuse);
  ASSERT_EQ(refusals.size(), 2u);
  EXPECT_EQ(refusals[0].reason, Reason::kUnpaired);
  EXPECT_EQ(refusals[1].reason, Reason::kUnpaired);
}

TEST_F(EngineTest, AddressInsideMultiLineReplyIsIgnored) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Published());
  ftp.Handshake();
  ftp.Login();
  ftp.Client("PASV\r\n");
  ftp.Server("227-Entering Passive Mode (192,0,2,10,195,80)\r\n227 (192,0,2,10,4,1) ok\r\n");
  // Only the final line counts: port 1025, not 50000.
  ASSERT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(installer.installed[0].destination.port, 1025);
}

TEST_F(EngineTest, EpsvReplyForPublishedServer) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Published(Family::kIpv6));
  ftp.Handshake();
  ftp.Login();
  ftp.Client("EPSV\r\n");
  Decision d = ftp.Server("229 Entering Extended Passive Mode (|||50000|)\r\n");
  EXPECT_FALSE(d.modified);  // the port stays, there is no address in the text
  ASSERT_EQ(installer.installed.size(), 1u);
  const Expectation& exp = installer.installed[0];
  EXPECT_EQ(exp.destination, Ep("2001:db8:2::1", 50000));
  ASSERT_TRUE(exp.nat_to.has_value());
  EXPECT_EQ(*exp.nat_to, Ep("2001:db8:1::10", 50000));
}

TEST_F(EngineTest, EprtIpv6IsRewrittenKeepingTheDelimiter) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded(Family::kIpv6));
  ftp.Handshake();
  ftp.Login();
  Decision d = ftp.Client("EPRT !2!2001:db8:1::2!40001!\r\n");
  ASSERT_TRUE(d.modified);
  EXPECT_EQ(PayloadOf(d.packet), "EPRT !2!2001:db8:2::1!40001!\r\n");
  ASSERT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(*installer.installed[0].nat_to, Ep("2001:db8:1::2", 40001));
}

TEST_F(EngineTest, EprtOfTheWrongFamilyIsRefused) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  ftp.Client("EPRT |2|2001:db8:1::2|40001|\r\n");
  EXPECT_TRUE(installer.installed.empty());
  auto refusals = ftp.EventsOf(EventType::kRefuse);
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].reason, Reason::kWrongFamily);
}

TEST_F(EngineTest, AuthTlsStopsParsing) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Server("220 ready\r\n");
  ftp.Client("AUTH TLS\r\n");
  ftp.Server("234 AUTH TLS ok\r\n");
  Decision d = ftp.Client("PORT 192,0,2,2,4,1\r\n");  // would be inside TLS for real
  EXPECT_FALSE(d.modified);
  EXPECT_TRUE(installer.installed.empty());
  EXPECT_EQ(engine.counters().Get(Counter::kStepAsideTls), 1u);
  EXPECT_GT(engine.counters().Get(Counter::kBytesIgnored), 0u);
}

TEST_F(EngineTest, BusyPortMovesToTheNextAndTheTextSaysSo) {
  installer.busy_ports = {1025, 1026};
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  Decision d = ftp.Client("PORT 192,0,2,2,4,1\r\n");
  EXPECT_EQ(PayloadOf(d.packet), "PORT 198,51,100,1,4,3\r\n");
  ASSERT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(installer.installed[0].destination.port, 1027);
  EXPECT_EQ(installer.installed[0].nat_to->port, 1025);
}

TEST_F(EngineTest, FailedInstallIsRefusedAndNothingRewritten) {
  installer.fail_all = true;
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  EXPECT_FALSE(ftp.Client("PORT 192,0,2,2,4,1\r\n").modified);
  auto refusals = ftp.EventsOf(EventType::kRefuse);
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].reason, Reason::kInstallFailed);
}

TEST_F(EngineTest, PendingExpectationsStayBounded) {
  EngineConfig config = ReplayConfig();
  config.policy.max_pending_expectations = 2;
  Engine engine(config, installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  for (int i = 0; i < 5; ++i) ftp.Client("PORT 192,0,2,2,4," + std::to_string(i + 1) + "\r\n");
  EXPECT_EQ(installer.installed.size(), 5u);
  EXPECT_EQ(installer.removed.size(), 3u);
  EXPECT_EQ(installer.removed[0].destination.port, 1025);
  EXPECT_EQ(engine.counters().Get(Counter::kExpectationsReplaced), 3u);
}

TEST_F(EngineTest, ServerRefusingPortWithdrawsTheExpectation) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  ftp.Client("PORT 192,0,2,2,4,1\r\n");
  ftp.Server("500 Illegal PORT command\r\n");
  ASSERT_EQ(installer.removed.size(), 1u);
  auto withdrawn = ftp.EventsOf(EventType::kUnexpect);
  ASSERT_EQ(withdrawn.size(), 1u);
  EXPECT_EQ(withdrawn[0].reason, Reason::kServerRefused);
}

TEST_F(EngineTest, EpsvAllForbidsPort) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  ftp.Client("EPSV ALL\r\n");
  ftp.Server("200 EPSV ALL ok\r\n");
  ftp.Client("PORT 192,0,2,2,4,1\r\n");
  EXPECT_TRUE(installer.installed.empty());
  auto refusals = ftp.EventsOf(EventType::kRefuse);
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].reason, Reason::kEpsvAll);
}

TEST_F(EngineTest, ClosedSessionIsDroppedAndItsExpectationsWithdrawn) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  ftp.Client("PORT 192,0,2,2,4,1\r\n");
  ftp.Send(Direction::kOriginal, "", tcp_flags::kFin | tcp_flags::kAck);
  ftp.Send(Direction::kReply, "", tcp_flags::kFin | tcp_flags::kAck);
  EXPECT_EQ(engine.session_count(), 1u);  // lingers for stray retransmissions
  std::vector<Event> events;
  engine.Expire(ftp.now + 11 * kNanosPerSecond, &events);
  EXPECT_EQ(engine.session_count(), 0u);
  EXPECT_EQ(installer.removed.size(), 1u);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, EventType::kSessionEnd);
  EXPECT_EQ(engine.counters().Get(Counter::kSessionsActive), 0u);
}

TEST_F(EngineTest, IdleSessionExpiresByTheInjectedClock) {
  EngineConfig config = ReplayConfig();
  config.session_idle_timeout = 60 * kNanosPerSecond;
  Engine engine(config, installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  engine.Expire(ftp.now + 59 * kNanosPerSecond);
  EXPECT_EQ(engine.session_count(), 1u);
  engine.Expire(ftp.now + 61 * kNanosPerSecond);
  EXPECT_EQ(engine.session_count(), 0u);
  EXPECT_EQ(engine.counters().Get(Counter::kSessionsExpired), 1u);
}

// The session-end of an idle session belongs to no packet: it comes from Expire(), never inside
// the Decision of another connection's packet that happens to arrive later.
TEST_F(EngineTest, ExpiredSessionsEventsDoNotRideInAnotherPacketsDecision) {
  EngineConfig config = ReplayConfig();
  config.session_idle_timeout = 60 * kNanosPerSecond;
  Engine engine(config, installer);
  Conversation idle(engine, Masqueraded());
  idle.Handshake();
  Conversation other(engine, AnotherMasqueradedClient());
  other.now = idle.now + 61 * kNanosPerSecond;
  const Decision decision = other.Send(Direction::kOriginal, "", tcp_flags::kSyn);
  EXPECT_TRUE(decision.events.empty());
  EXPECT_EQ(engine.session_count(), 2u);
  std::vector<Event> events;
  engine.Expire(other.now, &events);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, EventType::kSessionEnd);
  EXPECT_EQ(engine.session_count(), 1u);
}

// The conntrack zone comes with each packet (PacketInput::control) and stays with what the
// session installed, so that a withdrawal from the timer, with no packet at hand, names the zone
// the expectation was created in (the installer keeps no "current zone").
TEST_F(EngineTest, ExpectationsCarryTheirControlConnectionsZone) {
  Engine engine(ReplayConfig(), installer);
  ControlConnection zoned = Masqueraded();
  zoned.zone = 7;
  Conversation ftp(engine, zoned);
  ftp.Handshake();
  ftp.Login();
  ftp.Client("PORT 192,0,2,2,4,1\r\n");
  ASSERT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(installer.installed[0].zone, 7);
  ftp.Send(Direction::kOriginal, "", tcp_flags::kFin | tcp_flags::kAck);
  ftp.Send(Direction::kReply, "", tcp_flags::kFin | tcp_flags::kAck);
  engine.Expire(ftp.now + 11 * kNanosPerSecond);
  ASSERT_EQ(installer.removed.size(), 1u);
  EXPECT_EQ(installer.removed[0].zone, 7);
}

TEST_F(EngineTest, SessionTableIsBounded) {
  EngineConfig config = ReplayConfig();
  config.max_sessions = 1;
  Engine engine(config, installer);
  Conversation first(engine, Masqueraded());
  first.Handshake();
  Conversation second(engine, AnotherMasqueradedClient());
  Decision d = second.Send(Direction::kOriginal, "", tcp_flags::kSyn);
  EXPECT_EQ(engine.session_count(), 1u);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].reason, Reason::kLimit);
}

TEST_F(EngineTest, GarbageNeverCrashesAndPassesUnchanged) {
  Engine engine(ReplayConfig(), installer);
  std::vector<uint8_t> junk = {0x45, 0x00, 0x00};
  PacketInput input;
  input.packet = junk;
  input.control = Masqueraded();
  Decision d = engine.Process(input);
  EXPECT_FALSE(d.modified);
  EXPECT_EQ(engine.counters().Get(Counter::kPacketsMalformed), 1u);
}

}  // namespace
}  // namespace ftpalg::test
