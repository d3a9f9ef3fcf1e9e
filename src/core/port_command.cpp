#include "ftpalg/port_command.h"

#include <array>
#include <cstdint>

namespace ftpalg {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsDigit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

struct FieldsResult {
  std::array<uint8_t, 6> fields{};
  size_t end = 0;  // one past the sixth field's last digit
  ParseError error = ParseError::kNone;
};

// Reads RFC 959 4.1.2 <host-port> ::= <host-number>,<port-number>: six comma-separated decimal
// bytes starting at text[pos]. Stops after the sixth field's digits; the caller decides what may
// follow. The first error from the left wins.
FieldsResult ReadSixFields(std::string_view text, size_t pos) {
  FieldsResult result;
  for (size_t field = 0; field < 6; ++field) {
    const ByteField read = ReadByteField(text, pos, /*last=*/field == 5);
    if (read.error != ParseError::kNone) {
      result.error = read.error;
      return result;
    }
    result.fields[field] = read.value;
    pos = read.end;
  }
  result.end = pos;
  return result;
}

// A failure result (designated initializers would trip -Wmissing-field-initializers).
HostPortResult HostPortError(ParseError error) {
  HostPortResult result;
  result.error = error;
  return result;
}

HostPortResult ToHostPort(const FieldsResult& fields, size_t begin) {
  HostPortResult result;
  const auto& f = fields.fields;
  result.value.endpoint.addr = IpAddress::V4(f[0], f[1], f[2], f[3]);
  result.value.endpoint.port = static_cast<uint16_t>((f[4] << 8) | f[5]);
  result.value.begin = begin;
  result.value.end = fields.end;
  // Port 0 is never a valid data port; accepting it would let a peer probe odd kernel behaviour.
  if (result.value.endpoint.port == 0) result.error = ParseError::kPortZero;
  return result;
}

}  // namespace

ByteField ReadByteField(std::string_view text, size_t pos, bool last) {
  ByteField result;
  if (pos >= text.size()) {
    result.error = ParseError::kMissingField;
    return result;
  }
  if (!IsDigit(text[pos])) {
    result.error = ParseError::kBadNumber;  // empty field, sign, letter, space...
    return result;
  }
  size_t digits = 0;
  unsigned value = 0;
  while (pos < text.size() && IsDigit(text[pos])) {
    // Stop accumulating past three digits so a long run of digits cannot overflow.
    if (++digits <= 3) value = value * 10 + static_cast<unsigned>(text[pos] - '0');
    ++pos;
  }
  if (digits > 3) {
    result.error = ParseError::kBadNumber;
    return result;
  }
  if (value > 255) {
    result.error = ParseError::kOctetRange;
    return result;
  }
  result.value = static_cast<uint8_t>(value);
  result.end = pos;
  if (last) return result;
  if (pos < text.size() && text[pos] == ',') {
    result.end = pos + 1;
    return result;
  }
  // Digits running into letters ("12a") are a bad number; any other byte (end, ')', '.', SP)
  // ends the list early.
  result.error =
      pos < text.size() && IsAlnum(text[pos]) ? ParseError::kBadNumber : ParseError::kMissingField;
  return result;
}

ParseError HostPortTailError(std::string_view argument, size_t pos) {
  if (pos < argument.size() && IsAlnum(argument[pos])) return ParseError::kBadNumber;
  // Trailing spaces are tolerated (some clients pad); anything else, such as a seventh field, is
  // not: the grammar has exactly six (RFC 959 4.1.2).
  while (pos < argument.size() && argument[pos] == ' ') ++pos;
  return pos == argument.size() ? ParseError::kNone : ParseError::kTrailingGarbage;
}

size_t FindReplyHostPort(std::string_view line) {
  size_t pos = line.size() < 3 ? line.size() : 3;
  while (pos < line.size() && !IsDigit(line[pos])) ++pos;
  return pos;
}

HostPortResult ParsePortArgument(std::string_view argument) {
  FieldsResult fields = ReadSixFields(argument, 0);
  if (fields.error != ParseError::kNone) return HostPortError(fields.error);
  const ParseError tail = HostPortTailError(argument, fields.end);
  if (tail != ParseError::kNone) return HostPortError(tail);
  return ToHostPort(fields, 0);
}

HostPortResult Parse227Reply(std::string_view line) {
  // RFC 1123 4.1.2.6: scan for the first digit after the reply code, and ignore whatever follows
  // the sixth number.
  const size_t pos = FindReplyHostPort(line);
  if (pos == line.size()) return HostPortError(ParseError::kNoAddress);
  FieldsResult fields = ReadSixFields(line, pos);
  if (fields.error != ParseError::kNone) return HostPortError(fields.error);
  return ToHostPort(fields, pos);
}

std::string FormatPortArgument(const Endpoint& endpoint) {
  const auto& b = endpoint.addr.bytes;
  std::string out;
  out.reserve(23);
  for (size_t i = 0; i < 4; ++i) {
    out += std::to_string(b[i]);
    out += ',';
  }
  out += std::to_string(endpoint.port >> 8);
  out += ',';
  out += std::to_string(endpoint.port & 0xff);
  return out;
}

}  // namespace ftpalg
