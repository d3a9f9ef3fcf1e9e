// nfnetlink_cthelper messages, byte for byte, and the parser for the kernel's helper descriptions.
//
// Layouts (include/uapi/linux/netfilter/nfnetlink_cthelper.h): message type is
// NFNL_SUBSYS_CTHELPER (9) << 8 | NFNL_MSG_CTHELPER_{NEW 0, GET 1, DEL 2}; attributes
// NFCTH_NAME 1 (string), NFCTH_TUPLE 2 {L3PROTONUM 1 be16, L4PROTONUM 2 u8}, NFCTH_QUEUE_NUM 3
// (be32), NFCTH_POLICY 4 {SET_NUM 1 be32, SET1 2 {NAME 1, EXPECT_MAX 2 be32, EXPECT_TIMEOUT 3
// be32}}, NFCTH_PRIV_DATA_LEN 5 (be32), NFCTH_STATUS 6 (be32). nlmsghdr fields are host order
// (little-endian here); see netlink_codec_test.cpp for the generic layout.
#include <gtest/gtest.h>
#include <linux/netfilter.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "kernel/cthelper_client.h"
#include "kernel/cthelper_messages.h"
#include "kernel/kernel_probe.h"
#include "kernel/kernel_status.h"
#include "netlink_test_util.h"

namespace ftpalg::kernel {
namespace {

using test::Bytes;
using test::Concat;
using test::Hex;
using test::kSeq;
std::span<uint8_t> Buffer() { return test::Buffer<512>(); }

HelperSpec FtpAlgSpec() {
  HelperSpec spec;
  spec.key = HelperKey{"ftp-alg", NFPROTO_IPV4, 6};
  spec.queue_num = 3;
  spec.policy = HelperPolicy{"ftp-alg", 1, 300};
  spec.enabled = true;
  return spec;
}

// Byte layouts below stay one field group per row.
// clang-format off
// The pieces the golden messages share.
const Bytes kName = {0x0c, 0x00, 0x01, 0x00, 'f', 't', 'p', '-', 'a', 'l', 'g', 0x00};
const Bytes kTupleV4Tcp = {
    0x14, 0x00, 0x02, 0x80,                          // NFCTH_TUPLE, 20 bytes
    0x06, 0x00, 0x01, 0x00, 0x00, 0x02, 0x00, 0x00,  //   L3PROTONUM be16 2 (NFPROTO_IPV4)
    0x05, 0x00, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00,  //   L4PROTONUM 6 (TCP)
};
const Bytes kQueue3 = {0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x03};
const Bytes kPolicy = {
    0x2c, 0x00, 0x04, 0x80,                                           // NFCTH_POLICY, 44 bytes
    0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01,                   //   SET_NUM 1
    0x20, 0x00, 0x02, 0x80,                                           //   SET1, 32 bytes
    0x0c, 0x00, 0x01, 0x00, 'f', 't', 'p', '-', 'a', 'l', 'g', 0x00,  //     NAME "ftp-alg"
    0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,                   //     EXPECT_MAX 1
    0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x2c,                   //     EXPECT_TIMEOUT 300
};
const Bytes kPrivLen0 = {0x08, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00};
const Bytes kStatusOn = {0x08, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x01};
const Bytes kStatusOff = {0x08, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00};

// nlmsghdr + nfgenmsg(AF_UNSPEC, v0, res_id 0).
Bytes Header(uint32_t len, uint8_t message, uint16_t flags) {
  return {static_cast<uint8_t>(len), static_cast<uint8_t>(len >> 8), 0x00, 0x00,
          message, 0x09,  // type: 9 << 8 | message
          static_cast<uint8_t>(flags), static_cast<uint8_t>(flags >> 8),
          0x04, 0x03, 0x02, 0x01,   // seq 0x01020304
          0x00, 0x00, 0x00, 0x00,   // pid
          0x00, 0x00, 0x00, 0x00};  // nfgenmsg
}
// clang-format on

TEST(CthelperMessagesTest, CreateGolden) {
  BuildResult r = BuildHelperCreate(Buffer(), kSeq, FtpAlgSpec());
  ASSERT_TRUE(r.ok());
  // 120 = 20 + 12 + 20 + 8 + 44 + 8 + 8; flags REQUEST|ACK|EXCL|CREATE = 0x0605.
  Bytes expected =
      Concat({Header(120, 0, 0x0605), kName, kTupleV4Tcp, kQueue3, kPolicy, kPrivLen0, kStatusOn});
  EXPECT_EQ(Hex(r.message), Hex(expected));
}

TEST(CthelperMessagesTest, CreateGoldenWithPrivateData) {
  HelperSpec spec = FtpAlgSpec();
  spec.priv_data_len = 32;  // the session snapshot (help_info.h)
  BuildResult r = BuildHelperCreate(Buffer(), kSeq, spec);
  ASSERT_TRUE(r.ok());
  const Bytes priv_len_32 = {0x08, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x20};
  Bytes expected = Concat(
      {Header(120, 0, 0x0605), kName, kTupleV4Tcp, kQueue3, kPolicy, priv_len_32, kStatusOn});
  EXPECT_EQ(Hex(r.message), Hex(expected));
  // An update never names the length (EBUSY when it differs from the registered one).
  BuildResult update = BuildHelperUpdate(Buffer(), kSeq, spec);
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(update.message.size(), 112u);
}

TEST(CthelperMessagesTest, UpdateGoldenHasNoPrivDataLen) {
  HelperSpec spec = FtpAlgSpec();
  spec.enabled = false;
  BuildResult r = BuildHelperUpdate(Buffer(), kSeq, spec);
  ASSERT_TRUE(r.ok());
  // 112 = 120 - 8; flags REQUEST|ACK only: an update must not carry NLM_F_EXCL.
  Bytes expected =
      Concat({Header(112, 0, 0x0005), kName, kTupleV4Tcp, kQueue3, kPolicy, kStatusOff});
  EXPECT_EQ(Hex(r.message), Hex(expected));
}

TEST(CthelperMessagesTest, SetStatusGolden) {
  BuildResult r = BuildHelperSetStatus(Buffer(), kSeq, FtpAlgSpec().key, true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Hex(r.message), Hex(Concat({Header(60, 0, 0x0005), kName, kTupleV4Tcp, kStatusOn})));
}

TEST(CthelperMessagesTest, GetDumpDeleteGolden) {
  BuildResult get = BuildHelperGet(Buffer(), kSeq, FtpAlgSpec().key);
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(Hex(get.message), Hex(Concat({Header(52, 1, 0x0005), kName, kTupleV4Tcp})));

  BuildResult dump = BuildHelperDump(Buffer(), kSeq);
  ASSERT_TRUE(dump.ok());
  // NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH = 0x300.
  EXPECT_EQ(Hex(dump.message), Hex(Header(20, 1, 0x0305)));

  BuildResult del = BuildHelperDelete(Buffer(), kSeq, FtpAlgSpec().key);
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(Hex(del.message), Hex(Concat({Header(52, 2, 0x0005), kName, kTupleV4Tcp})));
}

TEST(CthelperMessagesTest, Ipv6Tuple) {
  HelperKey key{"ftp-alg", NFPROTO_IPV6, 6};
  BuildResult r = BuildHelperGet(Buffer(), kSeq, key);
  ASSERT_TRUE(r.ok());
  // Header 20 + name 12 + tuple nest header 4 + L3PROTONUM header 4: the value at 40.
  EXPECT_EQ(r.message[40], 0x00);  // big-endian 10 (NFPROTO_IPV6)
  EXPECT_EQ(r.message[41], 0x0a);
}

TEST(CthelperMessagesTest, RefusesBadNames) {
  HelperSpec spec = FtpAlgSpec();
  spec.key.name = "sixteen-chars-xx";  // NF_CT_HELPER_NAME_LEN is 16 with the NUL
  EXPECT_EQ(BuildHelperCreate(Buffer(), kSeq, spec).error, BuildError::kBadInput);
  spec.key.name = "";
  EXPECT_EQ(BuildHelperGet(Buffer(), kSeq, spec.key).error, BuildError::kBadInput);
  spec.key.name = std::string("ftp\0alg", 7);
  EXPECT_EQ(BuildHelperDelete(Buffer(), kSeq, spec.key).error, BuildError::kBadInput);
  spec = FtpAlgSpec();
  spec.policy.name = "fifteen-chars-x";  // exactly 15: fine
  EXPECT_TRUE(BuildHelperCreate(Buffer(), kSeq, spec).ok());
  spec.policy.name = "sixteen-chars-xx";
  EXPECT_EQ(BuildHelperUpdate(Buffer(), kSeq, spec).error, BuildError::kBadInput);
}

TEST(CthelperMessagesTest, SmallBuffers) {
  for (size_t size = 0; size < 120; ++size) {
    alignas(8) std::array<uint8_t, 128> buffer{};
    EXPECT_EQ(BuildHelperCreate(std::span<uint8_t>(buffer.data(), size), kSeq, FtpAlgSpec()).error,
              BuildError::kNoRoom)
        << size;
  }
}

// What nfnl_cthelper_fill_info sends: type NEW, flags 0 (or NLM_F_MULTI in a dump), name, queue,
// tuple, policy, private data length, status.
Bytes KernelDescription() {
  return Concat({Header(120, 0, 0x0002),
                 kName,
                 kQueue3,
                 kTupleV4Tcp,
                 kPolicy,
                 {0x08, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x10},  // PRIV_DATA_LEN 16
                 kStatusOn});
}

HelperInfo Parse(const Bytes& bytes, DecodeError expected) {
  std::vector<uint8_t> aligned(bytes);
  HelperInfo info;
  EXPECT_EQ(ParseHelper(aligned, &info), expected);
  return info;
}

TEST(CthelperParseTest, KernelDescription) {
  HelperInfo info = Parse(KernelDescription(), DecodeError::kNone);
  EXPECT_EQ(info.key.name, "ftp-alg");
  EXPECT_EQ(info.key.l3num, NFPROTO_IPV4);
  EXPECT_EQ(info.key.l4proto, 6);
  EXPECT_EQ(info.queue_num, 3u);
  EXPECT_EQ(info.priv_data_len, 16u);
  EXPECT_TRUE(info.enabled);
  ASSERT_EQ(info.policies.size(), 1u);
  EXPECT_EQ(info.policies[0], (HelperPolicy{"ftp-alg", 1, 300}));
}

TEST(CthelperParseTest, RoundTripOfCreate) {
  HelperSpec spec = FtpAlgSpec();
  spec.key.l3num = NFPROTO_IPV6;
  spec.queue_num = 65535;
  spec.policy = HelperPolicy{"pol", 0, 7};
  BuildResult r = BuildHelperCreate(Buffer(), kSeq, spec);
  ASSERT_TRUE(r.ok());
  HelperInfo info;
  ASSERT_EQ(ParseHelper(r.message, &info), DecodeError::kNone);
  EXPECT_EQ(info.key.name, spec.key.name);
  EXPECT_EQ(info.key.l3num, NFPROTO_IPV6);
  EXPECT_EQ(info.queue_num, 65535u);
  ASSERT_EQ(info.policies.size(), 1u);
  EXPECT_EQ(info.policies[0], spec.policy);
  EXPECT_TRUE(info.enabled);
}

TEST(CthelperParseTest, Malformed) {
  const Bytes good = KernelDescription();
  // Offsets: name at 20, queue at 32, tuple at 40 (L3 at 44, L4 at 52), policy at 60 (SET_NUM at
  // 64, SET1 at 72: NAME 76, MAX 88, TIMEOUT 96), priv len at 104, status at 112.
  Bytes wrong_type = good;
  wrong_type[4] = 1;  // GET, not NEW
  Parse(wrong_type, DecodeError::kWrongMessage);

  Bytes no_name = good;
  no_name[22] = 0x20;  // NFCTH_NAME renamed past NFCTH_MAX
  Parse(no_name, DecodeError::kMissingAttribute);

  Bytes name_no_nul = good;
  name_no_nul[31] = 'x';
  Parse(name_no_nul, DecodeError::kBadAttribute);

  Bytes queue_u16 = good;
  queue_u16[32] = 6;  // NFCTH_QUEUE_NUM with 2 bytes
  Parse(queue_u16, DecodeError::kBadAttribute);

  Bytes l3_u8 = good;
  l3_u8[44] = 5;  // L3PROTONUM with 1 byte
  Parse(l3_u8, DecodeError::kBadAttribute);

  Bytes no_l4 = good;
  no_l4[54] = 7;  // L4PROTONUM renamed
  Parse(no_l4, DecodeError::kMissingAttribute);

  Bytes five_sets = good;
  five_sets[71] = 5;  // SET_NUM 5: more classes than the kernel has
  Parse(five_sets, DecodeError::kBadValue);

  Bytes two_sets = good;
  two_sets[71] = 2;  // SET_NUM 2 but only SET1 present
  Parse(two_sets, DecodeError::kMissingAttribute);

  Bytes timeout_missing = good;
  timeout_missing[98] = 9;
  Parse(timeout_missing, DecodeError::kMissingAttribute);

  Bytes status_3 = good;
  status_3[119] = 3;
  Parse(status_3, DecodeError::kBadValue);

  Bytes inner_overrun = good;
  inner_overrun[72] = 0x24;  // SET1 claims 4 bytes more than the policy nest holds
  Parse(inner_overrun, DecodeError::kTruncated);

  // Every shorter message, with its length field made consistent, fails or parses without
  // crashing; cuts inside the mandatory part always fail.
  for (size_t n = 16; n < good.size(); ++n) {
    Bytes cut(good.begin(), good.begin() + n);
    cut[0] = static_cast<uint8_t>(n);
    HelperInfo info;
    DecodeError e = ParseHelper(std::vector<uint8_t>(cut), &info);
    if (n < 60) {
      EXPECT_NE(e, DecodeError::kNone) << n;
    }
  }
  // Every single-byte corruption: no crash (ASan builds check the reads).
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t value : {uint8_t{0x00}, uint8_t{0xff}, static_cast<uint8_t>(good[i] ^ 0x80)}) {
      Bytes bad = good;
      bad[i] = value;
      HelperInfo info;
      ParseHelper(std::vector<uint8_t>(bad), &info);
    }
  }
}

// --- The live kernel ---

TEST(CthelperClientLiveTest, RegistersOrExplainsWhatIsMissing) {
  if (!HasNetAdmin()) GTEST_SKIP() << "needs CAP_NET_ADMIN";
  KernelSupport support = ProbeKernel();
  CthelperClient client;
  ASSERT_TRUE(client.Open().ok());
  HelperRegistration registration;
  registration.name = "ftpalg-utest";
  registration.queue_num = 65002;
  KernelStatus status = client.Register(registration);
  if (!support.cthelper) {
    // This development machine's kernel (no CONFIG_NF_CT_NETLINK_HELPER).
    EXPECT_FALSE(status.ok());
    EXPECT_NE(status.message.find("CONFIG_NF_CT_NETLINK_HELPER"), std::string::npos)
        << status.message;
    return;
  }
  // A kernel with nfnetlink_cthelper: register, read back, re-register (update), disable, delete.
  ASSERT_TRUE(status.ok()) << status.message;
  HelperInfo info;
  ASSERT_TRUE(client.Get(HelperKey{"ftpalg-utest", NFPROTO_IPV6, 6}, &info).ok());
  EXPECT_EQ(info.queue_num, 65002u);
  EXPECT_TRUE(info.enabled);
  ASSERT_EQ(info.policies.size(), 1u);
  EXPECT_EQ(info.policies[0].name, "ftpalg-utest");
  EXPECT_TRUE(client.Register(registration).ok());
  EXPECT_TRUE(client.SetEnabled(registration, false).ok());
  ASSERT_TRUE(client.Get(HelperKey{"ftpalg-utest", NFPROTO_IPV4, 6}, &info).ok());
  EXPECT_FALSE(info.enabled);
  EXPECT_TRUE(client.Unregister(registration).ok());
  EXPECT_EQ(client.Get(HelperKey{"ftpalg-utest", NFPROTO_IPV4, 6}, &info).error, ENOENT);
}

}  // namespace
}  // namespace ftpalg::kernel
