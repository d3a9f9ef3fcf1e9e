#include "ftpalg/packet_view.h"

namespace ftpalg {
namespace {

// Protocol numbers (IANA "Assigned Internet Protocol Numbers").
constexpr uint8_t kProtoHopByHop = 0;      // RFC 8200 4.3
constexpr uint8_t kProtoTcp = 6;           // RFC 793
constexpr uint8_t kProtoRouting = 43;      // RFC 8200 4.4
constexpr uint8_t kProtoFragment = 44;     // RFC 8200 4.5
constexpr uint8_t kProtoDestOptions = 60;  // RFC 8200 4.6

constexpr size_t kIpv4MinHeader = 20;  // RFC 791 3.1: IHL >= 5 words
constexpr size_t kIpv6Header = 40;     // RFC 8200 3
constexpr size_t kTcpMinHeader = 20;   // RFC 793 3.1: data offset >= 5 words

// TCP option kinds (RFC 793 3.1, RFC 2018 3).
constexpr uint8_t kOptionEnd = 0;
constexpr uint8_t kOptionNop = 1;
constexpr uint8_t kOptionSack = 5;
constexpr size_t kSackBlockBytes = 8;

// Callers check the bounds first; these only assemble network-order integers.
uint16_t Load16(std::span<const uint8_t> bytes, size_t offset) {
  return static_cast<uint16_t>((bytes[offset] << 8) | bytes[offset + 1]);
}
uint32_t Load32(std::span<const uint8_t> bytes, size_t offset) {
  return (static_cast<uint32_t>(bytes[offset]) << 24) |
         (static_cast<uint32_t>(bytes[offset + 1]) << 16) |
         (static_cast<uint32_t>(bytes[offset + 2]) << 8) | static_cast<uint32_t>(bytes[offset + 3]);
}

// Where the IP layer hands over to TCP, or why it does not.
struct IpLayer {
  size_t ip_end = 0;      // end of the IP packet (its stated length) in the span
  size_t tcp_offset = 0;  // where the TCP header starts
  size_t checksum_dst_offset = 0;
  PacketError error = PacketError::kNone;
};

IpLayer ParseIpv4(std::span<const uint8_t> packet, TcpPacketView& view) {
  IpLayer ip;
  if (packet.size() < kIpv4MinHeader) {
    ip.error = PacketError::kTruncated;
    return ip;
  }
  const size_t header_length = static_cast<size_t>(packet[0] & 0x0f) * 4;
  const size_t total_length = Load16(packet, 2);
  if (header_length < kIpv4MinHeader || total_length < header_length) {
    ip.error = PacketError::kBadHeaderLength;
    return ip;
  }
  // RFC 791 3.1: Total Length is authoritative; the span may carry link-layer padding (Ethernet
  // pads frames to 60 bytes), which is not part of the packet.
  if (total_length > packet.size()) {
    ip.error = PacketError::kTruncated;
    return ip;
  }
  view.tuple.src.addr = IpAddress::FromV4Bytes(&packet[12]);
  view.tuple.dst.addr = IpAddress::FromV4Bytes(&packet[16]);
  // RFC 791 3.2: a fragment has MF set or a non-zero fragment offset. Only the first fragment
  // would hold the TCP header and none holds the whole segment, so none is parsed.
  const uint16_t flags_and_offset = Load16(packet, 6);
  if ((flags_and_offset & 0x2000) != 0 || (flags_and_offset & 0x1fff) != 0) {
    ip.error = PacketError::kFragment;
    return ip;
  }
  if (packet[9] != kProtoTcp) {
    ip.error = PacketError::kNotTcp;
    return ip;
  }
  ip.ip_end = total_length;
  ip.tcp_offset = header_length;
  ip.checksum_dst_offset = 16;
  return ip;
}

// RFC 8200 8.1: with a routing header that still has segments left, the TCP checksum covers the
// final destination, which the routing header names. Returns false when the routing type does not
// say where that is (or the header is too short to hold it).
bool FinalDestinationOffset(std::span<const uint8_t> packet, size_t header_offset,
                            size_t header_length, size_t& dst_offset) {
  // Bytes 2 and 3 are Routing Type and Segments Left (RFC 8200 4.4); the caller checked that the
  // whole header (at least 8 bytes) lies in the packet.
  const uint8_t routing_type = packet[header_offset + 2];
  const uint8_t segments_left = packet[header_offset + 3];
  if (segments_left == 0) return true;  // the IPv6 Destination Address is the final one
  const size_t addresses_offset = header_offset + 8;
  const size_t address_room = header_length - 8;
  switch (routing_type) {
    case 0:  // RFC 2460 4.4 (deprecated by RFC 5095): the last address of the list is final.
      if (address_room < 16) return false;
      dst_offset = addresses_offset + (address_room / 16 - 1) * 16;
      return true;
    case 2:  // RFC 6275 6.4: the one address is the home address, the final destination.
    case 4:  // RFC 8754 2: Segment List[0] is the last segment of the path.
      if (address_room < 16) return false;
      dst_offset = addresses_offset;
      return true;
    default:
      return false;
  }
}

IpLayer ParseIpv6(std::span<const uint8_t> packet, TcpPacketView& view) {
  IpLayer ip;
  if (packet.size() < kIpv6Header) {
    ip.error = PacketError::kTruncated;
    return ip;
  }
  const size_t payload_length = Load16(packet, 4);
  // RFC 2675: payload length 0 announces a jumbogram sized by a hop-by-hop option. No FTP control
  // segment is that large and the gateway's links do not carry them: unsupported.
  if (payload_length == 0 || kIpv6Header + payload_length > packet.size()) {
    ip.error = PacketError::kTruncated;
    return ip;
  }
  view.tuple.src.addr = IpAddress::FromV6Bytes(&packet[8]);
  view.tuple.dst.addr = IpAddress::FromV6Bytes(&packet[24]);
  ip.ip_end = kIpv6Header + payload_length;
  ip.checksum_dst_offset = 24;

  // RFC 8200 4: a chain of extension headers, each naming the next. Every header is a multiple of
  // 8 bytes long, so the walk always advances and ends within ip_end.
  uint8_t next_header = packet[6];
  size_t offset = kIpv6Header;
  while (true) {
    switch (next_header) {
      case kProtoTcp:
        ip.tcp_offset = offset;
        return ip;
      case kProtoFragment:
        ip.error = PacketError::kFragment;
        return ip;
      case kProtoHopByHop:
      case kProtoRouting:
      case kProtoDestOptions: {
        // RFC 8200 4.3-4.6: Next Header, Hdr Ext Len in 8-octet units not counting the first 8.
        if (ip.ip_end - offset < 8) {
          ip.error = PacketError::kTruncated;
          return ip;
        }
        const size_t header_length = (static_cast<size_t>(packet[offset + 1]) + 1) * 8;
        if (ip.ip_end - offset < header_length) {
          ip.error = PacketError::kTruncated;
          return ip;
        }
        if (next_header == kProtoRouting &&
            !FinalDestinationOffset(packet, offset, header_length, ip.checksum_dst_offset)) {
          ip.error = PacketError::kNotTcp;
          return ip;
        }
        next_header = packet[offset];
        offset += header_length;
        break;
      }
      default:
        // Another transport, No Next Header (59), or ESP/AH (50/51): an authenticated or
        // encrypted segment cannot be rewritten anyway.
        ip.error = PacketError::kNotTcp;
        return ip;
    }
  }
}

// RFC 793 3.1 option list: kinds 0 and 1 are one byte, every other option is kind, length (which
// counts both), data. RFC 2018 3: SACK is kind 5 with length 2 + 8n, n left/right edge pairs.
PacketError ParseTcpOptions(std::span<const uint8_t> packet, size_t begin, size_t end,
                            TcpPacketView& view) {
  size_t offset = begin;
  while (offset < end) {
    const uint8_t kind = packet[offset];
    if (kind == kOptionEnd) break;
    if (kind == kOptionNop) {
      ++offset;
      continue;
    }
    if (end - offset < 2) return PacketError::kBadOption;
    const size_t length = packet[offset + 1];
    if (length < 2 || length > end - offset) return PacketError::kBadOption;
    if (kind == kOptionSack) {
      // A SACK whose length is not 2 + 8n cannot be shifted correctly after a rewrite, and a
      // receiver would read it differently from us: refuse it rather than pass stale edges on.
      const size_t data_length = length - 2;
      if (data_length == 0 || data_length % kSackBlockBytes != 0) return PacketError::kBadOption;
      for (size_t edge = offset + 2; edge < offset + length; edge += kSackBlockBytes) {
        // 40 bytes of options hold at most 4 blocks, whatever the mix of SACK options.
        if (view.sack_block_count == view.sack_blocks.size()) return PacketError::kBadOption;
        SackBlock& block = view.sack_blocks[view.sack_block_count++];
        block.offset = edge;
        block.left = Load32(packet, edge);
        block.right = Load32(packet, edge + 4);
      }
    }
    offset += length;
  }
  return PacketError::kNone;
}

}  // namespace

std::string_view PacketErrorName(PacketError error) {
  switch (error) {
    case PacketError::kNone:
      return "none";
    case PacketError::kTruncated:
      return "truncated";
    case PacketError::kNotIp:
      return "not-ip";
    case PacketError::kNotTcp:
      return "not-tcp";
    case PacketError::kFragment:
      return "fragment";
    case PacketError::kBadHeaderLength:
      return "bad-header-length";
    case PacketError::kBadOption:
      return "bad-option";
  }
  return "unknown";
}

TcpPacketResult ParseTcpPacket(std::span<const uint8_t> packet) {
  TcpPacketResult result;
  TcpPacketView& view = result.view;
  view.packet = packet;
  if (packet.empty()) {
    result.error = PacketError::kTruncated;
    return result;
  }
  IpLayer ip;
  switch (packet[0] >> 4) {
    case 4:
      view.family = Family::kIpv4;
      ip = ParseIpv4(packet, view);
      break;
    case 6:
      view.family = Family::kIpv6;
      ip = ParseIpv6(packet, view);
      break;
    default:
      result.error = PacketError::kNotIp;
      return result;
  }
  if (ip.error != PacketError::kNone) {
    result.error = ip.error;
    return result;
  }
  view.packet = packet.first(ip.ip_end);
  view.checksum_dst_offset = ip.checksum_dst_offset;
  view.tcp_offset = ip.tcp_offset;

  // The IP layer says how long the segment is; a TCP header that does not fit in it is short.
  const size_t segment_length = ip.ip_end - ip.tcp_offset;
  if (segment_length < kTcpMinHeader) {
    result.error = PacketError::kTruncated;
    return result;
  }
  const size_t header_length = static_cast<size_t>(packet[ip.tcp_offset + 12] >> 4) * 4;
  if (header_length < kTcpMinHeader || header_length > segment_length) {
    result.error = PacketError::kBadHeaderLength;
    return result;
  }
  const size_t tcp = ip.tcp_offset;
  view.tuple.src.port = Load16(packet, tcp);
  view.tuple.dst.port = Load16(packet, tcp + 2);
  view.seq = Load32(packet, tcp + 4);
  view.ack = Load32(packet, tcp + 8);
  // The low 8 bits of the flags (CWR, ECE, URG, ACK, PSH, RST, SYN, FIN; RFC 3168 6.1).
  view.flags = packet[tcp + 13];
  view.payload_offset = tcp + header_length;
  view.payload = view.packet.subspan(view.payload_offset);
  result.error = ParseTcpOptions(packet, tcp + kTcpMinHeader, view.payload_offset, view);
  return result;
}

}  // namespace ftpalg
