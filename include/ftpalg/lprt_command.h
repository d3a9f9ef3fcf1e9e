// RFC 1639 "long" host-port: the LPRT command and the 228 reply to LPSV. Either address family
// on either control connection family in the grammar; the engine accepts only the control
// connection's own (as for EPRT).
//   LPRT af,hal,h1,...,hn,pal,p1,...,pn
//   228 Entering Long Passive Mode (af,hal,h1,...,hn,pal,p1,...,pn)
// af 4 = IPv4 (hal 4), af 6 = IPv6 (hal 16); pal 2 (a TCP port is two bytes); every field a
// decimal byte as in RFC 959's PORT.
#pragma once

#include <string>
#include <string_view>

#include "ftpalg/ip_address.h"
#include "ftpalg/port_command.h"

namespace ftpalg {

// Parses the argument of LPRT. Offsets (af through the last port byte) are relative to
// `argument`. Trailing spaces are tolerated; anything else after the last field is not.
// Errors, leftmost first, as for PORT (kMissingField, kBadNumber, kOctetRange,
// kTrailingGarbage), plus: af other than 4 or 6 is kUnknownProtocol; hal that is not the
// family's address length is kBadAddress; pal other than 2 is kPortRange; port 0 is kPortZero.
// Checked last: a well-formed address of the other family than `control_family` is kWrongFamily.
HostPortResult ParseLprtArgument(std::string_view argument, Family control_family);

// Finds and parses the long host-port in a 228 reply line (code included): the first digit after
// the code starts it, as for 227 (RFC 1123 4.1.2.6), and text after it is ignored. Offsets are
// relative to `line`.
HostPortResult Parse228Reply(std::string_view line, Family control_family);

// "4,4,198,51,100,1,2,4,1" for 198.51.100.1 port 1025; "6,16,32,1,13,184,...,2,4,1" for IPv6.
std::string FormatLongHostPort(const Endpoint& endpoint);

}  // namespace ftpalg
