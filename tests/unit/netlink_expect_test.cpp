// ctnetlink expectation messages, byte for byte; their parser (round trips and malformed input);
// and the expectation client against the running kernel, in a private network namespace with a
// conntrack that carries the kernel's own "ftp" helper.
//
// Layouts (include/uapi/linux/netfilter/nfnetlink_conntrack.h): message type
// NFNL_SUBSYS_CTNETLINK_EXP (2) << 8 | IPCTNL_MSG_EXP_{NEW 0, GET 1, DELETE 2}; nfgenmsg.family =
// AF_INET (2) / AF_INET6 (10). Attributes: CTA_EXPECT_MASTER 1, _TUPLE 2, _MASK 3 (tuples:
// CTA_TUPLE_IP 1 {CTA_IP_V4_SRC 1, _V4_DST 2, _V6_SRC 3, _V6_DST 4}, CTA_TUPLE_PROTO 2
// {CTA_PROTO_NUM 1 u8, _SRC_PORT 2 be16, _DST_PORT 3 be16}), CTA_EXPECT_HELP_NAME 6,
// CTA_EXPECT_ZONE 7 (be16), CTA_EXPECT_NAT 10 {CTA_EXPECT_NAT_DIR 1 be32, _TUPLE 2}, CTA_EXPECT_FN
// 11 (string). nlmsghdr fields are host order (little-endian here).
#include <gtest/gtest.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "kernel/expect_messages.h"
#include "kernel/expectation_client.h"
#include "kernel/kernel_status.h"
#include "kernel/netlink_socket.h"
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

// Active FTP through masquerade: the client 192.0.2.2 sends PORT for 40001 on its control
// connection 192.0.2.2:40000 -> 198.51.100.2:21; the gateway announces 198.51.100.1:50000
// instead, and expects the server's connection from 198.51.100.2 (any port) there, to be
// translated back to 192.0.2.2:40001 in the reply direction (nf_nat_ftp's choice).
Expectation PortExpectation() {
  Expectation e;
  e.master = Tuple{Endpoint{IpAddress::V4(192, 0, 2, 2), 40000},
                   Endpoint{IpAddress::V4(198, 51, 100, 2), 21}};
  e.master_direction = Direction::kOriginal;
  e.source = IpAddress::V4(198, 51, 100, 2);
  e.destination = Endpoint{IpAddress::V4(198, 51, 100, 1), 50000};
  e.nat_to = Endpoint{IpAddress::V4(192, 0, 2, 2), 40001};
  e.nat_direction = Direction::kReply;
  e.cause = ExpectCause::kPort;
  return e;
}

// Byte layouts below stay one field group per row.
// clang-format off
const Bytes kMasterV4 = {
    0x34, 0x00, 0x01, 0x80,                          // CTA_EXPECT_MASTER, 52 bytes
    0x14, 0x00, 0x01, 0x80,                          //   CTA_TUPLE_IP, 20
    0x08, 0x00, 0x01, 0x00, 0xc0, 0x00, 0x02, 0x02,  //     V4_SRC 192.0.2.2
    0x08, 0x00, 0x02, 0x00, 0xc6, 0x33, 0x64, 0x02,  //     V4_DST 198.51.100.2
    0x1c, 0x00, 0x02, 0x80,                          //   CTA_TUPLE_PROTO, 28
    0x05, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00,  //     PROTO_NUM 6
    0x06, 0x00, 0x02, 0x00, 0x9c, 0x40, 0x00, 0x00,  //     SRC_PORT 40000
    0x06, 0x00, 0x03, 0x00, 0x00, 0x15, 0x00, 0x00,  //     DST_PORT 21
};
const Bytes kTupleV4 = {
    0x34, 0x00, 0x02, 0x80,                          // CTA_EXPECT_TUPLE
    0x14, 0x00, 0x01, 0x80,
    0x08, 0x00, 0x01, 0x00, 0xc6, 0x33, 0x64, 0x02,  //     V4_SRC 198.51.100.2
    0x08, 0x00, 0x02, 0x00, 0xc6, 0x33, 0x64, 0x01,  //     V4_DST 198.51.100.1
    0x1c, 0x00, 0x02, 0x80,
    0x05, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00,
    0x06, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,  //     SRC_PORT 0 (masked out)
    0x06, 0x00, 0x03, 0x00, 0xc3, 0x50, 0x00, 0x00,  //     DST_PORT 50000
};
const Bytes kMaskV4 = {
    0x34, 0x00, 0x03, 0x80,                          // CTA_EXPECT_MASK
    0x14, 0x00, 0x01, 0x80,
    0x08, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff,  //     source address: exact
    0x08, 0x00, 0x02, 0x00, 0xff, 0xff, 0xff, 0xff,  //     (destination: unused by the kernel)
    0x1c, 0x00, 0x02, 0x80,
    0x05, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00,
    0x06, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,  //     source port: any
    0x06, 0x00, 0x03, 0x00, 0xff, 0xff, 0x00, 0x00,
};
const Bytes kNatV4 = {
    0x40, 0x00, 0x0a, 0x80,                          // CTA_EXPECT_NAT, 64 bytes
    0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01,  //   NAT_DIR 1 (IP_CT_DIR_REPLY)
    0x34, 0x00, 0x02, 0x80,                          //   NAT_TUPLE
    0x14, 0x00, 0x01, 0x80,
    0x08, 0x00, 0x01, 0x00, 0xc0, 0x00, 0x02, 0x02,  //       source: 192.0.2.2 (saved_addr)
    0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,  //       destination: zeros
    0x1c, 0x00, 0x02, 0x80,
    0x05, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00,
    0x06, 0x00, 0x02, 0x00, 0x9c, 0x41, 0x00, 0x00,  //       source port 40001 (saved_proto)
    0x06, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
};
const Bytes kFn = {
    0x16, 0x00, 0x0b, 0x00,                          // CTA_EXPECT_FN, 22 bytes + 2 pad
    'n', 'a', 't', '-', 'f', 'o', 'l', 'l', 'o', 'w', '-', 'm', 'a', 's', 't', 'e', 'r', 0x00,
    0x00, 0x00,
};

Bytes Header(uint32_t len, uint8_t message, uint16_t flags, uint8_t family) {
  return {static_cast<uint8_t>(len), static_cast<uint8_t>(len >> 8), 0x00, 0x00,
          message, 0x02,  // type: 2 << 8 | message
          static_cast<uint8_t>(flags), static_cast<uint8_t>(flags >> 8),
          0x04, 0x03, 0x02, 0x01,  // seq 0x01020304
          0x00, 0x00, 0x00, 0x00,  // pid
          family, 0x00, 0x00, 0x00};
}
// clang-format on

TEST(ExpectMessagesTest, CreateWithNatGolden) {
  BuildResult r = BuildExpectCreate(Buffer(), kSeq, PortExpectation());
  ASSERT_TRUE(r.ok());
  // 264 = 20 + 3 * 52 + 64 + 24; flags REQUEST|ACK|EXCL|CREATE.
  Bytes expected = Concat(
      {Header(264, IPCTNL_MSG_EXP_NEW, 0x0605, 2), kMasterV4, kTupleV4, kMaskV4, kNatV4, kFn});
  EXPECT_EQ(Hex(r.message), Hex(expected));
}

Bytes V6Address(uint8_t third_group_low, uint8_t last) {
  return {0x20, 0x01, 0x0d, 0xb8, 0x00, third_group_low, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
}

Bytes V6Tuple(uint8_t type, const Bytes& src, const Bytes& dst, uint16_t sport, uint16_t dport) {
  return Concat({
      {0x4c, 0x00, type, 0x80},  // 76 = 4 + 44 + 28
      {0x2c, 0x00, 0x01, 0x80},  // CTA_TUPLE_IP, 44 = 4 + 2 * 20
      {0x14, 0x00, 0x03, 0x00},  // V6_SRC
      src,
      {0x14, 0x00, 0x04, 0x00},  // V6_DST
      dst,
      {0x1c, 0x00, 0x02, 0x80, 0x05, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00},
      {0x06, 0x00, 0x02, 0x00, static_cast<uint8_t>(sport >> 8), static_cast<uint8_t>(sport), 0x00,
       0x00},
      {0x06, 0x00, 0x03, 0x00, static_cast<uint8_t>(dport >> 8), static_cast<uint8_t>(dport), 0x00,
       0x00},
  });
}

TEST(ExpectMessagesTest, CreateIpv6AnySourceWithZoneGolden) {
  Expectation e;
  e.master = Tuple{Endpoint{*IpAddress::Parse("2001:db8::2"), 40000},
                   Endpoint{*IpAddress::Parse("2001:db8:1::2"), 21}};
  e.source = *IpAddress::Parse("2001:db8::2");
  e.source_any_address = true;
  e.destination = Endpoint{*IpAddress::Parse("2001:db8:1::2"), 50000};
  e.cause = ExpectCause::k229;
  BuildResult r = BuildExpectCreate(Buffer(), kSeq, e, 5);
  ASSERT_TRUE(r.ok());
  const Bytes zeros(16, 0x00);
  const Bytes ones(16, 0xff);
  Bytes expected = Concat({
      Header(256, IPCTNL_MSG_EXP_NEW, 0x0605, 10),  // 256 = 20 + 3 * 76 + 8
      V6Tuple(CTA_EXPECT_MASTER, V6Address(0, 2), V6Address(1, 2), 40000, 21),
      V6Tuple(CTA_EXPECT_TUPLE, zeros, V6Address(1, 2), 0, 50000),  // any source: zeros
      V6Tuple(CTA_EXPECT_MASK, zeros, ones, 0, 0xffff),             // ... and a zero mask
      {0x06, 0x00, 0x07, 0x00, 0x00, 0x05, 0x00, 0x00},             // CTA_EXPECT_ZONE 5
  });
  EXPECT_EQ(Hex(r.message), Hex(expected));
}

TEST(ExpectMessagesTest, DeleteFlushAndDumpGolden) {
  BuildResult del = BuildExpectDelete(Buffer(), kSeq, PortExpectation());
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(Hex(del.message),
            Hex(Concat({Header(72, IPCTNL_MSG_EXP_DELETE, 0x0005, 2), kTupleV4})));

  BuildResult flush = BuildExpectFlushHelper(Buffer(), kSeq, "ftp-alg");
  ASSERT_TRUE(flush.ok());
  EXPECT_EQ(Hex(flush.message),
            Hex(Concat({Header(32, IPCTNL_MSG_EXP_DELETE, 0x0005, 0),  // AF_UNSPEC
                        {0x0c, 0x00, 0x06, 0x00, 'f', 't', 'p', '-', 'a', 'l', 'g', 0x00}})));

  BuildResult dump = BuildExpectDumpMaster(Buffer(), kSeq, PortExpectation().master);
  ASSERT_TRUE(dump.ok());
  EXPECT_EQ(Hex(dump.message), Hex(Concat({Header(72, IPCTNL_MSG_EXP_GET, 0x0305, 2), kMasterV4})));
}

TEST(ExpectMessagesTest, RefusesInconsistentInput) {
  Expectation e = PortExpectation();
  e.nat_to->addr = *IpAddress::Parse("2001:db8::1");
  EXPECT_EQ(BuildExpectCreate(Buffer(), kSeq, e).error, BuildError::kBadInput);
  e = PortExpectation();
  e.source = *IpAddress::Parse("::1");
  EXPECT_EQ(BuildExpectCreate(Buffer(), kSeq, e).error, BuildError::kBadInput);
  EXPECT_EQ(BuildExpectDelete(Buffer(), kSeq, e).error, BuildError::kBadInput);
  EXPECT_EQ(BuildExpectFlushHelper(Buffer(), kSeq, "").error, BuildError::kBadInput);
  EXPECT_EQ(BuildExpectFlushHelper(Buffer(), kSeq, "sixteen-chars-xx").error,
            BuildError::kBadInput);
  for (size_t size = 0; size < 264; ++size) {
    alignas(8) std::array<uint8_t, 264> buffer{};
    EXPECT_EQ(
        BuildExpectCreate(std::span<uint8_t>(buffer.data(), size), kSeq, PortExpectation()).error,
        BuildError::kNoRoom)
        << size;
  }
}

void ExpectSameOnTheWire(const Expectation& got, const Expectation& want) {
  EXPECT_EQ(got.master, want.master);
  EXPECT_EQ(got.source_any_address, want.source_any_address);
  if (!want.source_any_address) {
    EXPECT_EQ(got.source, want.source);
  }
  EXPECT_EQ(got.destination, want.destination);
  EXPECT_EQ(got.nat_to, want.nat_to);
  if (want.nat_to.has_value()) {
    EXPECT_EQ(got.nat_direction, want.nat_direction);
  }
}

TEST(ExpectParseTest, RoundTrips) {
  Expectation v4 = PortExpectation();
  Expectation v4_plain = PortExpectation();
  v4_plain.nat_to.reset();
  v4_plain.source_any_address = true;
  Expectation v6;
  v6.master = Tuple{Endpoint{*IpAddress::Parse("2001:db8::2"), 1},
                    Endpoint{*IpAddress::Parse("2001:db8:1::2"), 21}};
  v6.source = *IpAddress::Parse("2001:db8:1::2");
  v6.destination = Endpoint{*IpAddress::Parse("2001:db8::1"), 65535};
  v6.nat_to = Endpoint{*IpAddress::Parse("2001:db8::2"), 2};
  v6.nat_direction = Direction::kOriginal;
  for (const Expectation& e : {v4, v4_plain, v6}) {
    BuildResult r = BuildExpectCreate(Buffer(), kSeq, e, 9);
    ASSERT_TRUE(r.ok());
    ParsedExpectation parsed;
    ASSERT_EQ(ParseExpectation(r.message, &parsed), DecodeError::kNone);
    ExpectSameOnTheWire(ToExpectation(parsed), e);
    EXPECT_EQ(parsed.zone, 9);
    EXPECT_EQ(parsed.function, e.nat_to ? "nat-follow-master" : "");
    EXPECT_EQ(parsed.tuple.protonum, 6);
    EXPECT_FALSE(parsed.timeout_s.has_value());
  }
}

// What ctnetlink_exp_fill_info sends for the expectation above, with timeout, id, flags, class,
// the master's helper name and the expectfn (ctnetlink_exp_dump_expect).
Bytes KernelExpectation() {
  return Concat({
      Header(304, IPCTNL_MSG_EXP_NEW, 0x0002, 2),  // 304 bytes; NLM_F_MULTI
      kTupleV4,
      kMaskV4,
      kMasterV4,
      kNatV4,
      {0x08, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x2b},  // CTA_EXPECT_TIMEOUT 299
      {0x08, 0x00, 0x05, 0x00, 0x12, 0x34, 0x56, 0x78},  // CTA_EXPECT_ID
      {0x08, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00},  // CTA_EXPECT_FLAGS 0
      {0x08, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00},  // CTA_EXPECT_CLASS 0
      {0x08, 0x00, 0x06, 0x00, 'f', 't', 'p', 0x00},     // CTA_EXPECT_HELP_NAME "ftp"
      kFn,
  });
}

ParsedExpectation ParseBytes(const Bytes& bytes, DecodeError expected) {
  std::vector<uint8_t> storage = bytes;
  ParsedExpectation parsed;
  EXPECT_EQ(ParseExpectation(storage, &parsed), expected);
  return parsed;
}

TEST(ExpectParseTest, KernelLayout) {
  ParsedExpectation parsed = ParseBytes(KernelExpectation(), DecodeError::kNone);
  EXPECT_EQ(parsed.family, 2);
  EXPECT_EQ(parsed.timeout_s, 299u);
  EXPECT_EQ(parsed.id, 0x12345678u);
  EXPECT_EQ(parsed.flags, 0u);
  EXPECT_EQ(parsed.expect_class, 0u);
  EXPECT_EQ(parsed.helper_name, "ftp");
  EXPECT_EQ(parsed.function, "nat-follow-master");
  ASSERT_TRUE(parsed.nat.has_value());
  EXPECT_EQ(parsed.nat->direction, 1u);
  ExpectSameOnTheWire(ToExpectation(parsed), PortExpectation());
}

TEST(ExpectParseTest, Malformed) {
  const Bytes good = KernelExpectation();
  // Offsets: TUPLE 20, MASK 72, MASTER 124, NAT 176 (DIR 180, NAT_TUPLE 188), TIMEOUT 240, ID 248,
  // FLAGS 256, CLASS 264, HELP_NAME 272, FN 280.
  Bytes v6_family = good;
  v6_family[16] = 10;  // AF_INET6 header over IPv4 tuples
  ParseBytes(v6_family, DecodeError::kBadValue);

  Bytes unspec = good;
  unspec[16] = 0;
  ParseBytes(unspec, DecodeError::kBadValue);

  Bytes no_mask = good;
  no_mask[74] = 0x1f;  // renamed past CTA_EXPECT_MAX
  ParseBytes(no_mask, DecodeError::kMissingAttribute);

  Bytes nat_dir_2 = good;
  nat_dir_2[187] = 2;
  ParseBytes(nat_dir_2, DecodeError::kBadValue);

  Bytes nat_no_tuple = good;
  nat_no_tuple[190] = 7;
  ParseBytes(nat_no_tuple, DecodeError::kMissingAttribute);

  Bytes timeout_u16 = good;
  timeout_u16[240] = 6;
  ParseBytes(timeout_u16, DecodeError::kBadAttribute);

  Bytes helper_no_nul = good;
  helper_no_nul[279] = 'x';
  ParseBytes(helper_no_nul, DecodeError::kBadAttribute);

  Bytes fn_no_nul = good;
  fn_no_nul[301] = 'x';
  ParseBytes(fn_no_nul, DecodeError::kBadAttribute);

  Bytes master_bad = good;
  master_bad[132] = 7;  // master's V4_SRC with 3 bytes
  ParseBytes(master_bad, DecodeError::kBadAttribute);

  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + n);
    ParsedExpectation parsed;
    EXPECT_NE(ParseExpectation(cut, &parsed), DecodeError::kNone) << n;
    if (n >= 4) {
      cut[0] = static_cast<uint8_t>(n);
      cut[1] = static_cast<uint8_t>(n >> 8);
      DecodeError e = ParseExpectation(cut, &parsed);
      if (n < 176) {
        EXPECT_NE(e, DecodeError::kNone) << n;
      }
    }
  }
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t value : {uint8_t{0x00}, uint8_t{0xff}, static_cast<uint8_t>(good[i] ^ 0x01)}) {
      std::vector<uint8_t> bad = good;
      bad[i] = value;
      ParsedExpectation parsed;
      ParseExpectation(bad, &parsed);
    }
  }
}

// --- The live kernel ---

std::string ExpectationScenario() {
  if (unshare(CLONE_NEWNET) != 0) return std::string("unshare: ") + std::strerror(errno);
  NetlinkSocket socket;
  if (socket.Open() != 0) return "netlink socket";
  Expectation e = PortExpectation();
  Tuple reply{Endpoint{IpAddress::V4(198, 51, 100, 2), 21},
              Endpoint{IpAddress::V4(198, 51, 100, 1), 61000}};
  if (int error = CreateConntrack(socket, e.master, reply, "ftp"); error != 0) {
    return "creating the master conntrack: " + ErrnoText(error);
  }

  ExpectationClient client;
  if (!client.Open().ok()) return "open";
  ExpectResult r = client.Create(e);
  if (r.outcome != ExpectOutcome::kCreated) return "create: " + r.message;
  r = client.Create(e);
  if (r.outcome != ExpectOutcome::kExists || !r.PortTaken()) {
    return "second create: " + std::string(ExpectOutcomeName(r.outcome)) + " " + r.message;
  }
  // The same destination from any source overlaps the first one without matching it.
  Expectation wider = e;
  wider.source_any_address = true;
  r = client.Create(wider);
  if (r.outcome != ExpectOutcome::kClash || !r.PortTaken()) {
    return "overlapping create: " + std::string(ExpectOutcomeName(r.outcome)) + " " + r.message;
  }

  // The kernel's own description of what we installed.
  std::vector<ParsedExpectation> listed;
  KernelStatus status = client.ListForMaster(e.master, 0, &listed);
  if (!status.ok()) return "list: " + status.message;
  if (listed.size() != 1) return "listed " + std::to_string(listed.size());
  Expectation seen = ToExpectation(listed[0]);
  if (seen.master != e.master || seen.source != e.source || seen.source_any_address ||
      seen.destination != e.destination || seen.nat_to != e.nat_to ||
      seen.nat_direction != e.nat_direction) {
    return "listed expectation differs: " + seen.destination.ToString() + " nat " +
           (seen.nat_to ? seen.nat_to->ToString() : "none");
  }
  if (listed[0].function != "nat-follow-master") return "expectfn " + listed[0].function;
  // Its lifetime comes from the ftp helper's policy (300 s), not from the request.
  if (!listed[0].timeout_s || *listed[0].timeout_s > 300 || *listed[0].timeout_s < 290) {
    return "timeout";
  }

  // (A new destination: ctnetlink_new_expect answers EEXIST for a known tuple before it even
  // looks for the master.)
  Expectation orphan = e;
  orphan.master.src.port = 1;
  orphan.destination.port = 50002;
  r = client.Create(orphan);
  if (r.outcome != ExpectOutcome::kNoMaster) return "orphan: " + r.message;

  Tuple unhelped_original{Endpoint{IpAddress::V4(192, 0, 2, 3), 40000}, e.master.dst};
  Tuple unhelped_reply{e.master.dst, Endpoint{IpAddress::V4(198, 51, 100, 1), 61001}};
  if (int error = CreateConntrack(socket, unhelped_original, unhelped_reply, ""); error != 0) {
    return "creating the unhelped conntrack: " + ErrnoText(error);
  }
  Expectation unhelped = e;
  unhelped.master = unhelped_original;
  unhelped.destination.port = 50001;
  r = client.Create(unhelped);
  if (r.outcome != ExpectOutcome::kMasterUnhelped) {
    return "unhelped: " + std::string(ExpectOutcomeName(r.outcome)) + " " + r.message;
  }

  status = client.Delete(e);
  if (!status.ok()) return "delete: " + status.message;
  status = client.Delete(e);
  if (status.error != ENOENT) return "second delete: " + status.message;

  if (client.Create(e).outcome != ExpectOutcome::kCreated) return "re-create";
  status = client.FlushHelper("ftp");
  if (!status.ok()) return "flush: " + status.message;
  if (!client.ListForMaster(e.master, 0, &listed).ok() || !listed.empty()) return "after flush";
  return "";
}

TEST(ExpectationClientLiveTest, AgainstRealConntrackInPrivateNamespace) {
  if (!HasNetAdmin()) GTEST_SKIP() << "needs CAP_NET_ADMIN";
  test::ExpectScenarioPasses(ExpectationScenario);
}

}  // namespace
}  // namespace ftpalg::kernel
