// Addresses and endpoints shared by every layer. Pure value types, no syscalls.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ftpalg {

enum class Family : uint8_t { kIpv4 = 4, kIpv6 = 6 };

std::string_view FamilyName(Family family);  // "ipv4" / "ipv6"

// An IPv4 or IPv6 address in network byte order. IPv4 uses the first four bytes; the rest stay 0
// so that comparison and hashing work on the whole array.
struct IpAddress {
  Family family = Family::kIpv4;
  std::array<uint8_t, 16> bytes{};

  static IpAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
  static IpAddress FromV4Bytes(const uint8_t* four_bytes);
  static IpAddress FromV6Bytes(const uint8_t* sixteen_bytes);
  // Parses dotted-quad or RFC 4291 text (via the same rules inet_pton uses, written without
  // syscalls). Returns nullopt for anything else.
  static std::optional<IpAddress> Parse(std::string_view text);

  size_t size() const { return family == Family::kIpv4 ? 4 : 16; }
  bool IsV4() const { return family == Family::kIpv4; }
  std::string ToString() const;  // dotted quad, or RFC 5952 compressed IPv6

  // True when the first prefix_bits bits of both addresses (same family) are equal.
  bool InPrefix(const IpAddress& network, unsigned prefix_bits) const;

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 flags the 0 of the synthesized <=>.
  auto operator<=>(const IpAddress&) const = default;
};

struct Endpoint {
  IpAddress addr;
  uint16_t port = 0;
  std::string ToString() const;  // "192.0.2.1:21" or "[2001:db8::1]:21"
  auto operator<=>(const Endpoint&) const = default;  // NOLINT(modernize-use-nullptr)
};

// A TCP connection as conntrack names one direction of it: src -> dst.
struct Tuple {
  Endpoint src;
  Endpoint dst;
  Family family() const { return src.addr.family; }
  Tuple Reversed() const { return Tuple{dst, src}; }
  auto operator<=>(const Tuple&) const = default;  // NOLINT(modernize-use-nullptr)
};

struct TupleHash {
  size_t operator()(const Tuple& tuple) const;
};

}  // namespace ftpalg
