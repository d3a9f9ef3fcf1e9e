// Server reply lines (RFC 959 4.2): "xyz text" or a multi-line reply "xyz-text" ... "xyz text".
#pragma once

#include <cstdint>
#include <string_view>

namespace ftpalg {

struct ReplyLine {
  // The reply code when this line is the final (or only) line of a reply, else 0.
  int final_code = 0;
  // True when the line is part of a multi-line reply but not its last line (RFC 959 4.2: only the
  // line that starts with the same code followed by SP ends it). Such lines are never parsed for
  // addresses.
  bool continuation = false;
  // A line that is neither a valid reply start nor inside a multi-line reply (for example a
  // 2-digit code): not acted on, counted.
  bool malformed = false;
};

// Tracks multi-line replies for one server->client stream. One instance per control connection.
class ReplyTracker {
 public:
  ReplyLine Feed(std::string_view line);
  // Forget a multi-line reply in progress (after a gap in the stream).
  void Reset() { open_code_ = 0; }
  bool InMultiLine() const { return open_code_ != 0; }

 private:
  int open_code_ = 0;  // code of the multi-line reply in progress, 0 if none
};

}  // namespace ftpalg
