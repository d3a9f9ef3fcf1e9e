// Rewrites kept per direction so that a retransmission of rewritten bytes gets the same rewrite
// (and so the same length, which the sequence shift already assumes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ftpalg/packet_rewrite.h"
#include "ftpalg/packet_view.h"

namespace ftpalg {

struct RecordedEdit {
  uint32_t segment_seq = 0;  // original sequence number of the segment it was made in: where
                             // the length change is recorded (SeqShift, nf_ct_seqadj)
  uint32_t seq = 0;          // original sequence number of the first replaced byte
  std::string old_text;      // the bytes replaced (bounded by the line length)
  std::string new_text;
};

// Adds to `edits` the rewrites that bytes framed before (a retransmission, the old part of an
// overlap) got the first time, so that both copies have the same length and content. Edits
// already planned for this packet at the same offset (its first transmission) are kept as they
// are. Returns how many were added.
size_t RepeatRecordedEdits(std::span<const RecordedEdit> recorded, const TcpPacketView& view,
                           std::vector<PayloadEdit>* edits);

}  // namespace ftpalg
