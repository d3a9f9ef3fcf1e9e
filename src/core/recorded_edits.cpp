#include "ftpalg/recorded_edits.h"

#include <algorithm>
#include <string_view>

#include "ftpalg/seq_shift.h"

namespace ftpalg {
namespace {

// A resend that starts after the first byte of a rewritten segment (a sender repacketizing after
// a partial acknowledgement) is shifted by that segment's whole length change, on a live gateway
// by nf_ct_seqadj and in the replay by SeqShift. Rewriting it again would change its length once
// more: the kernel would record a second change and the stream would be off from there on. So it
// keeps its length and carries the bytes that the first copy has at the positions it lands on.
// Positions are relative to the edit's first byte: the segment's original bytes lie at
// [start, start + length); it lands at [start + delta, start + length + delta) of the rewritten
// stream, which holds original bytes before 0, new_text in [0, new size) and original bytes,
// `delta` further on, after that. Returns false (segment left as it is) when the segment is not
// a copy of what was rewritten, lies wholly after the edit, or would need original bytes from
// outside itself (a shorter rewrite, delta < 0, resent from its first -delta bytes; a piece of
// the verb that lands on bytes after it): it then goes out unchanged, which a receiver that has
// the first copy discards as old data.
bool RealignInsideEdit(const RecordedEdit& edit, const TcpPacketView& view,
                       std::vector<PayloadEdit>* edits) {
  const std::span<const uint8_t> payload = view.payload;
  const auto length = static_cast<int64_t>(payload.size());
  const int64_t start = static_cast<int32_t>(view.seq - edit.seq);
  const auto old_size = static_cast<int64_t>(edit.old_text.size());
  const auto new_size = static_cast<int64_t>(edit.new_text.size());
  const int64_t delta = new_size - old_size;
  if (start >= old_size || length == 0) return false;
  // The segment must carry the replaced bytes it overlaps, as the first copy did.
  for (int64_t at = std::max<int64_t>(start, 0); at < std::min(start + length, old_size); ++at) {
    if (payload[static_cast<size_t>(at - start)] !=
        static_cast<uint8_t>(edit.old_text[static_cast<size_t>(at)])) {
      return false;
    }
  }
  // Only the positions that land before the end of new_text differ from the segment's own bytes.
  const int64_t changed_end = std::min(length, new_size - start - delta);
  std::string bytes;
  bytes.reserve(static_cast<size_t>(std::max<int64_t>(changed_end, 0)));
  for (int64_t i = 0; i < changed_end; ++i) {
    const int64_t landed = start + delta + i;
    if (landed >= 0) {
      bytes.push_back(edit.new_text[static_cast<size_t>(landed)]);
    } else if (delta + i >= 0 && delta + i < length) {
      bytes.push_back(static_cast<char>(payload[static_cast<size_t>(delta + i)]));
    } else {
      return false;  // an original byte outside the segment: one we do not have
    }
  }
  const auto* own = reinterpret_cast<const char*>(payload.data());
  if (bytes.empty() || std::string_view(own, bytes.size()) == bytes) return false;
  edits->push_back(PayloadEdit{0, bytes.size(), std::move(bytes)});
  return true;
}

}  // namespace

size_t RepeatRecordedEdits(std::span<const RecordedEdit> recorded, const TcpPacketView& view,
                           std::vector<PayloadEdit>* edits) {
  const uint32_t segment_seq = view.seq;
  const size_t length = view.payload.size();
  size_t repeated = 0;
  for (const RecordedEdit& edit : recorded) {
    if (SeqAfter(segment_seq, edit.segment_seq)) {
      // Starts after the rewritten segment's first byte: shifted by the edit's length change.
      if (RealignInsideEdit(edit, view, edits)) ++repeated;
      continue;
    }
    const uint32_t offset = edit.seq - segment_seq;
    if (offset > length || edit.old_text.size() > length - offset) {
      continue;  // not (wholly) in this segment
    }
    // Skip an edit planned for this very packet (first transmission).
    bool planned = std::any_of(edits->begin(), edits->end(),
                               [offset](const PayloadEdit& e) { return e.begin == offset; });
    if (planned) continue;
    const auto* bytes = reinterpret_cast<const char*>(view.payload.data()) + offset;
    if (std::string_view(bytes, edit.old_text.size()) != edit.old_text) continue;
    edits->push_back(PayloadEdit{offset, offset + edit.old_text.size(), edit.new_text});
    ++repeated;
  }
  return repeated;
}

}  // namespace ftpalg
