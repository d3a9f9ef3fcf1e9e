#include "kernel/netlink_ack.h"

#include <libmnl/libmnl.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace ftpalg::kernel {

DecodeError ForEachMessage(std::span<const uint8_t> datagram,
                           const std::function<void(std::span<const uint8_t>)>& fn) {
  if (reinterpret_cast<uintptr_t>(datagram.data()) % NLMSG_ALIGNTO != 0) {
    return DecodeError::kMisaligned;
  }
  size_t offset = 0;
  while (offset < datagram.size()) {
    std::span<const uint8_t> rest = datagram.subspan(offset);
    const nlmsghdr* nlh = nullptr;
    if (DecodeError e = CheckMessage(rest, &nlh); e != DecodeError::kNone) return e;
    fn(rest.first(nlh->nlmsg_len));
    offset += std::min<size_t>(NLMSG_ALIGN(nlh->nlmsg_len), rest.size());
  }
  return DecodeError::kNone;
}

DecodeError ParseAck(std::span<const uint8_t> message, NetlinkAck* out) {
  *out = NetlinkAck{};
  const nlmsghdr* nlh = nullptr;
  if (DecodeError e = CheckMessage(message, &nlh); e != DecodeError::kNone) return e;
  if (nlh->nlmsg_type != NLMSG_ERROR) return DecodeError::kWrongMessage;
  size_t payload_len = nlh->nlmsg_len - MNL_NLMSG_HDRLEN;
  if (payload_len < sizeof(nlmsgerr)) return DecodeError::kTruncated;
  nlmsgerr err;
  std::memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
  // The kernel sends a negative errno (or 0); anything else is not an answer it gives.
  if (err.error > 0 || err.error < -4095) return DecodeError::kBadValue;
  out->error = -err.error;
  out->seq = nlh->nlmsg_seq;

  if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) == 0) return DecodeError::kNone;
  // Extended-ack attributes follow the echoed request: only its header when capped (always for a
  // plain ack), else the whole request.
  size_t echoed = sizeof(nlmsghdr);
  if ((nlh->nlmsg_flags & NLM_F_CAPPED) == 0) {
    if (err.msg.nlmsg_len < sizeof(nlmsghdr)) return DecodeError::kBadValue;
    echoed = NLMSG_ALIGN(err.msg.nlmsg_len);
  }
  size_t tlv_offset = NLMSG_ALIGN(sizeof(int)) + echoed;
  if (tlv_offset > payload_len) return DecodeError::kTruncated;
  std::array<const nlattr*, NLMSGERR_ATTR_MAX + 1> tb{};
  const auto* tlvs = static_cast<const uint8_t*>(mnl_nlmsg_get_payload(nlh)) + tlv_offset;
  if (DecodeError e = ParseAttributes(tlvs, payload_len - tlv_offset, tb);
      e != DecodeError::kNone) {
    return e;
  }
  if (tb[NLMSGERR_ATTR_MSG] != nullptr) {
    // The kernel's messages are short literals; 255 bounds what a well-formed ack carries.
    if (!IsNulString(tb[NLMSGERR_ATTR_MSG], 255)) return DecodeError::kBadAttribute;
    out->message = GetString(tb[NLMSGERR_ATTR_MSG]);
  }
  return DecodeError::kNone;
}

ReplyProgress ScanReply(std::span<const uint8_t> datagram, uint32_t seq,
                        const std::function<void(std::span<const uint8_t>)>& on_data) {
  ReplyProgress progress;
  DecodeError walk = ForEachMessage(datagram, [&](std::span<const uint8_t> message) {
    if (progress.finished || progress.malformed != DecodeError::kNone) return;
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(message.data());
    if (nlh->nlmsg_seq != seq) return;
    switch (nlh->nlmsg_type) {
      case NLMSG_NOOP:
        return;
      case NLMSG_ERROR: {
        NetlinkAck ack;
        DecodeError e = ParseAck(message, &ack);
        if (e != DecodeError::kNone) {
          progress.malformed = e;
          return;
        }
        progress.finished = true;
        progress.error = ack.error;
        progress.ext_message = ack.message;
        return;
      }
      case NLMSG_DONE: {
        progress.finished = true;
        // A dump that fails part-way ends with NLMSG_DONE carrying the negative errno.
        if (nlh->nlmsg_len >= MNL_NLMSG_HDRLEN + sizeof(int)) {
          int status = 0;
          std::memcpy(&status, mnl_nlmsg_get_payload(nlh), sizeof(status));
          if (status < 0 && status >= -4095) progress.error = -status;
        }
        return;
      }
      default:
        if (nlh->nlmsg_type < NLMSG_MIN_TYPE) return;  // NLMSG_OVERRUN and reserved types
        on_data(message);
        return;
    }
  });
  if (walk != DecodeError::kNone && progress.malformed == DecodeError::kNone &&
      !progress.finished) {
    progress.malformed = walk;
  }
  return progress;
}

}  // namespace ftpalg::kernel
