#include "ftpalg/parse_error.h"

namespace ftpalg {

std::string_view ParseErrorName(ParseError error) {
  // These names appear in JSON events and logs; keep them stable.
  switch (error) {
    case ParseError::kNone:
      return "none";
    case ParseError::kMissingField:
      return "missing-field";
    case ParseError::kBadNumber:
      return "bad-number";
    case ParseError::kOctetRange:
      return "octet-range";
    case ParseError::kPortZero:
      return "port-zero";
    case ParseError::kPortRange:
      return "port-range";
    case ParseError::kBadAddress:
      return "bad-address";
    case ParseError::kWrongFamily:
      return "wrong-family";
    case ParseError::kBadDelimiter:
      return "bad-delimiter";
    case ParseError::kUnknownProtocol:
      return "unknown-protocol";
    case ParseError::kTrailingGarbage:
      return "trailing-garbage";
    case ParseError::kNoAddress:
      return "no-address";
  }
  // Only reachable with a value cast from outside the enumeration.
  return "unknown";
}

}  // namespace ftpalg
