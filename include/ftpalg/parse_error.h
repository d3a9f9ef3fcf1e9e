// Parse failures are values: every parser in the engine returns one of these instead of throwing.
#pragma once

#include <cstdint>
#include <string_view>

namespace ftpalg {

enum class ParseError : uint8_t {
  kNone = 0,
  kMissingField,     // fewer fields than the grammar needs ("PORT 114,115")
  kBadNumber,        // not decimal digits, or too many digits
  kOctetRange,       // a byte-sized field over 255
  kPortZero,         // port 0 can never be a data port
  kPortRange,        // port over 65535
  kBadAddress,       // address text that is not an address of the announced family
  kWrongFamily,      // EPRT/229 family does not match the control connection
  kBadDelimiter,     // RFC 2428 delimiter missing, inconsistent, or not printable ASCII
  kUnknownProtocol,  // RFC 2428 net-prt other than 1 or 2
  kTrailingGarbage,  // bytes after the last field that the grammar does not allow
  kNoAddress,        // a 227/229 reply without the address/port text
};

// Short, stable, lower-case names used in JSON events and logs ("missing-field", ...).
std::string_view ParseErrorName(ParseError error);

}  // namespace ftpalg
