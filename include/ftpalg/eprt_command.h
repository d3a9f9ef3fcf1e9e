// RFC 2428 extended forms: the EPRT command (section 2) and the 229 reply to EPSV (section 3).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ftpalg/ip_address.h"
#include "ftpalg/parse_error.h"
#include "ftpalg/port_command.h"

namespace ftpalg {

// Parses the argument of EPRT: <d><net-prt><d><net-addr><d><tcp-port><d>. The delimiter is any
// printable ASCII character other than a digit (RFC 2428 suggests '|'), the same all four times.
// net-prt 1 = IPv4, 2 = IPv6; a family other than `control_family` is kWrongFamily. The returned
// offsets cover net-prt through tcp-port (the text between the first and the last delimiter),
// relative to `argument`, which is what FormatEprtFields() writes.
HostPortResult ParseEprtArgument(std::string_view argument, Family control_family);

// The delimiter character EPRT used, for writing the rewritten argument the same way.
std::optional<char> EprtDelimiter(std::string_view argument);

struct PortText {
  uint16_t port = 0;
  size_t begin = 0;  // offset of the port digits in the parsed string
  size_t end = 0;
};
struct PortResult {
  PortText value;
  ParseError error = ParseError::kNone;
  bool ok() const { return error == ParseError::kNone; }
};

// Finds "(<d><d><d><tcp-port><d>)" in a 229 reply line (code included). Offsets are relative to
// `line` and cover the port digits only.
PortResult Parse229Reply(std::string_view line);

// "1|198.51.100.1|1025" style text for net-prt through tcp-port (without the outer delimiters),
// using `delimiter` between the fields; the address in its usual text form.
std::string FormatEprtFields(const Endpoint& endpoint, char delimiter);

}  // namespace ftpalg
