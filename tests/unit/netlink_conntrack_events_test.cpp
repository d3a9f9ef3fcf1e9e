// Conntrack events (ctnetlink multicast) decoded byte for byte, and received from the running
// kernel in a private network namespace.
//
// Layouts (include/uapi/linux/netfilter/nfnetlink_conntrack.h): message type
// NFNL_SUBSYS_CTNETLINK (1) << 8 | IPCTNL_MSG_CT_{NEW 0, DELETE 2}; a NEW event has the flags
// NLM_F_CREATE | NLM_F_EXCL (0x0600). CTA_TUPLE_ORIG 1, CTA_TUPLE_REPLY 2, CTA_STATUS 3, CTA_HELP 5
// {CTA_HELP_NAME 1}, CTA_COUNTERS_ORIG 9 / _REPLY 10 {PACKETS 1, BYTES 2, PAD 5}, CTA_ID 12,
// CTA_ZONE 18, CTA_TIMESTAMP 20 {START 1, STOP 2, PAD 3}. nlmsghdr fields are host order
// (little-endian), attribute values network order.
#include <gtest/gtest.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "kernel/conntrack_events.h"
#include "kernel/kernel_status.h"
#include "netlink_live_util.h"
#include "netlink_test_util.h"

namespace ftpalg::kernel {
namespace {

using test::Bytes;
using test::Concat;

// clang-format off
Bytes EventHeader(uint32_t len, uint8_t message, uint8_t flags_high) {
  return {static_cast<uint8_t>(len), static_cast<uint8_t>(len >> 8), 0x00, 0x00,
          message, 0x01,           // type: 1 << 8 | message
          0x00, flags_high,        // flags: 0x0600 (CREATE | EXCL) for a NEW event, else 0
          0x00, 0x00, 0x00, 0x00,  // seq 0 (events are not answers)
          0x00, 0x00, 0x00, 0x00,  // pid 0 (the kernel)
          0x02, 0x00, 0x00, 0x00};  // AF_INET, version 0, res_id 0
}

// The control connection 192.0.2.2:40000 -> 198.51.100.2:21, masqueraded to 198.51.100.1:16500.
const Bytes kOrig = {
    0x34, 0x00, 0x01, 0x80,                          // CTA_TUPLE_ORIG, 52 bytes
    0x14, 0x00, 0x01, 0x80,                          //   CTA_TUPLE_IP, 20
    0x08, 0x00, 0x01, 0x00, 0xc0, 0x00, 0x02, 0x02,  //     V4_SRC 192.0.2.2
    0x08, 0x00, 0x02, 0x00, 0xc6, 0x33, 0x64, 0x02,  //     V4_DST 198.51.100.2
    0x1c, 0x00, 0x02, 0x80,                          //   CTA_TUPLE_PROTO, 28
    0x05, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00,  //     PROTO_NUM 6
    0x06, 0x00, 0x02, 0x00, 0x9c, 0x40, 0x00, 0x00,  //     SRC_PORT 40000
    0x06, 0x00, 0x03, 0x00, 0x00, 0x15, 0x00, 0x00,  //     DST_PORT 21
};
const Bytes kReply = {
    0x34, 0x00, 0x02, 0x80,                          // CTA_TUPLE_REPLY, 52 bytes
    0x14, 0x00, 0x01, 0x80,                          //   CTA_TUPLE_IP, 20
    0x08, 0x00, 0x01, 0x00, 0xc6, 0x33, 0x64, 0x02,  //     V4_SRC 198.51.100.2
    0x08, 0x00, 0x02, 0x00, 0xc6, 0x33, 0x64, 0x01,  //     V4_DST 198.51.100.1
    0x1c, 0x00, 0x02, 0x80,                          //   CTA_TUPLE_PROTO, 28
    0x05, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00,  //     PROTO_NUM 6
    0x06, 0x00, 0x02, 0x00, 0x00, 0x15, 0x00, 0x00,  //     SRC_PORT 21
    0x06, 0x00, 0x03, 0x00, 0x40, 0x74, 0x00, 0x00,  //     DST_PORT 16500
};
const Bytes kStatusAndId = {
    0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x98,  // CTA_STATUS SRC_NAT|SRC_NAT_DONE|CONFIRMED
    0x08, 0x00, 0x0c, 0x00, 0x12, 0x34, 0x56, 0x78,  // CTA_ID
};
const Bytes kHelper = {
    0x10, 0x00, 0x05, 0x80,                          // CTA_HELP, 16 bytes
    0x0c, 0x00, 0x01, 0x00, 'f', 't', 'p', '-',      //   CTA_HELP_NAME "ftp-alg"
    'a', 'l', 'g', 0x00,
};
const Bytes kZone = {0x06, 0x00, 0x12, 0x00, 0x00, 0x07, 0x00, 0x00};  // CTA_ZONE 7
const Bytes kCounters = {
    0x20, 0x00, 0x09, 0x80,                          // CTA_COUNTERS_ORIG, 32 bytes
    0x04, 0x00, 0x05, 0x00,                          //   CTA_COUNTERS_PAD (nla_put_be64's)
    0x0c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,  //   PACKETS 12
    0x00, 0x00, 0x00, 0x0c,
    0x0c, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,  //   BYTES 0x1_0000_0400 (above 4 GiB)
    0x00, 0x00, 0x04, 0x00,
    0x1c, 0x00, 0x0a, 0x80,                          // CTA_COUNTERS_REPLY, 28 bytes
    0x0c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,  //   PACKETS 9
    0x00, 0x00, 0x00, 0x09,
    0x0c, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,  //   BYTES 1500
    0x00, 0x00, 0x05, 0xdc,
};
const Bytes kTimestamp = {
    0x1c, 0x00, 0x14, 0x80,                          // CTA_TIMESTAMP, 28 bytes
    0x0c, 0x00, 0x01, 0x00, 0x18, 0x0e, 0x3b, 0x5c,  //   START (ns since the epoch)
    0x5f, 0x54, 0x00, 0x00,
    0x0c, 0x00, 0x02, 0x00, 0x18, 0x0e, 0x3b, 0x5e,  //   STOP 0x2_0000_0000 ns (8.6 s) later
    0x5f, 0x54, 0x00, 0x00,
};
// clang-format on

Bytes NewEvent(bool with_helper) {
  Bytes body = Concat({kOrig, kReply, kStatusAndId});
  if (with_helper) body = Concat({body, kHelper});
  return Concat(
      {EventHeader(static_cast<uint32_t>(20 + body.size()), IPCTNL_MSG_CT_NEW, 0x06), body});
}

Tuple Control() {
  return Tuple{Endpoint{IpAddress::V4(192, 0, 2, 2), 40000},
               Endpoint{IpAddress::V4(198, 51, 100, 2), 21}};
}

TEST(ConntrackEventsTest, NewEventWithHelper) {
  Bytes message = NewEvent(true);
  ConntrackEvent event;
  ASSERT_EQ(ParseConntrackEvent(message, &event), DecodeError::kNone);
  EXPECT_EQ(event.kind, ConntrackEventKind::kNew);
  EXPECT_EQ(event.family, AF_INET);
  EXPECT_EQ(event.protonum, IPPROTO_TCP);
  EXPECT_EQ(event.original, Control());
  EXPECT_EQ(event.reply, (Tuple{Endpoint{IpAddress::V4(198, 51, 100, 2), 21},
                                Endpoint{IpAddress::V4(198, 51, 100, 1), 16500}}));
  EXPECT_EQ(event.status, uint32_t{IPS_CONFIRMED | IPS_SRC_NAT | IPS_SRC_NAT_DONE});
  EXPECT_EQ(event.id, 0x12345678u);
  EXPECT_EQ(event.zone, 0);
  EXPECT_EQ(event.helper_name, "ftp-alg");
  EXPECT_FALSE(event.counters_original.has_value());
  EXPECT_FALSE(event.start_ns.has_value());
}

TEST(ConntrackEventsTest, NewEventWithoutHelperAndAnUpdate) {
  Bytes message = NewEvent(false);
  ConntrackEvent event;
  ASSERT_EQ(ParseConntrackEvent(message, &event), DecodeError::kNone);
  EXPECT_EQ(event.kind, ConntrackEventKind::kNew);
  EXPECT_TRUE(event.helper_name.empty());
  message[7] = 0x00;  // no NLM_F_CREATE: an update of an existing conntrack
  ASSERT_EQ(ParseConntrackEvent(message, &event), DecodeError::kNone);
  EXPECT_EQ(event.kind, ConntrackEventKind::kUpdate);
}

TEST(ConntrackEventsTest, DestroyEventWithCountersTimestampAndZone) {
  Bytes body = Concat({kOrig, kReply, kZone, kStatusAndId, kCounters, kTimestamp});
  Bytes message = Concat(
      {EventHeader(static_cast<uint32_t>(20 + body.size()), IPCTNL_MSG_CT_DELETE, 0x00), body});
  ConntrackEvent event;
  ASSERT_EQ(ParseConntrackEvent(message, &event), DecodeError::kNone);
  EXPECT_EQ(event.kind, ConntrackEventKind::kDestroy);
  EXPECT_EQ(event.zone, 7);
  EXPECT_EQ(event.counters_original, (ConntrackCounters{12, 0x100000400ull}));
  EXPECT_EQ(event.counters_reply, (ConntrackCounters{9, 1500}));
  EXPECT_EQ(event.start_ns, 0x180e3b5c5f540000ull);
  EXPECT_EQ(event.stop_ns, 0x180e3b5e5f540000ull);

  // Every truncation is refused without reading past the end (ASan watches).
  for (size_t n = 0; n < message.size(); ++n) {
    Bytes part(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_NE(ParseConntrackEvent(part, &event), DecodeError::kNone) << n;
  }
}

TEST(ConntrackEventsTest, RefusesWhatIsNotAnEvent) {
  ConntrackEvent event;
  Bytes message = NewEvent(true);
  Bytes get = message;
  get[4] = IPCTNL_MSG_CT_GET;
  EXPECT_EQ(ParseConntrackEvent(get, &event), DecodeError::kWrongMessage);
  Bytes expect_subsystem = message;
  expect_subsystem[5] = NFNL_SUBSYS_CTNETLINK_EXP;
  EXPECT_EQ(ParseConntrackEvent(expect_subsystem, &event), DecodeError::kWrongMessage);
  // A helper name of 16 characters (the kernel's limit is 15 before the NUL).
  Bytes body =
      Concat({kOrig, kReply, Bytes{0x1c, 0x00, 0x05, 0x80, 0x15, 0x00, 0x01, 0x00, 'a', 'a',
                                   'a',  'a',  'a',  'a',  'a',  'a',  'a',  'a',  'a', 'a',
                                   'a',  'a',  'a',  'a',  0x00, 0x00, 0x00, 0x00}});
  Bytes long_name =
      Concat({EventHeader(static_cast<uint32_t>(20 + body.size()), IPCTNL_MSG_CT_NEW, 0x06), body});
  EXPECT_EQ(ParseConntrackEvent(long_name, &event), DecodeError::kBadAttribute);
  // Without the reply tuple.
  Bytes no_reply = Concat({EventHeader(20 + 52, IPCTNL_MSG_CT_NEW, 0x06), kOrig});
  EXPECT_EQ(ParseConntrackEvent(no_reply, &event), DecodeError::kMissingAttribute);
}

TEST(ConntrackEventsTest, SplitsADatagramIntoItsMessages) {
  Bytes first = NewEvent(true);
  Bytes second = NewEvent(false);
  // NLMSG_DONE between them: a control message, skipped.
  Bytes done = {0x14, 0x00, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  Bytes datagram = Concat({first, done, second});
  std::vector<size_t> sizes;
  ForEachNetlinkMessage(datagram, [&](std::span<const uint8_t> m) { sizes.push_back(m.size()); });
  EXPECT_EQ(sizes, (std::vector<size_t>{first.size(), second.size()}));
  // A header claiming more than the datagram holds ends the walk.
  datagram[first.size() + done.size()] = 0xff;
  sizes.clear();
  ForEachNetlinkMessage(datagram, [&](std::span<const uint8_t> m) { sizes.push_back(m.size()); });
  EXPECT_EQ(sizes, (std::vector<size_t>{first.size()}));
}

// --- The live kernel ---

// The kernel reports a conntrack made over ctnetlink to the NEW group with its helper, one
// without a helper without CTA_HELP, and their removal to the DESTROY group.
std::string EventScenario() {
  if (unshare(CLONE_NEWNET) != 0) return std::string("unshare: ") + std::strerror(errno);
  ConntrackEventSocket events;
  if (int error = events.Open({.new_connections = true, .destroyed = true}, 1 << 20); error != 0) {
    return "event socket: " + ErrnoText(error);
  }
  NetlinkSocket socket;
  if (socket.Open() != 0) return "netlink socket";
  Tuple helped = Control();
  Tuple unhelped = Control();
  unhelped.src.port = 40001;
  for (const auto& [original, helper] : {std::pair{helped, "ftp"}, std::pair{unhelped, ""}}) {
    Tuple reply{original.dst, original.src};
    if (int error = test::CreateConntrack(socket, original, reply, helper); error != 0) {
      return "creating a conntrack: " + ErrnoText(error);
    }
  }
  // Flush the table: both go, each with a DESTROY event.
  alignas(8) std::array<uint8_t, 64> buffer{};
  BuildResult flush = MessageBuilder(buffer, NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_DELETE, NLM_F_ACK,
                                     socket.NextSeq(), AF_INET, 0)
                          .Finish();
  if (int error = socket.Request(flush.message).error; error != 0) {
    return "flush: " + ErrnoText(error);
  }
  std::vector<ConntrackEvent> seen;
  for (int round = 0; round < 20 && seen.size() < 4; ++round) {
    pollfd pfd{events.fd(), POLLIN, 0};
    if (poll(&pfd, 1, 100) < 0) return "poll";
    events.Drain(16, [&](const ConntrackEvent& e) { seen.push_back(e); });
  }
  if (seen.size() != 4) return "events seen: " + std::to_string(seen.size());
  int news = 0;
  int destroys = 0;
  for (const ConntrackEvent& e : seen) {
    if (e.kind == ConntrackEventKind::kNew) {
      ++news;
      const std::string want = e.original == helped ? "ftp" : "";
      if (e.helper_name != want) return "NEW event helper '" + e.helper_name + "'";
    } else if (e.kind == ConntrackEventKind::kDestroy) {
      ++destroys;
    }
  }
  if (news != 2 || destroys != 2) return "kinds differ";
  return "";
}

TEST(ConntrackEventsLiveTest, ReceivesNewAndDestroyInPrivateNamespace) {
  if (!HasNetAdmin()) GTEST_SKIP() << "needs CAP_NET_ADMIN";
  test::ExpectScenarioPasses(EventScenario);
}

}  // namespace
}  // namespace ftpalg::kernel
