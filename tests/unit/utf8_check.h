// An independent UTF-8 check (RFC 3629 3) for tests that must prove JSON output is valid text,
// written without any JSON library so that it cannot share that library's mistakes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ftpalg::test {

// True when `text` is well-formed UTF-8: no stray continuation bytes, no overlong forms, no
// surrogates, nothing above U+10FFFF, nothing truncated.
inline bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    uint32_t min = 0;
    uint32_t code = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    }
    if ((lead & 0xe0) == 0xc0) {
      extra = 1;
      min = 0x80;
      code = lead & 0x1fu;
    } else if ((lead & 0xf0) == 0xe0) {
      extra = 2;
      min = 0x800;
      code = lead & 0x0fu;
    } else if ((lead & 0xf8) == 0xf0) {
      extra = 3;
      min = 0x10000;
      code = lead & 0x07u;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3fu);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

}  // namespace ftpalg::test
