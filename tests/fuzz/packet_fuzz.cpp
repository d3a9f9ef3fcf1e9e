// libFuzzer target: the packet view on arbitrary bytes, and the rewrite of whatever parses.
// Invariants: a rewritten packet parses again, with the edited payload and a valid checksum.
#include <cstdlib>
#include <string>

#include "ftpalg/packet_rewrite.h"
#include "ftpalg/packet_view.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ftpalg::fuzz::FuzzInput input(data, size);
  const uint8_t edit_control = input.Byte();
  const auto packet = input.Rest();
  ftpalg::TcpPacketResult parsed = ftpalg::ParseTcpPacket(packet);
  if (!parsed.ok()) return 0;
  const ftpalg::TcpPacketView& view = parsed.view;
  if (view.payload_offset + view.payload.size() > packet.size()) std::abort();
  ftpalg::PacketChanges changes;
  if (!view.payload.empty()) {
    const size_t begin = edit_control % view.payload.size();
    const size_t end = begin + (edit_control >> 4) % (view.payload.size() - begin + 1);
    changes.edits.push_back({begin, end, std::string(edit_control % 23, 'x')});
  }
  changes.seq_shift = static_cast<int8_t>(edit_control);
  changes.ack_shift = -static_cast<int8_t>(edit_control);
  changes.sack_shift = edit_control;
  std::vector<uint8_t> rewritten = ftpalg::RewriteTcpPacket(view, changes);
  ftpalg::TcpPacketResult again = ftpalg::ParseTcpPacket(rewritten);
  if (!again.ok() || !ftpalg::TcpChecksumValid(again.view)) std::abort();
  if (again.view.seq != view.seq + static_cast<uint32_t>(changes.seq_shift)) std::abort();
  return 0;
}
