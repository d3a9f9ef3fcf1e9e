// The RFC 959 "h1,h2,h3,h4,p1,p2" host-port form: the PORT command (RFC 959 4.1.2) and the 227
// reply to PASV (RFC 959 4.2.2, located as RFC 1123 4.1.2.6 says).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "ftpalg/ip_address.h"
#include "ftpalg/parse_error.h"

namespace ftpalg {

// An address+port found in a line, with where its text lies so that a rewrite can replace exactly
// those bytes and keep the rest of the line byte for byte.
struct HostPortText {
  Endpoint endpoint;
  size_t begin = 0;  // offset of the first byte of the address text in the parsed string
  size_t end = 0;    // offset one past its last byte
};

struct HostPortResult {
  HostPortText value;
  ParseError error = ParseError::kNone;
  bool ok() const { return error == ParseError::kNone; }
};

// One field of a comma-separated list of decimal bytes (RFC 959 4.1.2 <host-port>, and RFC 1639's
// long form built the same way), read from text[pos]: 1-3 digits, 0..255. For a field that is not
// the list's last, the comma after it is consumed and `end` is past it; for the last, `end` is
// past its digits and the caller decides what may follow.
struct ByteField {
  uint8_t value = 0;
  size_t end = 0;
  ParseError error = ParseError::kNone;
};
// Errors: nothing left is kMissingField; a field that is not 1-3 digits, or digits running into
// letters, is kBadNumber; a value over 255 is kOctetRange; any other byte where a comma should be
// ends the list early (kMissingField).
ByteField ReadByteField(std::string_view text, size_t pos, bool last);

// What may follow the last field of a command's host-port at argument[pos]: trailing spaces
// (some clients pad) and nothing else. kBadNumber when digits run into letters, kTrailingGarbage
// for other bytes, kNone when the argument ends well.
ParseError HostPortTailError(std::string_view argument, size_t pos);

// Where the host-port of a 227-style reply begins: RFC 1123 4.1.2.6 lets it follow any text, in
// parentheses or not, so the first digit after the reply code. line.size() when there is none.
size_t FindReplyHostPort(std::string_view line);

// Parses the argument of PORT: exactly six comma-separated decimal fields, each 0..255, port not 0.
// Offsets are relative to `argument`. Trailing spaces are tolerated; anything else is not.
// Errors, leftmost first: a field that is not 1-3 digits (or digits run into letters) is
// kBadNumber; a list that ends before six fields is kMissingField; a seventh field or other bytes
// after the sixth are kTrailingGarbage. With kPortZero the value is filled in.
HostPortResult ParsePortArgument(std::string_view argument);

// Finds and parses the host-port in the text of a 227 reply line (the whole line, code included).
// RFC 1123 4.1.2.6: the numbers may or may not be in parentheses and any text may precede them, so
// scan for the first digit after the code. Offsets are relative to `line`.
HostPortResult Parse227Reply(std::string_view line);

// "198,51,100,1,4,1" for 198.51.100.1 port 1025. IPv4 only (the caller checks the family).
std::string FormatPortArgument(const Endpoint& endpoint);

}  // namespace ftpalg
