// libFuzzer target: the line framer over arbitrary segmentation, retransmission, overlap and gaps.
// Invariants checked: lines never exceed the bound, the buffer never exceeds it either, and every
// delivered line lies within the bytes fed (its sequence range ends at or before the next byte).
#include <cstdlib>

#include "ftpalg/line_framer.h"
#include "ftpalg/seq_shift.h"
#include "fuzz_input.h"

namespace {

class CheckingSink : public ftpalg::LineSink {
 public:
  explicit CheckingSink(size_t bound) : bound_(bound) {}
  void OnLine(const ftpalg::FramedLine& line) override {
    if (line.text.size() > bound_) std::abort();
    if (ftpalg::SeqAfter(line.start_seq, line.end_seq)) std::abort();
  }

 private:
  size_t bound_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ftpalg::fuzz::FuzzInput input(data, size);
  const size_t bound = 16 + input.Byte() % 200;
  ftpalg::LineFramer framer(bound);
  CheckingSink sink(bound);
  uint32_t next = input.Word();
  framer.StartAt(next);
  while (!input.empty()) {
    const uint8_t control = input.Byte();
    auto payload = input.Bytes(control & 0x3f);
    uint32_t seq = next;
    switch (control >> 6) {
      case 1:  // retransmission or overlap: start a little before
        seq = next - input.Byte();
        break;
      case 2:  // gap
        seq = next + 1 + input.Byte();
        break;
      default:
        break;
    }
    framer.Feed(seq, payload, sink);
    if (framer.buffered_bytes() > bound) std::abort();
    const uint32_t end = seq + static_cast<uint32_t>(payload.size());
    if (ftpalg::SeqAfter(end, next)) next = end;
  }
  return 0;
}
