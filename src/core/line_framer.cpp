#include "ftpalg/line_framer.h"

#include <algorithm>
#include <cstring>

#include "ftpalg/seq_shift.h"

namespace ftpalg {
namespace {

// Sequence numbers are modulo 2^32 (RFC 793 3.3): adding a byte count wraps on purpose.
uint32_t SeqAdd(uint32_t seq, size_t count) {
  return static_cast<uint32_t>(seq + static_cast<uint32_t>(count));
}

// Offset of the first LF in bytes[from, end), or bytes.size() when there is none.
size_t FindLf(std::span<const uint8_t> bytes, size_t from) {
  if (from >= bytes.size()) return bytes.size();
  const void* hit = std::memchr(bytes.data() + from, '\n', bytes.size() - from);
  if (hit == nullptr) return bytes.size();
  return static_cast<size_t>(static_cast<const uint8_t*>(hit) - bytes.data());
}

std::string_view AsText(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

LineFramer::LineFramer(size_t max_line_length) : max_line_length_(max_line_length) {}

void LineFramer::StartAt(uint32_t first_seq) {
  started_ = true;
  next_seq_ = first_seq;
  skip_to_newline_ = false;
  DropPartial();
}

FeedKind LineFramer::Feed(uint32_t seq, std::span<const uint8_t> payload, LineSink& sink) {
  if (payload.empty()) return FeedKind::kEmpty;
  if (!started_) {
    // Picked up mid-stream: trust the first segment to start a line (see the header).
    started_ = true;
    next_seq_ = seq;
  }
  const uint32_t end = SeqAdd(seq, payload.size());
  if (seq == next_seq_) {
    FrameNewBytes(seq, payload, sink);
    return FeedKind::kInOrder;
  }
  // Signed 32-bit differences (RFC 793 3.3): a start more than 2^31 "after" next_seq_ is old.
  if (SeqAfter(seq, next_seq_)) {
    // Bytes are missing before this segment, so we do not know where its lines start. Framing
    // from here could parse the middle of a line as a command (the classic ALG evasion), so
    // discard everything up to the first LF after this segment. When the segment itself ends in
    // a LF, the byte after it starts a line whatever came before, so nothing needs skipping.
    DropPartial();
    skip_to_newline_ = payload.empty() || payload.back() != '\n';
    next_seq_ = end;
    return FeedKind::kGap;
  }
  const auto consumed = static_cast<size_t>(next_seq_ - seq);
  if (!SeqAfter(end, next_seq_) || consumed >= payload.size()) {
    return FeedKind::kRetransmission;
  }
  // Only the new tail is framed; the bytes before it were framed from their first copy, and a
  // retransmission that differs from it must not produce a second, different line.
  FrameNewBytes(next_seq_, payload.subspan(consumed), sink);
  return FeedKind::kOverlap;
}

void LineFramer::FrameNewBytes(uint32_t seq, std::span<const uint8_t> bytes, LineSink& sink) {
  next_seq_ = SeqAdd(seq, bytes.size());
  size_t pos = 0;
  if (skip_to_newline_) {
    const size_t lf = FindLf(bytes, 0);
    if (lf == bytes.size()) return;
    skip_to_newline_ = false;
    pos = lf + 1;
  }
  while (pos < bytes.size()) {
    const size_t lf = FindLf(bytes, pos);
    if (lf == bytes.size()) {
      AppendPartial(SeqAdd(seq, pos), bytes.subspan(pos));
      return;
    }
    const std::span<const uint8_t> piece = bytes.subspan(pos, lf - pos);
    FramedLine line;
    line.end_seq = SeqAdd(seq, lf + 1);
    const bool from_partial = in_partial_;
    if (from_partial) {
      AppendPartial(partial_start_seq_, piece);
      // RFC 959 lines end in CRLF; a CR right before the LF is part of the line end, not text.
      const size_t length = partial_length_ - (partial_last_cr_ ? 1 : 0);
      const std::string_view partial_text = partial_;
      line.text = partial_text.substr(0, std::min(length, max_line_length_));
      line.start_seq = partial_start_seq_;
      line.overlong = partial_overlong_;
    } else {
      const bool cr = !piece.empty() && piece.back() == '\r';
      const size_t length = piece.size() - (cr ? 1 : 0);
      line.text = AsText(piece.first(std::min(length, max_line_length_)));
      line.start_seq = SeqAdd(seq, pos);
      line.overlong = length > max_line_length_;
      line.within_segment = true;
    }
    if (line.overlong) ++overlong_lines_;
    sink.OnLine(line);
    if (from_partial) DropPartial();
    pos = lf + 1;
  }
}

void LineFramer::AppendPartial(uint32_t start_seq, std::span<const uint8_t> bytes) {
  if (!in_partial_) {
    in_partial_ = true;
    partial_start_seq_ = start_seq;
    partial_length_ = 0;
    partial_last_cr_ = false;
    partial_overlong_ = false;
  }
  if (bytes.empty()) return;
  // Keep only the first max_line_length_ bytes: a peer must not make us buffer without bound.
  const size_t room = max_line_length_ - std::min(partial_.size(), max_line_length_);
  const size_t take = std::min(room, bytes.size());
  partial_.append(AsText(bytes.first(take)));
  partial_length_ =
      bytes.size() > SIZE_MAX - partial_length_ ? SIZE_MAX : partial_length_ + bytes.size();
  partial_last_cr_ = bytes.back() == '\r';
  // A trailing CR may still turn out to be the CR of CRLF, so it does not count yet.
  partial_overlong_ = partial_length_ - (partial_last_cr_ ? 1 : 0) > max_line_length_;
}

void LineFramer::DropPartial() {
  in_partial_ = false;
  partial_length_ = 0;
  partial_last_cr_ = false;
  partial_overlong_ = false;
  // Release the buffer: an idle session (the common case) then holds no heap memory for it.
  std::string().swap(partial_);
}

}  // namespace ftpalg
