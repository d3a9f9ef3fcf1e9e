// Sequence number arithmetic after payload length changes (what the kernel's nf_ct_seqadj does on
// a live gateway; the replay tool does it itself).
//
// One SeqShift per direction of a control connection. Every rewrite that changes the length of a
// segment is recorded at that segment's (original) sequence number; a later segment of the same
// direction is shifted by the sum of the changes recorded before it, the rewritten segment itself
// and its retransmissions by the changes before it only. Acknowledgements and SACK edges of the
// other direction refer to this direction's stream and use the same offsets. All comparisons are
// modulo 2^32 (RFC 793 3.3), so the arithmetic holds across wraparound.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace ftpalg {

// a is after b in sequence space (RFC 793 3.3 / 1982 serial number arithmetic).
inline bool SeqAfter(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }
inline bool SeqBefore(uint32_t a, uint32_t b) { return SeqAfter(b, a); }

// One direction's sequence adjustment as the kernel keeps it (struct nf_ct_seqadj): numbers after
// correction_pos are shifted by offset_after, the others by offset_before. A live gateway hands it
// to the kernel over ctnetlink (CTA_SEQ_ADJ_ORIG/REPLY) after each length-changing rewrite.
struct SeqAdjustment {
  uint32_t correction_pos = 0;  // the rewritten segment's first sequence number (original)
  int32_t offset_before = 0;
  int32_t offset_after = 0;
  bool operator==(const SeqAdjustment&) const = default;
};

// The adjustment to give the kernel for a new rewrite, given what the kernel already holds for that
// direction. The engine's figures count only the rewrites it made itself; a gateway that took a
// session over (conntrackd committed the other gateway's entry, with its adjustment) or a restarted
// daemon starts from 0 while the kernel's offset_after already counts the earlier rewrites. The
// kernel's figures are the truth on the wire, so the new change goes on top of them:
// {engine.correction_pos, kernel.offset_after, kernel.offset_after + change}. Without a takeover
// the kernel holds what the engine set last and the result is the engine's own figures.
// nullopt: leave the kernel as it is (the segment is not after the kernel's last correction
// position: a retransmission of a segment already adjusted, as nf_ct_seqadj_set() decides too).
std::optional<SeqAdjustment> ContinueKernelAdjustment(const std::optional<SeqAdjustment>& kernel,
                                                      const SeqAdjustment& engine);

class SeqShift {
 public:
  // Records that the segment starting at `segment_seq` (original numbering) changed length by
  // `delta` bytes, and returns the kernel's adjustment from then on. Recording the same segment
  // again (a retransmission rewritten the same way) is ignored, and so is any segment_seq not
  // after the last one recorded (as nf_ct_seqadj_set does: the offsets of later bytes are already
  // on the wire) and a delta of 0: those return nullopt (the adjustment stays as it was).
  std::optional<SeqAdjustment> Record(uint32_t segment_seq, int32_t delta);

  // Starts an empty shift from the adjustment the kernel already applies to this direction (a
  // session resumed after a daemon restart), so that the next Record() continues it instead of
  // starting again from 0. Ignored when changes are recorded already.
  void Seed(const SeqAdjustment& adjustment);

  // The offset to add to an original sequence number `seq` of this direction: the sum of the
  // deltas recorded at segments strictly before `seq`.
  int64_t OffsetFor(uint32_t seq) const;

  // Maps a sequence number of this direction as the peer acknowledges it in the rewritten stream
  // back to the original numbering (used on a live gateway; the replay uses OffsetFor).
  uint32_t ToOriginal(uint32_t rewritten_seq) const;

  // The most recent changes kept; older ones are folded into one base offset (a retransmission
  // from before all of them gets the oldest offset kept, which is right unless it predates several
  // rewrites; the kernel keeps a single change).
  static constexpr size_t kMaxChanges = 4;

  int64_t total() const { return total_; }
  bool empty() const { return count_ == 0; }

 private:
  // Offsets are 32-bit like the kernel's (struct nf_ct_seqadj): sequence arithmetic is modulo 2^32
  // anyway, and a session holds two of these, so their size matters (see bench/README.md).
  struct Change {
    uint32_t segment_seq;
    int32_t offset_after;  // cumulative offset for sequence numbers after segment_seq
  };
  std::array<Change, kMaxChanges> changes_{};
  uint8_t count_ = 0;
  int32_t base_ = 0;  // offset for sequence numbers before the oldest change kept
  int64_t total_ = 0;
};

}  // namespace ftpalg
