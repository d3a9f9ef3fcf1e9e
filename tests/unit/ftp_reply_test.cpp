#include "ftpalg/ftp_reply.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "framing_test_util.h"

namespace ftpalg {
namespace {

using test_util::FrameByteByByte;
using test_util::FramedOnce;

// Compact form of a ReplyLine for table comparisons: "F220" final, "C" continuation, "M"
// malformed.
std::string Describe(const ReplyLine& line) {
  std::string out;
  if (line.final_code != 0) out += "F" + std::to_string(line.final_code);
  if (line.continuation) out += "C";
  if (line.malformed) out += "M";
  return out;
}

// Feeds the lines to a fresh tracker, as given and after framing them (CRLF-joined) byte by byte.
void ExpectReplies(const std::vector<std::string>& lines,
                   const std::vector<std::string>& expected) {
  ReplyTracker direct;
  std::vector<std::string> got;
  std::string wire;
  for (const std::string& line : lines) {
    got.push_back(Describe(direct.Feed(line)));
    wire += line + "\r\n";
  }
  EXPECT_EQ(got, expected) << "as given";

  ReplyTracker framed;
  std::vector<std::string> got_framed;
  for (const auto& line : FrameByteByByte(wire))
    got_framed.push_back(Describe(framed.Feed(line.text)));
  EXPECT_EQ(got_framed, expected) << "framed";
}

TEST(ReplyTrackerTest, SingleLineReplies) {
  ExpectReplies({"220 Service ready", "331 Password required", "227 Entering Passive Mode (1,2)",
                 "500", "100 x", "599 x"},
                {"F220", "F331", "F227", "F500", "F100", "F599"});
}

TEST(ReplyTrackerTest, MultiLineReplyRfc959Example) {
  // RFC 959 4.2: only "123<SP>" ends it; lines starting with other codes are text.
  ExpectReplies({"123-First line", "Second line", "  234 A line beginning with numbers",
                 "123 The last line", "200 ok"},
                {"C", "C", "C", "F123", "F200"});
}

TEST(ReplyTrackerTest, InsideAMultiLineReplyOtherCodesAreText) {
  ExpectReplies({"230-Welcome", "227 Entering Passive Mode (6,6,6,6,6,6)", "230-still open",
                 "2300 no", "230x no", "", "230", "226 done"},
                {"C", "C", "C", "C", "C", "C", "F230", "F226"});
}

TEST(ReplyTrackerTest, MultiLineOpenedWithEmptyText) {
  ExpectReplies({"211-", "211 End"}, {"C", "F211"});
}

TEST(ReplyTrackerTest, Malformed) {
  ExpectReplies({"22 x", "abc", "", "600 x", "099 x", "220x", "2200 x", " 220 x", "22", "2a0 x",
                 "220\tx", "220 recovered"},
                {"M", "M", "M", "M", "M", "M", "M", "M", "M", "M", "M", "F220"});
}

TEST(ReplyTrackerTest, ResetForgetsAnOpenReply) {
  for (bool framed : {false, true}) {
    SCOPED_TRACE(framed);
    auto text = [framed](std::string_view line) {
      return framed ? FramedOnce(line) : std::string(line);
    };
    ReplyTracker tracker;
    EXPECT_FALSE(tracker.InMultiLine());
    EXPECT_TRUE(tracker.Feed(text("220-Hello")).continuation);
    EXPECT_TRUE(tracker.InMultiLine());
    tracker.Reset();
    EXPECT_FALSE(tracker.InMultiLine());
    const ReplyLine line = tracker.Feed(text("227 Entering Passive Mode (1,2,3,4,5,6)"));
    EXPECT_EQ(line.final_code, 227);
    EXPECT_FALSE(line.continuation);
    EXPECT_FALSE(line.malformed);
  }
}

TEST(ReplyTrackerTest, StateFollowsTheReplies) {
  for (bool framed : {false, true}) {
    SCOPED_TRACE(framed);
    auto text = [framed](std::string_view line) {
      return framed ? FramedOnce(line) : std::string(line);
    };
    ReplyTracker tracker;
    tracker.Feed(text("150-Opening"));
    EXPECT_TRUE(tracker.InMultiLine());
    tracker.Feed(text("226 other code"));
    EXPECT_TRUE(tracker.InMultiLine());
    tracker.Feed(text("150 done"));
    EXPECT_FALSE(tracker.InMultiLine());
  }
}

}  // namespace
}  // namespace ftpalg
