// A read-only view of an IPv4 or IPv6 packet carrying TCP, over a byte span (no copies).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "ftpalg/ip_address.h"

namespace ftpalg {

namespace tcp_flags {
inline constexpr uint8_t kFin = 0x01;
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kRst = 0x04;
inline constexpr uint8_t kPsh = 0x08;
inline constexpr uint8_t kAck = 0x10;
}  // namespace tcp_flags

enum class PacketError : uint8_t {
  kNone = 0,
  kTruncated,        // shorter than its headers say (also: IPv6 jumbograms, RFC 2675)
  kNotIp,            // version nibble neither 4 nor 6
  kNotTcp,           // another transport protocol (not an error for the engine: just not ours)
  kFragment,         // an IPv4 or IPv6 fragment: never parsed or rewritten
  kBadHeaderLength,  // IHL < 5, TCP data offset < 5, or lengths that do not fit
  kBadOption,        // a TCP option whose length runs past the header
};

std::string_view PacketErrorName(PacketError error);

// A SACK block (RFC 2018) in the TCP options: where its two edges are in the packet.
struct SackBlock {
  size_t offset = 0;  // offset of the left edge in the packet; the right edge follows at +4
  uint32_t left = 0;
  uint32_t right = 0;
};

struct TcpPacketView {
  std::span<const uint8_t> packet;  // the whole IP packet, up to its IP length (no link padding)
  Family family = Family::kIpv4;
  Tuple tuple;  // src/dst address and port as in the headers
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  size_t tcp_offset = 0;      // where the TCP header starts in `packet`
  size_t payload_offset = 0;  // where the TCP payload starts in `packet`
  std::span<const uint8_t> payload;
  std::array<SackBlock, 4> sack_blocks{};  // at most 4 fit in 40 bytes of options
  size_t sack_block_count = 0;
  // Where the destination address that the TCP checksum's pseudo-header covers lies in `packet`:
  // the IP header's, or for IPv6 the final destination named by a routing header that still has
  // segments left (RFC 8200 8.1).
  size_t checksum_dst_offset = 0;

  bool HasFlag(uint8_t flag) const { return (flags & flag) != 0; }
};

struct TcpPacketResult {
  TcpPacketView view;
  PacketError error = PacketError::kNone;
  bool ok() const { return error == PacketError::kNone; }
};

// Parses an IP packet (starting at the version nibble). Walks IPv6 extension headers (hop-by-hop,
// routing, destination options); fragments are reported as kFragment. The payload length comes
// from the IP header (not the span), so link-layer padding is ignored. An IPv6 routing header of
// a type whose final destination cannot be read (neither 0, 2 nor 4) while segments are left hides
// the address the TCP checksum covers: such packets are reported as kNotTcp (left alone).
TcpPacketResult ParseTcpPacket(std::span<const uint8_t> packet);

}  // namespace ftpalg
