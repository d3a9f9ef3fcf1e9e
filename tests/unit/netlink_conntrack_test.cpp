// ctnetlink conntrack messages that set and read a control connection's sequence adjustment, byte
// for byte; their parser; and the client against the running kernel in a private network
// namespace.
//
// Layouts (include/uapi/linux/netfilter/nfnetlink_conntrack.h): message type
// NFNL_SUBSYS_CTNETLINK (1) << 8 | IPCTNL_MSG_CT_{NEW 0, GET 1}; CTA_TUPLE_ORIG 1, CTA_ZONE 18
// (be16), CTA_SEQ_ADJ_ORIG 15 / CTA_SEQ_ADJ_REPLY 16 {CTA_SEQADJ_CORRECTION_POS 1,
// _OFFSET_BEFORE 2, _OFFSET_AFTER 3, be32 each}. nlmsghdr fields are host order (little-endian).
#include <gtest/gtest.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "kernel/conntrack_client.h"
#include "kernel/conntrack_messages.h"
#include "kernel/kernel_status.h"
#include "netlink_live_util.h"
#include "netlink_test_util.h"

namespace ftpalg::kernel {
namespace {

using test::Buffer;
using test::Bytes;
using test::Concat;
using test::CreateConntrack;
using test::Hex;
using test::kSeq;

// The control connection 192.0.2.2:40000 -> 198.51.100.2:21 as conntrack has it.
Tuple ControlV4() {
  return Tuple{Endpoint{IpAddress::V4(192, 0, 2, 2), 40000},
               Endpoint{IpAddress::V4(198, 51, 100, 2), 21}};
}

// clang-format off
const Bytes kOrigV4 = {
    0x34, 0x00, 0x01, 0x80,                          // CTA_TUPLE_ORIG, 52 bytes
    0x14, 0x00, 0x01, 0x80,                          //   CTA_TUPLE_IP, 20
    0x08, 0x00, 0x01, 0x00, 0xc0, 0x00, 0x02, 0x02,  //     V4_SRC 192.0.2.2
    0x08, 0x00, 0x02, 0x00, 0xc6, 0x33, 0x64, 0x02,  //     V4_DST 198.51.100.2
    0x1c, 0x00, 0x02, 0x80,                          //   CTA_TUPLE_PROTO, 28
    0x05, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00,  //     PROTO_NUM 6
    0x06, 0x00, 0x02, 0x00, 0x9c, 0x40, 0x00, 0x00,  //     SRC_PORT 40000
    0x06, 0x00, 0x03, 0x00, 0x00, 0x15, 0x00, 0x00,  //     DST_PORT 21
};

Bytes Header(uint32_t len, uint8_t message, uint8_t family) {
  return {static_cast<uint8_t>(len), static_cast<uint8_t>(len >> 8), 0x00, 0x00,
          message, 0x01,           // type: 1 << 8 | message
          0x05, 0x00,              // flags: REQUEST | ACK (an update: no CREATE, no EXCL)
          0x04, 0x03, 0x02, 0x01,  // seq 0x01020304
          0x00, 0x00, 0x00, 0x00,  // pid
          family, 0x00, 0x00, 0x00};
}
// clang-format on

TEST(ConntrackMessagesTest, SeqAdjustGolden) {
  // The client's PORT at 0xfffffff0 grew by 3 after an earlier change of -7.
  BuildResult r = BuildConntrackSeqAdjust(Buffer(), kSeq, ControlV4(), 0, Direction::kOriginal,
                                          SeqAdjustment{0xfffffff0u, -7, -4});
  ASSERT_TRUE(r.ok());
  // clang-format off
  const Bytes seqadj = {
      0x1c, 0x00, 0x0f, 0x80,                          // CTA_SEQ_ADJ_ORIG, 28 bytes
      0x08, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff, 0xf0,  //   CORRECTION_POS
      0x08, 0x00, 0x02, 0x00, 0xff, 0xff, 0xff, 0xf9,  //   OFFSET_BEFORE -7
      0x08, 0x00, 0x03, 0x00, 0xff, 0xff, 0xff, 0xfc,  //   OFFSET_AFTER -4
  };
  // clang-format on
  EXPECT_EQ(Hex(r.message), Hex(Concat({Header(100, IPCTNL_MSG_CT_NEW, 2), kOrigV4, seqadj})));
}

TEST(ConntrackMessagesTest, ReplyDirectionZoneAndIpv6) {
  Tuple v6{Endpoint{*IpAddress::Parse("2001:db8:1::2"), 40000},
           Endpoint{*IpAddress::Parse("2001:db8:2::2"), 21}};
  BuildResult r =
      BuildConntrackSeqAdjust(Buffer(), kSeq, v6, 7, Direction::kReply, SeqAdjustment{1000, 0, 12});
  ASSERT_TRUE(r.ok());
  // 20 + CTA_TUPLE_ORIG (4 + 44 + 28 = 76) + CTA_ZONE (8) + CTA_SEQ_ADJ_REPLY (28).
  ASSERT_EQ(r.message.size(), 132u);
  EXPECT_EQ(r.message[16], 10);  // AF_INET6
  const Bytes zone = {0x06, 0x00, 0x12, 0x00, 0x00, 0x07, 0x00, 0x00};
  EXPECT_EQ(Hex(r.message.subspan(96, 8)), Hex(zone));
  const Bytes nest = {0x1c, 0x00, 0x10, 0x80};  // CTA_SEQ_ADJ_REPLY
  EXPECT_EQ(Hex(r.message.subspan(104, 4)), Hex(nest));

  Tuple mixed{v6.src, ControlV4().dst};
  EXPECT_EQ(BuildConntrackSeqAdjust(Buffer(), kSeq, mixed, 0, Direction::kReply, {}).error,
            BuildError::kBadInput);
  EXPECT_EQ(BuildConntrackSeqAdjust(Buffer<64>(), kSeq, v6, 0, Direction::kReply, {}).error,
            BuildError::kNoRoom);
}

TEST(ConntrackMessagesTest, GetGolden) {
  BuildResult r = BuildConntrackGet(Buffer(), kSeq, ControlV4(), 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Hex(r.message), Hex(Concat({Header(72, IPCTNL_MSG_CT_GET, 2), kOrigV4})));
}

// Our own update message reads back as what it sets (the kernel uses the same layout in dumps).
TEST(ConntrackMessagesTest, ParsesAdjustmentsAndRefusesBrokenNests) {
  BuildResult r = BuildConntrackSeqAdjust(Buffer(), kSeq, ControlV4(), 0, Direction::kReply,
                                          SeqAdjustment{42, 3, -5});
  ASSERT_TRUE(r.ok());
  Bytes message(r.message.begin(), r.message.end());
  ConntrackSeqAdjustments parsed;
  ASSERT_EQ(ParseConntrackSeqAdjustments(message, &parsed), DecodeError::kNone);
  EXPECT_FALSE(parsed.original.has_value());
  EXPECT_EQ(parsed.reply, (SeqAdjustment{42, 3, -5}));

  // Without OFFSET_AFTER (the nest and the message shortened by its 8 bytes).
  Bytes cut(message.begin(), message.end() - 8);
  cut[0] = static_cast<uint8_t>(cut.size());
  cut[cut.size() - 20] = 0x14;
  EXPECT_EQ(ParseConntrackSeqAdjustments(cut, &parsed), DecodeError::kMissingAttribute);
  // Every truncation is refused or read without reading past the end (ASan watches).
  for (size_t n = 0; n < message.size(); ++n) {
    Bytes part(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_NE(ParseConntrackSeqAdjustments(part, &parsed), DecodeError::kNone) << n;
  }
}

// --- The live kernel ---

std::string SeqAdjustScenario() {
  if (unshare(CLONE_NEWNET) != 0) return std::string("unshare: ") + std::strerror(errno);
  NetlinkSocket socket;
  if (socket.Open() != 0) return "netlink socket";
  ConntrackClient client;
  if (!client.Open().ok()) return "open";
  for (Family family : {Family::kIpv4, Family::kIpv6}) {
    const bool v4 = family == Family::kIpv4;
    Tuple original{Endpoint{*IpAddress::Parse(v4 ? "192.0.2.2" : "2001:db8:1::2"), 40000},
                   Endpoint{*IpAddress::Parse(v4 ? "198.51.100.2" : "2001:db8:2::2"), 21}};
    Tuple reply{original.dst,
                Endpoint{*IpAddress::Parse(v4 ? "198.51.100.1" : "2001:db8:ffff:2::1"), 16500}};
    if (int error = CreateConntrack(socket, original, reply, "ftp"); error != 0) {
      return "creating the conntrack: " + ErrnoText(error);
    }
    const SeqAdjustment client_side{0x89abcdefu, 0, 7};
    const SeqAdjustment server_side{0x00000010u, -3, -5};
    KernelStatus status = client.SetSeqAdjustment(original, 0, Direction::kOriginal, client_side);
    if (!status.ok()) return "set original: " + status.message;
    status = client.SetSeqAdjustment(original, 0, Direction::kReply, server_side);
    if (!status.ok()) return "set reply: " + status.message;
    ConntrackSeqAdjustments seen;
    status = client.GetSeqAdjustments(original, 0, &seen);
    if (!status.ok()) return "get: " + status.message;
    if (seen.original != client_side || seen.reply != server_side) {
      return std::string("read back differs (") + (v4 ? "IPv4" : "IPv6") + ")";
    }
    Tuple gone = original;
    gone.src.port = 1;
    status = client.SetSeqAdjustment(gone, 0, Direction::kOriginal, client_side);
    if (status.error != ENOENT) return "unknown conntrack: " + status.message;
  }
  return "";
}

TEST(ConntrackClientLiveTest, SetsAndReadsSeqAdjustmentInPrivateNamespace) {
  if (!HasNetAdmin()) GTEST_SKIP() << "needs CAP_NET_ADMIN";
  test::ExpectScenarioPasses(SeqAdjustScenario);
}

}  // namespace
}  // namespace ftpalg::kernel
