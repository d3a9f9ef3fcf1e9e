#include "ftpalg/eprt_command.h"

#include <array>
#include <cstdint>

namespace ftpalg {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// RFC 2428 2: the delimiter is an ASCII character in the range 33-126, and (so that the fields
// stay unambiguous) not a digit.
bool IsDelimiter(char c) { return c >= 33 && c <= 126 && !IsDigit(c); }

struct PortFieldResult {
  uint16_t port = 0;
  ParseError error = ParseError::kNone;
};

// Failure results (designated initializers would trip -Wmissing-field-initializers).
HostPortResult HostPortError(ParseError error) {
  HostPortResult result;
  result.error = error;
  return result;
}
PortResult PortError(ParseError error) {
  PortResult result;
  result.error = error;
  return result;
}
PortFieldResult PortFieldError(ParseError error) {
  PortFieldResult result;
  result.error = error;
  return result;
}

// RFC 2428 2: <tcp-port> is the decimal port, 1..65535. At most five digits so that a long run of
// digits is a bad number rather than an overflow.
PortFieldResult ParseTcpPort(std::string_view text) {
  if (text.empty()) return PortFieldError(ParseError::kMissingField);
  if (text.size() > 5) return PortFieldError(ParseError::kBadNumber);
  uint32_t value = 0;
  for (char c : text) {
    if (!IsDigit(c)) return PortFieldError(ParseError::kBadNumber);
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value == 0) return PortFieldError(ParseError::kPortZero);
  if (value > 65535) return PortFieldError(ParseError::kPortRange);
  PortFieldResult result;
  result.port = static_cast<uint16_t>(value);
  return result;
}

}  // namespace

std::optional<char> EprtDelimiter(std::string_view argument) {
  if (argument.empty() || !IsDelimiter(argument[0])) return std::nullopt;
  return argument[0];
}

HostPortResult ParseEprtArgument(std::string_view argument, Family control_family) {
  const std::optional<char> delimiter = EprtDelimiter(argument);
  if (!delimiter) {
    return HostPortError(argument.empty() ? ParseError::kMissingField : ParseError::kBadDelimiter);
  }
  // <d><net-prt><d><net-addr><d><tcp-port><d>: find the three delimiters after the first.
  std::array<size_t, 4> at{};
  size_t found = 1;
  for (size_t pos = 1; pos < argument.size() && found < 4; ++pos) {
    if (argument[pos] == *delimiter) at[found++] = pos;
  }
  if (found < 4) {
    // Nothing after the last delimiter means fields are missing ("|1|"); text without its closing
    // delimiter means the delimiter is ("|1|192.0.2.1|1025", or a different one used later).
    const bool nothing_after = at[found - 1] + 1 == argument.size();
    return HostPortError(nothing_after ? ParseError::kMissingField : ParseError::kBadDelimiter);
  }
  size_t tail = at[3] + 1;
  while (tail < argument.size() && argument[tail] == ' ') ++tail;
  if (tail != argument.size()) return HostPortError(ParseError::kTrailingGarbage);

  const std::string_view net_prt = argument.substr(at[0] + 1, at[1] - at[0] - 1);
  const std::string_view net_addr = argument.substr(at[1] + 1, at[2] - at[1] - 1);
  const std::string_view tcp_port = argument.substr(at[2] + 1, at[3] - at[2] - 1);
  if (net_prt.empty()) return HostPortError(ParseError::kMissingField);
  // RFC 2428 2: net-prt is an address family number; the RFC defines 1 (IPv4) and 2 (IPv6).
  Family family;
  if (net_prt == "1") {
    family = Family::kIpv4;
  } else if (net_prt == "2") {
    family = Family::kIpv6;
  } else {
    return HostPortError(ParseError::kUnknownProtocol);
  }
  if (net_addr.empty()) return HostPortError(ParseError::kMissingField);
  // The address must be of the family net-prt announces ("|2|192.0.2.1|" is not an IPv6 address).
  const std::optional<IpAddress> addr = IpAddress::Parse(net_addr);
  if (!addr || addr->family != family) return HostPortError(ParseError::kBadAddress);
  const PortFieldResult port = ParseTcpPort(tcp_port);
  if (port.error != ParseError::kNone) return HostPortError(port.error);
  // Checked last: a well-formed EPRT of the other family is a policy matter, not a syntax error.
  if (family != control_family) return HostPortError(ParseError::kWrongFamily);

  HostPortResult result;
  result.value.endpoint.addr = *addr;
  result.value.endpoint.port = port.port;
  result.value.begin = at[0] + 1;
  result.value.end = at[3];
  return result;
}

PortResult Parse229Reply(std::string_view line) {
  // RFC 2428 3: "229 <text> (<d><d><d><tcp-port><d>)"; the net-prt and net-addr fields are empty
  // because the data connection goes to the control connection's server address.
  size_t pos = line.find('(', line.size() < 3 ? line.size() : 3);
  if (pos == std::string_view::npos) return PortError(ParseError::kNoAddress);
  ++pos;
  if (pos >= line.size() || !IsDelimiter(line[pos])) return PortError(ParseError::kBadDelimiter);
  const char delimiter = line[pos];
  for (size_t i = 1; i < 3; ++i) {
    if (pos + i >= line.size() || line[pos + i] != delimiter) {
      return PortError(ParseError::kBadDelimiter);
    }
  }
  const size_t begin = pos + 3;
  size_t end = begin;
  while (end < line.size() && IsDigit(line[end])) ++end;
  if (end == begin) {
    // "(||||)" and "(|||)" have no port; "(|||x|)" has something else where it should be.
    const bool empty = end == line.size() || line[end] == delimiter || line[end] == ')';
    return PortError(empty ? ParseError::kMissingField : ParseError::kBadNumber);
  }
  if (end >= line.size() || line[end] != delimiter) {
    // Digits running into letters ("12ab|") are not a number; anything else is a missing or
    // different closing delimiter.
    const bool letter = end < line.size() && ((line[end] >= 'A' && line[end] <= 'Z') ||
                                              (line[end] >= 'a' && line[end] <= 'z'));
    return PortError(letter ? ParseError::kBadNumber : ParseError::kBadDelimiter);
  }
  if (end + 1 >= line.size() || line[end + 1] != ')') return PortError(ParseError::kBadDelimiter);
  const PortFieldResult port = ParseTcpPort(line.substr(begin, end - begin));
  if (port.error != ParseError::kNone) return PortError(port.error);
  PortResult result;
  result.value.port = port.port;
  result.value.begin = begin;
  result.value.end = end;
  return result;
}

std::string FormatEprtFields(const Endpoint& endpoint, char delimiter) {
  std::string out = endpoint.addr.IsV4() ? "1" : "2";
  out += delimiter;
  out += endpoint.addr.ToString();
  out += delimiter;
  out += std::to_string(endpoint.port);
  return out;
}

}  // namespace ftpalg
