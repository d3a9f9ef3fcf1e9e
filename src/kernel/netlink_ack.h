// Reading what the kernel answers to a request: walking the messages of a datagram, netlink
// acknowledgements and errors (NLMSG_ERROR, with the extended-ack text when the socket asked for
// it), and the end of a dump (NLMSG_DONE). Pure code; tested with hand-made datagrams.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "kernel/netlink_codec.h"

namespace ftpalg::kernel {

// Calls `fn` with each whole message in a datagram. Returns kTruncated when a message header is
// cut short or claims more bytes than remain, kMisaligned for a misaligned datagram; messages
// before the bad one have been handed to `fn` by then.
DecodeError ForEachMessage(std::span<const uint8_t> datagram,
                           const std::function<void(std::span<const uint8_t>)>& fn);

struct NetlinkAck {
  int error = 0;  // positive errno; 0 for a plain acknowledgement
  uint32_t seq = 0;
  std::string_view message;  // NLMSGERR_ATTR_MSG (extended ack), empty when absent
};

// Reads one NLMSG_ERROR message: the nlmsgerr header, and the extended-ack attributes after the
// echoed request (just its header when NLM_F_CAPPED is set, the whole request otherwise).
DecodeError ParseAck(std::span<const uint8_t> message, NetlinkAck* out);

// Where a request stands after one datagram of answers.
struct ReplyProgress {
  bool finished = false;                       // its ack, error or NLMSG_DONE arrived
  int error = 0;                               // positive errno from the kernel (0: success)
  std::string_view ext_message;                // extended-ack text; points into the datagram
  DecodeError malformed = DecodeError::kNone;  // the datagram itself could not be read
};

// Walks a datagram answering request `seq`: hands each data message of that request to `on_data`,
// and stops at its ack, error or NLMSG_DONE (an error inside a dump arrives as NLMSG_DONE carrying
// a negative errno, which is reported too). Messages of other sequence numbers (late answers to
// requests that timed out) are skipped.
ReplyProgress ScanReply(std::span<const uint8_t> datagram, uint32_t seq,
                        const std::function<void(std::span<const uint8_t>)>& on_data);

}  // namespace ftpalg::kernel
