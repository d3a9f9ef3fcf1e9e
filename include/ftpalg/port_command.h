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
