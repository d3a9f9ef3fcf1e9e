// Builds IPv4 and IPv6 TCP packets byte by byte for tests.
//
//   PacketSpec spec = ClientToServer(Family::kIpv6);
//   spec.seq = 0xffffff00;
//   spec.payload = "EPRT |2|2001:db8::1|1025|\r\n";
//   spec.sack = {{0x10, 0x20}};
//   spec.ipv6_extensions = {Ipv6Extension::HopByHop()};
//   std::vector<uint8_t> packet = BuildTcpPacket(spec);
//
// Checksums (IPv4 header, TCP with its pseudo-header) are computed here by code that shares nothing
// with src/core, so that tests can compare the library's output against an independent reference.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ftpalg/ip_address.h"
#include "ftpalg/packet_view.h"

namespace ftpalg::test {

// One IPv6 extension header (RFC 8200 4): its protocol number and the bytes after its Next Header
// and Hdr Ext Len fields. The builder pads the header with zeros to a multiple of 8 bytes (zero
// bytes are Pad1 options in hop-by-hop and destination options) and fills in both fields.
struct Ipv6Extension {
  uint8_t type = 0;
  std::vector<uint8_t> body;

  // RFC 8200 4.3 / 4.6: options headers holding only padding (8 bytes, or 8 * (1 + extra_units)).
  static Ipv6Extension HopByHop(size_t extra_units = 0) {
    return {0, std::vector<uint8_t>(6 + 8 * extra_units, 0)};
  }
  static Ipv6Extension DestinationOptions(size_t extra_units = 0) {
    return {60, std::vector<uint8_t>(6 + 8 * extra_units, 0)};
  }
  // RFC 8200 4.4. Types 0 and 2 have 4 reserved bytes before the addresses; type 4 (RFC 8754 2,
  // segment routing) has Last Entry, Flags and Tag there, filled in for `addresses`.
  static Ipv6Extension Routing(uint8_t routing_type, uint8_t segments_left,
                               const std::vector<IpAddress>& addresses) {
    Ipv6Extension extension{43, {routing_type, segments_left, 0, 0, 0, 0}};
    if (routing_type == 4 && !addresses.empty()) {
      extension.body[2] = static_cast<uint8_t>(addresses.size() - 1);
    }
    for (const IpAddress& address : addresses) {
      extension.body.insert(extension.body.end(), address.bytes.begin(), address.bytes.end());
    }
    return extension;
  }
  // RFC 8200 4.5: Reserved, Fragment Offset (8-octet units) / Res / M, Identification.
  static Ipv6Extension Fragment(uint16_t offset_units, bool more, uint32_t id = 0x01020304) {
    const auto offset_field = static_cast<uint16_t>((offset_units << 3) | (more ? 1 : 0));
    return {44,
            {static_cast<uint8_t>(offset_field >> 8), static_cast<uint8_t>(offset_field & 0xff),
             static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
             static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)}};
  }
};

struct SackRange {
  uint32_t left = 0;   // first sequence number of the block
  uint32_t right = 0;  // one past its last
};

// Everything a test may want to set. The family is that of `src` (and `dst`, which must match).
struct PacketSpec {
  Endpoint src;
  Endpoint dst;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = tcp_flags::kAck | tcp_flags::kPsh;
  uint16_t window = 64240;
  std::string payload;
  std::vector<SackRange> sack;       // written as NOP NOP SACK after `tcp_options`
  std::vector<uint8_t> tcp_options;  // raw options before the SACK option (MSS, timestamps, ...)
  std::vector<Ipv6Extension> ipv6_extensions;  // in order, between the IPv6 header and TCP
  std::vector<uint8_t> ipv4_options;  // raw IPv4 options, padded with zeros (End of Option List)
  uint16_t ipv4_id = 0x1234;
  uint16_t ipv4_flags_fragment = 0x4000;  // DF; 0x2000 = MF, low 13 bits = fragment offset
  uint8_t ttl = 64;                       // IPv4 TTL / IPv6 Hop Limit
  uint32_t ipv6_flow_label = 0;           // low 20 bits (RFC 6437)
  size_t link_padding = 0;  // zero bytes after the IP packet, as Ethernet pads short frames

  Family family() const { return src.addr.family; }
  // The same connection seen the other way (server to client); seq/ack swapped, payload cleared.
  PacketSpec Reversed() const {
    PacketSpec reply = *this;
    reply.src = dst;
    reply.dst = src;
    reply.seq = ack;
    reply.ack = seq;
    reply.payload.clear();
    reply.sack.clear();
    return reply;
  }
};

// "192.0.2.1" / "2001:db8::1" plus port; a test failure (not a crash) for bad text.
inline Endpoint Ep(std::string_view address, uint16_t port) {
  std::optional<IpAddress> parsed = IpAddress::Parse(address);
  if (!parsed) {
    ADD_FAILURE() << "bad address in test: " << address;
    return Endpoint{};
  }
  return Endpoint{*parsed, port};
}

// A client (documentation addresses, RFC 5737 / RFC 3849) talking to an FTP server on port 21.
inline PacketSpec ClientToServer(Family family) {
  PacketSpec spec;
  if (family == Family::kIpv4) {
    spec.src = Ep("192.0.2.10", 40000);
    spec.dst = Ep("198.51.100.20", 21);
  } else {
    spec.src = Ep("2001:db8::10", 40000);
    spec.dst = Ep("2001:db8:1::20", 21);
  }
  spec.seq = 1000;
  spec.ack = 5000;
  return spec;
}

// --- Reference checksum code, deliberately written differently from src/core: a 16-bit
// accumulator with the end-around carry added at every step (RFC 1071 2(A)). ---

inline uint16_t ReferenceAdd(uint16_t sum, uint16_t word) {
  uint32_t wide = static_cast<uint32_t>(sum) + word;
  return static_cast<uint16_t>((wide & 0xffff) + (wide >> 16));
}
inline uint16_t ReferenceSum(std::span<const uint8_t> bytes, uint16_t sum = 0) {
  for (size_t i = 0; i < bytes.size(); i += 2) {
    uint8_t low = i + 1 < bytes.size() ? bytes[i + 1] : 0;
    sum = ReferenceAdd(sum, static_cast<uint16_t>((bytes[i] << 8) | low));
  }
  return sum;
}

// The TCP checksum a packet should carry, from its addresses and its TCP segment (whose checksum
// field is taken as zero). `dst` is the final destination (RFC 8200 8.1).
inline uint16_t ReferenceTcpChecksum(const IpAddress& src, const IpAddress& dst,
                                     std::span<const uint8_t> segment) {
  std::vector<uint8_t> pseudo(src.bytes.begin(), src.bytes.begin() + src.size());
  pseudo.insert(pseudo.end(), dst.bytes.begin(), dst.bytes.begin() + dst.size());
  const auto length = static_cast<uint32_t>(segment.size());
  if (src.IsV4()) {  // RFC 793 3.1: zero, protocol, TCP length (16 bits)
    pseudo.insert(pseudo.end(),
                  {0, 6, static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length & 0xff)});
  } else {  // RFC 8200 8.1: upper-layer length (32 bits), 3 zero bytes, next header
    pseudo.insert(pseudo.end(),
                  {static_cast<uint8_t>(length >> 24), static_cast<uint8_t>(length >> 16),
                   static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length), 0, 0, 0, 6});
  }
  std::vector<uint8_t> copy(segment.begin(), segment.end());
  if (copy.size() >= 18) copy[16] = copy[17] = 0;
  uint16_t sum = ReferenceSum(pseudo);
  sum = ReferenceSum(copy, sum);
  return static_cast<uint16_t>(~sum);
}

namespace builder_internal {
inline void Put16(std::vector<uint8_t>& out, uint16_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value & 0xff));
}
inline void Put32(std::vector<uint8_t>& out, uint32_t value) {
  Put16(out, static_cast<uint16_t>(value >> 16));
  Put16(out, static_cast<uint16_t>(value & 0xffff));
}
}  // namespace builder_internal

// The final destination for the TCP pseudo-header: the IPv6 destination, or the last hop named by
// a routing header with segments left (types 0, 2 and 4; see packet_view.h).
inline IpAddress ReferenceFinalDestination(const PacketSpec& spec) {
  IpAddress final_dst = spec.dst.addr;
  for (const Ipv6Extension& extension : spec.ipv6_extensions) {
    if (extension.type != 43 || extension.body.size() < 22 || extension.body[1] == 0) continue;
    const uint8_t routing_type = extension.body[0];
    if (routing_type != 0 && routing_type != 2 && routing_type != 4) continue;
    const size_t addresses = (extension.body.size() - 6) / 16;
    const size_t index = routing_type == 0 ? addresses - 1 : 0;
    final_dst = IpAddress::FromV6Bytes(&extension.body[6 + 16 * index]);
  }
  return final_dst;
}

inline std::vector<uint8_t> BuildTcpPacket(const PacketSpec& spec) {
  using builder_internal::Put16;
  using builder_internal::Put32;
  const bool v4 = spec.family() == Family::kIpv4;
  if (spec.dst.addr.family != spec.family()) ADD_FAILURE() << "src and dst families differ";

  // TCP header and options (RFC 793 3.1, RFC 2018 3).
  std::vector<uint8_t> options = spec.tcp_options;
  if (!spec.sack.empty()) {
    options.insert(options.end(), {1, 1, 5, static_cast<uint8_t>(2 + 8 * spec.sack.size())});
    for (const SackRange& range : spec.sack) {
      Put32(options, range.left);
      Put32(options, range.right);
    }
  }
  while (options.size() % 4 != 0) options.push_back(0);
  if (options.size() > 40) ADD_FAILURE() << "TCP options longer than 40 bytes";
  std::vector<uint8_t> tcp;
  Put16(tcp, spec.src.port);
  Put16(tcp, spec.dst.port);
  Put32(tcp, spec.seq);
  Put32(tcp, spec.ack);
  tcp.push_back(static_cast<uint8_t>(((20 + options.size()) / 4) << 4));
  tcp.push_back(spec.flags);
  Put16(tcp, spec.window);
  Put16(tcp, 0);  // checksum, below
  Put16(tcp, 0);  // urgent pointer
  tcp.insert(tcp.end(), options.begin(), options.end());
  tcp.insert(tcp.end(), spec.payload.begin(), spec.payload.end());
  const IpAddress checksum_dst = v4 ? spec.dst.addr : ReferenceFinalDestination(spec);
  const uint16_t tcp_checksum = ReferenceTcpChecksum(spec.src.addr, checksum_dst, tcp);
  tcp[16] = static_cast<uint8_t>(tcp_checksum >> 8);
  tcp[17] = static_cast<uint8_t>(tcp_checksum & 0xff);

  std::vector<uint8_t> packet;
  if (v4) {  // RFC 791 3.1
    std::vector<uint8_t> ip_options = spec.ipv4_options;
    while (ip_options.size() % 4 != 0) ip_options.push_back(0);
    const size_t header_length = 20 + ip_options.size();
    packet.push_back(static_cast<uint8_t>(0x40 | (header_length / 4)));
    packet.push_back(0);  // DSCP/ECN
    Put16(packet, static_cast<uint16_t>(header_length + tcp.size()));
    Put16(packet, spec.ipv4_id);
    Put16(packet, spec.ipv4_flags_fragment);
    packet.push_back(spec.ttl);
    packet.push_back(6);
    Put16(packet, 0);  // header checksum, below
    packet.insert(packet.end(), spec.src.addr.bytes.begin(), spec.src.addr.bytes.begin() + 4);
    packet.insert(packet.end(), spec.dst.addr.bytes.begin(), spec.dst.addr.bytes.begin() + 4);
    packet.insert(packet.end(), ip_options.begin(), ip_options.end());
    const auto header_checksum = static_cast<uint16_t>(~ReferenceSum(packet));
    packet[10] = static_cast<uint8_t>(header_checksum >> 8);
    packet[11] = static_cast<uint8_t>(header_checksum & 0xff);
  } else {  // RFC 8200 3 and 4
    std::vector<uint8_t> extensions;
    for (size_t i = 0; i < spec.ipv6_extensions.size(); ++i) {
      const Ipv6Extension& extension = spec.ipv6_extensions[i];
      const uint8_t next =
          i + 1 < spec.ipv6_extensions.size() ? spec.ipv6_extensions[i + 1].type : uint8_t{6};
      std::vector<uint8_t> header = {next, 0};
      header.insert(header.end(), extension.body.begin(), extension.body.end());
      while (header.size() % 8 != 0) header.push_back(0);
      header[1] = static_cast<uint8_t>(header.size() / 8 - 1);  // 0 for a fragment header too
      extensions.insert(extensions.end(), header.begin(), header.end());
    }
    Put32(packet, 0x60000000 | (spec.ipv6_flow_label & 0xfffff));  // version, class 0, label
    Put16(packet, static_cast<uint16_t>(extensions.size() + tcp.size()));
    packet.push_back(spec.ipv6_extensions.empty() ? uint8_t{6} : spec.ipv6_extensions[0].type);
    packet.push_back(spec.ttl);
    packet.insert(packet.end(), spec.src.addr.bytes.begin(), spec.src.addr.bytes.end());
    packet.insert(packet.end(), spec.dst.addr.bytes.begin(), spec.dst.addr.bytes.end());
    packet.insert(packet.end(), extensions.begin(), extensions.end());
  }
  packet.insert(packet.end(), tcp.begin(), tcp.end());
  packet.insert(packet.end(), spec.link_padding, 0);
  return packet;
}

// Where the TCP header starts in a packet built from `spec` (for tests that poke at fields).
inline size_t TcpOffsetOf(const PacketSpec& spec) {
  if (spec.family() == Family::kIpv4) return 20 + (spec.ipv4_options.size() + 3) / 4 * 4;
  size_t offset = 40;
  for (const Ipv6Extension& extension : spec.ipv6_extensions) {
    offset += (2 + extension.body.size() + 7) / 8 * 8;
  }
  return offset;
}

}  // namespace ftpalg::test
