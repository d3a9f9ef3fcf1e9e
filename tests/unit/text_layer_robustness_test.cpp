// Randomised checks of the text layer: wire bytes never crash a parser, offsets stay inside the
// input, and what a parser accepts survives being written back and parsed again.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "framing_test_util.h"
#include "ftpalg/eprt_command.h"
#include "ftpalg/ftp_command.h"
#include "ftpalg/ftp_reply.h"
#include "ftpalg/line_framer.h"
#include "ftpalg/port_command.h"

namespace ftpalg {
namespace {

using test_util::Bytes;
using test_util::CollectingSink;

// Valid lines with a few random mutations drawn from the characters the grammars care about, so
// that random input reaches both the accepting and the rejecting paths.
std::string RandomLine(std::mt19937& rng) {
  static constexpr std::string_view kAlphabet = "0123456789,|()!. :aAf\t\r\x80\x01";
  static constexpr std::string_view kTemplates[] = {
      "PORT 192,0,2,1,4,1",
      "1,2,3,4,5,6",
      "227 Entering Passive Mode (10,0,0,1,200,10).",
      "EPRT |1|192.0.2.1|1025|",
      "|2|2001:db8::1|6000|",
      "229 Entering Extended Passive Mode (|||6446|)",
      "230-multi",
      "USER x",
  };
  std::string line(kTemplates[rng() % std::size(kTemplates)]);
  const auto mutations = rng() % 4;
  for (size_t i = 0; i < mutations; ++i) {
    const size_t at = rng() % (line.size() + 1);
    const char c = kAlphabet[rng() % kAlphabet.size()];
    switch (rng() % 3) {
      case 0:
        line.insert(at, 1, c);
        break;
      case 1:
        if (at < line.size()) line.erase(at, 1);
        break;
      default:
        if (at < line.size()) line[at] = c;
        break;
    }
  }
  return line;
}

template <typename Span>
void ExpectSpanInside(const Span& span, std::string_view text) {
  EXPECT_LE(span.begin, span.end);
  EXPECT_LE(span.end, text.size());
}

TEST(TextLayerRobustnessTest, RandomLinesThroughEveryParser) {
  std::mt19937 rng(20240229);
  size_t accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string line = RandomLine(rng);
    SCOPED_TRACE(line);
    const CommandLine command = ParseCommandLine(line);
    EXPECT_LE(command.argument_offset, line.size());
    ReplyTracker tracker;
    tracker.Feed(line);

    for (std::string_view text : {std::string_view(line), command.argument}) {
      if (HostPortResult r = ParsePortArgument(text); r.ok()) {
        ++accepted;
        ExpectSpanInside(r.value, text);
        EXPECT_EQ(ParsePortArgument(FormatPortArgument(r.value.endpoint)).value.endpoint,
                  r.value.endpoint);
      }
      if (HostPortResult r = Parse227Reply(text); r.ok()) {
        ++accepted;
        ExpectSpanInside(r.value, text);
        const std::string rewritten = std::string(text.substr(0, r.value.begin)) +
                                      FormatPortArgument(r.value.endpoint) +
                                      std::string(text.substr(r.value.end));
        EXPECT_EQ(Parse227Reply(rewritten).value.endpoint, r.value.endpoint);
      }
      for (Family family : {Family::kIpv4, Family::kIpv6}) {
        if (HostPortResult r = ParseEprtArgument(text, family); r.ok()) {
          ++accepted;
          ExpectSpanInside(r.value, text);
          const std::string rewritten =
              std::string(text.substr(0, r.value.begin)) +
              FormatEprtFields(r.value.endpoint, EprtDelimiter(text).value_or('|')) +
              std::string(text.substr(r.value.end));
          EXPECT_EQ(ParseEprtArgument(rewritten, family).value.endpoint, r.value.endpoint);
        }
      }
      if (PortResult r = Parse229Reply(text); r.ok()) {
        ++accepted;
        ExpectSpanInside(r.value, text);
        EXPECT_GT(r.value.port, 0);
      }
    }
  }
  // The generator is useful only if it reaches the accepting paths.
  EXPECT_GT(accepted, 100u);
}

TEST(TextLayerRobustnessTest, RandomSegmentsWithGapsKeepTheBound) {
  std::mt19937 rng(7);
  std::string stream;
  for (int i = 0; i < 3000; ++i) stream += RandomLine(rng) + (rng() % 3 ? "\r\n" : "\n");
  for (uint32_t start : {0u, 0xffffff00u}) {
    LineFramer framer(24);
    framer.StartAt(start);
    CollectingSink sink;
    size_t pos = 0;
    while (pos < stream.size()) {
      const size_t length = 1 + rng() % 60;
      // Mostly in order, sometimes a lost segment, an old one, or an overlap.
      const auto what = rng() % 10;
      size_t at = pos;
      if (what == 0) at = pos + 1 + rng() % 30;                     // gap
      if (what == 1) at = pos - std::min<size_t>(pos, rng() % 80);  // old or overlapping
      if (at >= stream.size()) break;
      const std::string_view piece = std::string_view(stream).substr(at, length);
      framer.Feed(static_cast<uint32_t>(start + at), Bytes(piece), sink);
      pos = std::max(pos, at + piece.size());
      ASSERT_LE(framer.buffered_bytes(), 24u);
    }
    for (const auto& line : sink.lines) {
      EXPECT_LE(line.text.size(), 24u);
      EXPECT_EQ(line.text.find('\n'), std::string::npos);
    }
    EXPECT_GT(sink.lines.size(), 100u);
  }
}

}  // namespace
}  // namespace ftpalg
