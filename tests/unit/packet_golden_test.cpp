// Packets the Linux kernel (6.x) generated, captured and checked independently of this project.
//
// How they were made: in a private network namespace, a TUN device (no checksum offload, so the
// kernel computes every checksum in full) carried a TCP connection from 192.0.2.1 / 2001:db8::1 to
// port 21 of 192.0.2.2 / 2001:db8::2. A small responder on the TUN side completed the handshake
// with server ISN 0xfffffff0, the client sent a PORT / EPRT command, and the responder sent 8 bytes
// 10 bytes ahead of the next expected one, so the kernel answered with a duplicate ACK carrying a
// SACK block that crosses 2^32. tshark 4.x, with checksum validation on, marked all IP and TCP
// checksums "Good".
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ftpalg/packet_rewrite.h"
#include "ftpalg/packet_view.h"
#include "packet_builder.h"

namespace ftpalg {
namespace {

using test::BuildTcpPacket;
using test::Ep;
using test::PacketSpec;
using test::ReferenceTcpChecksum;

// 192.0.2.1:33966 -> 192.0.2.2:21 "PORT 192,0,2,1,4,1\r\n", seq 0x16579cbf, ack 0xfffffff1.
const std::vector<uint8_t> kIpv4Port = {
    0x45, 0x00, 0x00, 0x3c, 0x00, 0x40, 0x40, 0x00, 0x40, 0x06, 0xb6, 0x78,  //
    0xc0, 0x00, 0x02, 0x01, 0xc0, 0x00, 0x02, 0x02, 0x84, 0xae, 0x00, 0x15,  //
    0x16, 0x57, 0x9c, 0xbf, 0xff, 0xff, 0xff, 0xf1, 0x50, 0x18, 0xfa, 0xf0,  //
    0x12, 0xee, 0x00, 0x00, 0x50, 0x4f, 0x52, 0x54, 0x20, 0x31, 0x39, 0x32,  //
    0x2c, 0x30, 0x2c, 0x32, 0x2c, 0x31, 0x2c, 0x34, 0x2c, 0x31, 0x0d, 0x0a,
};

// The client's SYN: MSS 1460, SACK permitted, timestamps, NOP, window scale 10.
const std::vector<uint8_t> kIpv4Syn = {
    0x45, 0x00, 0x00, 0x3c, 0x00, 0x3e, 0x40, 0x00, 0x40, 0x06, 0xb6, 0x7a,  //
    0xc0, 0x00, 0x02, 0x01, 0xc0, 0x00, 0x02, 0x02, 0x84, 0xae, 0x00, 0x15,  //
    0x16, 0x57, 0x9c, 0xbe, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0,  //
    0xa1, 0x4c, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a,  //
    0x9d, 0x02, 0x52, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
};

// Duplicate ACK with NOP NOP SACK [0xfffffffb, 0x00000003].
const std::vector<uint8_t> kIpv4Sack = {
    0x45, 0x00, 0x00, 0x34, 0x00, 0x41, 0x40, 0x00, 0x40, 0x06, 0xb6, 0x7f,  //
    0xc0, 0x00, 0x02, 0x01, 0xc0, 0x00, 0x02, 0x02, 0x84, 0xae, 0x00, 0x15,  //
    0x16, 0x57, 0x9c, 0xd3, 0xff, 0xff, 0xff, 0xf1, 0x80, 0x10, 0xfa, 0xf0,  //
    0xc2, 0xe9, 0x00, 0x00, 0x01, 0x01, 0x05, 0x0a, 0xff, 0xff, 0xff, 0xfb,  //
    0x00, 0x00, 0x00, 0x03,
};

// [2001:db8::1]:46018 -> [2001:db8::2]:21 "EPRT |2|2001:db8::1|1025|\r\n", flow label 0xf7ec1.
const std::vector<uint8_t> kIpv6Eprt = {
    0x60, 0x0f, 0x7e, 0xc1, 0x00, 0x2f, 0x06, 0x40, 0x20, 0x01, 0x0d, 0xb8,  //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,  //
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
    0x00, 0x00, 0x00, 0x02, 0xb3, 0xc2, 0x00, 0x15, 0xc2, 0xb2, 0xf7, 0xd4,  //
    0xff, 0xff, 0xff, 0xf1, 0x50, 0x18, 0xfd, 0x20, 0xaa, 0x06, 0x00, 0x00,  //
    0x45, 0x50, 0x52, 0x54, 0x20, 0x7c, 0x32, 0x7c, 0x32, 0x30, 0x30, 0x31,  //
    0x3a, 0x64, 0x62, 0x38, 0x3a, 0x3a, 0x31, 0x7c, 0x31, 0x30, 0x32, 0x35,  //
    0x7c, 0x0d, 0x0a,
};

// The IPv6 duplicate ACK with the same SACK block.
const std::vector<uint8_t> kIpv6Sack = {
    0x60, 0x0f, 0x7e, 0xc1, 0x00, 0x20, 0x06, 0x40, 0x20, 0x01, 0x0d, 0xb8,  //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,  //
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
    0x00, 0x00, 0x00, 0x02, 0xb3, 0xc2, 0x00, 0x15, 0xc2, 0xb2, 0xf7, 0xef,  //
    0xff, 0xff, 0xff, 0xf1, 0x80, 0x10, 0xfd, 0x20, 0xb2, 0xbc, 0x00, 0x00,  //
    0x01, 0x01, 0x05, 0x0a, 0xff, 0xff, 0xff, 0xfb, 0x00, 0x00, 0x00, 0x03,
};

TcpPacketView MustParse(const std::vector<uint8_t>& packet) {
  TcpPacketResult result = ParseTcpPacket(packet);
  EXPECT_TRUE(result.ok()) << PacketErrorName(result.error);
  return result.view;
}

std::string PayloadText(const TcpPacketView& view) {
  return std::string(view.payload.begin(), view.payload.end());
}

TEST(GoldenPacketTest, KernelChecksumsValidate) {
  for (const auto* packet : {&kIpv4Port, &kIpv4Syn, &kIpv4Sack, &kIpv6Eprt, &kIpv6Sack}) {
    TcpPacketView view = MustParse(*packet);
    EXPECT_TRUE(TcpChecksumValid(view));
    EXPECT_TRUE(IpHeaderChecksumValid(view));
    // The checksum field equals what the builder's independent code computes.
    const uint16_t field = static_cast<uint16_t>(((*packet)[view.tcp_offset + 16] << 8) |
                                                 (*packet)[view.tcp_offset + 17]);
    EXPECT_EQ(field, ReferenceTcpChecksum(view.tuple.src.addr, view.tuple.dst.addr,
                                          view.packet.subspan(view.tcp_offset)));
  }
  // And the library's IPv4 header checksum: 0xb678 for the PORT packet.
  std::vector<uint8_t> header(kIpv4Port.begin(), kIpv4Port.begin() + 20);
  header[10] = header[11] = 0;
  EXPECT_EQ(InternetChecksum(header), 0xb678);
}

TEST(GoldenPacketTest, ParsesKernelPackets) {
  TcpPacketView port = MustParse(kIpv4Port);
  EXPECT_EQ(port.tuple.src, Ep("192.0.2.1", 33966));
  EXPECT_EQ(port.tuple.dst, Ep("192.0.2.2", 21));
  EXPECT_EQ(port.seq, 0x16579cbfu);
  EXPECT_EQ(port.ack, 0xfffffff1u);
  EXPECT_EQ(port.flags, tcp_flags::kAck | tcp_flags::kPsh);
  EXPECT_EQ(PayloadText(port), "PORT 192,0,2,1,4,1\r\n");

  TcpPacketView syn = MustParse(kIpv4Syn);
  EXPECT_EQ(syn.flags, tcp_flags::kSyn);
  EXPECT_EQ(syn.seq + 1, port.seq);
  EXPECT_EQ(syn.payload_offset, 60u);
  EXPECT_EQ(syn.sack_block_count, 0u);  // SACK-permitted (kind 4) is not a SACK block

  for (const auto* packet : {&kIpv4Sack, &kIpv6Sack}) {
    TcpPacketView sack = MustParse(*packet);
    ASSERT_EQ(sack.sack_block_count, 1u);
    EXPECT_EQ(sack.sack_blocks[0].left, 0xfffffffbu);
    EXPECT_EQ(sack.sack_blocks[0].right, 0x00000003u);
    EXPECT_EQ(sack.sack_blocks[0].offset, sack.tcp_offset + 24);
    EXPECT_TRUE(sack.payload.empty());
  }

  TcpPacketView eprt = MustParse(kIpv6Eprt);
  EXPECT_EQ(eprt.tuple.src, Ep("2001:db8::1", 46018));
  EXPECT_EQ(eprt.tuple.dst, Ep("2001:db8::2", 21));
  EXPECT_EQ(PayloadText(eprt), "EPRT |2|2001:db8::1|1025|\r\n");
}

// The builder reproduces real packets byte for byte: its layout and checksums are the kernel's.
TEST(GoldenPacketTest, BuilderMatchesKernel) {
  PacketSpec port;
  port.src = Ep("192.0.2.1", 33966);
  port.dst = Ep("192.0.2.2", 21);
  port.seq = 0x16579cbf;
  port.ack = 0xfffffff1;
  port.window = 0xfaf0;
  port.ipv4_id = 0x0040;
  port.payload = "PORT 192,0,2,1,4,1\r\n";
  EXPECT_EQ(BuildTcpPacket(port), kIpv4Port);

  PacketSpec sack = port;
  sack.ipv4_id = 0x0041;
  sack.seq = 0x16579cd3;
  sack.flags = tcp_flags::kAck;
  sack.payload.clear();
  sack.sack = {{0xfffffffb, 0x00000003}};
  EXPECT_EQ(BuildTcpPacket(sack), kIpv4Sack);

  PacketSpec eprt;
  eprt.src = Ep("2001:db8::1", 46018);
  eprt.dst = Ep("2001:db8::2", 21);
  eprt.seq = 0xc2b2f7d4;
  eprt.ack = 0xfffffff1;
  eprt.window = 0xfd20;
  eprt.ipv6_flow_label = 0xf7ec1;
  eprt.payload = "EPRT |2|2001:db8::1|1025|\r\n";
  EXPECT_EQ(BuildTcpPacket(eprt), kIpv6Eprt);
}

// What the engine does to such a packet on a NAT gateway: the announced address changes length,
// the sequence number moves with earlier changes. The result is checked against the builder.
TEST(GoldenPacketTest, RewritesKernelPackets) {
  PacketChanges changes;
  changes.edits = {{5, 18, "203,0,113,77,4,1"}};  // +3 bytes
  changes.seq_shift = 0x7fffffff;
  changes.ack_shift = 0x10;  // the ack crosses 2^32
  std::vector<uint8_t> rewritten = RewriteTcpPacket(MustParse(kIpv4Port), changes);
  PacketSpec expected;
  expected.src = Ep("192.0.2.1", 33966);
  expected.dst = Ep("192.0.2.2", 21);
  expected.seq = 0x16579cbf + 0x7fffffffu;
  expected.ack = 0x00000001;
  expected.window = 0xfaf0;
  expected.ipv4_id = 0x0040;
  expected.payload = "PORT 203,0,113,77,4,1\r\n";
  EXPECT_EQ(rewritten, BuildTcpPacket(expected));
  EXPECT_TRUE(TcpChecksumValid(MustParse(rewritten)));

  PacketChanges sack_changes;
  sack_changes.sack_shift = -4;
  sack_changes.ack_shift = -4;
  for (const auto* packet : {&kIpv4Sack, &kIpv6Sack}) {
    rewritten = RewriteTcpPacket(MustParse(*packet), sack_changes);
    TcpPacketView view = MustParse(rewritten);
    EXPECT_TRUE(TcpChecksumValid(view));
    EXPECT_TRUE(IpHeaderChecksumValid(view));
    EXPECT_EQ(view.ack, 0xffffffedu);
    ASSERT_EQ(view.sack_block_count, 1u);
    EXPECT_EQ(view.sack_blocks[0].left, 0xfffffff7u);
    EXPECT_EQ(view.sack_blocks[0].right, 0xffffffffu);
  }
}

}  // namespace
}  // namespace ftpalg
