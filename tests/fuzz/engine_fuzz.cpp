// libFuzzer target: the whole engine over a packet sequence on one control connection. The input
// picks the NAT situation and family, then a series of segments (direction, flags, sequence
// jitter, payload). Invariants: the engine never crashes, every modified packet parses with a
// valid checksum, and pending expectations per connection stay within the policy bound.
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "ftpalg/engine.h"
#include "ftpalg/packet_rewrite.h"
#include "ftpalg/packet_view.h"
#include "ftpalg/seq_shift.h"
#include "fuzz_input.h"

namespace {

using ftpalg::Direction;
using ftpalg::Endpoint;
using ftpalg::IpAddress;

class CountingInstaller : public ftpalg::ExpectationInstaller {
 public:
  Result Install(const ftpalg::Expectation& e) override {
    if (e.destination.port % 7 == 0) return Result::kBusy;  // exercise the port search
    ++live;
    return Result::kInstalled;
  }
  void Remove(const ftpalg::Expectation&) override { --live; }
  long live = 0;
};

IpAddress Address(bool v6, uint8_t last, uint8_t net) {
  if (!v6) return IpAddress::V4(net == 1 ? 192 : 198, net == 1 ? 0 : 51, net == 1 ? 2 : 100, last);
  IpAddress a = *IpAddress::Parse("2001:db8::");
  a.bytes[5] = net;
  a.bytes[15] = last;
  return a;
}

void Put16(std::vector<uint8_t>& out, size_t at, uint32_t v) {
  out[at] = static_cast<uint8_t>(v >> 8);
  out[at + 1] = static_cast<uint8_t>(v);
}
void Put32(std::vector<uint8_t>& out, size_t at, uint32_t v) {
  Put16(out, at, v >> 16);
  Put16(out, at + 2, v & 0xffff);
}

std::vector<uint8_t> BuildPacket(const ftpalg::Tuple& t, uint32_t seq, uint32_t ack, uint8_t flags,
                                 std::span<const uint8_t> payload) {
  const bool v6 = !t.src.addr.IsV4();
  const size_t ip = v6 ? 40 : 20;
  std::vector<uint8_t> p(ip + 20 + payload.size(), 0);
  if (v6) {
    p[0] = 0x60;
    Put16(p, 4, static_cast<uint32_t>(20 + payload.size()));
    p[6] = 6;
    p[7] = 64;
    std::copy(t.src.addr.bytes.begin(), t.src.addr.bytes.end(), p.begin() + 8);
    std::copy(t.dst.addr.bytes.begin(), t.dst.addr.bytes.end(), p.begin() + 24);
  } else {
    p[0] = 0x45;
    Put16(p, 2, static_cast<uint32_t>(p.size()));
    p[8] = 64;
    p[9] = 6;
    std::copy_n(t.src.addr.bytes.begin(), 4, p.begin() + 12);
    std::copy_n(t.dst.addr.bytes.begin(), 4, p.begin() + 16);
  }
  Put16(p, ip, t.src.port);
  Put16(p, ip + 2, t.dst.port);
  Put32(p, ip + 4, seq);
  Put32(p, ip + 8, ack);
  p[ip + 12] = 0x50;
  p[ip + 13] = flags;
  Put16(p, ip + 14, 65535);
  std::copy(payload.begin(), payload.end(), p.begin() + static_cast<ptrdiff_t>(ip + 20));
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ftpalg::fuzz::FuzzInput input(data, size);
  const uint8_t setup = input.Byte();
  const bool v6 = (setup & 1) != 0;
  ftpalg::ControlConnection control;
  control.original = {Endpoint{Address(v6, 2, 1), 40000}, Endpoint{Address(v6, 2, 2), 21}};
  control.reply = control.original.Reversed();
  if (setup & 2) control.reply.dst.addr = Address(v6, 1, 2);  // masquerade
  if (setup & 4) control.reply.src.addr = Address(v6, 10, 1);  // published inside server

  ftpalg::EngineConfig config;
  config.shift_sequence_numbers = (setup & 8) != 0;
  config.max_line_length = 32 + (setup >> 4) * 16;
  config.policy.require_login = (setup & 0x40) == 0;
  CountingInstaller installer;
  ftpalg::Engine engine(config, installer);

  uint32_t next[2] = {input.Word(), input.Word()};
  ftpalg::Timestamp now = 0;
  while (!input.empty()) {
    const uint8_t control_byte = input.Byte();
    const auto direction = (control_byte & 1) ? Direction::kReply : Direction::kOriginal;
    const size_t d = static_cast<size_t>(direction);
    uint8_t flags = ftpalg::tcp_flags::kAck;
    if (control_byte & 2) flags = ftpalg::tcp_flags::kSyn;
    if (control_byte & 4) flags |= ftpalg::tcp_flags::kFin;
    if ((control_byte & 0x38) == 0x38) flags = ftpalg::tcp_flags::kRst;
    const auto payload = input.Bytes(input.Byte());
    uint32_t seq = next[d];
    if (control_byte & 0x40) seq -= input.Byte();  // retransmission / overlap
    if (control_byte & 0x80) seq += input.Byte();  // gap
    const ftpalg::Tuple tuple =
        direction == Direction::kOriginal ? control.original
                                          : ftpalg::Tuple{control.reply.src, control.original.src};
    std::vector<uint8_t> packet = BuildPacket(tuple, seq, next[1 - d], flags, payload);
    ftpalg::PacketInput in;
    in.packet = packet;
    in.time = now;
    in.control = control;
    in.direction = direction;
    ftpalg::Decision decision = engine.Process(in);
    if (decision.modified) {
      ftpalg::TcpPacketResult parsed = ftpalg::ParseTcpPacket(decision.packet);
      if (!parsed.ok() || !ftpalg::TcpChecksumValid(parsed.view)) std::abort();
    }
    if (installer.live > static_cast<long>(config.policy.max_pending_expectations)) std::abort();
    const uint32_t end = seq + static_cast<uint32_t>(payload.size());
    if (ftpalg::SeqAfter(end, next[d])) next[d] = end;
    now += 1'000'000;
  }
  return 0;
}
