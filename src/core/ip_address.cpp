#include "ftpalg/ip_address.h"

#include <cstdio>
#include <cstring>
#include <functional>

namespace ftpalg {
namespace {

// Parses 0..255 with 1-3 digits and no leading '+'/'-'. Leading zeros are accepted ("001"), as
// inet_aton-style readers of FTP text do; octal is not implied.
std::optional<uint8_t> ParseDecimalOctet(std::string_view text) {
  if (text.empty() || text.size() > 3) return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 255) return std::nullopt;
  return static_cast<uint8_t>(value);
}

std::optional<std::array<uint8_t, 4>> ParseDottedQuad(std::string_view text) {
  std::array<uint8_t, 4> out{};
  for (size_t i = 0; i < 4; ++i) {
    size_t dot = text.find('.');
    if ((i < 3) != (dot != std::string_view::npos)) return std::nullopt;
    auto octet = ParseDecimalOctet(text.substr(0, dot));
    if (!octet) return std::nullopt;
    out[i] = *octet;
    text = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 4291 2.2 text forms: up to 8 groups of 1-4 hex digits, one "::", an optional trailing
// dotted quad standing for the last two groups.
std::optional<std::array<uint8_t, 16>> ParseIpv6(std::string_view text) {
  if (text.size() < 2 || text.size() > 45) return std::nullopt;
  std::array<uint16_t, 8> groups{};
  size_t count = 0;
  int gap_at = -1;  // group index where "::" stands
  size_t pos = 0;
  if (text.substr(0, 2) == "::") {
    gap_at = 0;
    pos = 2;
    if (pos == text.size()) return std::array<uint8_t, 16>{};
  } else if (text[0] == ':') {
    return std::nullopt;
  }
  while (pos < text.size()) {
    size_t end = pos;
    while (end < text.size() && text[end] != ':') ++end;
    std::string_view group = text.substr(pos, end - pos);
    if (group.find('.') != std::string_view::npos) {
      // Embedded IPv4 must be last and needs room for two groups.
      if (end != text.size() || count > 6) return std::nullopt;
      auto quad = ParseDottedQuad(group);
      if (!quad) return std::nullopt;
      groups[count++] = static_cast<uint16_t>(((*quad)[0] << 8) | (*quad)[1]);
      groups[count++] = static_cast<uint16_t>(((*quad)[2] << 8) | (*quad)[3]);
      pos = end;
      break;
    }
    if (group.empty() || group.size() > 4 || count >= 8) return std::nullopt;
    unsigned value = 0;
    for (char c : group) {
      int digit = HexValue(c);
      if (digit < 0) return std::nullopt;
      value = value * 16 + static_cast<unsigned>(digit);
    }
    groups[count++] = static_cast<uint16_t>(value);
    pos = end;
    if (pos == text.size()) break;
    // At a ':'.
    if (pos + 1 < text.size() && text[pos + 1] == ':') {
      if (gap_at >= 0) return std::nullopt;  // a second "::"
      gap_at = static_cast<int>(count);
      pos += 2;
    } else {
      ++pos;
      if (pos == text.size()) return std::nullopt;  // trailing single ':'
    }
  }
  if (gap_at < 0 && count != 8) return std::nullopt;
  if (gap_at >= 0 && count > 7) return std::nullopt;
  std::array<uint16_t, 8> full{};
  if (gap_at < 0) {
    full = groups;
  } else {
    size_t tail = count - static_cast<size_t>(gap_at);
    for (size_t i = 0; i < static_cast<size_t>(gap_at); ++i) full[i] = groups[i];
    for (size_t i = 0; i < tail; ++i) full[8 - tail + i] = groups[static_cast<size_t>(gap_at) + i];
  }
  std::array<uint8_t, 16> out{};
  for (size_t i = 0; i < 8; ++i) {
    out[2 * i] = static_cast<uint8_t>(full[i] >> 8);
    out[2 * i + 1] = static_cast<uint8_t>(full[i] & 0xff);
  }
  return out;
}

}  // namespace

std::string_view FamilyName(Family family) {
  return family == Family::kIpv4 ? "ipv4" : "ipv6";
}

IpAddress IpAddress::V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress addr;
  addr.bytes[0] = a;
  addr.bytes[1] = b;
  addr.bytes[2] = c;
  addr.bytes[3] = d;
  return addr;
}

IpAddress IpAddress::FromV4Bytes(const uint8_t* four_bytes) {
  return V4(four_bytes[0], four_bytes[1], four_bytes[2], four_bytes[3]);
}

IpAddress IpAddress::FromV6Bytes(const uint8_t* sixteen_bytes) {
  IpAddress addr;
  addr.family = Family::kIpv6;
  for (size_t i = 0; i < 16; ++i) addr.bytes[i] = sixteen_bytes[i];
  return addr;
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (auto quad = ParseDottedQuad(text)) return FromV4Bytes(quad->data());
  if (auto v6 = ParseIpv6(text)) return FromV6Bytes(v6->data());
  return std::nullopt;
}

std::string IpAddress::ToString() const {
  char buffer[64];
  if (IsV4()) {
    std::snprintf(buffer, sizeof buffer, "%u.%u.%u.%u", bytes[0], bytes[1], bytes[2], bytes[3]);
    return buffer;
  }
  // RFC 5952 4.2: compress the longest run (first if tied) of two or more zero groups.
  uint16_t groups[8];
  for (size_t i = 0; i < 8; ++i) {
    groups[i] = static_cast<uint16_t>((bytes[2 * i] << 8) | bytes[2 * i + 1]);
  }
  int best_start = -1;
  int best_length = 0;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_length && j - i >= 2) {
      best_start = i;
      best_length = j - i;
    }
    i = j;
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == best_start) {
      out += "::";
      i += best_length - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    std::snprintf(buffer, sizeof buffer, "%x", groups[i]);
    out += buffer;
  }
  return out;
}

bool IpAddress::InPrefix(const IpAddress& network, unsigned prefix_bits) const {
  if (family != network.family) return false;
  unsigned max_bits = static_cast<unsigned>(size() * 8);
  if (prefix_bits > max_bits) prefix_bits = max_bits;
  size_t full_bytes = prefix_bits / 8;
  for (size_t i = 0; i < full_bytes; ++i) {
    if (bytes[i] != network.bytes[i]) return false;
  }
  unsigned rest = prefix_bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (bytes[full_bytes] & mask) == (network.bytes[full_bytes] & mask);
}

std::string Endpoint::ToString() const {
  // Built with += rather than operator+ chains: GCC 12 at -O3 warns falsely (-Wrestrict, GCC bug
  // 105329) on the latter.
  std::string out;
  if (!addr.IsV4()) out += '[';
  out += addr.ToString();
  if (!addr.IsV4()) out += ']';
  out += ':';
  out += std::to_string(port);
  return out;
}

size_t TupleHash::operator()(const Tuple& tuple) const {
  // Mixes the addresses eight bytes at a time (the session lookup is on every packet's path), then
  // both ports and the family, with a multiply-xorshift finaliser.
  uint64_t hash = 0x9e3779b97f4a7c15ull;
  auto mix = [&hash](uint64_t word) {
    hash ^= word;
    hash *= 0xff51afd7ed558ccdull;
    hash ^= hash >> 33;
  };
  for (const Endpoint* endpoint : {&tuple.src, &tuple.dst}) {
    uint64_t high = 0;
    uint64_t low = 0;
    std::memcpy(&high, endpoint->addr.bytes.data(), 8);
    std::memcpy(&low, endpoint->addr.bytes.data() + 8, 8);
    mix(high);
    mix(low);
  }
  mix((uint64_t{tuple.src.port} << 32) | (uint64_t{tuple.dst.port} << 16) |
      static_cast<uint64_t>(tuple.src.addr.family));
  return static_cast<size_t>(hash);
}

}  // namespace ftpalg
