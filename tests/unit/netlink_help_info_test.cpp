// The helper's private data (CTA_HELP {CTA_HELP_NAME 1, CTA_HELP_INFO 2}, CTA_HELP 5 nested) in
// the three messages that carry it, byte for byte: read from a queued packet's NFQA_CT (11),
// written with a verdict's NFQA_CT and with a ctnetlink update; and the daemon's rules for when to
// write it (SessionKeeper). nlmsghdr fields are host order (little-endian).
#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "daemon/session_keeper.h"
#include "kernel/conntrack_client.h"
#include "kernel/conntrack_messages.h"
#include "kernel/cthelper_client.h"
#include "kernel/help_info.h"
#include "kernel/kernel_probe.h"
#include "kernel/kernel_status.h"
#include "kernel/queue_messages.h"
#include "netlink_live_util.h"
#include "netlink_test_util.h"

namespace ftpalg::kernel {
namespace {

using test::Buffer;
using test::Bytes;
using test::Concat;
using test::Hex;
using test::kSeq;

// A snapshot as the area holds it: version 1, logged in (3), the rest zero.
Bytes LoggedInArea() {
  Bytes area(32, 0);
  area[0] = 1;
  area[1] = 3;
  return area;
}

// clang-format off
// CTA_HELP, 52 bytes: { CTA_HELP_NAME "ftp-alg", CTA_HELP_INFO 32 bytes }.
Bytes HelpNest(const Bytes& area) {
  return Concat({{0x34, 0x00, 0x05, 0x80},
                 {0x0c, 0x00, 0x01, 0x00, 'f', 't', 'p', '-', 'a', 'l', 'g', 0x00},
                 {0x24, 0x00, 0x02, 0x00}, area});
}

// A queued packet whose conntrack carries the helper's private data (nfnl_cthelper_to_nlattr puts
// CTA_HELP_INFO after the name, inside CTA_HELP).
Bytes PacketWithArea(const Bytes& area) {
  return Concat({
      {0xd4, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00,  // len 212, NFQNL_MSG_PACKET
       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
       0x02, 0x00, 0x00, 0x07},                         // NFPROTO_IPV4, queue 7
      {0x0b, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2a,  // PACKET_HDR: id 42
       0x08, 0x00, 0x04, 0x00},
      {0xa0, 0x00, 0x0b, 0x80},                         // NFQA_CT, 160 bytes
      {0x34, 0x00, 0x01, 0x80, 0x14, 0x00, 0x01, 0x80,  //   CTA_TUPLE_ORIG
       0x08, 0x00, 0x01, 0x00, 0xc0, 0x00, 0x02, 0x02,  //     192.0.2.2
       0x08, 0x00, 0x02, 0x00, 0xc6, 0x33, 0x64, 0x02,  //     198.51.100.2
       0x1c, 0x00, 0x02, 0x80,
       0x05, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00,
       0x06, 0x00, 0x02, 0x00, 0x9c, 0x40, 0x00, 0x00,  //     40000
       0x06, 0x00, 0x03, 0x00, 0x00, 0x15, 0x00, 0x00}, //     21
      {0x34, 0x00, 0x02, 0x80, 0x14, 0x00, 0x01, 0x80,  //   CTA_TUPLE_REPLY
       0x08, 0x00, 0x01, 0x00, 0xc6, 0x33, 0x64, 0x02,
       0x08, 0x00, 0x02, 0x00, 0xc6, 0x33, 0x64, 0x01,
       0x1c, 0x00, 0x02, 0x80,
       0x05, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00,
       0x06, 0x00, 0x02, 0x00, 0x00, 0x15, 0x00, 0x00,
       0x06, 0x00, 0x03, 0x00, 0xee, 0x48, 0x00, 0x00},
      HelpNest(area),
      {0x08, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00},  // NFQA_CT_INFO IP_CT_ESTABLISHED
      {0x0c, 0x00, 0x0a, 0x00, 0x45, 0x00, 0x00, 0x08,   // NFQA_PAYLOAD, 8 bytes
       0xde, 0xad, 0xbe, 0xef},
  });
}

Bytes VerdictHeader(uint32_t len) {
  return {static_cast<uint8_t>(len), static_cast<uint8_t>(len >> 8), 0x00, 0x00,
          0x01, 0x03,              // NFQNL_MSG_VERDICT
          0x01, 0x00,              // REQUEST only: not acknowledged
          0x04, 0x03, 0x02, 0x01,  // seq
          0x00, 0x00, 0x00, 0x00,
          0x00, 0x00, 0x00, 0x07};  // queue 7
}

const Bytes kVerdictAccept42 = {0x0c, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
                                0x00, 0x00, 0x00, 0x2a};

const Bytes kOrigV4 = {
    0x34, 0x00, 0x01, 0x80, 0x14, 0x00, 0x01, 0x80,
    0x08, 0x00, 0x01, 0x00, 0xc0, 0x00, 0x02, 0x02,
    0x08, 0x00, 0x02, 0x00, 0xc6, 0x33, 0x64, 0x02,
    0x1c, 0x00, 0x02, 0x80,
    0x05, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00,
    0x06, 0x00, 0x02, 0x00, 0x9c, 0x40, 0x00, 0x00,
    0x06, 0x00, 0x03, 0x00, 0x00, 0x15, 0x00, 0x00,
};

Bytes CtNewHeader(uint32_t len) {
  return {static_cast<uint8_t>(len), static_cast<uint8_t>(len >> 8), 0x00, 0x00,
          0x00, 0x01,              // IPCTNL_MSG_CT_NEW
          0x05, 0x00,              // REQUEST | ACK: an update
          0x04, 0x03, 0x02, 0x01,
          0x00, 0x00, 0x00, 0x00,
          0x02, 0x00, 0x00, 0x00};  // AF_INET
}
// clang-format on

Tuple ControlV4() {
  return Tuple{Endpoint{IpAddress::V4(192, 0, 2, 2), 40000},
               Endpoint{IpAddress::V4(198, 51, 100, 2), 21}};
}

HelpInfoUpdate Update(const Bytes& area) { return HelpInfoUpdate{"ftp-alg", area}; }

QueuedPacket Parse(const Bytes& bytes) {
  static Bytes storage;  // the packet's views point into it
  storage = bytes;
  QueuedPacket packet;
  EXPECT_EQ(ParseQueuedPacket(storage, &packet), DecodeError::kNone);
  return packet;
}

TEST(HelpInfoTest, QueuedPacketBringsTheArea) {
  const Bytes bytes = PacketWithArea(LoggedInArea());
  ASSERT_EQ(bytes.size(), 212u);
  QueuedPacket p = Parse(bytes);
  ASSERT_TRUE(p.conntrack.has_value());
  EXPECT_EQ(p.conntrack->helper_name, "ftp-alg");
  ASSERT_TRUE(p.conntrack->helper_info.has_value());
  EXPECT_EQ(Hex(*p.conntrack->helper_info), Hex(LoggedInArea()));
  EXPECT_EQ(p.payload.size(), 8u);
}

TEST(HelpInfoTest, VerdictCarriesTheAreaInNfqaCt) {
  const Bytes area = LoggedInArea();
  const HelpInfoUpdate update = Update(area);
  BuildResult r = BuildVerdict(Buffer(), kSeq, 7, 42, QueueVerdict::kAccept, {}, false, &update);
  ASSERT_TRUE(r.ok());
  // 20 + 12 (VERDICT_HDR) + NFQA_CT (4 + 52).
  EXPECT_EQ(
      Hex(r.message),
      Hex(Concat({VerdictHeader(88), kVerdictAccept42, {0x38, 0x00, 0x0b, 0x80}, HelpNest(area)})));
  EXPECT_LE(r.message.size(), VerdictMessageSize(0, true));
}

TEST(HelpInfoTest, VerdictWithAreaKeepsThePayloadLength) {
  const Bytes area = LoggedInArea();
  const HelpInfoUpdate update = Update(area);
  const Bytes same = {'a', 'b', 'c', 'd'};
  BuildResult r =
      BuildVerdict(Buffer(), kSeq, 7, 42, QueueVerdict::kAccept, same, false, &update, 4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Hex(r.message), Hex(Concat({VerdictHeader(96),
                                        kVerdictAccept42,
                                        {0x08, 0x00, 0x0a, 0x00, 'a', 'b', 'c', 'd'},
                                        {0x38, 0x00, 0x0b, 0x80},
                                        HelpNest(area)})));
  // A length change with NFQA_CT would make the kernel adjust sequence numbers itself (wrongly
  // for IPv6): refused.
  EXPECT_EQ(
      BuildVerdict(Buffer(), kSeq, 7, 42, QueueVerdict::kAccept, same, false, &update, 7).error,
      BuildError::kBadInput);
}

TEST(HelpInfoTest, BadNamesAndOversizedAreasAreRefused) {
  const Bytes area = LoggedInArea();
  HelpInfoUpdate no_name{"", area};
  EXPECT_EQ(BuildVerdict(Buffer(), kSeq, 7, 42, QueueVerdict::kAccept, {}, false, &no_name).error,
            BuildError::kBadInput);
  HelpInfoUpdate long_name{"a-name-too-long-x", area};
  EXPECT_EQ(BuildConntrackHelpInfo(Buffer(), kSeq, ControlV4(), 0, long_name).error,
            BuildError::kBadInput);
  const Bytes big(33, 1);
  EXPECT_EQ(BuildConntrackHelpInfo(Buffer(), kSeq, ControlV4(), 0, Update(big)).error,
            BuildError::kBadInput);
}

TEST(HelpInfoTest, VerdictBatchMakesRoomForTheArea) {
  const Bytes area = LoggedInArea();
  const HelpInfoUpdate update = Update(area);
  VerdictBatch batch;
  ASSERT_EQ(batch.Append(kSeq, 7, 42, QueueVerdict::kAccept, {}, false, &update),
            BuildError::kNone);
  BuildResult single =
      BuildVerdict(Buffer(), kSeq, 7, 42, QueueVerdict::kAccept, {}, false, &update);
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(Hex(batch.bytes()), Hex(single.message));
}

TEST(HelpInfoTest, CtnetlinkUpdateGolden) {
  const Bytes area = LoggedInArea();
  BuildResult r = BuildConntrackHelpInfo(Buffer(), kSeq, ControlV4(), 0, Update(area));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Hex(r.message), Hex(Concat({CtNewHeader(124), kOrigV4, HelpNest(area)})));
}

TEST(HelpInfoTest, SeqAdjustUpdateCarriesTheAreaToo) {
  const Bytes area = LoggedInArea();
  const HelpInfoUpdate update = Update(area);
  BuildResult r = BuildConntrackSeqAdjust(Buffer(), kSeq, ControlV4(), 0, Direction::kOriginal,
                                          SeqAdjustment{100, 0, 3}, &update);
  ASSERT_TRUE(r.ok());
  // clang-format off
  const Bytes seqadj = {
      0x1c, 0x00, 0x0f, 0x80,
      0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x64,
      0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x03,
  };
  // clang-format on
  EXPECT_EQ(Hex(r.message), Hex(Concat({CtNewHeader(152), kOrigV4, HelpNest(area), seqadj})));

  Bytes message(r.message.begin(), r.message.end());
  ConntrackSeqAdjustments parsed;
  ASSERT_EQ(ParseConntrackSeqAdjustments(message, &parsed), DecodeError::kNone);
  ASSERT_TRUE(parsed.helper_info.has_value());
  EXPECT_EQ(Hex(*parsed.helper_info), Hex(area));
  EXPECT_EQ(parsed.original, (SeqAdjustment{100, 0, 3}));
  EXPECT_EQ(parsed.helper_name, "ftp-alg");
}

QueuedConntrack ConntrackWithArea(std::optional<Bytes>* storage, std::optional<Bytes> area) {
  *storage = std::move(area);
  QueuedConntrack ct;
  ct.helper_name = "ftp-alg";
  if (storage->has_value()) ct.helper_info = std::span<const uint8_t>(**storage);
  return ct;
}

TEST(SessionKeeperTest, ReadsWhatWasStored) {
  SessionKeeper keeper;
  std::optional<Bytes> storage;
  EXPECT_EQ(keeper.Stored(ConntrackWithArea(&storage, LoggedInArea())), SessionSnapshot{});
  EXPECT_FALSE(keeper.Stored(ConntrackWithArea(&storage, Bytes(32, 0))).has_value());
  EXPECT_FALSE(keeper.Stored(ConntrackWithArea(&storage, std::nullopt)).has_value());
  Bytes newer = LoggedInArea();
  newer[0] = 9;
  EXPECT_FALSE(keeper.Stored(ConntrackWithArea(&storage, newer)).has_value());
  EXPECT_EQ(keeper.stats().resumed_reads, 1u);
  EXPECT_EQ(keeper.stats().never_written, 1u);
  EXPECT_EQ(keeper.stats().without_area, 1u);
  EXPECT_EQ(keeper.stats().unreadable, 1u);
}

TEST(SessionKeeperTest, WritesOnlyWhatChanged) {
  SessionKeeper keeper;
  std::optional<Bytes> storage;
  SessionSnapshot before_login;
  before_login.login = LoginState::kAwaitingLogin;
  // Stored "logged in", the engine says the same: nothing to write.
  EXPECT_FALSE(keeper.ToWrite(ConntrackWithArea(&storage, LoggedInArea()), SessionSnapshot{}));
  // A fresh area: the first snapshot is written.
  auto fresh = keeper.ToWrite(ConntrackWithArea(&storage, Bytes(32, 0)), before_login);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(*fresh, EncodeSnapshot(before_login));
  // A change: written.
  EXPECT_TRUE(keeper.ToWrite(ConntrackWithArea(&storage, LoggedInArea()), before_login));
  // No session, no area, an area of another size: nothing.
  EXPECT_FALSE(keeper.ToWrite(ConntrackWithArea(&storage, Bytes(32, 0)), std::nullopt));
  EXPECT_FALSE(keeper.ToWrite(ConntrackWithArea(&storage, std::nullopt), before_login));
  EXPECT_FALSE(keeper.ToWrite(ConntrackWithArea(&storage, Bytes(16, 0)), before_login));
}

// --- The live kernel (a kernel with nfnetlink_cthelper: the test VM; skipped elsewhere) ---

// Registers a userspace helper with `length` bytes of private data, makes a conntrack that uses
// it in a private network namespace, writes the area with a ctnetlink update and reads it back
// (what every queued packet carries). Not at creation: ctnetlink_create_conntrack calls the
// helper's from_nlattr before it sets help->helper, so nfnl_cthelper_from_nlattr refuses it.
std::string WriteAndReadBack(const char* name, uint32_t length, std::optional<Bytes>* seen) {
  CthelperClient helpers;
  if (!helpers.Open().ok()) return "cthelper socket";
  HelperRegistration registration;
  registration.name = name;
  registration.queue_num = 65003;
  registration.priv_data_len = length;
  if (KernelStatus s = helpers.Register(registration); !s.ok()) return "register: " + s.message;
  if (helpers.private_data_length() != length) return "registered length differs";
  std::string error;
  NetlinkSocket socket;
  ConntrackClient conntracks;
  const Tuple original = ControlV4();
  const Tuple reply{original.dst, Endpoint{IpAddress::V4(198, 51, 100, 1), 16500}};
  const Bytes area = LoggedInArea();
  ConntrackSeqAdjustments read;
  if (socket.Open() != 0 || !conntracks.Open().ok()) {
    error = "netlink sockets";
  } else if (int e = test::CreateConntrack(socket, original, reply, name); e != 0) {
    error = "creating the conntrack: " + ErrnoText(e);
  } else if (KernelStatus s = conntracks.SetHelpInfo(original, 0, HelpInfoUpdate{name, area});
             !s.ok()) {
    error = "writing the area: " + s.message;
  } else if (KernelStatus got = conntracks.GetSeqAdjustments(original, 0, &read); !got.ok()) {
    error = "reading back: " + got.message;
  } else if (read.helper_name != name) {
    error = "the conntrack's helper reads back as '" + read.helper_name + "'";
  }
  *seen = read.helper_info;
  // Another conntrack of the same tuple comes next (with the other helper).
  test::DeleteConntrack(socket, original);
  helpers.Unregister(registration);
  return error;
}

std::string HelpInfoScenario() {
  if (unshare(CLONE_NEWNET) != 0) return std::string("unshare: ") + std::strerror(errno);
  std::optional<Bytes> seen;
  if (std::string e = WriteAndReadBack("ftpalg-hinfo", 32, &seen); !e.empty()) return e;
  if (!seen) return "no area read back";
  if (*seen != LoggedInArea()) return "the area read back differs: " + Hex(*seen);
  // A helper created without an area (an older registration): the write is accepted and lost
  // (ctnetlink_change_helper ignores from_nlattr's error), and nothing comes back.
  if (std::string e = WriteAndReadBack("ftpalg-hinfo0", 0, &seen); !e.empty()) return e;
  if (seen) return "a helper without private data returned an area";
  return "";
}

TEST(HelpInfoLiveTest, AreaIsStoredAndReadBackOverCtnetlink) {
  if (!HasNetAdmin()) GTEST_SKIP() << "needs CAP_NET_ADMIN";
  if (!ProbeKernel().cthelper) {
    GTEST_SKIP() << "no nfnetlink_cthelper here; runs on the stock kernel (tests/vm)";
  }
  test::ExpectScenarioPasses(HelpInfoScenario);
}

}  // namespace
}  // namespace ftpalg::kernel
