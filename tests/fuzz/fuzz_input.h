// Splitting a fuzzer's byte string into the pieces a target needs, without ever reading past it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ftpalg::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint32_t Word() {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) value = (value << 8) | Byte();
    return value;
  }
  // Up to `max` bytes (fewer at the end of the input).
  std::span<const uint8_t> Bytes(size_t max) {
    const size_t n = max < size_ - pos_ ? max : size_ - pos_;
    std::span<const uint8_t> out(data_ + pos_, n);
    pos_ += n;
    return out;
  }
  std::span<const uint8_t> Rest() { return Bytes(size_ - pos_); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace ftpalg::fuzz
