// The shared netlink pieces: the bounds-checked builder, the attribute table parser, conntrack
// tuples, acknowledgements and reply scanning, and the small helpers of kernel_status.h.
//
// Byte layouts (netlink(7), include/uapi/linux/netlink.h): nlmsghdr is {u32 len, u16 type,
// u16 flags, u32 seq, u32 pid} in host byte order (these tests run on little-endian machines);
// nfgenmsg is {u8 family, u8 version, be16 res_id}; an attribute is {u16 len, u16 type} + payload,
// padded to 4 bytes, len counting header and payload but not padding; a nest sets NLA_F_NESTED
// (0x8000) in its type. Values inside netfilter attributes are big-endian.
#include "kernel/netlink_codec.h"

#include <gtest/gtest.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "kernel/kernel_status.h"
#include "kernel/netlink_ack.h"
#include "netlink_test_util.h"

namespace ftpalg::kernel {
namespace {

using test::Bytes;
using test::Concat;
using test::Hex;
using test::kSeq;

void ExpectBytes(std::span<const uint8_t> actual, const Bytes& expected) {
  EXPECT_EQ(Hex(actual), Hex(expected));
}

// Netlink data must start 4-byte aligned; std::vector's storage (operator new) is.
struct Aligned {
  explicit Aligned(const Bytes& bytes) : storage(bytes) {}
  std::span<const uint8_t> span() const { return storage; }
  Bytes storage;
};

Tuple V4Tuple(uint8_t a, uint16_t sport, uint8_t b, uint16_t dport) {
  return Tuple{Endpoint{IpAddress::V4(192, 0, 2, a), sport},
               Endpoint{IpAddress::V4(198, 51, 100, b), dport}};
}

TEST(NetlinkBuilderTest, HeaderOnlyMessage) {
  alignas(8) std::array<uint8_t, 64> buffer;
  buffer.fill(0xaa);  // stale bytes must not leak into the message
  MessageBuilder b(buffer, NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_GET, NLM_F_ACK, 0x01020304,
                   AF_INET6, 0x0a0b);
  BuildResult r = b.Finish();
  ASSERT_TRUE(r.ok());
  ExpectBytes(r.message, {
                             0x14, 0x00, 0x00, 0x00,  // nlmsg_len 20
                             0x01, 0x02,              // type 2 << 8 | 1 (EXP_GET)
                             0x05, 0x00,              // NLM_F_REQUEST | NLM_F_ACK
                             0x04, 0x03, 0x02, 0x01,  // seq
                             0x00, 0x00, 0x00, 0x00,  // pid 0: the kernel fills it in
                             0x0a, 0x00,              // AF_INET6, NFNETLINK_V0
                             0x0a, 0x0b,              // res_id, big-endian
                         });
}

TEST(NetlinkBuilderTest, PaddingIsZeroedEvenOverStaleBytes) {
  alignas(8) std::array<uint8_t, 64> buffer;
  buffer.fill(0xaa);
  MessageBuilder b(buffer, 1, 0, 0, 0, 0, 0);
  b.PutU8(7, 0x42);
  BuildResult r = b.Finish();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.message.size(), 28u);
  ExpectBytes(r.message.subspan(20), {0x05, 0x00, 0x07, 0x00, 0x42, 0x00, 0x00, 0x00});
}

TEST(NetlinkBuilderTest, ReportsNoRoomAtEveryBufferSize) {
  // A message of 20 + 8 + 12 + 4 + 8 = 52 bytes; every smaller buffer must fail cleanly.
  for (size_t size = 0; size < 52; ++size) {
    alignas(8) std::array<uint8_t, 64> buffer{};
    MessageBuilder b(std::span<uint8_t>(buffer.data(), size), 1, 0, 0, 0, 0, 0);
    b.PutBe32(1, 7);
    b.PutStrz(2, "abcdefg");
    nlattr* nest = b.BeginNest(3);
    b.PutBe16(1, 9);
    b.EndNest(nest);
    BuildResult r = b.Finish();
    EXPECT_EQ(r.error, BuildError::kNoRoom) << size;
    EXPECT_TRUE(r.message.empty());
    // Nothing past the buffer was touched.
    for (size_t i = size; i < buffer.size(); ++i) ASSERT_EQ(buffer[i], 0) << size << " " << i;
  }
  alignas(8) std::array<uint8_t, 52> exact{};
  MessageBuilder b(exact, 1, 0, 0, 0, 0, 0);
  b.PutBe32(1, 7);
  b.PutStrz(2, "abcdefg");
  nlattr* nest = b.BeginNest(3);
  b.PutBe16(1, 9);
  b.EndNest(nest);
  EXPECT_TRUE(b.Finish().ok());
}

TEST(NetlinkBuilderTest, RefusesMisalignedBuffer) {
  alignas(8) std::array<uint8_t, 65> buffer{};
  MessageBuilder b(std::span<uint8_t>(buffer.data() + 1, 64), 1, 0, 0, 0, 0, 0);
  EXPECT_EQ(b.Finish().error, BuildError::kMisaligned);
}

TEST(NetlinkBuilderTest, RefusesOversizedAttribute) {
  std::vector<uint8_t> buffer(70000);
  std::vector<uint8_t> payload(65532);  // 65532 + 4 > 65535: nla_len cannot say it
  MessageBuilder b(buffer, 1, 0, 0, 0, 0, 0);
  b.PutBytes(1, payload);
  EXPECT_EQ(b.Finish().error, BuildError::kBadInput);
}

// --- Attribute tables ---

TEST(NetlinkAttributeTest, ParsesAndMasksNestedFlag) {
  Aligned bytes({
      0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2a,  // type 1, be32 42
      0x04, 0x00, 0x02, 0x80,                          // type 2 | NLA_F_NESTED, empty
      0x05, 0x00, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00,  // type 9: beyond the table, skipped
  });
  std::array<const nlattr*, 4> tb{};
  ASSERT_EQ(ParseAttributes(bytes.span().data(), bytes.span().size(), tb), DecodeError::kNone);
  ASSERT_NE(tb[1], nullptr);
  EXPECT_TRUE(IsU32(tb[1]));
  EXPECT_EQ(GetBe32(tb[1]), 42u);
  ASSERT_NE(tb[2], nullptr);
  EXPECT_TRUE(IsNested(tb[2]));
  EXPECT_EQ(tb[3], nullptr);
}

TEST(NetlinkAttributeTest, AcceptsMissingPaddingOfLastAttribute) {
  Aligned bytes({0x05, 0x00, 0x01, 0x00, 0x07});
  std::array<const nlattr*, 2> tb{};
  ASSERT_EQ(ParseAttributes(bytes.span().data(), 5, tb), DecodeError::kNone);
  EXPECT_TRUE(IsU8(tb[1]));
}

TEST(NetlinkAttributeTest, RejectsTruncatedAndMalformedRegions) {
  std::array<const nlattr*, 4> tb{};
  // Length past the end.
  Aligned past({0x0c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00});
  EXPECT_EQ(ParseAttributes(past.span().data(), 8, tb), DecodeError::kTruncated);
  // Length below the header size (would loop forever if taken at face value).
  Aligned tiny({0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00});
  EXPECT_EQ(ParseAttributes(tiny.span().data(), 8, tb), DecodeError::kTruncated);
  // Zero length.
  Aligned zero({0x00, 0x00, 0x01, 0x00});
  EXPECT_EQ(ParseAttributes(zero.span().data(), 4, tb), DecodeError::kTruncated);
  // Stray bytes after the last attribute.
  Aligned stray({0x04, 0x00, 0x01, 0x00, 0x01, 0x02});
  EXPECT_EQ(ParseAttributes(stray.span().data(), 6, tb), DecodeError::kTruncated);
  // Misaligned start.
  Aligned shifted({0x00, 0x04, 0x00, 0x01, 0x00});
  EXPECT_EQ(ParseAttributes(shifted.span().data() + 1, 4, tb), DecodeError::kMisaligned);
  // An empty region is fine.
  EXPECT_EQ(ParseAttributes(past.span().data(), 0, tb), DecodeError::kNone);
}

TEST(NetlinkAttributeTest, TypeChecksUseExactSizes) {
  Aligned bytes({
      0x05, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00,  // 1: one byte
      0x06, 0x00, 0x02, 0x00, 0x01, 0x02, 0x00, 0x00,  // 2: two bytes
      0x08, 0x00, 0x03, 0x00, 'a',  'b',  'c',  0x00,  // 3: "abc\0"
      0x07, 0x00, 0x04, 0x00, 'a',  'b',  'c',  0x00,  // 4: "abc" without NUL
  });
  std::array<const nlattr*, 5> tb{};
  ASSERT_EQ(ParseAttributes(bytes.span().data(), bytes.span().size(), tb), DecodeError::kNone);
  EXPECT_TRUE(IsU8(tb[1]));
  EXPECT_FALSE(IsU16(tb[1]));
  EXPECT_FALSE(IsU32(tb[1]));
  EXPECT_TRUE(IsU16(tb[2]));
  EXPECT_FALSE(IsU8(tb[2]));
  EXPECT_FALSE(IsU32(tb[2]));
  EXPECT_TRUE(IsNulString(tb[3], 3));
  EXPECT_FALSE(IsNulString(tb[3], 2));
  EXPECT_EQ(GetString(tb[3]), "abc");
  EXPECT_FALSE(IsNulString(tb[4], 15));
  EXPECT_FALSE(IsU8(nullptr));
  EXPECT_FALSE(IsNested(tb[1]));
}

TEST(NetlinkMessageTest, NfnlMessageChecks) {
  Aligned message({
      0x18, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,  // type 0x0200
      0x02, 0x00, 0x00, 0x05,                                                  // AF_INET, res_id 5
      0x04, 0x00, 0x01, 0x80,                                                  // empty nest 1
  });
  std::array<const nlattr*, 3> tb{};
  NfGenHeader nfg;
  ASSERT_EQ(ParseNfnlMessage(message.span(), 0x0200, tb, &nfg), DecodeError::kNone);
  EXPECT_EQ(nfg.family, AF_INET);
  EXPECT_EQ(nfg.res_id, 5);
  EXPECT_NE(tb[1], nullptr);
  EXPECT_EQ(ParseNfnlMessage(message.span(), 0x0201, tb), DecodeError::kWrongMessage);
  // Every prefix is refused: the header's length says more.
  for (size_t n = 0; n < message.span().size(); ++n) {
    EXPECT_EQ(ParseNfnlMessage(message.span().first(n), 0x0200, tb), DecodeError::kTruncated) << n;
  }
  // A header that claims less than the nfgenmsg.
  Bytes short_len = message.storage;
  short_len[0] = 18;
  EXPECT_EQ(ParseNfnlMessage(Aligned(short_len).span(), 0x0200, tb), DecodeError::kTruncated);
}

// --- Tuples ---

TEST(CtTupleTest, GoldenIpv4) {
  alignas(8) std::array<uint8_t, 128> buffer;
  MessageBuilder b(buffer, 1, 0, 0, 0, 0, 0);
  PutCtTuple(b, CTA_TUPLE_ORIG, V4Tuple(2, 40000, 2, 21), 6);
  BuildResult r = b.Finish();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.message.size(), 20u + 52u);
  ExpectBytes(r.message.subspan(20),
              {
                  0x34, 0x00, 0x01, 0x80,                          // CTA_TUPLE_ORIG, 52 bytes
                  0x14, 0x00, 0x01, 0x80,                          //   CTA_TUPLE_IP, 20
                  0x08, 0x00, 0x01, 0x00, 0xc0, 0x00, 0x02, 0x02,  //     V4_SRC 192.0.2.2
                  0x08, 0x00, 0x02, 0x00, 0xc6, 0x33, 0x64, 0x02,  //     V4_DST 198.51.100.2
                  0x1c, 0x00, 0x02, 0x80,                          //   CTA_TUPLE_PROTO, 28
                  0x05, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00,  //     PROTO_NUM 6
                  0x06, 0x00, 0x02, 0x00, 0x9c, 0x40, 0x00, 0x00,  //     SRC_PORT 40000
                  0x06, 0x00, 0x03, 0x00, 0x00, 0x15, 0x00, 0x00,  //     DST_PORT 21
              });
}

TEST(CtTupleTest, RoundTripIpv4AndIpv6) {
  Tuple v6{Endpoint{*IpAddress::Parse("2001:db8::2"), 1234},
           Endpoint{*IpAddress::Parse("2001:db8:1::1"), 21}};
  for (const Tuple& tuple : {V4Tuple(9, 1, 8, 65535), v6}) {
    alignas(8) std::array<uint8_t, 256> buffer;
    MessageBuilder b(buffer, 1, 0, 0, 0, 0, 0);
    PutCtTuple(b, CTA_TUPLE_REPLY, tuple, 6);
    BuildResult r = b.Finish();
    ASSERT_TRUE(r.ok());
    std::array<const nlattr*, CTA_MAX + 1> tb{};
    ASSERT_EQ(ParseAttributes(r.message.data() + 20, r.message.size() - 20, tb),
              DecodeError::kNone);
    CtTuple parsed;
    ASSERT_EQ(ParseCtTuple(tb[CTA_TUPLE_REPLY], &parsed), DecodeError::kNone);
    EXPECT_EQ(parsed.tuple, tuple);
    EXPECT_EQ(parsed.protonum, 6);
    EXPECT_FALSE(parsed.zone.has_value());
  }
}

TEST(CtTupleTest, RefusesMixedFamilies) {
  alignas(8) std::array<uint8_t, 256> buffer;
  MessageBuilder b(buffer, 1, 0, 0, 0, 0, 0);
  Tuple mixed{Endpoint{IpAddress::V4(1, 2, 3, 4), 1}, Endpoint{*IpAddress::Parse("::1"), 2}};
  PutCtTuple(b, 1, mixed, 6);
  EXPECT_EQ(b.Finish().error, BuildError::kBadInput);
}

// A tuple nest with one part broken at a time.
DecodeError ParseTupleBytes(const Bytes& nest) {
  Aligned bytes(nest);
  std::array<const nlattr*, 2> tb{};
  if (DecodeError e = ParseAttributes(bytes.span().data(), bytes.span().size(), tb);
      e != DecodeError::kNone) {
    return e;
  }
  CtTuple parsed;
  return ParseCtTuple(tb[1], &parsed);
}

TEST(CtTupleTest, MalformedTuples) {
  const Bytes good = {
      0x34, 0x00, 0x01, 0x80, 0x14, 0x00, 0x01, 0x80, 0x08, 0x00, 0x01, 0x00, 0xc0,
      0x00, 0x02, 0x02, 0x08, 0x00, 0x02, 0x00, 0xc6, 0x33, 0x64, 0x02, 0x1c, 0x00,
      0x02, 0x80, 0x05, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00, 0x06, 0x00, 0x02,
      0x00, 0x9c, 0x40, 0x00, 0x00, 0x06, 0x00, 0x03, 0x00, 0x00, 0x15, 0x00, 0x00,
  };
  EXPECT_EQ(ParseTupleBytes(good), DecodeError::kNone);

  Bytes v6_src_in_v4 = good;  // V4_SRC relabelled V6_SRC: mixed families
  v6_src_in_v4[10] = CTA_IP_V6_SRC;
  EXPECT_EQ(ParseTupleBytes(v6_src_in_v4), DecodeError::kBadValue);

  Bytes short_addr = good;  // V4_SRC with 3 bytes
  short_addr[8] = 7;
  EXPECT_EQ(ParseTupleBytes(short_addr), DecodeError::kBadAttribute);

  Bytes no_dst = good;  // V4_DST renamed to an unknown type
  no_dst[18] = 9;
  EXPECT_EQ(ParseTupleBytes(no_dst), DecodeError::kMissingAttribute);

  Bytes port_as_u32 = good;  // SRC_PORT claims 4 bytes (it has room for them in its padding)
  port_as_u32[36] = 8;
  EXPECT_EQ(ParseTupleBytes(port_as_u32), DecodeError::kBadAttribute);

  Bytes no_ports = good;  // both ports renamed: TCP needs them
  no_ports[38] = 9;
  no_ports[46] = 9;
  EXPECT_EQ(ParseTupleBytes(no_ports), DecodeError::kMissingAttribute);

  Bytes not_nested_ip = good;  // CTA_TUPLE_IP whose length cuts an inner attribute
  not_nested_ip[4] = 0x0a;
  EXPECT_EQ(ParseTupleBytes(not_nested_ip), DecodeError::kTruncated);

  Bytes proto_num_u16 = good;  // PROTO_NUM claims 2 bytes
  proto_num_u16[28] = 6;
  EXPECT_EQ(ParseTupleBytes(proto_num_u16), DecodeError::kBadAttribute);

  // Every truncation of the outer length fails cleanly.
  for (uint8_t len = 4; len < 0x34; ++len) {
    Bytes cut(good.begin(), good.begin() + len);
    cut[0] = len;
    EXPECT_NE(ParseTupleBytes(cut), DecodeError::kNone) << int{len};
  }
}

// --- Acknowledgements ---

TEST(NetlinkAckTest, PlainAck) {
  Aligned ack({
      0x24, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01,  // len 36, NLMSG_ERROR, NLM_F_CAPPED
      0x44, 0x33, 0x22, 0x11, 0x00, 0x00, 0x00, 0x00,  // seq, pid
      0x00, 0x00, 0x00, 0x00,                          // error 0: acknowledged
      0x1c, 0x00, 0x00, 0x00, 0x02, 0x03, 0x05, 0x00,  // the request's header, echoed
      0x44, 0x33, 0x22, 0x11, 0x00, 0x00, 0x00, 0x00,
  });
  NetlinkAck parsed;
  ASSERT_EQ(ParseAck(ack.span(), &parsed), DecodeError::kNone);
  EXPECT_EQ(parsed.error, 0);
  EXPECT_EQ(parsed.seq, 0x11223344u);
  EXPECT_TRUE(parsed.message.empty());
}

// Byte layouts below stay one field group per row.
// clang-format off
TEST(NetlinkAckTest, ErrorWithExtendedAckCapped) {
  Aligned ack({
      0x34, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x03,  // len 52, CAPPED | ACK_TLVS
      0x44, 0x33, 0x22, 0x11, 0x00, 0x00, 0x00, 0x00,
      0xea, 0xff, 0xff, 0xff,                          // -22: EINVAL
      0x1c, 0x00, 0x00, 0x00, 0x02, 0x03, 0x05, 0x00,  // echoed header only
      0x44, 0x33, 0x22, 0x11, 0x00, 0x00, 0x00, 0x00,
      0x0d, 0x00, 0x01, 0x00, 'b', 'a', 'd', ' ',      // NLMSGERR_ATTR_MSG "bad attr"
      'a', 't', 't', 'r', 0x00, 0x00, 0x00, 0x00,
  });
  NetlinkAck parsed;
  ASSERT_EQ(ParseAck(ack.span(), &parsed), DecodeError::kNone);
  EXPECT_EQ(parsed.error, EINVAL);
  EXPECT_EQ(parsed.message, "bad attr");
}

TEST(NetlinkAckTest, ErrorWithWholeRequestEchoed) {
  Aligned ack({
      0x38, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x02,  // len 56, ACK_TLVS, not capped
      0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0xff, 0xff, 0xff, 0xff,                          // -1: EPERM
      0x1c, 0x00, 0x00, 0x00, 0x02, 0x03, 0x05, 0x00,  // the whole 28-byte request
      0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x07, 0x08, 0x00, 0x01, 0x00,
      0x01, 0x00, 0x00, 0x00,
      0x08, 0x00, 0x01, 0x00, 'n', 'o', '!', 0x00,     // NLMSGERR_ATTR_MSG "no!"
  });
  NetlinkAck parsed;
  ASSERT_EQ(ParseAck(ack.span(), &parsed), DecodeError::kNone);
  EXPECT_EQ(parsed.error, EPERM);
  EXPECT_EQ(parsed.message, "no!");
}

TEST(NetlinkAckTest, MalformedAcks) {
  NetlinkAck parsed;
  // Too short for nlmsgerr.
  Aligned shorter({0x14, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
                   0, 0, 0, 0});
  EXPECT_EQ(ParseAck(shorter.span(), &parsed), DecodeError::kTruncated);
  // Not an error message.
  Aligned done({0x14, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0});
  EXPECT_EQ(ParseAck(done.span(), &parsed), DecodeError::kWrongMessage);
  // A positive error is not something the kernel sends.
  Aligned positive({0x24, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0,
                    0x05, 0x00, 0x00, 0x00,
                    0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(ParseAck(positive.span(), &parsed), DecodeError::kBadValue);
  // TLVs announced, but the echoed request claims more than the message holds.
  Aligned overlong({0x24, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0,
                    0xff, 0xff, 0xff, 0xff,
                    0xff, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(ParseAck(overlong.span(), &parsed), DecodeError::kTruncated);
  // The message text without its NUL.
  Aligned no_nul({0x2c, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 0,
                  0xff, 0xff, 0xff, 0xff,
                  0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                  0x07, 0x00, 0x01, 0x00, 'a', 'b', 'c', 0x00});
  EXPECT_EQ(ParseAck(no_nul.span(), &parsed), DecodeError::kBadAttribute);
}
// clang-format on

Bytes Message(uint16_t type, uint32_t seq, const Bytes& payload) {
  Bytes m(16, 0);
  uint32_t len = static_cast<uint32_t>(16 + payload.size());
  std::memcpy(m.data(), &len, 4);
  std::memcpy(m.data() + 4, &type, 2);
  std::memcpy(m.data() + 8, &seq, 4);
  m.insert(m.end(), payload.begin(), payload.end());
  while (m.size() % 4 != 0) m.push_back(0);
  return m;
}

TEST(ScanReplyTest, DataThenAck) {
  Bytes ack_payload(20, 0);  // error 0 + echoed header
  Aligned datagram(Concat({
      Message(0x0900, 6, {1, 2, 3, 4}),  // an old request's answer: skipped
      Message(0x0900, 7, {5, 6, 7, 8}),  // ours
      Message(NLMSG_NOOP, 7, {}),
      Message(NLMSG_ERROR, 7, ack_payload),
  }));
  int data = 0;
  ReplyProgress p = ScanReply(datagram.span(), 7, [&](std::span<const uint8_t> m) {
    ++data;
    EXPECT_EQ(m.size(), 20u);
    EXPECT_EQ(m[16], 5);
  });
  EXPECT_EQ(data, 1);
  EXPECT_TRUE(p.finished);
  EXPECT_EQ(p.error, 0);
  EXPECT_EQ(p.malformed, DecodeError::kNone);
}

TEST(ScanReplyTest, DumpDoneAndDumpError) {
  Aligned done(Message(NLMSG_DONE, 3, {0, 0, 0, 0}));
  ReplyProgress p = ScanReply(done.span(), 3, [](std::span<const uint8_t>) {});
  EXPECT_TRUE(p.finished);
  EXPECT_EQ(p.error, 0);
  int32_t enobufs = -ENOBUFS;
  Bytes status(4);
  std::memcpy(status.data(), &enobufs, 4);
  Aligned failed(Message(NLMSG_DONE, 3, status));
  p = ScanReply(failed.span(), 3, [](std::span<const uint8_t>) {});
  EXPECT_TRUE(p.finished);
  EXPECT_EQ(p.error, ENOBUFS);
}

TEST(ScanReplyTest, ErrorAndUnfinished) {
  int32_t eperm = -EPERM;
  Bytes payload(20, 0);
  std::memcpy(payload.data(), &eperm, 4);
  Aligned error(Message(NLMSG_ERROR, 9, payload));
  ReplyProgress p = ScanReply(error.span(), 9, [](std::span<const uint8_t>) {});
  EXPECT_TRUE(p.finished);
  EXPECT_EQ(p.error, EPERM);
  // The same error for another request does not finish ours.
  p = ScanReply(error.span(), 10, [](std::span<const uint8_t>) {});
  EXPECT_FALSE(p.finished);
}

TEST(ScanReplyTest, MalformedDatagrams) {
  Bytes good = Message(0x0900, 1, {1, 2, 3, 4});
  for (size_t n = 1; n < good.size(); ++n) {
    Aligned cut(Bytes(good.begin(), good.begin() + n));
    ReplyProgress p = ScanReply(cut.span(), 1, [](std::span<const uint8_t>) {
      ADD_FAILURE() << "a cut message reached the handler";
    });
    EXPECT_EQ(p.malformed, DecodeError::kTruncated) << n;
    EXPECT_FALSE(p.finished);
  }
  // An error message too short for nlmsgerr.
  Aligned short_error(Message(NLMSG_ERROR, 1, {0, 0}));
  EXPECT_EQ(ScanReply(short_error.span(), 1, [](std::span<const uint8_t>) {}).malformed,
            DecodeError::kTruncated);
}

TEST(ForEachMessageTest, WalksAllAndStopsAtGarbage) {
  Aligned two(Concat({Message(0x0100, 1, {}), Message(0x0101, 2, {9})}));
  std::vector<uint16_t> types;
  EXPECT_EQ(
      ForEachMessage(two.span(),
                     [&](std::span<const uint8_t> m) {
                       types.push_back(reinterpret_cast<const nlmsghdr*>(m.data())->nlmsg_type);
                     }),
      DecodeError::kNone);
  EXPECT_EQ(types, (std::vector<uint16_t>{0x0100, 0x0101}));
  Bytes garbage = two.storage;
  garbage.push_back(1);
  garbage.push_back(2);
  types.clear();
  EXPECT_EQ(ForEachMessage(Aligned(garbage).span(),
                           [&](std::span<const uint8_t>) { types.push_back(0); }),
            DecodeError::kTruncated);
  EXPECT_EQ(types.size(), 2u);
}

// --- kernel_status.h helpers ---

TEST(KernelStatusTest, ErrnoText) {
  EXPECT_EQ(ErrnoText(EPERM), "EPERM (Operation not permitted)");
  EXPECT_EQ(ErrnoText(EOPNOTSUPP).substr(0, 10), "EOPNOTSUPP");
}

TEST(KernelStatusTest, QueueOwnerFromProcText) {
  // Format of /proc/net/netfilter/nfnetlink_queue (nfnetlink_queue.c seq_show):
  // queue portid waiting copy_mode copy_range dropped user_dropped id_sequence 1
  std::string text =
      "    0  12345     0 2 65535     0     0        7  1\n"
      "65001 4294967295     3 2 65535     0     0       42  1\n";
  EXPECT_EQ(QueueOwnerPortidFromText(text, 0), 12345u);
  EXPECT_EQ(QueueOwnerPortidFromText(text, 65001), 4294967295u);
  EXPECT_FALSE(QueueOwnerPortidFromText(text, 1).has_value());
  EXPECT_FALSE(QueueOwnerPortidFromText("garbage\n\n 7", 7).has_value());
}

TEST(KernelStatusTest, MessagesNameTheConfigOptions) {
  EXPECT_NE(kLacksCthelper.find("CONFIG_NF_CT_NETLINK_HELPER"), std::string_view::npos);
  EXPECT_NE(kLacksCthelper.find("nfnetlink_cthelper"), std::string_view::npos);
  EXPECT_NE(kLacksQueueConntrack.find("CONFIG_NETFILTER_NETLINK_GLUE_CT"), std::string_view::npos);
  EXPECT_NE(kNeedsNetAdmin.find("CAP_NET_ADMIN"), std::string_view::npos);
}

}  // namespace
}  // namespace ftpalg::kernel
