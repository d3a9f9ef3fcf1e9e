#include "ftpalg/packet_rewrite.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "ftpalg/packet_view.h"
#include "packet_builder.h"

namespace ftpalg {
namespace {

using test::BuildTcpPacket;
using test::ClientToServer;
using test::Ep;
using test::Ipv6Extension;
using test::PacketSpec;
using test::ReferenceTcpChecksum;
using test::SackRange;
using test::TcpOffsetOf;

TcpPacketView MustParse(const std::vector<uint8_t>& packet) {
  TcpPacketResult result = ParseTcpPacket(packet);
  EXPECT_TRUE(result.ok()) << PacketErrorName(result.error);
  return result.view;
}

uint16_t Get16(const std::vector<uint8_t>& bytes, size_t offset) {
  return static_cast<uint16_t>((bytes[offset] << 8) | bytes[offset + 1]);
}

// Checks every length and checksum of a rewritten packet, the TCP checksum both with the library
// and with the builder's independent reference code.
void ExpectWellFormed(const std::vector<uint8_t>& packet, const IpAddress& checksum_dst) {
  TcpPacketResult result = ParseTcpPacket(packet);
  ASSERT_TRUE(result.ok()) << PacketErrorName(result.error);
  const TcpPacketView& view = result.view;
  EXPECT_EQ(view.packet.size(), packet.size());
  if (view.family == Family::kIpv4) {
    EXPECT_EQ(Get16(packet, 2), packet.size());
  } else {
    EXPECT_EQ(Get16(packet, 4), packet.size() - 40);
  }
  EXPECT_TRUE(IpHeaderChecksumValid(view));
  EXPECT_TRUE(TcpChecksumValid(view));
  std::span<const uint8_t> segment = view.packet.subspan(view.tcp_offset);
  EXPECT_EQ(Get16(packet, view.tcp_offset + 16),
            ReferenceTcpChecksum(view.tuple.src.addr, checksum_dst, segment));
}

// --- RFC 1071 ------------------------------------------------------------------------------------

TEST(InternetChecksumTest, Rfc1071Example) {
  // RFC 1071 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (after folding the carry 2).
  const uint8_t bytes[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(InternetChecksum(bytes), static_cast<uint16_t>(~0xddf2));
  // Byte order independence does not apply to our big-endian reading; split sums add up.
  EXPECT_EQ(InternetChecksum(std::span(bytes).subspan(4), 0x0001 + 0xf203),
            static_cast<uint16_t>(~0xddf2));
}

TEST(InternetChecksumTest, OddLengthPadsWithZero) {
  const uint8_t odd[] = {0x12, 0x34, 0x56};
  const uint8_t padded[] = {0x12, 0x34, 0x56, 0x00};
  EXPECT_EQ(InternetChecksum(odd), InternetChecksum(padded));
  EXPECT_EQ(InternetChecksum(odd), static_cast<uint16_t>(~(0x1234 + 0x5600)));
}

TEST(InternetChecksumTest, EmptyAndAllOnes) {
  EXPECT_EQ(InternetChecksum({}), 0xffff);
  const uint8_t ones[] = {0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(InternetChecksum(ones), 0x0000);
  // A large initial sum folds correctly.
  EXPECT_EQ(InternetChecksum({}, 0xffffffff), static_cast<uint16_t>(~0xffff));
}

TEST(InternetChecksumTest, LongBufferCarries) {
  std::vector<uint8_t> bytes(65536, 0xff);
  EXPECT_EQ(InternetChecksum(bytes), 0);
  bytes.back() = 0xfe;  // sum is 0xffff * 32767 + 0xfffe, folds to 0xfffe
  EXPECT_EQ(InternetChecksum(bytes), 1);
}

// --- Checksum validation -------------------------------------------------------------------------

TEST(TcpChecksumTest, ValidForBuiltPackets) {
  for (Family family : {Family::kIpv4, Family::kIpv6}) {
    PacketSpec spec = ClientToServer(family);
    spec.payload = "odd length";
    spec.sack = {{0xffffff00, 0x10}};
    EXPECT_TRUE(TcpChecksumValid(MustParse(BuildTcpPacket(spec))));
    spec.payload = "even length!";
    EXPECT_TRUE(TcpChecksumValid(MustParse(BuildTcpPacket(spec))));
  }
}

TEST(TcpChecksumTest, DetectsEveryCoveredByteFlipped) {
  for (Family family : {Family::kIpv4, Family::kIpv6}) {
    PacketSpec spec = ClientToServer(family);
    spec.payload = "RETR file.txt\r\n";
    const std::vector<uint8_t> packet = BuildTcpPacket(spec);
    const size_t tcp = TcpOffsetOf(spec);
    const size_t addresses_begin = family == Family::kIpv4 ? 12 : 8;
    for (size_t i = addresses_begin; i < packet.size(); ++i) {
      if (i >= addresses_begin + (family == Family::kIpv4 ? 8 : 32) && i < tcp) continue;
      std::vector<uint8_t> corrupt = packet;
      corrupt[i] ^= 0xff;
      TcpPacketResult result = ParseTcpPacket(corrupt);
      if (!result.ok()) continue;  // e.g. the data offset byte
      EXPECT_FALSE(TcpChecksumValid(result.view)) << "byte " << i;
    }
  }
}

TEST(TcpChecksumTest, IpHeaderChecksum) {
  std::vector<uint8_t> packet = BuildTcpPacket(ClientToServer(Family::kIpv4));
  EXPECT_TRUE(IpHeaderChecksumValid(MustParse(packet)));
  packet[8] = 1;  // TTL changed without updating the checksum
  EXPECT_FALSE(IpHeaderChecksumValid(MustParse(packet)));
  EXPECT_TRUE(TcpChecksumValid(MustParse(packet)));  // TTL is not in the pseudo-header
  EXPECT_TRUE(IpHeaderChecksumValid(MustParse(BuildTcpPacket(ClientToServer(Family::kIpv6)))));
}

TEST(TcpChecksumTest, InconsistentViewsAreRejectedNotRead) {
  std::vector<uint8_t> packet = BuildTcpPacket(ClientToServer(Family::kIpv4));
  TcpPacketView view = MustParse(packet);
  TcpPacketView bad = view;
  bad.payload_offset = packet.size() + 1;
  EXPECT_FALSE(TcpChecksumValid(bad));
  EXPECT_TRUE(RewriteTcpPacket(bad, {}).empty());
  bad = view;
  bad.tcp_offset = bad.payload_offset - 10;
  EXPECT_TRUE(RewriteTcpPacket(bad, {}).empty());
  bad = view;
  bad.sack_block_count = 1;
  bad.sack_blocks[0].offset = packet.size() - 2;
  EXPECT_TRUE(RewriteTcpPacket(bad, {}).empty());
  bad = view;
  bad.sack_block_count = 5;
  EXPECT_TRUE(RewriteTcpPacket(bad, {}).empty());
  bad = view;
  bad.checksum_dst_offset = 18;  // address would overlap the TCP header
  EXPECT_FALSE(TcpChecksumValid(bad));
  bad = view;
  bad.packet = bad.packet.first(10);
  EXPECT_FALSE(TcpChecksumValid(bad));
  EXPECT_FALSE(IpHeaderChecksumValid(bad));
  EXPECT_TRUE(RewriteTcpPacket(TcpPacketView{}, {}).empty());
}

// --- Rewriting -----------------------------------------------------------------------------------

// Every rewrite test runs for both families and for sequence numbers far from and close to 2^32.
class RewriteTest : public testing::TestWithParam<std::tuple<Family, uint32_t>> {
 protected:
  Family family() const { return std::get<0>(GetParam()); }
  uint32_t base() const { return std::get<1>(GetParam()); }
  PacketSpec Spec() const {
    PacketSpec spec = ClientToServer(family());
    spec.seq = base();
    spec.ack = base() + 0x80;  // wraps for the bases near 2^32
    return spec;
  }
};

INSTANTIATE_TEST_SUITE_P(FamiliesAndWrap, RewriteTest,
                         testing::Combine(testing::Values(Family::kIpv4, Family::kIpv6),
                                          testing::Values(0x00001000u, 0xffffff00u, 0xfffffff0u,
                                                          0xffffffffu, 0x7ffffff0u)),
                         [](const auto& param_info) {
                           char name[32];
                           std::snprintf(
                               name, sizeof name, "%s_%08x",
                               std::get<0>(param_info.param) == Family::kIpv4 ? "v4" : "v6",
                               static_cast<unsigned>(std::get<1>(param_info.param)));
                           return std::string(name);
                         });

TEST_P(RewriteTest, NoChangesReproducesThePacket) {
  PacketSpec spec = Spec();
  spec.payload = "PORT 192,0,2,10,4,1\r\n";
  spec.sack = {{base() - 0x100, base() + 0x100}};
  if (family() == Family::kIpv6) spec.ipv6_extensions = {Ipv6Extension::HopByHop()};
  const std::vector<uint8_t> packet = BuildTcpPacket(spec);
  EXPECT_EQ(RewriteTcpPacket(MustParse(packet), {}), packet);
}

TEST_P(RewriteTest, GrowsPayloadAndShiftsSeq) {
  PacketSpec spec = Spec();
  spec.payload = "PORT 10,0,0,5,4,1\r\n";
  const std::vector<uint8_t> packet = BuildTcpPacket(spec);
  PacketChanges changes;
  changes.edits = {{5, 17, "203,0,113,200,4,1"}};
  changes.seq_shift = 7;
  changes.ack_shift = 0x100;
  const std::vector<uint8_t> rewritten = RewriteTcpPacket(MustParse(packet), changes);

  PacketSpec expected = spec;
  expected.payload = "PORT 203,0,113,200,4,1\r\n";
  expected.seq = base() + 7;
  expected.ack = base() + 0x180;
  EXPECT_EQ(rewritten, BuildTcpPacket(expected));
  ExpectWellFormed(rewritten, spec.dst.addr);
}

TEST_P(RewriteTest, ShrinksPayloadAndShiftsBackwards) {
  PacketSpec spec = Spec();
  spec.payload = "227 Entering Passive Mode (198,51,100,200,195,80).\r\n";
  const std::vector<uint8_t> packet = BuildTcpPacket(spec);
  PacketChanges changes;
  changes.edits = {{27, 48, "10,0,0,1,195,80"}};
  changes.seq_shift = -0x1000;  // crosses 0 backwards for the small base
  changes.ack_shift = -0x90;    // crosses 0 backwards for the bases near 2^32 (ack wrapped)
  const std::vector<uint8_t> rewritten = RewriteTcpPacket(MustParse(packet), changes);

  PacketSpec expected = spec;
  expected.payload = "227 Entering Passive Mode (10,0,0,1,195,80).\r\n";
  expected.seq = base() - 0x1000;
  expected.ack = base() + 0x80 - 0x90;
  EXPECT_EQ(rewritten, BuildTcpPacket(expected));
  ExpectWellFormed(rewritten, spec.dst.addr);
  EXPECT_EQ(rewritten.size(), packet.size() - 6);
}

TEST_P(RewriteTest, SeveralEditsInsertionsAndDeletions) {
  PacketSpec spec = Spec();
  spec.payload = "abcdefghij";
  const std::vector<uint8_t> packet = BuildTcpPacket(spec);
  PacketChanges changes;
  changes.edits = {
      {0, 0, ">>"},    // insertion at the start
      {0, 2, "AB"},    // replacement right after it (begin == previous end)
      {4, 6, ""},      // deletion
      {7, 7, "+"},     // insertion in the middle
      {9, 10, "JJJ"},  // replacement at the end
      {10, 10, "!"},   // append
  };
  const std::vector<uint8_t> rewritten = RewriteTcpPacket(MustParse(packet), changes);
  PacketSpec expected = spec;
  expected.payload = ">>ABcdg+hiJJJ!";
  EXPECT_EQ(rewritten, BuildTcpPacket(expected));
  ExpectWellFormed(rewritten, spec.dst.addr);
}

TEST_P(RewriteTest, ReplacesWholePayloadAndEmptiesIt) {
  PacketSpec spec = Spec();
  spec.payload = "EPRT |1|10.0.0.5|1025|\r\n";
  const std::vector<uint8_t> packet = BuildTcpPacket(spec);
  PacketChanges changes;
  changes.edits = {{0, spec.payload.size(), ""}};
  const std::vector<uint8_t> rewritten = RewriteTcpPacket(MustParse(packet), changes);
  PacketSpec expected = spec;
  expected.payload.clear();
  EXPECT_EQ(rewritten, BuildTcpPacket(expected));
  ExpectWellFormed(rewritten, spec.dst.addr);
}

TEST_P(RewriteTest, ShiftsSackEdgesAcrossWraparound) {
  PacketSpec spec = Spec();
  spec.tcp_options = {1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9};  // timestamps stay untouched
  spec.sack = {{base() + 0x10, base() + 0x20}, {base() - 0x20, base() + 0x4}, {0xfffffffe, 2}};
  const std::vector<uint8_t> packet = BuildTcpPacket(spec);
  for (int64_t shift : {int64_t{5}, int64_t{-5}, int64_t{0x200}, int64_t{-0x200}}) {
    PacketChanges changes;
    changes.sack_shift = shift;
    changes.ack_shift = shift;
    const std::vector<uint8_t> rewritten = RewriteTcpPacket(MustParse(packet), changes);
    PacketSpec expected = spec;
    expected.ack = static_cast<uint32_t>(spec.ack + static_cast<uint32_t>(shift));
    for (SackRange& range : expected.sack) {
      range.left += static_cast<uint32_t>(shift);
      range.right += static_cast<uint32_t>(shift);
    }
    EXPECT_EQ(rewritten, BuildTcpPacket(expected)) << shift;
    ExpectWellFormed(rewritten, spec.dst.addr);
    TcpPacketView view = MustParse(rewritten);
    ASSERT_EQ(view.sack_block_count, 3u);
    EXPECT_EQ(view.sack_blocks[2].left, static_cast<uint32_t>(0xfffffffe + shift));
    EXPECT_EQ(view.sack_blocks[2].right, static_cast<uint32_t>(2 + shift));
  }
}

// A SACK block that spans a rewritten segment: each edge gets its own shift.
TEST_P(RewriteTest, ShiftsSackEdgesOneByOne) {
  PacketSpec spec = Spec();
  spec.sack = {{base() + 0x10, base() + 0x40}, {base() - 0x10, base() + 0x2}};
  const std::vector<uint8_t> packet = BuildTcpPacket(spec);
  PacketChanges changes;
  changes.sack_shift = 1000;  // ignored once per-edge shifts are given
  changes.sack_edge_shifts = std::array<SackEdgeShift, 4>{{{0, 7}, {-3, -0x20}}};
  EXPECT_FALSE(changes.empty());
  const std::vector<uint8_t> rewritten = RewriteTcpPacket(MustParse(packet), changes);
  PacketSpec expected = spec;
  expected.sack = {{base() + 0x10, base() + 0x47}, {base() - 0x13, base() - 0x1e}};
  EXPECT_EQ(rewritten, BuildTcpPacket(expected));
  ExpectWellFormed(rewritten, spec.dst.addr);
}

// RFC 793 3.1: without ACK the acknowledgment field means nothing; it is left alone.
TEST_P(RewriteTest, AckUntouchedWithoutAckFlag) {
  PacketSpec spec = Spec();
  spec.flags = tcp_flags::kSyn;
  const std::vector<uint8_t> packet = BuildTcpPacket(spec);
  PacketChanges changes;
  changes.seq_shift = 3;
  changes.ack_shift = 1000;
  const std::vector<uint8_t> rewritten = RewriteTcpPacket(MustParse(packet), changes);
  PacketSpec expected = spec;
  expected.seq = base() + 3;
  EXPECT_EQ(rewritten, BuildTcpPacket(expected));
}

TEST_P(RewriteTest, DropsLinkLayerPadding) {
  PacketSpec spec = Spec();
  spec.payload = "NOOP\r\n";
  spec.link_padding = 6;
  const std::vector<uint8_t> packet = BuildTcpPacket(spec);
  PacketChanges changes;
  changes.edits = {{0, 4, "STAT"}};
  changes.seq_shift = 1;
  const std::vector<uint8_t> rewritten = RewriteTcpPacket(MustParse(packet), changes);
  PacketSpec expected = spec;
  expected.link_padding = 0;
  expected.payload = "STAT\r\n";
  expected.seq = base() + 1;
  EXPECT_EQ(rewritten, BuildTcpPacket(expected));
  ExpectWellFormed(rewritten, spec.dst.addr);
  // Even without changes only the IP packet comes out.
  EXPECT_EQ(RewriteTcpPacket(MustParse(packet), {}).size(), packet.size() - 6);
}

TEST_P(RewriteTest, KeepsIpOptionsAndExtensionHeaders) {
  PacketSpec spec = Spec();
  spec.payload = "PORT 10,0,0,5,4,1\r\n";
  spec.ipv4_options = {0x94, 0x04, 0x00, 0x00};
  spec.ipv6_extensions = {Ipv6Extension::HopByHop(1), Ipv6Extension::DestinationOptions()};
  const std::vector<uint8_t> packet = BuildTcpPacket(spec);
  PacketChanges changes;
  changes.edits = {{5, 17, "192,0,2,1,4,1"}};
  changes.seq_shift = 1;
  const std::vector<uint8_t> rewritten = RewriteTcpPacket(MustParse(packet), changes);
  PacketSpec expected = spec;
  expected.payload = "PORT 192,0,2,1,4,1\r\n";
  expected.seq = base() + 1;
  EXPECT_EQ(rewritten, BuildTcpPacket(expected));
  ExpectWellFormed(rewritten, spec.dst.addr);
}

// RFC 8200 8.1: a segment routed through the gateway checksums over its final destination.
TEST(RewriteRoutingTest, RoutingHeaderFinalDestinationChecksum) {
  for (uint32_t base : {0x00001000u, 0xfffffffeu}) {
    PacketSpec spec = ClientToServer(Family::kIpv6);
    spec.seq = base;
    spec.payload = "EPRT |2|2001:db8::10|1025|\r\n";
    const IpAddress final_dst = Ep("2001:db8:ff::21", 0).addr;
    spec.ipv6_extensions = {Ipv6Extension::Routing(4, 1, {final_dst})};
    const std::vector<uint8_t> packet = BuildTcpPacket(spec);
    ASSERT_TRUE(TcpChecksumValid(MustParse(packet)));
    PacketChanges changes;
    changes.edits = {{8, 20, "2001:db8:2::77"}};
    changes.seq_shift = 2;
    const std::vector<uint8_t> rewritten = RewriteTcpPacket(MustParse(packet), changes);
    PacketSpec expected = spec;
    expected.payload = "EPRT |2|2001:db8:2::77|1025|\r\n";
    expected.seq = base + 2;
    EXPECT_EQ(rewritten, BuildTcpPacket(expected));
    ExpectWellFormed(rewritten, final_dst);
  }
}

TEST_P(RewriteTest, RejectsEditsOutsideTheContract) {
  PacketSpec spec = Spec();
  spec.payload = "0123456789";
  const std::vector<uint8_t> packet = BuildTcpPacket(spec);
  const TcpPacketView view = MustParse(packet);
  const std::vector<std::vector<PayloadEdit>> bad = {
      {{0, 11, ""}},               // past the payload
      {{11, 11, "x"}},             // starts past the payload
      {{5, 4, ""}},                // end before begin
      {{4, 6, "a"}, {5, 7, "b"}},  // overlapping
      {{6, 7, "a"}, {1, 2, "b"}},  // not sorted
  };
  for (const auto& edits : bad) {
    PacketChanges changes;
    changes.edits = edits;
    EXPECT_TRUE(RewriteTcpPacket(view, changes).empty());
  }
}

TEST_P(RewriteTest, LengthLimit) {
  PacketSpec spec = Spec();
  spec.payload = "x";
  const std::vector<uint8_t> packet = BuildTcpPacket(spec);
  const TcpPacketView view = MustParse(packet);
  // The largest packet the IP length field can describe: IPv4 counts the header in its 65535,
  // IPv6 does not count its fixed 40 bytes.
  const size_t limit = family() == Family::kIpv4 ? 65535 : 65535 + 40;
  PacketChanges changes;
  changes.edits = {{0, 1, std::string(limit - packet.size() + 1, 'y')}};
  std::vector<uint8_t> rewritten = RewriteTcpPacket(view, changes);
  ASSERT_EQ(rewritten.size(), limit);
  ExpectWellFormed(rewritten, spec.dst.addr);
  changes.edits[0].replacement += "y";
  EXPECT_TRUE(RewriteTcpPacket(view, changes).empty());
}

}  // namespace
}  // namespace ftpalg
