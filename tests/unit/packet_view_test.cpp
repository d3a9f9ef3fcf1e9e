#include "ftpalg/packet_view.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "ftpalg/packet_rewrite.h"
#include "packet_builder.h"

namespace ftpalg {
namespace {

using test::BuildTcpPacket;
using test::ClientToServer;
using test::Ep;
using test::Ipv6Extension;
using test::PacketSpec;
using test::TcpOffsetOf;

std::string PayloadText(const TcpPacketView& view) {
  return std::string(view.payload.begin(), view.payload.end());
}

PacketError ErrorOf(const std::vector<uint8_t>& packet) { return ParseTcpPacket(packet).error; }

void Put16At(std::vector<uint8_t>& packet, size_t offset, uint16_t value) {
  packet[offset] = static_cast<uint8_t>(value >> 8);
  packet[offset + 1] = static_cast<uint8_t>(value & 0xff);
}

// --- Well-formed packets -------------------------------------------------------------------------

TEST(PacketViewTest, ParsesIpv4Segment) {
  PacketSpec spec = ClientToServer(Family::kIpv4);
  spec.seq = 0xfffffff0;
  spec.ack = 0x0000000f;
  spec.flags = tcp_flags::kAck | tcp_flags::kPsh;
  spec.payload = "PORT 192,0,2,10,4,1\r\n";
  std::vector<uint8_t> packet = BuildTcpPacket(spec);

  TcpPacketResult result = ParseTcpPacket(packet);
  ASSERT_TRUE(result.ok()) << PacketErrorName(result.error);
  const TcpPacketView& view = result.view;
  EXPECT_EQ(view.family, Family::kIpv4);
  EXPECT_EQ(view.tuple.src, spec.src);
  EXPECT_EQ(view.tuple.dst, spec.dst);
  EXPECT_EQ(view.seq, 0xfffffff0u);
  EXPECT_EQ(view.ack, 0x0000000fu);
  EXPECT_EQ(view.flags, tcp_flags::kAck | tcp_flags::kPsh);
  EXPECT_TRUE(view.HasFlag(tcp_flags::kAck));
  EXPECT_FALSE(view.HasFlag(tcp_flags::kSyn));
  EXPECT_EQ(view.tcp_offset, 20u);
  EXPECT_EQ(view.payload_offset, 40u);
  EXPECT_EQ(view.checksum_dst_offset, 16u);
  EXPECT_EQ(PayloadText(view), spec.payload);
  EXPECT_EQ(view.packet.size(), packet.size());
  EXPECT_EQ(view.sack_block_count, 0u);
  EXPECT_TRUE(TcpChecksumValid(view));
  EXPECT_TRUE(IpHeaderChecksumValid(view));
}

TEST(PacketViewTest, ParsesIpv6Segment) {
  PacketSpec spec = ClientToServer(Family::kIpv6);
  spec.payload = "EPRT |2|2001:db8::10|1025|\r\n";
  spec.flags = tcp_flags::kSyn;
  std::vector<uint8_t> packet = BuildTcpPacket(spec);

  TcpPacketResult result = ParseTcpPacket(packet);
  ASSERT_TRUE(result.ok()) << PacketErrorName(result.error);
  EXPECT_EQ(result.view.family, Family::kIpv6);
  EXPECT_EQ(result.view.tuple.src, spec.src);
  EXPECT_EQ(result.view.tuple.dst, spec.dst);
  EXPECT_EQ(result.view.tcp_offset, 40u);
  EXPECT_EQ(result.view.payload_offset, 60u);
  EXPECT_EQ(result.view.checksum_dst_offset, 24u);
  EXPECT_EQ(result.view.flags, tcp_flags::kSyn);
  EXPECT_EQ(PayloadText(result.view), spec.payload);
  EXPECT_TRUE(TcpChecksumValid(result.view));
}

TEST(PacketViewTest, EmptyPayload) {
  for (Family family : {Family::kIpv4, Family::kIpv6}) {
    std::vector<uint8_t> packet = BuildTcpPacket(ClientToServer(family));
    TcpPacketResult result = ParseTcpPacket(packet);
    ASSERT_TRUE(result.ok());
    EXPECT_TRUE(result.view.payload.empty());
    EXPECT_EQ(result.view.payload_offset, packet.size());
  }
}

TEST(PacketViewTest, SkipsIpv4Options) {
  PacketSpec spec = ClientToServer(Family::kIpv4);
  spec.ipv4_options = {0x94, 0x04, 0x00, 0x00, 0x01};  // Router Alert (RFC 2113), NOP, padding
  spec.payload = "USER anonymous\r\n";
  std::vector<uint8_t> packet = BuildTcpPacket(spec);
  TcpPacketResult result = ParseTcpPacket(packet);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.view.tcp_offset, 28u);
  EXPECT_EQ(PayloadText(result.view), spec.payload);
  EXPECT_TRUE(TcpChecksumValid(result.view));
}

// RFC 894: Ethernet pads frames to 60 bytes; the IP length says where the packet ends.
TEST(PacketViewTest, IgnoresLinkLayerPadding) {
  for (Family family : {Family::kIpv4, Family::kIpv6}) {
    PacketSpec spec = ClientToServer(family);
    spec.payload = "QUIT\r\n";
    spec.link_padding = 12;
    std::vector<uint8_t> packet = BuildTcpPacket(spec);
    TcpPacketResult result = ParseTcpPacket(packet);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(PayloadText(result.view), "QUIT\r\n");
    EXPECT_EQ(result.view.packet.size(), packet.size() - 12);
    EXPECT_TRUE(TcpChecksumValid(result.view));
  }
}

TEST(PacketViewTest, HighFlagBitsAreKept) {
  PacketSpec spec = ClientToServer(Family::kIpv4);
  spec.flags = 0xc0 | tcp_flags::kAck;  // CWR and ECE (RFC 3168 6.1)
  std::vector<uint8_t> packet = BuildTcpPacket(spec);
  TcpPacketResult result = ParseTcpPacket(packet);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.view.flags, 0xd0);
}

// --- IPv6 extension headers ----------------------------------------------------------------------

TEST(PacketViewTest, WalksIpv6ExtensionHeaders) {
  PacketSpec spec = ClientToServer(Family::kIpv6);
  spec.payload = "EPSV\r\n";
  spec.ipv6_extensions = {Ipv6Extension::HopByHop(), Ipv6Extension::DestinationOptions(2),
                          Ipv6Extension::Routing(0, 0, {Ep("2001:db8::99", 0).addr}),
                          Ipv6Extension::DestinationOptions()};
  std::vector<uint8_t> packet = BuildTcpPacket(spec);
  TcpPacketResult result = ParseTcpPacket(packet);
  ASSERT_TRUE(result.ok()) << PacketErrorName(result.error);
  EXPECT_EQ(result.view.tcp_offset, 40u + 8 + 24 + 24 + 8);
  EXPECT_EQ(result.view.tcp_offset, TcpOffsetOf(spec));
  EXPECT_EQ(result.view.checksum_dst_offset, 24u);  // no segments left: the header's destination
  EXPECT_EQ(PayloadText(result.view), "EPSV\r\n");
  EXPECT_TRUE(TcpChecksumValid(result.view));
}

// RFC 8200 8.1: in flight, the TCP checksum covers the final destination of the routing header.
TEST(PacketViewTest, RoutingHeaderFinalDestination) {
  const IpAddress hop1 = Ep("2001:db8:ff::1", 0).addr;
  const IpAddress hop2 = Ep("2001:db8:ff::2", 0).addr;
  struct Case {
    uint8_t routing_type;
    std::vector<IpAddress> addresses;
    size_t final_index;  // which address is the final destination
  };
  const Case cases[] = {
      {0, {hop1, hop2}, 1},  // RFC 2460 type 0: the last address
      {2, {hop1}, 0},        // RFC 6275 type 2: the home address
      {4, {hop2, hop1}, 0},  // RFC 8754 SRH: Segment List[0]
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.routing_type));
    PacketSpec spec = ClientToServer(Family::kIpv6);
    spec.payload = "PASV\r\n";
    spec.ipv6_extensions = {Ipv6Extension::HopByHop(),
                            Ipv6Extension::Routing(c.routing_type, 1, c.addresses)};
    std::vector<uint8_t> packet = BuildTcpPacket(spec);
    TcpPacketResult result = ParseTcpPacket(packet);
    ASSERT_TRUE(result.ok()) << PacketErrorName(result.error);
    EXPECT_EQ(result.view.checksum_dst_offset, 40u + 8 + 8 + 16 * c.final_index);
    EXPECT_EQ(result.view.tuple.dst, spec.dst);  // the tuple is the header's, as conntrack's
    EXPECT_TRUE(TcpChecksumValid(result.view));
  }
}

TEST(PacketViewTest, RoutingHeaderUnknownTypeInFlightIsNotOurs) {
  PacketSpec spec = ClientToServer(Family::kIpv6);
  // Type 3 (RFC 6554, compressed addresses) with segments left: final destination unreadable.
  spec.ipv6_extensions = {Ipv6Extension::Routing(3, 1, {Ep("2001:db8:ff::1", 0).addr})};
  EXPECT_EQ(ErrorOf(BuildTcpPacket(spec)), PacketError::kNotTcp);
  // The same header with no segments left does not change the destination: fine.
  spec.ipv6_extensions = {Ipv6Extension::Routing(3, 0, {Ep("2001:db8:ff::1", 0).addr})};
  EXPECT_EQ(ErrorOf(BuildTcpPacket(spec)), PacketError::kNone);
  // A type 4 header in flight that holds no address at all is not usable either.
  spec.ipv6_extensions = {Ipv6Extension::Routing(4, 1, {})};
  EXPECT_EQ(ErrorOf(BuildTcpPacket(spec)), PacketError::kNotTcp);
}

TEST(PacketViewTest, Ipv6FragmentHeaderIsFragment) {
  PacketSpec spec = ClientToServer(Family::kIpv6);
  spec.payload = "RETR x\r\n";
  for (auto fragment : {Ipv6Extension::Fragment(0, true), Ipv6Extension::Fragment(0, false),
                        Ipv6Extension::Fragment(100, false)}) {
    spec.ipv6_extensions = {fragment};
    EXPECT_EQ(ErrorOf(BuildTcpPacket(spec)), PacketError::kFragment);
    spec.ipv6_extensions = {Ipv6Extension::HopByHop(), fragment};
    EXPECT_EQ(ErrorOf(BuildTcpPacket(spec)), PacketError::kFragment);
  }
}

TEST(PacketViewTest, Ipv6ExtensionHeaderPastPayloadLengthIsTruncated) {
  PacketSpec spec = ClientToServer(Family::kIpv6);
  spec.ipv6_extensions = {Ipv6Extension::DestinationOptions()};
  std::vector<uint8_t> packet = BuildTcpPacket(spec);
  // Hdr Ext Len claims 8 + 8 * 10 bytes, past the payload length.
  packet[41] = 10;
  EXPECT_EQ(ErrorOf(packet), PacketError::kTruncated);
  // Payload length ending inside the first two bytes of an extension header.
  packet = BuildTcpPacket(spec);
  Put16At(packet, 4, 1);
  EXPECT_EQ(ErrorOf(packet), PacketError::kTruncated);
  // Payload length ending inside its 8 bytes.
  Put16At(packet, 4, 7);
  EXPECT_EQ(ErrorOf(packet), PacketError::kTruncated);
  // Exactly the extension header and nothing after it: TCP header missing.
  Put16At(packet, 4, 8);
  EXPECT_EQ(ErrorOf(packet), PacketError::kTruncated);
}

TEST(PacketViewTest, Ipv6OtherNextHeadersAreNotTcp) {
  PacketSpec spec = ClientToServer(Family::kIpv6);
  // UDP, ICMPv6, No Next Header, ESP, AH.
  const uint8_t kNextHeaders[] = {17, 58, 59, 50, 51};
  for (uint8_t next : kNextHeaders) {
    std::vector<uint8_t> packet = BuildTcpPacket(spec);
    packet[6] = next;
    EXPECT_EQ(ErrorOf(packet), PacketError::kNotTcp) << static_cast<int>(next);
    // The same behind a hop-by-hop header.
    spec.ipv6_extensions = {Ipv6Extension::HopByHop()};
    packet = BuildTcpPacket(spec);
    packet[40] = next;
    EXPECT_EQ(ErrorOf(packet), PacketError::kNotTcp) << static_cast<int>(next);
    spec.ipv6_extensions.clear();
  }
}

// --- SACK and other TCP options ------------------------------------------------------------------

TEST(PacketViewTest, ParsesSackBlocksAcrossWraparound) {
  for (Family family : {Family::kIpv4, Family::kIpv6}) {
    PacketSpec spec = ClientToServer(family);
    spec.tcp_options = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};  // NOP NOP timestamps
    spec.sack = {{0xffffff00, 0xffffff80}, {0xfffffff0, 0x00000010}, {0x20, 0x30}};
    std::vector<uint8_t> packet = BuildTcpPacket(spec);
    TcpPacketResult result = ParseTcpPacket(packet);
    ASSERT_TRUE(result.ok()) << PacketErrorName(result.error);
    ASSERT_EQ(result.view.sack_block_count, 3u);
    const size_t first = TcpOffsetOf(spec) + 20 + 12 + 4;  // after timestamps, NOP NOP 5 len
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(result.view.sack_blocks[i].left, spec.sack[i].left);
      EXPECT_EQ(result.view.sack_blocks[i].right, spec.sack[i].right);
      EXPECT_EQ(result.view.sack_blocks[i].offset, first + 8 * i);
      // The offsets really point at the edges.
      const size_t at = result.view.sack_blocks[i].offset;
      EXPECT_EQ(packet[at], static_cast<uint8_t>(spec.sack[i].left >> 24));
      EXPECT_EQ(packet[at + 7], static_cast<uint8_t>(spec.sack[i].right));
    }
  }
}

TEST(PacketViewTest, ParsesFourSackBlocks) {
  PacketSpec spec = ClientToServer(Family::kIpv4);
  spec.sack = {{1, 2}, {3, 4}, {5, 6}, {0xfffffffe, 1}};
  spec.payload = "x";
  const std::vector<uint8_t> packet = BuildTcpPacket(spec);
  TcpPacketResult result = ParseTcpPacket(packet);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result.view.sack_block_count, 4u);
  EXPECT_EQ(result.view.sack_blocks[3].left, 0xfffffffeu);
  EXPECT_EQ(result.view.sack_blocks[3].right, 1u);
  EXPECT_EQ(result.view.payload_offset, 20u + 20 + 36);
}

TEST(PacketViewTest, CollectsBlocksOfSeveralSackOptions) {
  PacketSpec spec = ClientToServer(Family::kIpv4);
  spec.tcp_options = {5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 5, 10, 0, 0, 0, 3, 0, 0, 0, 4};
  const std::vector<uint8_t> packet = BuildTcpPacket(spec);
  TcpPacketResult result = ParseTcpPacket(packet);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result.view.sack_block_count, 2u);
  EXPECT_EQ(result.view.sack_blocks[0].offset, 42u);
  EXPECT_EQ(result.view.sack_blocks[1].left, 3u);
  EXPECT_EQ(result.view.sack_blocks[1].offset, 52u);
}

TEST(PacketViewTest, StopsAtEndOfOptionList) {
  PacketSpec spec = ClientToServer(Family::kIpv4);
  // MSS, then End of Option List followed by bytes that would be a broken option.
  spec.tcp_options = {2, 4, 0x05, 0xb4, 0, 0x77, 0x01, 0x00};
  const std::vector<uint8_t> packet = BuildTcpPacket(spec);
  TcpPacketResult result = ParseTcpPacket(packet);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.view.sack_block_count, 0u);
}

TEST(PacketViewTest, BadOptions) {
  const std::vector<std::vector<uint8_t>> bad = {
      {2, 1, 0, 0},                           // length 1 (must count kind and length)
      {2, 0, 0, 0},                           // length 0 (would never advance)
      {1, 1, 8, 10},                          // timestamps running past the header
      {1, 1, 1, 8},                           // a kind in the last byte, no room for its length
      {5, 2, 0, 0},                           // SACK without blocks
      {5, 6, 0, 0, 0, 1, 0, 0},               // SACK length not 2 + 8n
      {5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0},  // ditto
  };
  for (const auto& options : bad) {
    for (Family family : {Family::kIpv4, Family::kIpv6}) {
      PacketSpec spec = ClientToServer(family);
      spec.tcp_options = options;
      spec.payload = "NOOP\r\n";
      EXPECT_EQ(ErrorOf(BuildTcpPacket(spec)), PacketError::kBadOption)
          << testing::PrintToString(options);
    }
  }
}

// --- Every error, IPv4 ---------------------------------------------------------------------------

TEST(PacketViewTest, EmptyAndNonIp) {
  EXPECT_EQ(ParseTcpPacket({}).error, PacketError::kTruncated);
  std::vector<uint8_t> packet = BuildTcpPacket(ClientToServer(Family::kIpv4));
  const uint8_t kVersions[] = {0, 1, 5, 7, 15};
  for (uint8_t version : kVersions) {
    packet[0] = static_cast<uint8_t>((version << 4) | 5);
    EXPECT_EQ(ErrorOf(packet), PacketError::kNotIp) << static_cast<int>(version);
  }
  EXPECT_EQ(ErrorOf({0x00}), PacketError::kNotIp);
  EXPECT_EQ(ErrorOf({0x45}), PacketError::kTruncated);
  EXPECT_EQ(ErrorOf({0x60}), PacketError::kTruncated);
}

TEST(PacketViewTest, Ipv4ShortHeaderIsTruncated) {
  std::vector<uint8_t> packet = BuildTcpPacket(ClientToServer(Family::kIpv4));
  for (size_t size = 1; size < 20; ++size) {
    EXPECT_EQ(ParseTcpPacket(std::span(packet).first(size)).error, PacketError::kTruncated);
  }
}

TEST(PacketViewTest, Ipv4BadHeaderLengths) {
  std::vector<uint8_t> packet = BuildTcpPacket(ClientToServer(Family::kIpv4));
  for (uint8_t ihl = 0; ihl < 5; ++ihl) {
    packet[0] = static_cast<uint8_t>(0x40 | ihl);
    EXPECT_EQ(ErrorOf(packet), PacketError::kBadHeaderLength) << static_cast<int>(ihl);
  }
  packet = BuildTcpPacket(ClientToServer(Family::kIpv4));
  Put16At(packet, 2, 19);  // total length shorter than the header
  EXPECT_EQ(ErrorOf(packet), PacketError::kBadHeaderLength);
  packet[0] = 0x46;  // IHL 6 with total length 20
  Put16At(packet, 2, 20);
  EXPECT_EQ(ErrorOf(packet), PacketError::kBadHeaderLength);
}

TEST(PacketViewTest, Ipv4TotalLengthBeyondSpanIsTruncated) {
  PacketSpec spec = ClientToServer(Family::kIpv4);
  spec.payload = "STOR file\r\n";
  std::vector<uint8_t> packet = BuildTcpPacket(spec);
  // Every proper prefix of the packet: the total length is more than the bytes present.
  for (size_t size = 20; size < packet.size(); ++size) {
    EXPECT_EQ(ParseTcpPacket(std::span(packet).first(size)).error, PacketError::kTruncated) << size;
  }
  // IHL beyond the span: also only detectable as total length > span.
  packet[0] = 0x4f;
  Put16At(packet, 2, 60);
  EXPECT_EQ(ParseTcpPacket(std::span(packet).first(40)).error, PacketError::kTruncated);
}

TEST(PacketViewTest, Ipv4TotalLengthWithoutRoomForTcpIsTruncated) {
  std::vector<uint8_t> packet = BuildTcpPacket(ClientToServer(Family::kIpv4));
  for (uint16_t total = 20; total < 40; ++total) {
    Put16At(packet, 2, total);
    EXPECT_EQ(ErrorOf(packet), PacketError::kTruncated) << total;
  }
}

TEST(PacketViewTest, Ipv4Fragments) {
  PacketSpec spec = ClientToServer(Family::kIpv4);
  spec.payload = "LIST\r\n";
  spec.ipv4_flags_fragment = 0x2000;  // MF, offset 0: a first fragment
  EXPECT_EQ(ErrorOf(BuildTcpPacket(spec)), PacketError::kFragment);
  spec.ipv4_flags_fragment = 0x0001;  // offset 8 bytes, last fragment
  EXPECT_EQ(ErrorOf(BuildTcpPacket(spec)), PacketError::kFragment);
  spec.ipv4_flags_fragment = 0x3fff;
  EXPECT_EQ(ErrorOf(BuildTcpPacket(spec)), PacketError::kFragment);
  spec.ipv4_flags_fragment = 0x4000;  // DF alone is not a fragment
  EXPECT_EQ(ErrorOf(BuildTcpPacket(spec)), PacketError::kNone);
  spec.ipv4_flags_fragment = 0x0000;
  EXPECT_EQ(ErrorOf(BuildTcpPacket(spec)), PacketError::kNone);
}

TEST(PacketViewTest, Ipv4OtherProtocolsAreNotTcp) {
  std::vector<uint8_t> packet = BuildTcpPacket(ClientToServer(Family::kIpv4));
  const uint8_t kProtocols[] = {1, 17, 41, 47, 50, 132};
  for (uint8_t protocol : kProtocols) {
    packet[9] = protocol;
    EXPECT_EQ(ErrorOf(packet), PacketError::kNotTcp) << static_cast<int>(protocol);
  }
}

TEST(PacketViewTest, TcpDataOffsetErrors) {
  for (Family family : {Family::kIpv4, Family::kIpv6}) {
    PacketSpec spec = ClientToServer(family);
    spec.payload = "ab";
    std::vector<uint8_t> packet = BuildTcpPacket(spec);
    const size_t tcp = TcpOffsetOf(spec);
    for (uint8_t words = 0; words < 5; ++words) {
      packet[tcp + 12] = static_cast<uint8_t>(words << 4);
      EXPECT_EQ(ErrorOf(packet), PacketError::kBadHeaderLength) << static_cast<int>(words);
    }
    // 6 words: 24 bytes, but the segment is only 22 long.
    packet[tcp + 12] = 0x60;
    EXPECT_EQ(ErrorOf(packet), PacketError::kBadHeaderLength);
    packet[tcp + 12] = 0xf0;
    EXPECT_EQ(ErrorOf(packet), PacketError::kBadHeaderLength);
    // The data offset counts against the IP length, not the span (padding is no header room).
    spec.payload.clear();
    spec.link_padding = 40;
    packet = BuildTcpPacket(spec);
    packet[tcp + 12] = 0x60;
    EXPECT_EQ(ErrorOf(packet), PacketError::kBadHeaderLength);
  }
}

// --- Every error, IPv6 ---------------------------------------------------------------------------

TEST(PacketViewTest, Ipv6Truncation) {
  PacketSpec spec = ClientToServer(Family::kIpv6);
  spec.payload = "PWD\r\n";
  spec.ipv6_extensions = {Ipv6Extension::HopByHop()};
  std::vector<uint8_t> packet = BuildTcpPacket(spec);
  for (size_t size = 1; size < packet.size(); ++size) {
    EXPECT_EQ(ParseTcpPacket(std::span(packet).first(size)).error, PacketError::kTruncated) << size;
  }
  // Payload length that leaves less than a TCP header.
  packet = BuildTcpPacket(ClientToServer(Family::kIpv6));
  for (uint16_t payload_length = 1; payload_length < 20; ++payload_length) {
    Put16At(packet, 4, payload_length);
    EXPECT_EQ(ErrorOf(packet), PacketError::kTruncated) << payload_length;
  }
}

TEST(PacketViewTest, Ipv6JumbogramIsUnsupported) {
  // RFC 2675: payload length 0 with a Jumbo Payload option (type 0xC2) in a hop-by-hop header.
  PacketSpec spec = ClientToServer(Family::kIpv6);
  spec.ipv6_extensions = {{0, {0xc2, 4, 0, 0, 0, 68}}};
  std::vector<uint8_t> packet = BuildTcpPacket(spec);
  Put16At(packet, 4, 0);
  EXPECT_EQ(ErrorOf(packet), PacketError::kTruncated);
}

// --- Names and robustness ------------------------------------------------------------------------

TEST(PacketViewTest, ErrorNames) {
  EXPECT_EQ(PacketErrorName(PacketError::kNone), "none");
  EXPECT_EQ(PacketErrorName(PacketError::kTruncated), "truncated");
  EXPECT_EQ(PacketErrorName(PacketError::kNotIp), "not-ip");
  EXPECT_EQ(PacketErrorName(PacketError::kNotTcp), "not-tcp");
  EXPECT_EQ(PacketErrorName(PacketError::kFragment), "fragment");
  EXPECT_EQ(PacketErrorName(PacketError::kBadHeaderLength), "bad-header-length");
  EXPECT_EQ(PacketErrorName(PacketError::kBadOption), "bad-option");
  EXPECT_EQ(PacketErrorName(static_cast<PacketError>(200)), "unknown");
}

// Random corruption of well-formed packets: parsing must never read out of bounds (the sanitizer
// build checks that) and a successful parse must describe a consistent packet.
TEST(PacketViewTest, SurvivesRandomCorruption) {
  std::mt19937 random(12345);
  std::vector<PacketSpec> specs;
  for (Family family : {Family::kIpv4, Family::kIpv6}) {
    PacketSpec spec = ClientToServer(family);
    spec.payload = "PORT 192,0,2,10,4,1\r\n";
    spec.sack = {{0xfffffff0, 0x10}, {0x20, 0x30}};
    spec.tcp_options = {2, 4, 5, 0xb4};
    if (family == Family::kIpv6) {
      spec.ipv6_extensions = {Ipv6Extension::HopByHop(),
                              Ipv6Extension::Routing(4, 1, {Ep("2001:db8::5", 0).addr})};
    } else {
      spec.ipv4_options = {1, 1, 1, 1};
    }
    specs.push_back(spec);
  }
  int parsed = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> packet = BuildTcpPacket(specs[static_cast<size_t>(round) % 2]);
    const int flips = 1 + static_cast<int>(random() % 4);
    for (int i = 0; i < flips; ++i) {
      packet[random() % packet.size()] = static_cast<uint8_t>(random());
    }
    if (random() % 4 == 0) packet.resize(random() % packet.size());
    TcpPacketResult result = ParseTcpPacket(packet);
    if (!result.ok()) continue;
    ++parsed;
    const TcpPacketView& view = result.view;
    ASSERT_LE(view.packet.size(), packet.size());
    ASSERT_LE(view.tcp_offset + 20, view.payload_offset);
    ASSERT_EQ(view.payload_offset + view.payload.size(), view.packet.size());
    ASSERT_LE(view.sack_block_count, 4u);
    for (size_t i = 0; i < view.sack_block_count; ++i) {
      ASSERT_LE(view.sack_blocks[i].offset + 8, view.payload_offset);
    }
    // Checksum and rewrite code must cope with whatever parsed.
    (void)TcpChecksumValid(view);
    (void)IpHeaderChecksumValid(view);
    PacketChanges changes;
    changes.seq_shift = 1;
    changes.ack_shift = 2;
    changes.sack_shift = 3;
    std::vector<uint8_t> rewritten = RewriteTcpPacket(view, changes);
    ASSERT_EQ(rewritten.size(), view.packet.size());
    TcpPacketResult again = ParseTcpPacket(rewritten);
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(TcpChecksumValid(again.view));
  }
  EXPECT_GT(parsed, 1000);  // the corruption leaves enough packets intact to test the above
}

}  // namespace
}  // namespace ftpalg
