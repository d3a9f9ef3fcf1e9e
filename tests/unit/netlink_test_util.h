// Shared by the netlink golden-byte tests: byte vectors, hex dumps for failure messages, and an
// aligned scratch buffer refilled with a marker before each message is built.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

namespace ftpalg::kernel::test {

using Bytes = std::vector<uint8_t>;

// Sequence number used by every golden message.
inline constexpr uint32_t kSeq = 0x01020304;

inline std::string Hex(std::span<const uint8_t> bytes) {
  std::string out;
  char cell[4];
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::snprintf(cell, sizeof(cell), "%02x", bytes[i]);
    out += cell;
    out += (i % 16 == 15) ? '\n' : ' ';
  }
  return out;
}

inline Bytes Concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

// Filled with 0xaa so that a builder that leaves padding unwritten shows in the golden bytes.
template <size_t kSize = 1024>
std::span<uint8_t> Buffer() {
  alignas(8) static std::array<uint8_t, kSize> buffer;
  buffer.fill(0xaa);
  return buffer;
}

}  // namespace ftpalg::kernel::test
