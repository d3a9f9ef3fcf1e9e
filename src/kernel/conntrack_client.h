// Changes to control connections' conntracks over ctnetlink: today the sequence adjustment after a
// length-changing rewrite (see conntrack_messages.h for why the queue's own path is not used).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "ftpalg/expectation.h"
#include "ftpalg/seq_shift.h"
#include "kernel/conntrack_messages.h"
#include "kernel/kernel_status.h"
#include "kernel/netlink_socket.h"

namespace ftpalg::kernel {

class ConntrackClient {
 public:
  KernelStatus Open();

  // Sets `direction`'s sequence adjustment of the conntrack with original tuple `original` and
  // waits for the kernel's answer, so that a verdict sent afterwards is adjusted by it. ENOENT: the
  // conntrack is gone.
  // `help` (non-null) writes the helper's private data in the same message (help_info.h).
  KernelStatus SetSeqAdjustment(const Tuple& original, uint16_t zone, Direction direction,
                                const SeqAdjustment& adjustment,
                                const HelpInfoUpdate* help = nullptr);
  // Writes only the helper's private data.
  KernelStatus SetHelpInfo(const Tuple& original, uint16_t zone, const HelpInfoUpdate& help);
  // Reads the conntrack's sequence adjustments back (tests, diagnostics).
  KernelStatus GetSeqAdjustments(const Tuple& original, uint16_t zone,
                                 ConntrackSeqAdjustments* out);

 private:
  NetlinkSocket socket_;
  std::vector<uint8_t> buffer_ = std::vector<uint8_t>(512);
};

}  // namespace ftpalg::kernel
