#include "ftpalg/line_framer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "framing_test_util.h"

namespace ftpalg {
namespace {

using test_util::Bytes;
using test_util::CollectedLine;
using test_util::CollectingSink;
using test_util::FrameByteByByte;

// Every framer test runs at several starting sequence numbers, including ones where the stream
// crosses 2^32 in its first bytes (RFC 793 3.3 arithmetic must hold across the wrap).
class LineFramerTest : public ::testing::TestWithParam<uint32_t> {
 protected:
  uint32_t S() const { return GetParam(); }
  // Sequence number `offset` bytes into the stream (wrapping).
  uint32_t At(size_t offset) const { return static_cast<uint32_t>(S() + offset); }

  FeedKind Feed(size_t offset, std::string_view bytes) {
    return framer_.Feed(At(offset), Bytes(bytes), sink_);
  }
  std::vector<std::string> Texts() const { return sink_.Texts(); }
  const std::vector<CollectedLine>& Lines() const { return sink_.lines; }

  LineFramer framer_{512};
  CollectingSink sink_;
};

INSTANTIATE_TEST_SUITE_P(StartSeq, LineFramerTest,
                         ::testing::Values(0u, 1000u, 0x7ffffff0u, 0x80000000u, 0xfffffff0u,
                                           0xfffffffcu, 0xffffffffu));

TEST_P(LineFramerTest, SingleLineInOneSegment) {
  framer_.StartAt(S());
  EXPECT_EQ(Feed(0, "USER anonymous\r\n"), FeedKind::kInOrder);
  ASSERT_EQ(Lines().size(), 1u);
  EXPECT_EQ(Lines()[0].text, "USER anonymous");
  EXPECT_EQ(Lines()[0].start_seq, S());
  EXPECT_EQ(Lines()[0].end_seq, At(16));
  EXPECT_TRUE(Lines()[0].within_segment);
  EXPECT_FALSE(Lines()[0].overlong);
  EXPECT_EQ(framer_.next_seq(), At(16));
  EXPECT_EQ(framer_.buffered_bytes(), 0u);
}

TEST_P(LineFramerTest, SeveralLinesInOneSegmentInOrder) {
  framer_.StartAt(S());
  EXPECT_EQ(Feed(0, "USER a\r\nPASS b\r\nPASV\r\n"), FeedKind::kInOrder);
  EXPECT_EQ(Texts(), (std::vector<std::string>{"USER a", "PASS b", "PASV"}));
  ASSERT_EQ(Lines().size(), 3u);
  EXPECT_EQ(Lines()[1].start_seq, At(8));
  EXPECT_EQ(Lines()[1].end_seq, At(16));
  EXPECT_EQ(Lines()[2].start_seq, At(16));
  for (const CollectedLine& line : Lines()) EXPECT_TRUE(line.within_segment);
}

TEST_P(LineFramerTest, LineSplitOverManySegmentsIsDeliveredOnceWhenItsLfArrives) {
  framer_.StartAt(S());
  const std::string text = "PORT 192,168,1,2,4,1\r\nNOOP\r\n";
  for (size_t i = 0; i < text.size(); i += 3) {
    EXPECT_EQ(Feed(i, std::string_view(text).substr(i, 3)), FeedKind::kInOrder);
    if (i + 3 < 22) {
      EXPECT_TRUE(Lines().empty());
    }
  }
  EXPECT_EQ(Texts(), (std::vector<std::string>{"PORT 192,168,1,2,4,1", "NOOP"}));
  ASSERT_EQ(Lines().size(), 2u);
  EXPECT_EQ(Lines()[0].start_seq, S());
  EXPECT_EQ(Lines()[0].end_seq, At(22));
  EXPECT_FALSE(Lines()[0].within_segment);
  EXPECT_EQ(Lines()[1].start_seq, At(22));
  EXPECT_EQ(Lines()[1].end_seq, At(28));
  EXPECT_EQ(framer_.buffered_bytes(), 0u);
}

TEST_P(LineFramerTest, EverySplitIntoThreeSegmentsGivesTheSameLines) {
  const std::string text = "USER a\r\nPASS b\nEPSV\r\n";
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); ++j) {
      LineFramer framer;
      framer.StartAt(S());
      CollectingSink sink;
      framer.Feed(At(0), Bytes(std::string_view(text).substr(0, i)), sink);
      framer.Feed(At(i), Bytes(std::string_view(text).substr(i, j - i)), sink);
      framer.Feed(At(j), Bytes(std::string_view(text).substr(j)), sink);
      EXPECT_EQ(sink.Texts(), (std::vector<std::string>{"USER a", "PASS b", "EPSV"}))
          << i << "," << j;
      ASSERT_EQ(sink.lines.size(), 3u);
      EXPECT_EQ(sink.lines[2].start_seq, At(15));
      EXPECT_EQ(sink.lines[2].end_seq, At(21));
    }
  }
}

TEST_P(LineFramerTest, ByteByByte) {
  std::vector<CollectedLine> lines = FrameByteByByte("USER a\r\n\r\nPASS b\r\n", S());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].text, "USER a");
  EXPECT_EQ(lines[1].text, "");
  EXPECT_EQ(lines[2].text, "PASS b");
  EXPECT_EQ(lines[2].start_seq, At(10));
  EXPECT_EQ(lines[2].end_seq, At(18));
  // A one-byte segment can only hold a whole line when the line is empty and LF-terminated.
  for (const CollectedLine& line : lines) EXPECT_FALSE(line.within_segment);
}

TEST_P(LineFramerTest, CrHandling) {
  framer_.StartAt(S());
  // Bare LF ends a line; only a CR directly before the LF is stripped; other CRs are text.
  Feed(0, "a\nb\r\nc\rd\r\ne\r\r\n\r\n");
  EXPECT_EQ(Texts(), (std::vector<std::string>{"a", "b", "c\rd", "e\r", ""}));
}

TEST_P(LineFramerTest, CrAtSegmentEndBelongsToCrLfOnlyIfLfFollows) {
  framer_.StartAt(S());
  Feed(0, "USER a\r");
  Feed(7, "\nPASS b\r");
  Feed(15, "x\n");
  Feed(17, "\r");
  Feed(18, "\r");
  Feed(19, "\n");
  EXPECT_EQ(Texts(), (std::vector<std::string>{"USER a", "PASS b\rx", "\r"}));
}

TEST_P(LineFramerTest, RetransmissionIsNeverDeliveredTwice) {
  framer_.StartAt(S());
  EXPECT_EQ(Feed(0, "USER a\r\n"), FeedKind::kInOrder);
  EXPECT_EQ(Feed(0, "USER a\r\n"), FeedKind::kRetransmission);
  EXPECT_EQ(Feed(8, "PASS"), FeedKind::kInOrder);
  EXPECT_EQ(Feed(8, "PASS"), FeedKind::kRetransmission);
  EXPECT_EQ(Feed(2, "ER"), FeedKind::kRetransmission);  // a part of an old segment
  EXPECT_EQ(Feed(8, "PA"), FeedKind::kRetransmission);
  EXPECT_EQ(Feed(12, " b\r\n"), FeedKind::kInOrder);
  EXPECT_EQ(Feed(12, " b\r\n"), FeedKind::kRetransmission);
  EXPECT_EQ(Feed(0, "USER a\r\nPASS b\r\n"), FeedKind::kRetransmission);
  EXPECT_EQ(Texts(), (std::vector<std::string>{"USER a", "PASS b"}));
  EXPECT_EQ(framer_.next_seq(), At(16));
}

TEST_P(LineFramerTest, OverlapFramesOnlyTheNewTail) {
  framer_.StartAt(S());
  EXPECT_EQ(Feed(0, "USER a\r\nPA"), FeedKind::kInOrder);
  EXPECT_EQ(Texts(), (std::vector<std::string>{"USER a"}));
  // Repacketised retransmission: the old bytes again plus new ones.
  EXPECT_EQ(Feed(0, "USER a\r\nPASS b\r\nSYST\r\n"), FeedKind::kOverlap);
  EXPECT_EQ(Texts(), (std::vector<std::string>{"USER a", "PASS b", "SYST"}));
  ASSERT_EQ(Lines().size(), 3u);
  // "PASS b" began in the earlier segment: its text is the copy framed first.
  EXPECT_FALSE(Lines()[1].within_segment);
  EXPECT_EQ(Lines()[1].start_seq, At(8));
  // "SYST" lies wholly in the new tail: offset start_seq - seq in the segment fed.
  EXPECT_TRUE(Lines()[2].within_segment);
  EXPECT_EQ(Lines()[2].start_seq, At(16));
  EXPECT_EQ(framer_.next_seq(), At(22));
}

TEST_P(LineFramerTest, OverlapUsesTheFirstCopyOfTheOldBytes) {
  framer_.StartAt(S());
  Feed(0, "PORT 1,2,3,");
  // A retransmission whose old part differs (an evasion attempt): the old part is not re-read.
  EXPECT_EQ(Feed(5, "9,9,9,4,5,6\r\n"), FeedKind::kOverlap);
  EXPECT_EQ(Texts(), (std::vector<std::string>{"PORT 1,2,3,4,5,6"}));
}

TEST_P(LineFramerTest, SegmentEndingExactlyAtNextSeqIsARetransmission) {
  framer_.StartAt(S());
  Feed(0, "ABCD");
  EXPECT_EQ(Feed(1, "BCD"), FeedKind::kRetransmission);
  EXPECT_EQ(Feed(3, "DE\r\n"), FeedKind::kOverlap);
  EXPECT_EQ(Texts(), (std::vector<std::string>{"ABCDE"}));
}

TEST_P(LineFramerTest, GapSkipsToTheNextLfAfterTheSegment) {
  framer_.StartAt(S());
  EXPECT_EQ(Feed(0, "USER a\r\nPORT 1,2"), FeedKind::kInOrder);
  EXPECT_EQ(framer_.buffered_bytes(), 8u);
  // Bytes 16..19 are lost; this segment is not framed, even the line that starts after its LF.
  EXPECT_EQ(Feed(20, "4,5,6\r\nPORT 6,6,6,6"), FeedKind::kGap);
  EXPECT_EQ(framer_.buffered_bytes(), 0u);
  EXPECT_EQ(framer_.next_seq(), At(39));
  // The late bytes are older than the framer's position now.
  EXPECT_EQ(Feed(16, ",3,"), FeedKind::kRetransmission);
  EXPECT_EQ(Feed(39, ",1,1\r"), FeedKind::kInOrder);
  EXPECT_EQ(Feed(44, "\nQUIT\r\n"), FeedKind::kInOrder);
  EXPECT_EQ(Texts(), (std::vector<std::string>{"USER a", "QUIT"}));
  ASSERT_EQ(Lines().size(), 2u);
  EXPECT_EQ(Lines()[1].start_seq, At(45));
  EXPECT_TRUE(Lines()[1].within_segment);
}

TEST_P(LineFramerTest, GapThenLfInTheNextSegmentResumesRightAfterIt) {
  framer_.StartAt(S());
  EXPECT_EQ(Feed(10, "xx"), FeedKind::kGap);
  EXPECT_EQ(Feed(12, "\nNOOP\r\nPA"), FeedKind::kInOrder);
  EXPECT_EQ(Feed(21, "SV\r\n"), FeedKind::kInOrder);
  EXPECT_EQ(Texts(), (std::vector<std::string>{"NOOP", "PASV"}));
}

TEST_P(LineFramerTest, SequenceMoreThanHalfTheSpaceAheadIsOld) {
  framer_.StartAt(S());
  Feed(0, "NOOP\r\n");
  // RFC 793 3.3 / RFC 1982: a start 2^31+1 "after" next_seq is before it modulo 2^32.
  EXPECT_EQ(framer_.Feed(At(6 + 0x80000001u), Bytes("QUIT\r\n"), sink_), FeedKind::kRetransmission);
  EXPECT_EQ(framer_.Feed(At(6 + 0x7fffffffu), Bytes("QUIT\r\n"), sink_), FeedKind::kGap);
  EXPECT_EQ(Texts(), (std::vector<std::string>{"NOOP"}));
}

TEST_P(LineFramerTest, OverlongLineIsDeliveredOnceTruncatedThenParsingResumes) {
  LineFramer framer(16);
  framer.StartAt(S());
  CollectingSink sink;
  framer.Feed(At(0), Bytes("0123456789abcdefXYZ\r\nNOOP\r\n"), sink);
  ASSERT_EQ(sink.lines.size(), 2u);
  EXPECT_EQ(sink.lines[0].text, "0123456789abcdef");
  EXPECT_TRUE(sink.lines[0].overlong);
  EXPECT_TRUE(sink.lines[0].within_segment);
  EXPECT_EQ(sink.lines[0].end_seq, At(21));
  EXPECT_EQ(sink.lines[1].text, "NOOP");
  EXPECT_FALSE(sink.lines[1].overlong);
  EXPECT_EQ(framer.overlong_lines(), 1u);
}

TEST_P(LineFramerTest, OverlongLineByteByByte) {
  std::vector<CollectedLine> lines = FrameByteByByte("0123456789abcdefXYZ\r\nNOOP\r\n", S(), 16);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].text, "0123456789abcdef");
  EXPECT_TRUE(lines[0].overlong);
  EXPECT_EQ(lines[0].start_seq, S());
  EXPECT_EQ(lines[0].end_seq, At(21));
  EXPECT_EQ(lines[1].text, "NOOP");
  EXPECT_FALSE(lines[1].overlong);
}

TEST_P(LineFramerTest, BoundCountsTextWithoutCrLf) {
  for (size_t chunk : {1u, 5u, 16u, 17u, 18u, 100u}) {
    SCOPED_TRACE(chunk);
    LineFramer framer(16);
    framer.StartAt(S());
    CollectingSink sink;
    // 16 bytes of text are within the bound whatever the segmentation, 17 are not, even when the
    // seventeenth is a CR that is not followed by LF.
    const std::string text =
        "0123456789abcdef\r\n0123456789abcdef\n0123456789abcdefg\r\n0123456789abcdef\r\r\n";
    for (size_t i = 0; i < text.size(); i += chunk) {
      framer.Feed(At(i), Bytes(std::string_view(text).substr(i, chunk)), sink);
      EXPECT_LE(framer.buffered_bytes(), 16u);
    }
    ASSERT_EQ(sink.lines.size(), 4u);
    EXPECT_FALSE(sink.lines[0].overlong);
    EXPECT_EQ(sink.lines[0].text, "0123456789abcdef");
    EXPECT_FALSE(sink.lines[1].overlong);
    EXPECT_TRUE(sink.lines[2].overlong);
    EXPECT_EQ(sink.lines[2].text, "0123456789abcdef");
    EXPECT_TRUE(sink.lines[3].overlong);
    EXPECT_EQ(sink.lines[3].text, "0123456789abcdef");
    EXPECT_EQ(framer.overlong_lines(), 2u);
  }
}

TEST_P(LineFramerTest, MebibyteLineKeepsMemoryBounded) {
  framer_.StartAt(S());
  const std::string chunk(1000, 'A');
  size_t offset = 0;
  Feed(offset, "NO");
  offset += 2;
  while (offset < (1u << 20)) {
    EXPECT_EQ(Feed(offset, chunk), FeedKind::kInOrder);
    offset += chunk.size();
    ASSERT_LE(framer_.buffered_bytes(), 512u);
    ASSERT_TRUE(Lines().empty());
  }
  Feed(offset, "\r\nPASV\r\n");
  ASSERT_EQ(Lines().size(), 2u);
  EXPECT_TRUE(Lines()[0].overlong);
  EXPECT_EQ(Lines()[0].text.size(), 512u);
  EXPECT_EQ(Lines()[0].text.substr(0, 4), "NOAA");
  EXPECT_EQ(Lines()[0].start_seq, S());
  EXPECT_EQ(Lines()[0].end_seq, At(offset + 2));
  EXPECT_EQ(Lines()[1].text, "PASV");
  EXPECT_FALSE(Lines()[1].overlong);
  EXPECT_EQ(framer_.overlong_lines(), 1u);
  EXPECT_EQ(framer_.buffered_bytes(), 0u);
}

TEST_P(LineFramerTest, MebibyteLineInOneSegment) {
  framer_.StartAt(S());
  std::string text(1u << 20, 'B');
  text += "\nQUIT\n";
  EXPECT_EQ(Feed(0, text), FeedKind::kInOrder);
  EXPECT_EQ(Texts(), (std::vector<std::string>{std::string(512, 'B'), "QUIT"}));
  EXPECT_EQ(framer_.overlong_lines(), 1u);
  EXPECT_EQ(framer_.buffered_bytes(), 0u);
}

TEST_P(LineFramerTest, OverlongPartialIsDroppedByAGap) {
  framer_.StartAt(S());
  Feed(0, std::string(2000, 'C'));
  EXPECT_EQ(framer_.buffered_bytes(), 512u);
  EXPECT_EQ(Feed(3000, "C\r\n"), FeedKind::kGap);
  Feed(3003, "NOOP\r\nQUIT\r\n");
  // The gap's segment ended in a LF, so "NOOP" starts a line whatever was lost before it.
  EXPECT_EQ(Texts(), (std::vector<std::string>{"NOOP", "QUIT"}));
  EXPECT_EQ(framer_.overlong_lines(), 0u);
}

TEST_P(LineFramerTest, GapSegmentEndingMidLineSkipsToTheNextLf) {
  framer_.StartAt(S());
  Feed(0, "USER a\r\n");
  EXPECT_EQ(Feed(100, "tail of something PO"), FeedKind::kGap);
  Feed(120, "RT 1,2,3,4,5,6\r\nQUIT\r\n");
  // "RT 1,2,..." continues a line whose start was out of order: never framed.
  EXPECT_EQ(Texts(), (std::vector<std::string>{"USER a", "QUIT"}));
}

TEST_P(LineFramerTest, WithoutStartAtTheFirstSegmentStartsTheStream) {
  EXPECT_FALSE(framer_.started());
  EXPECT_EQ(Feed(5, ""), FeedKind::kEmpty);
  EXPECT_FALSE(framer_.started());
  EXPECT_EQ(Feed(5, "ER a\r\nNOOP\r\n"), FeedKind::kInOrder);
  EXPECT_TRUE(framer_.started());
  EXPECT_EQ(Texts(), (std::vector<std::string>{"ER a", "NOOP"}));
  EXPECT_EQ(framer_.next_seq(), At(17));
}

TEST_P(LineFramerTest, EmptyPayloadChangesNothing) {
  framer_.StartAt(S());
  Feed(0, "US");
  EXPECT_EQ(Feed(2, ""), FeedKind::kEmpty);
  EXPECT_EQ(Feed(100, ""), FeedKind::kEmpty);
  Feed(2, "ER a\r\n");
  EXPECT_EQ(Texts(), (std::vector<std::string>{"USER a"}));
}

TEST_P(LineFramerTest, StartAtResetsTheStream) {
  framer_.StartAt(S());
  Feed(0, "PORT 1,2");
  Feed(100, "x");  // gap: skipping
  framer_.StartAt(At(1000));
  EXPECT_EQ(framer_.buffered_bytes(), 0u);
  EXPECT_EQ(Feed(1000, "QUIT\r\n"), FeedKind::kInOrder);
  EXPECT_EQ(Texts(), (std::vector<std::string>{"QUIT"}));
}

TEST_P(LineFramerTest, BufferIsReleasedWhenABufferedLineEnds) {
  framer_.StartAt(S());
  Feed(0, std::string(300, 'x'));
  EXPECT_EQ(framer_.buffered_bytes(), 300u);
  Feed(300, "\nab");
  EXPECT_EQ(framer_.buffered_bytes(), 2u);
  Feed(303, "\n");
  EXPECT_EQ(framer_.buffered_bytes(), 0u);
  EXPECT_EQ(Texts(), (std::vector<std::string>{std::string(300, 'x'), "ab"}));
}

// Random segmentation with retransmissions and overlaps (but no loss) must give exactly the lines
// of the stream, each once, with correct sequence numbers.
TEST_P(LineFramerTest, RandomSegmentationWithRetransmissionsMatchesOneShot) {
  std::mt19937 rng(GetParam() ^ 0x5eed);
  std::string text;
  for (int i = 0; i < 200; ++i) {
    const size_t length = rng() % 40;
    for (size_t k = 0; k < length; ++k) text += static_cast<char>('a' + rng() % 26);
    if (rng() % 7 == 0) text += '\r';
    text += rng() % 2 ? "\r\n" : "\n";
  }
  LineFramer reference(32);
  reference.StartAt(S());
  CollectingSink expected;
  reference.Feed(S(), Bytes(text), expected);

  LineFramer framer(32);
  framer.StartAt(S());
  CollectingSink sink;
  size_t sent = 0;
  while (sent < text.size()) {
    const size_t back = rng() % 4 == 0 ? std::min<size_t>(sent, rng() % 20) : 0;
    const size_t length = 1 + rng() % 30;
    const size_t begin = sent - back;
    const std::string_view piece = std::string_view(text).substr(begin, length);
    framer.Feed(At(begin), Bytes(piece), sink);
    sent = std::max(sent, begin + piece.size());
    if (rng() % 5 == 0) framer.Feed(At(begin), Bytes(piece), sink);  // duplicate
    ASSERT_LE(framer.buffered_bytes(), 32u);
  }
  ASSERT_EQ(sink.lines.size(), expected.lines.size());
  for (size_t i = 0; i < sink.lines.size(); ++i) {
    EXPECT_EQ(sink.lines[i].text, expected.lines[i].text) << i;
    EXPECT_EQ(sink.lines[i].start_seq, expected.lines[i].start_seq) << i;
    EXPECT_EQ(sink.lines[i].end_seq, expected.lines[i].end_seq) << i;
    EXPECT_EQ(sink.lines[i].overlong, expected.lines[i].overlong) << i;
  }
  EXPECT_EQ(framer.overlong_lines(), reference.overlong_lines());
}

}  // namespace
}  // namespace ftpalg
