#include "ftpalg/packet_rewrite.h"

namespace ftpalg {
namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr size_t kIpv6Header = 40;
constexpr size_t kTcpMinHeader = 20;
constexpr size_t kMaxIpLength = 0xffff;  // IPv4 Total Length / IPv6 Payload Length are 16 bits

// Offsets in the TCP header (RFC 793 3.1).
constexpr size_t kTcpSeq = 4;
constexpr size_t kTcpAck = 8;
constexpr size_t kTcpChecksum = 16;

uint32_t Load32(std::span<const uint8_t> bytes, size_t offset) {
  return (static_cast<uint32_t>(bytes[offset]) << 24) |
         (static_cast<uint32_t>(bytes[offset + 1]) << 16) |
         (static_cast<uint32_t>(bytes[offset + 2]) << 8) | static_cast<uint32_t>(bytes[offset + 3]);
}
void Store16(std::vector<uint8_t>& bytes, size_t offset, uint16_t value) {
  bytes[offset] = static_cast<uint8_t>(value >> 8);
  bytes[offset + 1] = static_cast<uint8_t>(value & 0xff);
}
void Store32(std::vector<uint8_t>& bytes, size_t offset, uint32_t value) {
  Store16(bytes, offset, static_cast<uint16_t>(value >> 16));
  Store16(bytes, offset + 2, static_cast<uint16_t>(value & 0xffff));
}

// Adds a shift to the 32-bit number at `offset`, modulo 2^32 (RFC 793 3.3). Converting the signed
// shift to uint32_t is defined as reduction modulo 2^32.
void ShiftField(std::vector<uint8_t>& bytes, size_t offset, int64_t shift) {
  Store32(bytes, offset, Load32(bytes, offset) + static_cast<uint32_t>(shift));
}

// RFC 1071 4.1: add 16-bit words in a wide accumulator and fold the carries in at the end. 64 bits
// cannot overflow for any span that fits in memory.
uint64_t SumWords(std::span<const uint8_t> bytes) {
  uint64_t sum = 0;
  size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) sum += static_cast<uint64_t>((bytes[i] << 8) | bytes[i + 1]);
  if (i < bytes.size()) sum += static_cast<uint64_t>(bytes[i]) << 8;
  return sum;
}
uint16_t Fold(uint64_t sum) {
  while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// The TCP pseudo-header (RFC 793 3.1 for IPv4, RFC 8200 8.1 for IPv6), summed. Its layout differs
// between the two, but the one's-complement sum only depends on the 16-bit words it contains.
uint32_t PseudoHeaderSum(std::span<const uint8_t> packet, Family family, size_t dst_offset,
                         size_t tcp_length) {
  const size_t address_size = family == Family::kIpv4 ? 4 : 16;
  const size_t src_offset = family == Family::kIpv4 ? 12 : 8;
  uint64_t sum = SumWords(packet.subspan(src_offset, address_size)) +
                 SumWords(packet.subspan(dst_offset, address_size)) + kProtoTcp;
  // IPv4 has a 16-bit TCP length, IPv6 a 32-bit upper-layer packet length: as words the same.
  sum += (tcp_length >> 16) + (tcp_length & 0xffff);
  return Fold(sum);
}

// The offsets a view carries, checked against its packet, so that a view built or altered by hand
// can never make us read or write out of bounds.
bool ViewConsistent(const TcpPacketView& view) {
  const size_t size = view.packet.size();
  const size_t address_size = view.family == Family::kIpv4 ? 4 : 16;
  const size_t ip_min = view.family == Family::kIpv4 ? 20 : kIpv6Header;
  if (size < ip_min || view.tcp_offset < ip_min || view.payload_offset > size ||
      view.payload_offset < view.tcp_offset ||
      view.payload_offset - view.tcp_offset < kTcpMinHeader) {
    return false;
  }
  if (view.checksum_dst_offset > view.tcp_offset ||
      view.tcp_offset - view.checksum_dst_offset < address_size) {
    return false;
  }
  if (view.family == Family::kIpv4) {
    const size_t header_length = static_cast<size_t>(view.packet[0] & 0x0f) * 4;
    if (header_length < ip_min || header_length > view.tcp_offset) return false;
  }
  if (view.sack_block_count > view.sack_blocks.size()) return false;
  for (size_t i = 0; i < view.sack_block_count; ++i) {
    const size_t offset = view.sack_blocks[i].offset;
    if (offset < view.tcp_offset + kTcpMinHeader || offset > view.payload_offset ||
        view.payload_offset - offset < 8) {
      return false;
    }
  }
  return true;
}

void WriteTcpChecksum(std::vector<uint8_t>& out, const TcpPacketView& view) {
  Store16(out, view.tcp_offset + kTcpChecksum, 0);
  std::span<const uint8_t> segment = std::span<const uint8_t>(out).subspan(view.tcp_offset);
  const uint32_t pseudo =
      PseudoHeaderSum(out, view.family, view.checksum_dst_offset, segment.size());
  Store16(out, view.tcp_offset + kTcpChecksum, InternetChecksum(segment, pseudo));
}

}  // namespace

uint16_t InternetChecksum(std::span<const uint8_t> bytes, uint32_t initial_sum) {
  return static_cast<uint16_t>(~Fold(initial_sum + SumWords(bytes)));
}

bool TcpChecksumValid(const TcpPacketView& view) {
  if (!ViewConsistent(view)) return false;
  std::span<const uint8_t> segment = view.packet.subspan(view.tcp_offset);
  const uint32_t pseudo =
      PseudoHeaderSum(view.packet, view.family, view.checksum_dst_offset, segment.size());
  // RFC 1071 1: summing data that includes a correct checksum gives all ones (so ~sum == 0).
  return InternetChecksum(segment, pseudo) == 0;
}

bool IpHeaderChecksumValid(const TcpPacketView& view) {
  if (view.family == Family::kIpv6) return true;
  if (view.packet.empty()) return false;
  const size_t header_length = static_cast<size_t>(view.packet[0] & 0x0f) * 4;
  if (header_length < 20 || header_length > view.packet.size()) return false;
  return InternetChecksum(view.packet.first(header_length)) == 0;
}

std::vector<uint8_t> RewriteTcpPacket(const TcpPacketView& view, const PacketChanges& changes) {
  if (!ViewConsistent(view)) return {};
  std::span<const uint8_t> payload = view.packet.subspan(view.payload_offset);

  // Check the edits (sorted, disjoint, inside the payload) and size the result before copying.
  size_t new_size = view.payload_offset + payload.size();
  size_t previous_end = 0;
  for (const PayloadEdit& edit : changes.edits) {
    if (edit.begin < previous_end || edit.end < edit.begin || edit.end > payload.size()) return {};
    new_size = new_size - (edit.end - edit.begin) + edit.replacement.size();
    if (new_size > kIpv6Header + kMaxIpLength) return {};  // also stops any wraparound
    previous_end = edit.end;
  }
  const size_t ip_length_limit =
      view.family == Family::kIpv4 ? kMaxIpLength : kIpv6Header + kMaxIpLength;
  if (new_size > ip_length_limit) return {};

  std::vector<uint8_t> out;
  out.reserve(new_size);
  out.insert(out.end(), view.packet.begin(), view.packet.begin() + view.payload_offset);
  size_t copied = 0;  // payload bytes consumed so far
  for (const PayloadEdit& edit : changes.edits) {
    out.insert(out.end(), payload.begin() + copied, payload.begin() + edit.begin);
    out.insert(out.end(), edit.replacement.begin(), edit.replacement.end());
    copied = edit.end;
  }
  out.insert(out.end(), payload.begin() + copied, payload.end());

  ShiftField(out, view.tcp_offset + kTcpSeq, changes.seq_shift);
  // RFC 793 3.1: the acknowledgment field is meaningful only with ACK set; leave it as it is
  // otherwise (a SYN may carry junk there, and it is covered by the checksum either way).
  if ((out[view.tcp_offset + 13] & tcp_flags::kAck) != 0) {
    ShiftField(out, view.tcp_offset + kTcpAck, changes.ack_shift);
  }
  // RFC 2018 3: both edges of a SACK block are sequence numbers of the acknowledged stream.
  for (size_t i = 0; i < view.sack_block_count; ++i) {
    SackEdgeShift shift{changes.sack_shift, changes.sack_shift};
    if (changes.sack_edge_shifts) shift = (*changes.sack_edge_shifts)[i];
    ShiftField(out, view.sack_blocks[i].offset, shift.left);
    ShiftField(out, view.sack_blocks[i].offset + 4, shift.right);
  }

  if (view.family == Family::kIpv4) {
    // RFC 791 3.1: Total Length, then the header checksum over the header with its field zeroed.
    const size_t header_length = static_cast<size_t>(out[0] & 0x0f) * 4;
    Store16(out, 2, static_cast<uint16_t>(out.size()));
    Store16(out, 10, 0);
    Store16(out, 10, InternetChecksum(std::span<const uint8_t>(out).first(header_length)));
  } else {
    // RFC 8200 3: Payload Length counts the extension headers too.
    Store16(out, 4, static_cast<uint16_t>(out.size() - kIpv6Header));
  }
  WriteTcpChecksum(out, view);
  return out;
}

}  // namespace ftpalg
