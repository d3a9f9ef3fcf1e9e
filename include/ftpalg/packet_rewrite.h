// Builds a modified copy of a TCP packet: payload edits, sequence/ack/SACK shifts, and the IP
// length fields and checksums that follow from them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ftpalg/packet_view.h"

namespace ftpalg {

// Replace payload bytes [begin, end) (offsets in the TCP payload) with `replacement`.
struct PayloadEdit {
  size_t begin = 0;
  size_t end = 0;
  std::string replacement;
};

struct PacketChanges {
  std::vector<PayloadEdit> edits;  // sorted by `begin`, not overlapping
  int64_t seq_shift = 0;   // added to the sequence number (mod 2^32)
  int64_t ack_shift = 0;   // added to the acknowledgement number (mod 2^32), if ACK is set
  int64_t sack_shift = 0;  // added to both edges of every SACK block
  bool empty() const { return edits.empty() && seq_shift == 0 && ack_shift == 0 && sack_shift == 0; }
};

// Returns the rewritten packet. IPv4 total length and header checksum, IPv6 payload length and the
// TCP checksum (pseudo-header included) are recomputed. The caller guarantees that the edits lie
// inside the payload and that the result stays under 65535 bytes (the engine bounds both).
std::vector<uint8_t> RewriteTcpPacket(const TcpPacketView& view, const PacketChanges& changes);

// RFC 1071 one's-complement sum, for tests and for the rewrite above.
uint16_t InternetChecksum(std::span<const uint8_t> bytes, uint32_t initial_sum = 0);
// True when the TCP checksum of the packet is correct (pseudo-header included).
bool TcpChecksumValid(const TcpPacketView& view);

}  // namespace ftpalg
