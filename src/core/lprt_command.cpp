#include "ftpalg/lprt_command.h"

#include <array>
#include <cstdint>

namespace ftpalg {
namespace {

// RFC 1639 address family numbers and their address lengths.
constexpr uint8_t kAfIpv4 = 4;
constexpr uint8_t kAfIpv6 = 6;
constexpr uint8_t kPortLength = 2;

HostPortResult HostPortError(ParseError error) {
  HostPortResult result;
  result.error = error;
  return result;
}

// Reads af,hal,h1..hn,pal,p1,p2 from text[begin]; `end` of the result is past the last port byte.
// The family is not checked here: the callers check it last, after the syntax.
HostPortResult ReadLongHostPort(std::string_view text, size_t begin) {
  size_t pos = begin;
  auto next = [&](bool last, uint8_t* value) {
    const ByteField field = ReadByteField(text, pos, last);
    pos = field.end;
    *value = field.value;
    return field.error;
  };
  uint8_t af = 0;
  uint8_t length = 0;
  if (ParseError error = next(false, &af); error != ParseError::kNone) return HostPortError(error);
  if (af != kAfIpv4 && af != kAfIpv6) return HostPortError(ParseError::kUnknownProtocol);
  if (ParseError error = next(false, &length); error != ParseError::kNone) {
    return HostPortError(error);
  }
  const Family family = af == kAfIpv4 ? Family::kIpv4 : Family::kIpv6;
  const size_t address_length = family == Family::kIpv4 ? 4 : 16;
  if (length != address_length) return HostPortError(ParseError::kBadAddress);
  std::array<uint8_t, 16> address{};
  for (size_t i = 0; i < address_length; ++i) {
    if (ParseError error = next(false, &address[i]); error != ParseError::kNone) {
      return HostPortError(error);
    }
  }
  if (ParseError error = next(false, &length); error != ParseError::kNone) {
    return HostPortError(error);
  }
  if (length != kPortLength) return HostPortError(ParseError::kPortRange);
  std::array<uint8_t, 2> port{};
  for (size_t i = 0; i < kPortLength; ++i) {
    if (ParseError error = next(i + 1 == kPortLength, &port[i]); error != ParseError::kNone) {
      return HostPortError(error);
    }
  }
  HostPortResult result;
  result.value.endpoint.addr = family == Family::kIpv4
                                   ? IpAddress::V4(address[0], address[1], address[2], address[3])
                                   : IpAddress::FromV6Bytes(address.data());
  result.value.endpoint.port = static_cast<uint16_t>((port[0] << 8) | port[1]);
  result.value.begin = begin;
  result.value.end = pos;
  // Port 0 is never a valid data port (as for PORT).
  if (result.value.endpoint.port == 0) return HostPortError(ParseError::kPortZero);
  return result;
}

// A well-formed address of the other family is a policy matter, not a syntax error: checked last.
HostPortResult OfFamily(HostPortResult result, Family control_family) {
  if (result.ok() && result.value.endpoint.addr.family != control_family) {
    return HostPortError(ParseError::kWrongFamily);
  }
  return result;
}

}  // namespace

HostPortResult ParseLprtArgument(std::string_view argument, Family control_family) {
  HostPortResult result = ReadLongHostPort(argument, 0);
  if (!result.ok()) return result;
  const ParseError tail = HostPortTailError(argument, result.value.end);
  if (tail != ParseError::kNone) return HostPortError(tail);
  return OfFamily(result, control_family);
}

HostPortResult Parse228Reply(std::string_view line, Family control_family) {
  const size_t pos = FindReplyHostPort(line);
  if (pos == line.size()) return HostPortError(ParseError::kNoAddress);
  return OfFamily(ReadLongHostPort(line, pos), control_family);
}

std::string FormatLongHostPort(const Endpoint& endpoint) {
  const bool v4 = endpoint.addr.IsV4();
  const size_t length = v4 ? 4 : 16;
  std::string out = v4 ? "4," : "6,";
  out += std::to_string(length);
  for (size_t i = 0; i < length; ++i) {
    out += ',';
    out += std::to_string(endpoint.addr.bytes[i]);
  }
  out += ",2,";
  out += std::to_string(endpoint.port >> 8);
  out += ',';
  out += std::to_string(endpoint.port & 0xff);
  return out;
}

}  // namespace ftpalg
