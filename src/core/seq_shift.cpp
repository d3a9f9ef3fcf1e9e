#include "ftpalg/seq_shift.h"

namespace ftpalg {

std::optional<SeqAdjustment> SeqShift::Record(uint32_t segment_seq, int32_t delta) {
  if (delta == 0) return std::nullopt;
  // Changes are kept in stream order, so only a segment after the newest change is new. Anything
  // else is a retransmission (or an overlapping resend) of bytes whose shifted numbers the peer
  // has already seen; recording it again would move them. nf_ct_seqadj_set() has the same rule.
  if (count_ > 0 && !SeqAfter(segment_seq, changes_[count_ - 1].segment_seq)) return std::nullopt;
  if (count_ == kMaxChanges) {
    // Forget the oldest change: numbers before the oldest one kept now get its offset_before.
    base_ = changes_[0].offset_after;
    for (size_t i = 1; i < count_; ++i) changes_[i - 1] = changes_[i];
    --count_;
  }
  // C++20 defines the narrowing as modulo 2^32, which is what sequence numbers need.
  const auto offset_before = static_cast<int32_t>(total_);
  total_ += delta;
  changes_[count_++] = Change{segment_seq, static_cast<int32_t>(total_)};
  return SeqAdjustment{segment_seq, offset_before, static_cast<int32_t>(total_)};
}

void SeqShift::Seed(const SeqAdjustment& adjustment) {
  if (count_ != 0) return;
  base_ = adjustment.offset_before;
  changes_[0] = Change{adjustment.correction_pos, adjustment.offset_after};
  count_ = 1;
  total_ = adjustment.offset_after;
}

int64_t SeqShift::OffsetFor(uint32_t seq) const {
  // The newest change that `seq` is strictly after decides; the segment that was rewritten starts
  // exactly at its segment_seq and so still takes the offset from before it (nf_ct_seqadj:
  // after(seq, correction_pos) ? offset_after : offset_before).
  for (size_t i = count_; i > 0; --i) {
    if (SeqAfter(seq, changes_[i - 1].segment_seq)) return changes_[i - 1].offset_after;
  }
  return base_;
}

uint32_t SeqShift::ToOriginal(uint32_t rewritten_seq) const {
  // A number in the rewritten stream lies after change i when, taken back by the offset that
  // applied up to that change, it is after the change's position: nf_ct_seqadj tests
  // after(ack - offset_before, correction_pos). Casting the offsets to uint32_t reduces them
  // modulo 2^32, so the subtraction wraps as sequence numbers do (RFC 793 3.3).
  for (size_t i = count_; i > 0; --i) {
    const Change& change = changes_[i - 1];
    const int64_t offset_before = i > 1 ? changes_[i - 2].offset_after : base_;
    if (SeqAfter(rewritten_seq - static_cast<uint32_t>(offset_before), change.segment_seq)) {
      return rewritten_seq - static_cast<uint32_t>(change.offset_after);
    }
  }
  return rewritten_seq - static_cast<uint32_t>(base_);
}

std::optional<SeqAdjustment> ContinueKernelAdjustment(const std::optional<SeqAdjustment>& kernel,
                                                      const SeqAdjustment& engine) {
  if (!kernel) return engine;
  if (!SeqAfter(engine.correction_pos, kernel->correction_pos)) return std::nullopt;
  // int32_t arithmetic wraps like the kernel's s32 offsets (C++20: modulo 2^32).
  const auto change = static_cast<int32_t>(static_cast<uint32_t>(engine.offset_after) -
                                           static_cast<uint32_t>(engine.offset_before));
  const auto after = static_cast<int32_t>(static_cast<uint32_t>(kernel->offset_after) +
                                          static_cast<uint32_t>(change));
  return SeqAdjustment{engine.correction_pos, kernel->offset_after, after};
}

}  // namespace ftpalg
