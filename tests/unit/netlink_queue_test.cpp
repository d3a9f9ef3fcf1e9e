// nfnetlink_queue messages, byte for byte; the parser for queued packets with their conntrack; and
// the queue client against the running kernel (in a private network namespace).
//
// Layouts (include/uapi/linux/netfilter/nfnetlink_queue.h): message type NFNL_SUBSYS_QUEUE (3) << 8
// | NFQNL_MSG_{PACKET 0, VERDICT 1, CONFIG 2}; nfgenmsg.res_id = queue number (big-endian).
// Config attributes: NFQA_CFG_CMD 1 {u8 command, u8 pad, be16 pf}, NFQA_CFG_PARAMS 2 {be32 range,
// u8 mode} (5 bytes, packed), NFQA_CFG_QUEUE_MAXLEN 3, NFQA_CFG_MASK 4, NFQA_CFG_FLAGS 5 (be32).
// Packet/verdict attributes: NFQA_PACKET_HDR 1 {be32 id, be16 hw_protocol, u8 hook} (7 bytes,
// packed), NFQA_VERDICT_HDR 2 {be32 verdict, be32 id}, NFQA_PAYLOAD 10, NFQA_CT 11 (nested CTA_*),
// NFQA_CT_INFO 12 (be32). nlmsghdr fields are host order (little-endian here).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernel/kernel_probe.h"
#include "kernel/kernel_status.h"
#include "kernel/netlink_ack.h"
#include "kernel/queue_client.h"
#include "kernel/queue_messages.h"
#include "netlink_live_util.h"
#include "netlink_test_util.h"

namespace ftpalg::kernel {
namespace {

using test::Bytes;
using test::Concat;
using test::ExpectScenarioPasses;
using test::Hex;
using test::kSeq;
std::span<uint8_t> Buffer() { return test::Buffer<512>(); }

// Byte layouts below stay one field group per row.
// clang-format off
// nlmsghdr + nfgenmsg(AF_UNSPEC, v0, res_id = queue): what nfq_nlmsg_put writes, plus our flags
// and sequence number.
Bytes Header(uint32_t len, uint8_t message, uint16_t flags, uint16_t queue) {
  return {static_cast<uint8_t>(len), static_cast<uint8_t>(len >> 8), 0x00, 0x00,
          message, 0x03,  // type: 3 << 8 | message
          static_cast<uint8_t>(flags), static_cast<uint8_t>(flags >> 8),
          0x04, 0x03, 0x02, 0x01,  // seq 0x01020304
          0x00, 0x00, 0x00, 0x00,  // pid
          0x00, 0x00, static_cast<uint8_t>(queue >> 8), static_cast<uint8_t>(queue)};
}
// clang-format on

TEST(QueueMessagesTest, BindAndUnbindGolden) {
  BuildResult bind = BuildQueueBind(Buffer(), kSeq, 0x0102);
  ASSERT_TRUE(bind.ok());
  EXPECT_EQ(Hex(bind.message),
            Hex(Concat({Header(28, 2, 0x0005, 0x0102),
                        // NFQA_CFG_CMD {BIND 1, pad, pf 0 (ignored since Linux 3.8)}
                        {0x08, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00}})));
  BuildResult unbind = BuildQueueUnbind(Buffer(), kSeq, 0x0102);
  ASSERT_TRUE(unbind.ok());
  EXPECT_EQ(Hex(unbind.message), Hex(Concat({Header(28, 2, 0x0005, 0x0102),
                                             {0x08, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00}})));
}

TEST(QueueMessagesTest, ParamsGolden) {
  BuildResult r = BuildQueueParams(Buffer(), kSeq, 7, 0xffff, 1024);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Hex(r.message),
            Hex(Concat({Header(40, 2, 0x0005, 7),
                        // NFQA_CFG_PARAMS {range 0xffff, NFQNL_COPY_PACKET 2}, 9 bytes + 3 pad
                        {0x09, 0x00, 0x02, 0x00, 0x00, 0x00, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00},
                        // NFQA_CFG_QUEUE_MAXLEN 1024
                        {0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00}})));
  // Ranges above what the kernel copies are clamped to 0xffff.
  BuildResult big = BuildQueueParams(Buffer(), kSeq, 7, 0x7fffffff, 1);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big.message[26], 0xff);
  EXPECT_EQ(big.message[27], 0xff);
  EXPECT_EQ(big.message[25], 0x00);
}

TEST(QueueMessagesTest, FlagsGolden) {
  BuildResult r = BuildQueueFlags(Buffer(), kSeq, 7, NFQA_CFG_F_CONNTRACK | NFQA_CFG_F_FAIL_OPEN,
                                  NFQA_CFG_F_CONNTRACK | NFQA_CFG_F_FAIL_OPEN);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Hex(r.message), Hex(Concat({Header(36, 2, 0x0005, 7),
                                        {0x08, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x03},  // FLAGS
                                        {0x08, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x03}})));
}

TEST(QueueMessagesTest, OpenGolden) {
  BuildResult r = BuildQueueOpen(Buffer(), kSeq, 7, 0xffff, 1024, NFQA_CFG_F_FAIL_OPEN,
                                 NFQA_CFG_F_CONNTRACK | NFQA_CFG_F_FAIL_OPEN);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Hex(r.message),
            Hex(Concat({Header(64, 2, 0x0005, 7),
                        {0x08, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00},  // CMD BIND
                        {0x09, 0x00, 0x02, 0x00, 0x00, 0x00, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00},
                        {0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00},      // MAXLEN 1024
                        {0x08, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x01},      // FLAGS fail-open
                        {0x08, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x03}})));  // MASK
}

TEST(QueueMessagesTest, VerdictGolden) {
  const Bytes packet = {'a', 'b', 'c', 'd', 'e'};
  BuildResult r = BuildVerdict(Buffer(), kSeq, 7, 0x01020304, QueueVerdict::kAccept, packet, true);
  ASSERT_TRUE(r.ok());
  // Not acknowledged: flags NLM_F_REQUEST only.
  EXPECT_EQ(Hex(r.message),
            Hex(Concat({Header(48, 1, 0x0001, 7),
                        // NFQA_VERDICT_HDR {NF_ACCEPT, id}
                        {0x0c, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04},
                        // NFQA_PAYLOAD, 5 bytes + 3 pad
                        {0x09, 0x00, 0x0a, 0x00, 'a', 'b', 'c', 'd', 'e', 0x00, 0x00, 0x00},
                        // NFQA_CT, empty nest: enough for sequence adjustment, changes nothing
                        {0x04, 0x00, 0x0b, 0x80}})));
  EXPECT_EQ(VerdictMessageSize(packet.size()), 48u);

  BuildResult drop = BuildVerdict(Buffer(), kSeq, 7, 0xfffffffe, QueueVerdict::kDrop, {}, false);
  ASSERT_TRUE(drop.ok());
  EXPECT_EQ(
      Hex(drop.message),
      Hex(Concat({Header(32, 1, 0x0001, 7),
                  {0x0c, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xfe}})));
}

TEST(QueueMessagesTest, VerdictBatchHoldsWholeMessagesInOrder) {
  // What one sendto carries for a receive batch: each verdict exactly as BuildVerdict makes it,
  // the next starting at the aligned end of the one before (netlink_rcv_skb walks them so).
  const Bytes rewritten = {'a', 'b', 'c', 'd', 'e'};
  VerdictBatch batch;
  EXPECT_TRUE(batch.empty());
  ASSERT_EQ(batch.Append(kSeq, 7, 1, QueueVerdict::kAccept, {}, false), BuildError::kNone);
  ASSERT_EQ(batch.Append(kSeq + 1, 7, 2, QueueVerdict::kAccept, rewritten, true),
            BuildError::kNone);
  ASSERT_EQ(batch.Append(kSeq + 2, 7, 3, QueueVerdict::kAccept, {}, false), BuildError::kNone);
  EXPECT_EQ(batch.count(), 3u);

  Bytes want;
  auto add = [&want](BuildResult r) {  // Buffer() is one static buffer: copy each out at once
    ASSERT_TRUE(r.ok());
    want.insert(want.end(), r.message.begin(), r.message.end());
  };
  add(BuildVerdict(Buffer(), kSeq, 7, 1, QueueVerdict::kAccept, {}, false));
  add(BuildVerdict(Buffer(), kSeq + 1, 7, 2, QueueVerdict::kAccept, rewritten, true));
  add(BuildVerdict(Buffer(), kSeq + 2, 7, 3, QueueVerdict::kAccept, {}, false));
  EXPECT_EQ(Hex(batch.bytes()), Hex(want));
  std::vector<uint32_t> ids;
  EXPECT_EQ(ForEachMessage(batch.bytes(),
                           [&](std::span<const uint8_t> message) {
                             nfqnl_msg_verdict_hdr hdr{};
                             std::memcpy(&hdr, message.data() + 16 + 4 + 4, sizeof hdr);
                             ids.push_back(ntohl(hdr.id));
                           }),
            DecodeError::kNone);
  EXPECT_EQ(ids, (std::vector<uint32_t>{1, 2, 3}));

  batch.Clear();
  EXPECT_TRUE(batch.empty());
  EXPECT_TRUE(batch.bytes().empty());
}

TEST(QueueMessagesTest, VerdictBatchSaysWhenItIsFullAndKeepsBadVerdictsOut) {
  VerdictBatch batch;
  const std::vector<uint8_t> packet(1500, 0x45);
  EXPECT_FALSE(batch.WouldOverflow(60000));  // an empty batch takes any single verdict
  size_t appended = 0;
  while (!batch.WouldOverflow(packet.size())) {
    ASSERT_EQ(
        batch.Append(kSeq, 0, static_cast<uint32_t>(appended), QueueVerdict::kAccept, packet, true),
        BuildError::kNone);
    ++appended;
  }
  EXPECT_EQ(appended, VerdictBatch::kMaxBytes / VerdictMessageSize(packet.size()));
  EXPECT_LE(batch.bytes().size(), VerdictBatch::kMaxBytes);
  const std::vector<uint8_t> jumbo(65532);  // cannot be encoded: nothing appended
  EXPECT_EQ(batch.Append(kSeq, 0, 99, QueueVerdict::kAccept, jumbo, false), BuildError::kBadInput);
  EXPECT_EQ(batch.count(), appended);
  EXPECT_EQ(batch.bytes().size(), appended * VerdictMessageSize(packet.size()));
}

TEST(QueueMessagesTest, VerdictSizesAndLimits) {
  std::vector<uint8_t> packet(1500, 0x45);
  std::vector<uint8_t> buffer(VerdictMessageSize(packet.size()));
  EXPECT_TRUE(BuildVerdict(buffer, 1, 0, 1, QueueVerdict::kAccept, packet, true).ok());
  std::vector<uint8_t> small(VerdictMessageSize(packet.size()) - 1);
  EXPECT_EQ(BuildVerdict(small, 1, 0, 1, QueueVerdict::kAccept, packet, true).error,
            BuildError::kNoRoom);
  std::vector<uint8_t> jumbo(65532);  // does not fit an attribute's 16-bit length
  std::vector<uint8_t> large(VerdictMessageSize(jumbo.size()));
  EXPECT_EQ(BuildVerdict(large, 1, 0, 1, QueueVerdict::kAccept, jumbo, false).error,
            BuildError::kBadInput);
}

// A queued packet as nfqnl_build_packet_message lays it out, with the conntrack as
// ctnetlink_glue_build does (nests carry NLA_F_NESTED). Offsets: PACKET_HDR 20, CT 32 (ORIG 36,
// REPLY 88, ID 140, STATUS 148, HELP 156 with its name at 160..171), CT_INFO 172, PAYLOAD 180.
// Byte layouts below stay one field group per row.
// clang-format off
Bytes KernelPacket() {
  return Concat({
      {0xc0, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00,  // len 192, NFQNL_MSG_PACKET
       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
       0x02, 0x00, 0x00, 0x07},                         // NFPROTO_IPV4, queue 7
      {0x0b, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2a,  // PACKET_HDR: id 42,
       0x08, 0x00, 0x04, 0x00},                         //   ETH_P_IP, NF_INET_POST_ROUTING
      {0x8c, 0x00, 0x0b, 0x80},                         // NFQA_CT, 140 bytes
      {0x34, 0x00, 0x01, 0x80, 0x14, 0x00, 0x01, 0x80,  //   CTA_TUPLE_ORIG
       0x08, 0x00, 0x01, 0x00, 0xc0, 0x00, 0x02, 0x02,  //     192.0.2.2
       0x08, 0x00, 0x02, 0x00, 0xc6, 0x33, 0x64, 0x02,  //     198.51.100.2
       0x1c, 0x00, 0x02, 0x80,
       0x05, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00,  //     TCP
       0x06, 0x00, 0x02, 0x00, 0x9c, 0x40, 0x00, 0x00,  //     40000
       0x06, 0x00, 0x03, 0x00, 0x00, 0x15, 0x00, 0x00}, //     21
      {0x34, 0x00, 0x02, 0x80, 0x14, 0x00, 0x01, 0x80,  //   CTA_TUPLE_REPLY (masqueraded)
       0x08, 0x00, 0x01, 0x00, 0xc6, 0x33, 0x64, 0x02,  //     198.51.100.2
       0x08, 0x00, 0x02, 0x00, 0xc6, 0x33, 0x64, 0x01,  //     198.51.100.1
       0x1c, 0x00, 0x02, 0x80,
       0x05, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00,  //     TCP
       0x06, 0x00, 0x02, 0x00, 0x00, 0x15, 0x00, 0x00,  //     21
       0x06, 0x00, 0x03, 0x00, 0xee, 0x48, 0x00, 0x00}, //     61000
      {0x08, 0x00, 0x0c, 0x00, 0xde, 0xad, 0xbe, 0xef},  //   CTA_ID
      {0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x21, 0x9e},  //   CTA_STATUS
      {0x10, 0x00, 0x05, 0x80, 0x0c, 0x00, 0x01, 0x00,   //   CTA_HELP { CTA_HELP_NAME
       'f', 't', 'p', '-', 'a', 'l', 'g', 0x00},         //     "ftp-alg" }
      {0x08, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x04},  // NFQA_CT_INFO IP_CT_RELATED_REPLY
      {0x0c, 0x00, 0x0a, 0x00, 0x45, 0x00, 0x00, 0x08,   // NFQA_PAYLOAD, 8 bytes
       0xde, 0xad, 0xbe, 0xef},
  });
}
// clang-format on

QueuedPacket ParseBytes(const Bytes& bytes, DecodeError expected) {
  // The views in the result point into `storage`, which outlives the checks in each test.
  static std::vector<uint8_t> storage;
  storage = bytes;
  QueuedPacket packet;
  EXPECT_EQ(ParseQueuedPacket(storage, &packet), expected);
  return packet;
}

TEST(QueuedPacketTest, ParsesKernelLayout) {
  QueuedPacket p = ParseBytes(KernelPacket(), DecodeError::kNone);
  EXPECT_EQ(p.queue_num, 7);
  EXPECT_EQ(p.family, NFPROTO_IPV4);
  EXPECT_TRUE(p.has_id);
  EXPECT_EQ(p.packet_id, 42u);
  EXPECT_EQ(p.hw_protocol, 0x0800);
  EXPECT_EQ(p.hook, NF_INET_POST_ROUTING);
  EXPECT_EQ(Hex(p.payload), Hex(Bytes{0x45, 0x00, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef}));
  EXPECT_FALSE(p.Truncated());
  EXPECT_FALSE(p.ChecksumNotReady());
  ASSERT_TRUE(p.ctinfo.has_value());
  EXPECT_EQ(CtinfoDirection(*p.ctinfo), Direction::kReply);
  EXPECT_EQ(p.conntrack_error, DecodeError::kNone);
  ASSERT_TRUE(p.conntrack.has_value());
  const QueuedConntrack& ct = *p.conntrack;
  EXPECT_EQ(ct.connection.original.src.ToString(), "192.0.2.2:40000");
  EXPECT_EQ(ct.connection.original.dst.ToString(), "198.51.100.2:21");
  EXPECT_EQ(ct.connection.reply.src.ToString(), "198.51.100.2:21");
  EXPECT_EQ(ct.connection.reply.dst.ToString(), "198.51.100.1:61000");
  EXPECT_TRUE(ct.connection.Translated());
  EXPECT_EQ(ct.connection.conntrack_id, 0xdeadbeefu);
  EXPECT_EQ(ct.status, 0x219eu);
  EXPECT_EQ(ct.helper_name, "ftp-alg");
  EXPECT_EQ(ct.protonum, 6);
  EXPECT_EQ(ct.zone, 0);
}

TEST(QueuedPacketTest, PacketHeaderProblemsAreErrors) {
  Bytes short_hdr = KernelPacket();
  short_hdr[20] = 10;  // PACKET_HDR with 6 bytes
  QueuedPacket p = ParseBytes(short_hdr, DecodeError::kBadAttribute);
  EXPECT_FALSE(p.has_id);

  Bytes no_hdr = KernelPacket();
  no_hdr[22] = 0x30;  // renamed past NFQA_MAX
  EXPECT_FALSE(ParseBytes(no_hdr, DecodeError::kMissingAttribute).has_id);

  Bytes verdict_type = KernelPacket();
  verdict_type[4] = NFQNL_MSG_VERDICT;
  ParseBytes(verdict_type, DecodeError::kWrongMessage);

  Bytes overrun = KernelPacket();
  overrun[32] = 0x90;  // NFQA_CT 4 bytes longer: the next attribute starts in the middle of one
  ParseBytes(overrun, DecodeError::kTruncated);
}

TEST(QueuedPacketTest, ConntrackProblemsKeepThePacket) {
  Bytes bad_id = KernelPacket();
  bad_id[140] = 6;  // CTA_ID with 2 bytes
  QueuedPacket p = ParseBytes(bad_id, DecodeError::kNone);
  EXPECT_TRUE(p.has_id);
  EXPECT_EQ(p.packet_id, 42u);
  EXPECT_EQ(p.payload.size(), 8u);
  EXPECT_FALSE(p.conntrack.has_value());
  EXPECT_EQ(p.conntrack_error, DecodeError::kBadAttribute);

  Bytes no_reply = KernelPacket();
  no_reply[90] = 9;  // CTA_TUPLE_REPLY renamed
  p = ParseBytes(no_reply, DecodeError::kNone);
  EXPECT_EQ(p.conntrack_error, DecodeError::kMissingAttribute);

  Bytes helper_no_nul = KernelPacket();
  helper_no_nul[171] = 'x';
  EXPECT_EQ(ParseBytes(helper_no_nul, DecodeError::kNone).conntrack_error,
            DecodeError::kBadAttribute);

  Bytes untracked = KernelPacket();
  untracked[179] = 7;  // IP_CT_UNTRACKED never comes with a conntrack
  p = ParseBytes(untracked, DecodeError::kNone);
  EXPECT_FALSE(p.ctinfo.has_value());
  EXPECT_EQ(p.conntrack_error, DecodeError::kBadValue);
  EXPECT_TRUE(p.conntrack.has_value());

  Bytes ctinfo_u16 = KernelPacket();
  ctinfo_u16[172] = 6;
  EXPECT_EQ(ParseBytes(ctinfo_u16, DecodeError::kNone).conntrack_error, DecodeError::kBadAttribute);
}

TEST(QueuedPacketTest, EveryTruncationAndCorruptionIsSafe) {
  const Bytes good = KernelPacket();
  for (size_t n = 0; n < good.size(); ++n) {
    Bytes cut(good.begin(), good.begin() + n);
    // As received (the header claims more) ...
    QueuedPacket p;
    std::vector<uint8_t> storage = cut;
    EXPECT_NE(ParseQueuedPacket(storage, &p), DecodeError::kNone) << n;
    // ... and with a consistent header: must not crash; without a whole packet header, an error.
    if (n >= 4) {
      storage[0] = static_cast<uint8_t>(n);
      DecodeError e = ParseQueuedPacket(storage, &p);
      // (At 31 bytes the packet header is whole; only its padding is missing, which is fine.)
      if (n < 31) {
        EXPECT_NE(e, DecodeError::kNone) << n;
      }
      if (e == DecodeError::kNone) {
        EXPECT_LE(p.payload.size(), n);
      }
    }
  }
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t value : {uint8_t{0x00}, uint8_t{0xff}, static_cast<uint8_t>(good[i] ^ 0x04)}) {
      std::vector<uint8_t> bad = good;
      bad[i] = value;
      QueuedPacket p;
      if (ParseQueuedPacket(bad, &p) == DecodeError::kNone && !p.payload.empty()) {
        // Views stay inside the message.
        EXPECT_GE(p.payload.data(), bad.data());
        EXPECT_LE(p.payload.data() + p.payload.size(), bad.data() + bad.size());
      }
    }
  }
}

TEST(QueuedPacketTest, CtinfoDirections) {
  EXPECT_EQ(CtinfoDirection(0), Direction::kOriginal);  // IP_CT_ESTABLISHED
  EXPECT_EQ(CtinfoDirection(1), Direction::kOriginal);  // IP_CT_RELATED
  EXPECT_EQ(CtinfoDirection(2), Direction::kOriginal);  // IP_CT_NEW
  EXPECT_EQ(CtinfoDirection(3), Direction::kReply);     // IP_CT_ESTABLISHED_REPLY
  EXPECT_EQ(CtinfoDirection(4), Direction::kReply);     // IP_CT_RELATED_REPLY
  EXPECT_EQ(CtinfoDirection(5), std::nullopt);          // IP_CT_NUMBER: no NEW in reply
  EXPECT_EQ(CtinfoDirection(7), std::nullopt);          // IP_CT_UNTRACKED
  EXPECT_EQ(CtinfoDirection(0xffffffff), std::nullopt);
}

// --- The live kernel ---

TEST(QueueClientLiveTest, BindsOrExplainsAndRefusesASecondOwner) {
  if (!HasNetAdmin()) GTEST_SKIP() << "needs CAP_NET_ADMIN";
  constexpr uint16_t kQueue = 65001;
  KernelSupport support = ProbeKernel();
  ASSERT_TRUE(support.queue) << "kernel without nfnetlink_queue";
  QueueOptions options;
  options.queue_num = kQueue;
  QueueClient first;
  KernelStatus status = first.Open(options);
  if (!support.queue_conntrack) {
    EXPECT_EQ(status.error, EOPNOTSUPP);
    EXPECT_NE(status.message.find("CONFIG_NETFILTER_NETLINK_GLUE_CT"), std::string::npos)
        << status.message;
    EXPECT_FALSE(QueueOwnerPortid(kQueue).has_value()) << "a refused flag must not leave it bound";
    options.require_conntrack = false;
    status = first.Open(options);
  }
  ASSERT_TRUE(status.ok()) << status.message;
  EXPECT_EQ(first.conntrack_enabled(), support.queue_conntrack);
  EXPECT_TRUE(QueueOwnerPortid(kQueue).has_value());

  QueueClient second;
  KernelStatus busy = second.Open(options);
  EXPECT_EQ(busy.error, EPERM);
  EXPECT_NE(busy.message.find("another process"), std::string::npos) << busy.message;

  // A verdict for a packet the queue does not hold: the kernel reads the header and answers
  // ENOENT (find_dequeue_entry), which shows up in the stats.
  ASSERT_TRUE(first.SendVerdict(123456, QueueVerdict::kAccept).ok());
  int packets = 0;
  ASSERT_TRUE(first
                  .ReceiveBatch(
                      4, [&](const QueuedPacket&, DecodeError) { ++packets; }, false)
                  .ok());
  EXPECT_EQ(packets, 0);
  EXPECT_EQ(first.stats().verdict_errors, 1u);
  EXPECT_EQ(first.stats().last_verdict_error, ENOENT);

  first.Close();
  EXPECT_FALSE(QueueOwnerPortid(kQueue).has_value());
}

uint16_t Checksum(const uint8_t* data, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  if (len % 2 != 0) sum += static_cast<uint32_t>(data[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// In a private network namespace (call it in a forked child): UDP to 127.0.0.1:9 queued with
// iptables to `queue_num`, the queue open, a receiver bound there (socket type flags
// `receiver_flags`) and a sender. Returns what failed, empty when all is ready.
struct LoopbackQueue {
  QueueClient queue;
  int receiver = -1;
  int sender = -1;
  sockaddr_in addr{};
};
std::string OpenLoopbackQueue(uint16_t queue_num, int receiver_flags, LoopbackQueue* lo) {
  if (unshare(CLONE_NEWNET) != 0) return std::string("unshare: ") + std::strerror(errno);
  const std::string rule =
      "ip link set lo up && iptables -A OUTPUT -o lo -p udp --dport 9 "
      "-j NFQUEUE --queue-num " +
      std::to_string(queue_num) + " 2>&1";
  if (std::system(rule.c_str()) != 0) return "iptables failed";
  QueueOptions options;
  options.queue_num = queue_num;
  options.require_conntrack = false;
  KernelStatus status = lo->queue.Open(options);
  if (!status.ok()) return status.message;
  lo->receiver = socket(AF_INET, SOCK_DGRAM | receiver_flags, 0);
  lo->addr.sin_family = AF_INET;
  lo->addr.sin_port = htons(9);
  lo->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lo->receiver, reinterpret_cast<sockaddr*>(&lo->addr), sizeof(lo->addr)) != 0) {
    return "bind";
  }
  lo->sender = socket(AF_INET, SOCK_DGRAM, 0);
  return "";
}

// The live queue scenarios need CAP_NET_ADMIN, iptables and ip; each runs in a forked child that
// changes its network namespace (ExpectScenarioPasses).
class QueueNamespaceLiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HasNetAdmin()) GTEST_SKIP() << "needs CAP_NET_ADMIN";
    if (std::system("command -v iptables >/dev/null && command -v ip >/dev/null") != 0) {
      GTEST_SKIP() << "needs iptables and ip";
    }
  }
};

// Queue UDP to 127.0.0.1:9, send "hello", read the queued packet, and answer with a longer
// rewritten one. The receiver must get the rewrite.
std::string QueueRoundTrip() {
  LoopbackQueue lo;
  if (std::string error = OpenLoopbackQueue(65001, 0, &lo); !error.empty()) return error;
  QueueClient& queue = lo.queue;
  const int receiver = lo.receiver, sender = lo.sender;
  sockaddr_in addr = lo.addr;
  KernelStatus status;
  if (sendto(sender, "hello", 5, 0, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 5) {
    return "sendto";
  }

  pollfd pfd{queue.fd(), POLLIN, 0};
  if (poll(&pfd, 1, 2000) != 1) return "no packet queued";
  std::string problem;
  bool seen = false;
  status = queue.ReceiveBatch(8, [&](const QueuedPacket& p, DecodeError error) {
    if (error != DecodeError::kNone || !p.has_id) {
      problem = "undecodable packet";
      return;
    }
    seen = true;
    if (p.family != NFPROTO_IPV4 || p.hw_protocol != 0x0800 || p.hook != NF_INET_LOCAL_OUT ||
        p.queue_num != 65001) {
      problem = "header fields";
    }
    if (p.payload.size() != 20 + 8 + 5 || p.payload[0] != 0x45 || p.payload[9] != 17 ||
        std::memcmp(p.payload.data() + 28, "hello", 5) != 0) {
      problem = "payload";
    }
    if (p.conntrack.has_value() != queue.conntrack_enabled()) problem = "conntrack presence";
    // Rewrite: "hello" -> "hello, world" (+7 bytes), fixing IP length and checksum; UDP over
    // IPv4 may carry checksum 0.
    std::vector<uint8_t> rewritten(p.payload.begin(), p.payload.begin() + 28);
    const char text[] = "hello, world";
    rewritten.insert(rewritten.end(), text, text + 12);
    uint16_t total = static_cast<uint16_t>(rewritten.size());
    rewritten[2] = static_cast<uint8_t>(total >> 8);
    rewritten[3] = static_cast<uint8_t>(total);
    rewritten[10] = rewritten[11] = 0;
    uint16_t ip_sum = Checksum(rewritten.data(), 20);
    rewritten[10] = static_cast<uint8_t>(ip_sum >> 8);
    rewritten[11] = static_cast<uint8_t>(ip_sum);
    uint16_t udp_len = static_cast<uint16_t>(total - 20);
    rewritten[24] = static_cast<uint8_t>(udp_len >> 8);
    rewritten[25] = static_cast<uint8_t>(udp_len);
    rewritten[26] = rewritten[27] = 0;
    KernelStatus sent = queue.SendVerdict(p.packet_id, QueueVerdict::kAccept, rewritten);
    if (!sent.ok()) problem = sent.message;
  });
  if (!status.ok()) return status.message;
  if (!seen) return "no packet read";
  if (!problem.empty()) return problem;

  pollfd rfd{receiver, POLLIN, 0};
  if (poll(&rfd, 1, 2000) != 1) return "rewritten datagram not delivered";
  char got[64] = {};
  ssize_t n = recv(receiver, got, sizeof(got), 0);
  if (n != 12 || std::memcmp(got, "hello, world", 12) != 0) {
    return "received " + std::string(got, n > 0 ? static_cast<size_t>(n) : 0);
  }
  if (queue.stats().verdict_errors != 0) return "verdict refused";
  return "";
}

TEST_F(QueueNamespaceLiveTest, RealPacketRoundTripInPrivateNamespace) {
  ExpectScenarioPasses(QueueRoundTrip);
}

// A burst: 40 datagrams queued before the client reads; one ReceiveBatch must take every one of
// them whole (several per recvmmsg), and their verdicts in one datagram must let all through.
std::string QueueBurst() {
  LoopbackQueue lo;
  if (std::string error = OpenLoopbackQueue(65002, SOCK_NONBLOCK, &lo); !error.empty()) {
    return error;
  }
  QueueClient& queue = lo.queue;
  const int receiver = lo.receiver, sender = lo.sender;
  sockaddr_in addr = lo.addr;
  KernelStatus status;
  constexpr int kBurst = 40;
  for (int i = 0; i < kBurst; ++i) {
    const std::string text = "packet " + std::to_string(i);
    if (sendto(sender, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&addr),
               sizeof(addr)) != static_cast<ssize_t>(text.size())) {
      return "sendto";
    }
  }
  pollfd pfd{queue.fd(), POLLIN, 0};
  if (poll(&pfd, 1, 2000) != 1) return "no packet queued";
  int packets = 0;
  status = queue.ReceiveBatch(
      64,
      [&](const QueuedPacket& p, DecodeError error) {
        if (error != DecodeError::kNone || !p.has_id) return;
        ++packets;
        queue.DeferVerdict(p.packet_id, QueueVerdict::kAccept);
      },
      /*wait=*/false);
  if (!status.ok()) return status.message;
  if (KernelStatus sent = queue.FlushVerdicts(); !sent.ok()) return sent.message;
  if (packets != kBurst) {
    return "read " + std::to_string(packets) + " of the burst (" +
           std::to_string(queue.stats().undecodable) + " undecodable)";
  }
  if (queue.stats().undecodable != 0) {
    return std::to_string(queue.stats().undecodable) + " undecodable";
  }
  if (queue.stats().verdict_datagrams != 1) return "verdicts not in one datagram";
  int delivered = 0;
  pollfd rfd{receiver, POLLIN, 0};
  while (delivered < kBurst && poll(&rfd, 1, 2000) == 1) {
    char got[64];
    while (recv(receiver, got, sizeof(got), 0) > 0) ++delivered;
  }
  if (delivered != kBurst) return "delivered " + std::to_string(delivered);
  if (queue.stats().verdict_errors != 0) return "verdict refused";
  return "";
}

TEST_F(QueueNamespaceLiveTest, BurstIsReadWholeAndLetThroughInOrder) {
  ExpectScenarioPasses(QueueBurst);
}

}  // namespace
}  // namespace ftpalg::kernel
