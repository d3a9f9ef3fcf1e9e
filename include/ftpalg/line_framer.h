// Frames one direction of a control connection's TCP byte stream into lines (RFC 959 lines end in
// CRLF; a bare LF is accepted as the end of a line too, as the kernel helper does).
//
// Defined behaviour for the awkward cases:
// - A line split over any number of segments is delivered once, when its LF arrives.
// - Several lines in one segment are delivered in order.
// - Bytes the framer has already consumed (retransmission, or the old part of an overlapping
//   segment) are never delivered again; only the new tail of an overlapping segment is framed.
// - A segment that starts beyond the next expected byte (an earlier segment is lost or late) is not
//   framed. The framer drops any partial line, moves past the segment and skips to the next LF
//   (unless the segment ended in one): it never parses a line whose start it did not see in
//   order. The late bytes, when they arrive,
//   are older than the framer's position and are not framed either.
// - A line longer than the configured bound is delivered once, truncated to the bound and flagged
//   `overlong`, when its LF arrives; the framer holds at most `max_line_length` bytes meanwhile.
//   The bound counts the line's text without its CR LF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ftpalg {

struct FramedLine {
  std::string_view text;   // without CR LF; at most max_line_length bytes
  uint32_t start_seq = 0;  // TCP sequence number of the line's first byte
  uint32_t end_seq = 0;    // sequence number one past its LF
  bool overlong = false;   // the line was longer than the bound; `text` holds only its start
  // True when the whole line, from its first byte to its LF, is in the segment being fed (so its
  // bytes are at payload offset start_seq - seq of that segment). False for a line assembled from
  // bytes of earlier segments, even when an overlapping segment repeats them: the text delivered
  // is the copy framed first, which the repeated bytes need not match.
  bool within_segment = false;
};

class LineSink {
 public:
  virtual ~LineSink() = default;
  virtual void OnLine(const FramedLine& line) = 0;
};

enum class FeedKind : uint8_t {
  kInOrder,         // starts exactly at the next expected byte
  kRetransmission,  // every byte was consumed before: nothing framed
  kOverlap,         // starts before the next expected byte and brings new bytes: the tail framed
  kGap,             // starts beyond the next expected byte: not framed (see above)
  kEmpty,           // no payload
};

class LineFramer {
 public:
  explicit LineFramer(size_t max_line_length = 512);

  // The sequence number of the first payload byte (ISN + 1, from the SYN). Without it the first
  // segment fed defines the start of the stream, and is assumed to start a line (a session picked
  // up mid-stream).
  void StartAt(uint32_t first_seq);
  bool started() const { return started_; }
  uint32_t next_seq() const { return next_seq_; }

  // Frames `payload`, which starts at sequence number `seq`, calling sink.OnLine() for each line
  // that ends in it. Views passed to the sink are valid only during the call, and the sink must not
  // call back into this framer. Payloads are TCP segments (under 2^31 bytes).
  FeedKind Feed(uint32_t seq, std::span<const uint8_t> payload, LineSink& sink);

  // Overlong lines seen so far (each counted once).
  uint64_t overlong_lines() const { return overlong_lines_; }
  // Bytes currently held for a partial line (for memory accounting).
  size_t buffered_bytes() const { return partial_.size(); }

 private:
  void FrameNewBytes(uint32_t seq, std::span<const uint8_t> bytes, LineSink& sink);
  // Adds bytes (without LF) to the partial line, which starts at `start_seq` if none is open.
  void AppendPartial(uint32_t start_seq, std::span<const uint8_t> bytes);
  // Forgets the partial line and releases its memory.
  void DropPartial();

  size_t max_line_length_;
  bool started_ = false;
  uint32_t next_seq_ = 0;
  // The start of the line being assembled across segments: its first bytes (up to the bound).
  std::string partial_;
  uint32_t partial_start_seq_ = 0;
  bool in_partial_ = false;        // a line began in an earlier segment and has not ended
  bool partial_overlong_ = false;  // it already exceeded the bound
  size_t partial_length_ = 0;      // raw bytes of it seen so far (partial_ holds the first ones)
  bool partial_last_cr_ = false;   // its last raw byte so far is a CR (maybe the CR of CRLF)
  bool skip_to_newline_ = false;   // after a gap: discard bytes up to and including the next LF
  uint64_t overlong_lines_ = 0;
};

}  // namespace ftpalg
