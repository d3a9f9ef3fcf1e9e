// Builds a modified copy of a TCP packet: payload edits, sequence/ack/SACK shifts, and the IP
// length fields and checksums that follow from them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
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

// Shifts for the two edges of one SACK block.
struct SackEdgeShift {
  int64_t left = 0;
  int64_t right = 0;
};

struct PacketChanges {
  std::vector<PayloadEdit> edits;  // sorted by `begin`, not overlapping
  int64_t seq_shift = 0;           // added to the sequence number (mod 2^32)
  int64_t ack_shift = 0;           // added to the acknowledgement number (mod 2^32), if ACK is set
  int64_t sack_shift = 0;          // added to both edges of every SACK block
  // When set, used instead of sack_shift: a shift per edge of each block (in view.sack_blocks
  // order). A block can span a rewritten segment, so that its left edge needs the offset from
  // before the change and its right edge the one after; nf_ct_sack_block_adjust() likewise maps
  // every edge on its own. Fill with SeqShift::OffsetFor(edge) of the peer's stream.
  std::optional<std::array<SackEdgeShift, 4>> sack_edge_shifts;
  bool empty() const {
    return edits.empty() && seq_shift == 0 && ack_shift == 0 && sack_shift == 0 &&
           !sack_edge_shifts.has_value();
  }
};

// Returns the rewritten packet. IPv4 total length and header checksum, IPv6 payload length and the
// TCP checksum (pseudo-header included) are recomputed. The caller guarantees that the edits lie
// inside the payload and that the result stays under 65535 bytes (the engine bounds both); if they
// do not (or the view is inconsistent) the result is empty rather than a broken packet.
// The checksums are computed afresh, so a packet that arrived corrupted leaves with valid ones.
// Neither this function nor the engine checks the incoming checksums. On a live gateway conntrack
// has (net.netfilter.nf_conntrack_checksum, on by default, checks them at PREROUTING and marks a
// bad packet invalid: it gets no helper and is never queued); in replay a corrupted packet that is
// rewritten comes out with valid checksums.
std::vector<uint8_t> RewriteTcpPacket(const TcpPacketView& view, const PacketChanges& changes);

// RFC 1071: the one's complement of the one's-complement sum of `bytes` as big-endian 16-bit words
// (an odd last byte padded with zero). `initial_sum` is a partial sum of data that came before (an
// even number of bytes, not complemented), e.g. a pseudo-header.
uint16_t InternetChecksum(std::span<const uint8_t> bytes, uint32_t initial_sum = 0);
// True when the TCP checksum of the packet is correct (pseudo-header included).
bool TcpChecksumValid(const TcpPacketView& view);
// True when the IPv4 header checksum is correct (RFC 791 3.1); always true for IPv6, which has
// none.
bool IpHeaderChecksumValid(const TcpPacketView& view);

}  // namespace ftpalg
