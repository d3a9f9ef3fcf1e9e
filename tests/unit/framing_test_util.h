// Test helpers: run text through a LineFramer the hard way (one byte per segment) so that every
// parser test also covers lines reassembled from partial segments.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ftpalg/line_framer.h"

namespace ftpalg::test_util {

// A FramedLine with its text copied (FramedLine::text is only valid during OnLine()).
struct CollectedLine {
  std::string text;
  uint32_t start_seq = 0;
  uint32_t end_seq = 0;
  bool overlong = false;
  bool within_segment = false;
};

class CollectingSink : public LineSink {
 public:
  void OnLine(const FramedLine& line) override {
    lines.push_back(
        {std::string(line.text), line.start_seq, line.end_seq, line.overlong, line.within_segment});
  }
  std::vector<std::string> Texts() const {
    std::vector<std::string> texts;
    for (const CollectedLine& line : lines) texts.push_back(line.text);
    return texts;
  }
  std::vector<CollectedLine> lines;
};

inline std::span<const uint8_t> Bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// Feeds `text` to a fresh framer one byte per segment, starting at `first_seq`, and returns the
// framed lines.
inline std::vector<CollectedLine> FrameByteByByte(std::string_view text,
                                                  uint32_t first_seq = 0xfffffff0u,
                                                  size_t max_line_length = 512) {
  LineFramer framer(max_line_length);
  framer.StartAt(first_seq);
  CollectingSink sink;
  uint32_t seq = first_seq;
  for (size_t i = 0; i < text.size(); ++i, ++seq) framer.Feed(seq, Bytes(text.substr(i, 1)), sink);
  return std::move(sink.lines);
}

// The line as the engine would see it: `line` + CRLF framed byte by byte (starting just before the
// sequence number wraparound). Returns the single framed line's text, or a marker that makes the
// caller's comparison fail when framing did not give back exactly one line.
inline std::string FramedOnce(std::string_view line) {
  std::string wire(line);
  wire += "\r\n";
  std::vector<CollectedLine> lines = FrameByteByByte(wire);
  if (lines.size() != 1) return "<framing gave " + std::to_string(lines.size()) + " lines>";
  return std::move(lines[0].text);
}

// `text` itself and FramedOnce(text): parser tests run every input both ways.
inline std::vector<std::string> AsGivenAndFramed(std::string_view text) {
  return {std::string(text), FramedOnce(text)};
}

}  // namespace ftpalg::test_util
