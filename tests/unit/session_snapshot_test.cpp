#include "ftpalg/session_snapshot.h"

#include <gtest/gtest.h>

#include "engine_test_util.h"

namespace ftpalg::test {
namespace {

SnapshotBytes Bytes(std::initializer_list<uint8_t> head) {
  SnapshotBytes bytes{};
  std::copy(head.begin(), head.end(), bytes.begin());
  return bytes;
}

TEST(SessionSnapshotTest, GoldenBytes) {
  SessionSnapshot logged_in;
  EXPECT_EQ(EncodeSnapshot(logged_in), Bytes({1, 3, 0, 0}));

  SessionSnapshot before_login;
  before_login.login = LoginState::kAwaitingLogin;
  EXPECT_EQ(EncodeSnapshot(before_login), Bytes({1, 2, 0, 0}));

  SessionSnapshot greeting;
  greeting.login = LoginState::kAwaitingGreeting;
  EXPECT_EQ(EncodeSnapshot(greeting), Bytes({1, 1, 0, 0}));

  SessionSnapshot everything;
  everything.step_aside = StepAside::kNotFtp;
  everything.epsv_all = true;
  everything.pairing_unsure = true;
  EXPECT_EQ(EncodeSnapshot(everything), Bytes({1, 3, 2, 3}));

  SessionSnapshot tls;
  tls.step_aside = StepAside::kTls;
  EXPECT_EQ(EncodeSnapshot(tls), Bytes({1, 3, 1, 0}));
}

TEST(SessionSnapshotTest, EveryCombinationRoundTrips) {
  for (LoginState login : {LoginState::kAwaitingGreeting, LoginState::kAwaitingLogin,
                           LoginState::kLoggedIn, LoginState::kUnknown}) {
    for (StepAside aside : {StepAside::kNo, StepAside::kTls, StepAside::kNotFtp}) {
      for (int flags = 0; flags < 4; ++flags) {
        SessionSnapshot snapshot;
        snapshot.login = login;
        snapshot.step_aside = aside;
        snapshot.epsv_all = (flags & 1) != 0;
        snapshot.pairing_unsure = (flags & 2) != 0;
        const SnapshotBytes bytes = EncodeSnapshot(snapshot);
        const SnapshotRead read = DecodeSnapshot(bytes);
        ASSERT_TRUE(read.ok());
        EXPECT_EQ(read.snapshot, snapshot);
      }
    }
  }
}

TEST(SessionSnapshotTest, AllZeroWasNeverWritten) {
  SnapshotBytes zero{};
  EXPECT_EQ(DecodeSnapshot(zero).status, SnapshotStatus::kNeverWritten);
}

TEST(SessionSnapshotTest, DecodeFailuresAreValues) {
  const SnapshotBytes good = EncodeSnapshot(SessionSnapshot{});
  EXPECT_EQ(DecodeSnapshot(std::span(good).first(16)).status, SnapshotStatus::kWrongSize);
  EXPECT_EQ(DecodeSnapshot({}).status, SnapshotStatus::kWrongSize);
  std::vector<uint8_t> longer(good.begin(), good.end());
  longer.push_back(0);
  EXPECT_EQ(DecodeSnapshot(longer).status, SnapshotStatus::kWrongSize);

  EXPECT_EQ(DecodeSnapshot(Bytes({2, 3, 0, 0})).status, SnapshotStatus::kUnknownVersion);
  EXPECT_EQ(DecodeSnapshot(Bytes({0, 3, 0, 0})).status, SnapshotStatus::kUnknownVersion);
  EXPECT_EQ(DecodeSnapshot(Bytes({1, 0, 0, 0})).status, SnapshotStatus::kBadField);
  EXPECT_EQ(DecodeSnapshot(Bytes({1, 5, 0, 0})).status, SnapshotStatus::kBadField);
  EXPECT_EQ(DecodeSnapshot(Bytes({1, 3, 3, 0})).status, SnapshotStatus::kBadField);
  EXPECT_EQ(DecodeSnapshot(Bytes({1, 3, 0, 4})).status, SnapshotStatus::kBadField);
  SnapshotBytes reserved = good;
  reserved[31] = 1;
  EXPECT_EQ(DecodeSnapshot(reserved).status, SnapshotStatus::kBadField);
}

class SessionResumeTest : public ::testing::Test {
 protected:
  RecordingInstaller installer;
};

// The state the daemon would store: what a second engine (the restarted daemon) gets back.
SessionSnapshot StoredSnapshot(const Engine& engine, const ControlConnection& control) {
  std::optional<SessionSnapshot> snapshot = engine.Snapshot(control.original);
  EXPECT_TRUE(snapshot.has_value());
  return snapshot.value_or(SessionSnapshot{});
}

// Sends one client line to a fresh engine that resumes the session from `snapshot` (a daemon
// restarted between two packets of the connection), with the kernel's sequence adjustment of the
// client's stream when it has one.
Decision ResumeWith(Engine& engine, const ControlConnection& control, uint32_t seq,
                    const std::optional<SessionSnapshot>& snapshot, const std::string& line,
                    std::optional<SeqAdjustment> client_adjustment = std::nullopt) {
  PacketSpec spec;
  spec.src = control.original.src;
  spec.dst = control.original.dst;
  spec.seq = seq;
  spec.ack = 5000;
  spec.flags = tcp_flags::kAck | tcp_flags::kPsh;
  spec.payload = line;
  const std::vector<uint8_t> packet = BuildTcpPacket(spec);
  PacketInput input;
  input.packet = packet;
  input.time = 1'700'000'100 * kNanosPerSecond;
  input.control = control;
  input.direction = Direction::kOriginal;
  input.resume = snapshot;
  input.kernel_seq_adjustments[static_cast<size_t>(Direction::kOriginal)] = client_adjustment;
  return engine.Process(input);
}

// The snapshot of a session that got its greeting and has not logged in, and where its client's
// stream goes on.
struct GreetedSession {
  SessionSnapshot snapshot;
  uint32_t client_seq;
};
GreetedSession SnapshotBeforeLogin(ExpectationInstaller& installer) {
  Engine before(ReplayConfig(), installer);
  Conversation ftp(before, Masqueraded());
  ftp.Handshake();
  ftp.Server("220 ready\r\n");
  return {StoredSnapshot(before, Masqueraded()), ftp.client_seq()};
}

TEST_F(SessionResumeTest, SnapshotFollowsTheLogin) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  EXPECT_FALSE(engine.Snapshot(Masqueraded().original).has_value());
  ftp.Handshake();
  EXPECT_EQ(StoredSnapshot(engine, Masqueraded()).login, LoginState::kAwaitingGreeting);
  ftp.Server("220 ready\r\n");
  EXPECT_EQ(StoredSnapshot(engine, Masqueraded()).login, LoginState::kAwaitingLogin);
  ftp.Client("USER anonymous\r\n");
  ftp.Server("331 password please\r\n");
  ftp.Client("PASS guest@\r\n");
  EXPECT_EQ(StoredSnapshot(engine, Masqueraded()).login, LoginState::kAwaitingLogin);
  ftp.Server("230 logged in\r\n");
  EXPECT_EQ(StoredSnapshot(engine, Masqueraded()), SessionSnapshot{});
  ftp.Client("EPSV ALL\r\n");
  ftp.Server("200 EPSV ALL ok\r\n");
  EXPECT_TRUE(StoredSnapshot(engine, Masqueraded()).epsv_all);
}

TEST_F(SessionResumeTest, ResumedBeforeLoginStillRefusesPort) {
  const GreetedSession stored = SnapshotBeforeLogin(installer);
  EXPECT_EQ(stored.snapshot.login, LoginState::kAwaitingLogin);
  Engine restarted(ReplayConfig(), installer);
  Decision d = ResumeWith(restarted, Masqueraded(), stored.client_seq, stored.snapshot,
                          "PORT 192,0,2,2,4,1\r\n");
  EXPECT_TRUE(installer.installed.empty());
  // Refused, and the inside address concealed (rewritten, nothing expected: docs/gaps.md).
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[0].reason, Reason::kNotLoggedIn);
  EXPECT_EQ(d.events[1].type, EventType::kRewrite);
  EXPECT_EQ(restarted.counters().Get(Counter::kSessionsResumed), 1u);
}

TEST_F(SessionResumeTest, ResumedBeforeLoginStillStepsAsideFromHttp) {
  const GreetedSession stored = SnapshotBeforeLogin(installer);
  Engine restarted(ReplayConfig(), installer);
  Decision d = ResumeWith(restarted, Masqueraded(), stored.client_seq, stored.snapshot,
                          "POST / HTTP/1.1\r\nHost: x\r\n\r\nPORT 192,0,2,2,4,1\r\n");
  EXPECT_TRUE(installer.installed.empty());
  ASSERT_FALSE(d.events.empty());
  EXPECT_EQ(d.events[0].type, EventType::kStepAside);
  EXPECT_EQ(d.events[0].reason, Reason::kNotFtp);
  EXPECT_EQ(StoredSnapshot(restarted, Masqueraded()).step_aside, StepAside::kNotFtp);
}

// Without a snapshot (a fresh or synced entry) the session is picked up with its login unknown
// (docs/gaps.md): its PORT is acted on at once, and only the server's 530 withdraws it. The
// snapshot is what keeps the refusal of a PORT before the login across a restart (test above).
TEST_F(SessionResumeTest, WithoutSnapshotPickupActsOnThePortAtOnce) {
  Engine restarted(ReplayConfig(), installer);
  ResumeWith(restarted, Masqueraded(), 1001 + 100, std::nullopt, "PORT 192,0,2,2,4,1\r\n");
  EXPECT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(restarted.counters().Get(Counter::kSessionsResumed), 0u);
}

TEST_F(SessionResumeTest, ResumedLoggedInSessionIsServed) {
  Engine before(ReplayConfig(), installer);
  Conversation ftp(before, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  const SessionSnapshot stored = StoredSnapshot(before, Masqueraded());

  Engine restarted(ReplayConfig(), installer);
  Decision d =
      ResumeWith(restarted, Masqueraded(), ftp.client_seq(), stored, "PORT 192,0,2,2,4,1\r\n");
  EXPECT_TRUE(d.modified);
  ASSERT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(installer.installed[0].destination, Ep("198.51.100.1", 1025));
}

TEST_F(SessionResumeTest, ResumedAfterEpsvAllStillRefusesPort) {
  SessionSnapshot stored;
  stored.epsv_all = true;
  Engine restarted(ReplayConfig(), installer);
  Decision d = ResumeWith(restarted, Masqueraded(), 2000, stored, "PORT 192,0,2,2,4,1\r\n");
  EXPECT_TRUE(installer.installed.empty());
  ASSERT_EQ(d.events.size(), 2u);  // refused, and the inside address concealed
  EXPECT_EQ(d.events[0].reason, Reason::kEpsvAll);
  EXPECT_EQ(d.events[1].type, EventType::kRewrite);
}

TEST_F(SessionResumeTest, ResumedAsideSessionStaysAside) {
  SessionSnapshot stored;
  stored.step_aside = StepAside::kTls;
  Engine restarted(ReplayConfig(), installer);
  Decision d = ResumeWith(restarted, Masqueraded(), 2000, stored, "PORT 192,0,2,2,4,1\r\n");
  EXPECT_TRUE(installer.installed.empty());
  EXPECT_TRUE(d.events.empty());
}

TEST_F(SessionResumeTest, SnapshotOnlyAppliesToANewSession) {
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  SessionSnapshot stale;
  stale.login = LoginState::kAwaitingLogin;
  ResumeWith(engine, Masqueraded(), ftp.client_seq(), stale, "PORT 192,0,2,2,4,1\r\n");
  EXPECT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(engine.counters().Get(Counter::kSessionsResumed), 0u);
}

// A length change before the restart is in the kernel's adjustment (offset 3 after the first
// PORT); the next rewrite must continue it (3 before, 6 after), not start again from 0, or the
// rewritten segment itself leaves with the wrong sequence number.
TEST_F(SessionResumeTest, ResumedSessionContinuesTheKernelsSequenceAdjustment) {
  Engine restarted(EngineConfig{}, installer);
  Decision d = ResumeWith(restarted, Masqueraded(), 2000, SessionSnapshot{},
                          "PORT 192,0,2,2,4,2\r\n", SeqAdjustment{1500, 0, 3});
  ASSERT_TRUE(d.modified);
  ASSERT_TRUE(d.seq_adjustment.has_value());
  EXPECT_EQ(*d.seq_adjustment, (SeqAdjustment{2000, 3, 6}));
}

TEST(SeqShiftSeedTest, SeedContinuesAndIsIgnoredOnceChangesExist) {
  SeqShift shift;
  shift.Seed(SeqAdjustment{100, 2, 5});
  EXPECT_EQ(shift.OffsetFor(100), 2);
  EXPECT_EQ(shift.OffsetFor(101), 5);
  EXPECT_EQ(shift.Record(200, -1), (SeqAdjustment{200, 5, 4}));
  shift.Seed(SeqAdjustment{300, 0, 9});
  EXPECT_EQ(shift.OffsetFor(301), 4);
}

}  // namespace
}  // namespace ftpalg::test
