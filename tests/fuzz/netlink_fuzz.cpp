// libFuzzer target: the daemon's netlink parsers on arbitrary datagrams (what the kernel sends is
// trusted, but a parser that can be crashed by a malformed message is a bug all the same). Each
// message of the datagram goes through every parser; the queued-packet parser's views must stay
// inside the message.
#include <cstdlib>

#include "kernel/cthelper_messages.h"
#include "kernel/expect_messages.h"
#include "kernel/netlink_ack.h"
#include "kernel/queue_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> datagram(data, size);
  auto parse_all = [](std::span<const uint8_t> message) {
    ftpalg::kernel::QueuedPacket packet;
    if (ftpalg::kernel::ParseQueuedPacket(message, &packet) == ftpalg::kernel::DecodeError::kNone) {
      const uint8_t* begin = message.data();
      const uint8_t* end = begin + message.size();
      if (!packet.payload.empty() &&
          (packet.payload.data() < begin || packet.payload.data() + packet.payload.size() > end)) {
        std::abort();
      }
      if (packet.ctinfo) ftpalg::kernel::CtinfoDirection(*packet.ctinfo);
    }
    ftpalg::kernel::ParsedExpectation expectation;
    if (ftpalg::kernel::ParseExpectation(message, &expectation) ==
        ftpalg::kernel::DecodeError::kNone) {
      ftpalg::kernel::ToExpectation(expectation);
    }
    ftpalg::kernel::HelperInfo helper;
    ftpalg::kernel::ParseHelper(message, &helper);
    ftpalg::kernel::NetlinkAck ack;
    ftpalg::kernel::ParseAck(message, &ack);
  };
  ftpalg::kernel::ForEachMessage(datagram, parse_all);
  ftpalg::kernel::ScanReply(datagram, 1, parse_all);
  // The whole input as one message too (the first header may be garbage).
  parse_all(datagram);
  return 0;
}
