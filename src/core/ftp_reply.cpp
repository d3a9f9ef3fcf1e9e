#include "ftpalg/ftp_reply.h"

namespace ftpalg {
namespace {

// RFC 959 4.2: a reply starts with a three-digit code whose first digit is 1 to 5. Returns the
// code, or 0 when the line does not start with one.
int LeadingCode(std::string_view line) {
  if (line.size() < 3) return 0;
  if (line[0] < '1' || line[0] > '5') return 0;
  int code = 0;
  for (size_t i = 0; i < 3; ++i) {
    if (line[i] < '0' || line[i] > '9') return 0;
    code = code * 10 + (line[i] - '0');
  }
  return code;
}

}  // namespace

ReplyLine ReplyTracker::Feed(std::string_view line) {
  ReplyLine result;
  const int code = LeadingCode(line);
  // What follows the code: SP (or nothing) ends a reply, '-' opens a multi-line one.
  const bool ends_reply = code != 0 && (line.size() == 3 || line[3] == ' ');
  if (open_code_ != 0) {
    // RFC 959 4.2: inside a multi-line reply only "<same code><SP>" ends it; lines that start with
    // another code, or with the same code and '-', are text (a server may quote anything there, and
    // such lines must never be parsed as a 227/229 of their own).
    if (ends_reply && code == open_code_) {
      result.final_code = code;
      open_code_ = 0;
    } else {
      result.continuation = true;
    }
    return result;
  }
  if (ends_reply) {
    result.final_code = code;
  } else if (code != 0 && line[3] == '-') {
    open_code_ = code;
    result.continuation = true;
  } else {
    result.malformed = true;
  }
  return result;
}

}  // namespace ftpalg
