#include "ftpalg/seq_shift.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace ftpalg {
namespace {

TEST(SeqArithmeticTest, ComparesModulo2To32) {
  EXPECT_TRUE(SeqAfter(1, 0));
  EXPECT_TRUE(SeqAfter(0, 0xffffffff));
  EXPECT_TRUE(SeqAfter(0x10, 0xfffffff0));
  EXPECT_FALSE(SeqAfter(0xfffffff0, 0x10));
  EXPECT_FALSE(SeqAfter(5, 5));
  EXPECT_TRUE(SeqBefore(0xffffff00, 0x00000100));
  EXPECT_TRUE(SeqAfter(0x80000000, 0x00000001));    // just under half the space ahead
  EXPECT_FALSE(SeqAfter(0x80000000, 0x00000000));   // exactly half: neither after...
  EXPECT_FALSE(SeqBefore(0x80000000, 0x00000000));  // ...nor before (RFC 1982 3.2)
}

// Every test runs at a base far from 2^32 and at bases whose segments cross 0 or the 2^31 line.
class SeqShiftTest : public testing::TestWithParam<uint32_t> {
 protected:
  // A sequence number `n` bytes into the test's stream (wrapping as TCP does).
  uint32_t At(int64_t n) const { return GetParam() + static_cast<uint32_t>(n); }
};

INSTANTIATE_TEST_SUITE_P(Bases, SeqShiftTest,
                         testing::Values(0x00001000u, 0xffffff00u, 0xffffffc0u, 0xfffffffeu,
                                         0x7fffff80u, 0x00000000u),
                         [](const auto& param_info) {
                           char name[16];
                           std::snprintf(name, sizeof name, "at_%08x",
                                         static_cast<unsigned>(param_info.param));
                           return std::string(name);
                         });

TEST_P(SeqShiftTest, EmptyIsIdentity) {
  SeqShift shift;
  EXPECT_TRUE(shift.empty());
  EXPECT_EQ(shift.total(), 0);
  for (int64_t n : {0, 1, 100, 0x100, 0x200}) {
    EXPECT_EQ(shift.OffsetFor(At(n)), 0);
    EXPECT_EQ(shift.ToOriginal(At(n)), At(n));
  }
}

// A 20-byte segment at +100 grows by 5 ("PORT 10,0,0,5,..." -> a longer address).
TEST_P(SeqShiftTest, OneGrowingChange) {
  SeqShift shift;
  shift.Record(At(100), 5);
  EXPECT_FALSE(shift.empty());
  EXPECT_EQ(shift.total(), 5);
  // Before the segment and the segment itself (and its retransmissions): unchanged.
  EXPECT_EQ(shift.OffsetFor(At(0)), 0);
  EXPECT_EQ(shift.OffsetFor(At(99)), 0);
  EXPECT_EQ(shift.OffsetFor(At(100)), 0);
  // Anything after its first byte: +5 (the next segment starts at +120).
  EXPECT_EQ(shift.OffsetFor(At(101)), 5);
  EXPECT_EQ(shift.OffsetFor(At(120)), 5);
  EXPECT_EQ(shift.OffsetFor(At(0x300)), 5);

  // Acks from the peer, in rewritten numbering.
  EXPECT_EQ(shift.ToOriginal(At(50)), At(50));    // before the segment
  EXPECT_EQ(shift.ToOriginal(At(100)), At(100));  // up to the segment's first byte
  EXPECT_EQ(shift.ToOriginal(At(125)), At(120));  // all of the rewritten segment
  EXPECT_EQ(shift.ToOriginal(At(205)), At(200));  // later data
}

TEST_P(SeqShiftTest, OneShrinkingChange) {
  SeqShift shift;
  shift.Record(At(100), -7);
  EXPECT_EQ(shift.total(), -7);
  EXPECT_EQ(shift.OffsetFor(At(100)), 0);
  EXPECT_EQ(shift.OffsetFor(At(130)), -7);
  EXPECT_EQ(shift.ToOriginal(At(100)), At(100));
  EXPECT_EQ(shift.ToOriginal(At(123)), At(130));  // the 30-byte segment went out as 23 bytes
  EXPECT_EQ(shift.ToOriginal(At(493)), At(500));
}

TEST_P(SeqShiftTest, ChangesAccumulate) {
  SeqShift shift;
  shift.Record(At(0), 3);
  shift.Record(At(50), -10);
  shift.Record(At(80), 20);
  EXPECT_EQ(shift.total(), 13);
  EXPECT_EQ(shift.OffsetFor(At(0)), 0);
  EXPECT_EQ(shift.OffsetFor(At(1)), 3);
  EXPECT_EQ(shift.OffsetFor(At(50)), 3);  // the second rewritten segment, or a retransmission
  EXPECT_EQ(shift.OffsetFor(At(60)), -7);
  EXPECT_EQ(shift.OffsetFor(At(80)), -7);
  EXPECT_EQ(shift.OffsetFor(At(81)), 13);
  EXPECT_EQ(shift.OffsetFor(At(1000)), 13);
  // A retransmission from before all changes.
  EXPECT_EQ(shift.OffsetFor(At(-20)), 0);
}

TEST_P(SeqShiftTest, RecordingAgainIsIgnored) {
  SeqShift shift;
  shift.Record(At(10), 4);
  shift.Record(At(40), 6);
  shift.Record(At(40), 6);   // the same segment retransmitted and rewritten again
  shift.Record(At(40), 99);  // even with another delta
  shift.Record(At(10), 4);   // an older rewritten segment retransmitted
  shift.Record(At(25), 8);   // a segment before the newest change: too late to shift
  shift.Record(At(60), 0);   // no length change
  EXPECT_EQ(shift.total(), 10);
  EXPECT_EQ(shift.OffsetFor(At(11)), 4);
  EXPECT_EQ(shift.OffsetFor(At(30)), 4);
  EXPECT_EQ(shift.OffsetFor(At(40)), 4);
  EXPECT_EQ(shift.OffsetFor(At(41)), 10);
  EXPECT_EQ(shift.OffsetFor(At(61)), 10);
  SeqShift none;
  none.Record(At(5), 0);
  EXPECT_TRUE(none.empty());
}

// What Record returns is what the kernel's nf_ct_seqadj_set() would leave in struct nf_ct_seqadj
// for the direction (a live gateway sends it over ctnetlink): position of the newest change, the
// offset before it and the cumulative offset after it; nothing when the change is not recorded.
TEST_P(SeqShiftTest, RecordReturnsTheKernelsAdjustment) {
  SeqShift shift;
  EXPECT_EQ(shift.Record(At(10), 4), (SeqAdjustment{At(10), 0, 4}));
  EXPECT_EQ(shift.Record(At(40), -6), (SeqAdjustment{At(40), 4, -2}));
  EXPECT_EQ(shift.Record(At(40), -6), std::nullopt);  // a retransmission: unchanged
  EXPECT_EQ(shift.Record(At(25), 8), std::nullopt);   // before the newest change
  EXPECT_EQ(shift.Record(At(60), 0), std::nullopt);   // no length change
  EXPECT_EQ(shift.Record(At(70), 3), (SeqAdjustment{At(70), -2, 1}));
}

// The kernel's nf_ct_seqadj keeps one change; we keep kMaxChanges and fold older ones.
TEST_P(SeqShiftTest, OldChangesAreFolded) {
  constexpr int kChanges = 12;
  constexpr int kFolded = kChanges - static_cast<int>(SeqShift::kMaxChanges);
  static_assert(kFolded > 0);
  SeqShift shift;
  for (int i = 0; i < kChanges; ++i) shift.Record(At(100 * i), i + 1);  // +1, +2, ... +12
  EXPECT_EQ(shift.total(), 78);
  // The kMaxChanges newest changes are exact.
  int64_t expected = 0;
  int64_t folded_offset = 0;
  for (int i = 0; i < kChanges; ++i) {
    const int64_t before = expected;
    expected += i + 1;
    if (i < kFolded) {
      folded_offset = expected;
      continue;
    }
    EXPECT_EQ(shift.OffsetFor(At(100 * i)), before) << i;
    EXPECT_EQ(shift.OffsetFor(At(100 * i + 1)), expected) << i;
    // A whole 30-byte rewritten segment acked, and an ack up to its start.
    EXPECT_EQ(shift.ToOriginal(At(100 * i + 30 + expected)), At(100 * i + 30)) << i;
    EXPECT_EQ(shift.ToOriginal(At(100 * i + before)), At(100 * i)) << i;
  }
  // Older numbers get the offset from before the oldest change kept.
  const uint32_t oldest_kept = static_cast<uint32_t>(100 * kFolded);
  EXPECT_EQ(shift.OffsetFor(At(oldest_kept - 50)), folded_offset);
  EXPECT_EQ(shift.OffsetFor(At(50)), folded_offset);
  EXPECT_EQ(shift.ToOriginal(At(oldest_kept - 40 + static_cast<uint32_t>(folded_offset))),
            At(oldest_kept - 40));
  // New changes still work after folding.
  shift.Record(At(1300), -78);
  EXPECT_EQ(shift.total(), 0);
  EXPECT_EQ(shift.OffsetFor(At(1300)), 78);
  EXPECT_EQ(shift.OffsetFor(At(1301)), 0);
}

// A long stream of rewritten segments: for every segment, the start and the end a peer would
// acknowledge map back exactly, and OffsetFor agrees with a plain running sum.
TEST_P(SeqShiftTest, RoundTripsAlongAStream) {
  std::mt19937 random(GetParam());
  SeqShift shift;
  int64_t position = 0;
  int64_t running = 0;
  struct Segment {
    int64_t start, length, offset_before, delta;
  };
  std::vector<Segment> recent;
  for (int i = 0; i < 200; ++i) {
    const int64_t length = 10 + static_cast<int64_t>(random() % 60);
    const int32_t delta = static_cast<int32_t>(random() % 19) - 9;  // -9 .. +9
    EXPECT_EQ(shift.OffsetFor(At(position)), running) << i;
    shift.Record(At(position), delta);
    recent.push_back({position, length, running, delta});
    running += delta;
    position += length;
    EXPECT_EQ(shift.OffsetFor(At(position)), running) << i;
    EXPECT_EQ(shift.total(), running);
    // Acks for the last few segments, as long as they are among the changes kept.
    for (size_t back = 0; back < recent.size() && back < 4; ++back) {
      const Segment& s = recent[recent.size() - 1 - back];
      if (s.length + s.delta <= 0) continue;
      EXPECT_EQ(shift.ToOriginal(At(s.start + s.offset_before)), At(s.start));
      EXPECT_EQ(shift.ToOriginal(At(s.start + s.length + s.offset_before + s.delta)),
                At(s.start + s.length));
    }
  }
  // The stream ran for several kilobytes: it crossed 2^32 for the bases near it.
  EXPECT_GT(position, 0x1000);
}

// Two directions, as the engine uses them: the client's PORT grows its stream; the server's acks
// for that stream are mapped back with ToOriginal, or forward with OffsetFor in the replay.
TEST_P(SeqShiftTest, AckSpaceMatchesSeqSpace) {
  SeqShift client;
  client.Record(At(0), 9);    // USER/PASS untouched, PORT at 0 grows by 9
  client.Record(At(40), -3);  // a later PORT shrinks by 3
  // Rewritten stream: [0, 29) was [0, 20), [29, 66) was [20, 40) + ... the server acks in it.
  for (int64_t original : {0, 20, 40, 60, 100}) {
    const uint32_t seq = At(original);
    const uint32_t rewritten = seq + static_cast<uint32_t>(client.OffsetFor(seq));
    EXPECT_EQ(client.ToOriginal(rewritten), seq) << original;
  }
}

}  // namespace
}  // namespace ftpalg

namespace ftpalg {
namespace {

// A gateway that took a session over (conntrackd committed it, or the daemon restarted) has the
// kernel's adjustment from the rewrites before; the engine's own figures start at 0.
TEST(ContinueKernelAdjustmentTest, WithoutKernelAdjustmentTheEngineFiguresStand) {
  const SeqAdjustment engine{1000, 0, 4};
  EXPECT_EQ(ContinueKernelAdjustment(std::nullopt, engine), engine);
}

TEST(ContinueKernelAdjustmentTest, BuildsOnTheKernelsOffsetAfterAFailover) {
  // Five PORT rewrites of +4 before the failover; the sixth, the first this gateway makes.
  const SeqAdjustment kernel{900, 16, 20};
  const SeqAdjustment engine{1000, 0, 4};
  EXPECT_EQ(ContinueKernelAdjustment(kernel, engine), (SeqAdjustment{1000, 20, 24}));
}

TEST(ContinueKernelAdjustmentTest, ANegativeChangeBuildsOnItToo) {
  EXPECT_EQ(ContinueKernelAdjustment(SeqAdjustment{900, 0, 3}, SeqAdjustment{1000, 0, -2}),
            (SeqAdjustment{1000, 3, 1}));
}

TEST(ContinueKernelAdjustmentTest, TheEnginesOwnEarlierAdjustmentChangesNothing) {
  // Without a takeover the kernel holds what this engine set last: the same figures come out.
  const SeqAdjustment engine{1000, 4, 8};
  EXPECT_EQ(ContinueKernelAdjustment(SeqAdjustment{900, 0, 4}, engine), engine);
}

TEST(ContinueKernelAdjustmentTest, ASegmentTheKernelAlreadyAdjustedKeepsItsAdjustment) {
  // A retransmission of the segment the other gateway rewrote last: its adjustment is in place.
  EXPECT_EQ(ContinueKernelAdjustment(SeqAdjustment{1000, 16, 20}, SeqAdjustment{1000, 0, 4}),
            std::nullopt);
  // A segment from before the kernel's last rewrite: nf_ct_seqadj_set would not move it either.
  EXPECT_EQ(ContinueKernelAdjustment(SeqAdjustment{1000, 16, 20}, SeqAdjustment{900, 0, 4}),
            std::nullopt);
}

TEST(ContinueKernelAdjustmentTest, ComparesPositionsModulo2To32) {
  EXPECT_EQ(ContinueKernelAdjustment(SeqAdjustment{0xfffffff0, 0, 4}, SeqAdjustment{0x10, 0, 4}),
            (SeqAdjustment{0x10, 4, 8}));
  EXPECT_EQ(ContinueKernelAdjustment(SeqAdjustment{0x10, 0, 4}, SeqAdjustment{0xfffffff0, 0, 4}),
            std::nullopt);
}

}  // namespace
}  // namespace ftpalg
