// nfnetlink_queue messages (NFNL_SUBSYS_QUEUE): bind and configure a queue, read the packets it
// delivers (with their conntrack, NFQA_CT), and answer with verdicts that may carry a rewritten
// packet. Pure builders and parsers; golden-byte tested. Headers come from libnetfilter_queue's
// nfq_nlmsg_* helpers, attributes from libmnl.
//
// Kernel semantics these follow (net/netfilter/nfnetlink_queue.c, nfqnl_recv_config and
// nfqnl_recv_verdict; nf_conntrack_netlink.c, ctnetlink_glue_*):
// - NFQA_CFG_FLAGS is checked before anything else in the message: NFQA_CFG_F_CONNTRACK on a
//   kernel without CONFIG_NETFILTER_NETLINK_GLUE_CT is EOPNOTSUPP whether or not the queue is
//   bound, so flags can be probed without binding.
// - A queue bound by another socket answers every config message with EPERM (not EBUSY, which is
//   what binding a queue this socket already holds gives). Without CAP_NET_ADMIN nfnetlink itself
//   answers EPERM too.
// - A verdict's NFQA_PAYLOAD replaces the packet; when its length differs and the verdict also
//   carries NFQA_CT, the kernel records a sequence adjustment (nfnl_ct->seq_adjust, only for
//   NATed conntracks), but at a wrong position for IPv6 (see conntrack_messages.h), so the daemon
//   sets the adjustment over ctnetlink instead and its verdicts carry no NFQA_CT. The glue applies
//   CTA_TIMEOUT, CTA_STATUS, CTA_HELP, CTA_LABELS and CTA_MARK found in NFQA_CT
//   (ctnetlink_glue_parse_ct); an empty nest changes nothing else.
// - The kernel sets CHECKSUM_NONE on a mangled packet (nfqnl_mangle): a rewritten packet must
//   carry complete, correct IP and TCP checksums.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "ftpalg/expectation.h"
#include "ftpalg/seq_shift.h"
#include "kernel/help_info.h"
#include "kernel/netlink_codec.h"

namespace ftpalg::kernel {

enum class QueueVerdict : uint32_t { kDrop = 0, kAccept = 1 };  // NF_DROP, NF_ACCEPT

// NFQNL_MSG_CONFIG with NFQNL_CFG_CMD_BIND / _UNBIND for `queue_num` (acknowledged).
BuildResult BuildQueueBind(std::span<uint8_t> buffer, uint32_t seq, uint16_t queue_num);
BuildResult BuildQueueUnbind(std::span<uint8_t> buffer, uint32_t seq, uint16_t queue_num);
// NFQNL_MSG_CONFIG with NFQA_CFG_PARAMS (NFQNL_COPY_PACKET, copy_range bytes) and
// NFQA_CFG_QUEUE_MAXLEN (acknowledged).
BuildResult BuildQueueParams(std::span<uint8_t> buffer, uint32_t seq, uint16_t queue_num,
                             uint32_t copy_range, uint32_t max_len);
// NFQNL_MSG_CONFIG with NFQA_CFG_FLAGS and NFQA_CFG_MASK (acknowledged).
BuildResult BuildQueueFlags(std::span<uint8_t> buffer, uint32_t seq, uint16_t queue_num,
                            uint32_t flags, uint32_t mask);
// All of the above in one acknowledged message: BIND, PARAMS, QUEUE_MAXLEN, FLAGS and MASK. The
// kernel checks the flags first and binds next, so the queue goes live already configured, and a
// refused flag (EOPNOTSUPP) leaves nothing bound.
BuildResult BuildQueueOpen(std::span<uint8_t> buffer, uint32_t seq, uint16_t queue_num,
                           uint32_t copy_range, uint32_t max_len, uint32_t flags, uint32_t mask);

// NFQNL_MSG_VERDICT for one packet, not acknowledged (errors still come back). A non-empty
// `new_packet` (starting at the IP header) replaces the packet; `attach_conntrack` adds an empty
// NFQA_CT so that a length change shifts later sequence numbers. `help` (non-null) writes the
// conntrack's helper private data: NFQA_CT {CTA_HELP} (help_info.h); kBadInput when the new
// packet's length differs from `original_length`, as NFQA_CT would then make the kernel record a
// sequence adjustment itself.
BuildResult BuildVerdict(std::span<uint8_t> buffer, uint32_t seq, uint16_t queue_num,
                         uint32_t packet_id, QueueVerdict verdict,
                         std::span<const uint8_t> new_packet, bool attach_conntrack,
                         const HelpInfoUpdate* help = nullptr, size_t original_length = 0);
// The buffer size BuildVerdict needs for a packet of `packet_len` bytes (with help info or not).
size_t VerdictMessageSize(size_t packet_len, bool with_help = false);

// Verdicts collected to go out in one datagram. nfnetlink hands the messages of a datagram to
// the queue one after the other (netlink_rcv_skb), in order, each with its own error report, so
// the verdicts of a receive batch cost one sendto instead of one each, and packets leave in the
// order they came. Pure: the caller sends bytes() and then calls Clear().
class VerdictBatch {
 public:
  // Above this a batch is sent before the next verdict is added: well inside the socket's send
  // buffer (netlink_sendmsg refuses a datagram larger than sk_sndbuf - 32 with EMSGSIZE).
  static constexpr size_t kMaxBytes = size_t{64} * 1024;

  // True when a verdict carrying `packet_len` bytes would take a non-empty batch past kMaxBytes.
  bool WouldOverflow(size_t packet_len, bool with_help = false) const;
  // Appends BuildVerdict(...)'s message; on an error nothing is appended.
  BuildError Append(uint32_t seq, uint16_t queue_num, uint32_t packet_id, QueueVerdict verdict,
                    std::span<const uint8_t> new_packet, bool attach_conntrack,
                    const HelpInfoUpdate* help = nullptr, size_t original_length = 0);
  std::span<const uint8_t> bytes() const { return {buffer_.data(), used_}; }
  size_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  void Clear();

 private:
  std::vector<uint8_t> buffer_;  // capacity kept between batches
  size_t used_ = 0;
  size_t count_ = 0;
};

// The conntrack the kernel attached to a queued packet (NFQA_CT, ctnetlink_glue_build).
struct QueuedConntrack {
  ControlConnection connection;  // CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_ID
  uint8_t protonum = 0;
  std::optional<uint32_t> status;  // IPS_* bits
  std::optional<uint32_t> mark;
  uint16_t zone = 0;             // CTA_ZONE (0 when absent: the default zone)
  std::string_view helper_name;  // CTA_HELP/CTA_HELP_NAME; points into the message
  // CTA_HELP/CTA_HELP_INFO, the helper's private data (help_info.h); points into the message.
  // Absent when the helper was registered without private data.
  std::optional<std::span<const uint8_t>> helper_info;
  // CTA_SEQ_ADJ_ORIG / CTA_SEQ_ADJ_REPLY: present while IPS_SEQ_ADJUST is set (after a length
  // change); a restarted daemon continues from them.
  std::optional<SeqAdjustment> seq_adjustment_original;
  std::optional<SeqAdjustment> seq_adjustment_reply;
};

struct QueuedPacket {
  uint16_t queue_num = 0;  // nfgenmsg res_id
  uint8_t family = 0;      // nfgen_family: NFPROTO_IPV4 / NFPROTO_IPV6
  bool has_id = false;     // packet_id is valid (the verdict can be sent) even after an error
  uint32_t packet_id = 0;
  uint16_t hw_protocol = 0;  // host order (ETH_P_IP, ETH_P_IPV6)
  uint8_t hook = 0;
  std::span<const uint8_t> payload;  // the packet from its IP header; points into the message
  std::optional<uint32_t> cap_len;   // NFQA_CAP_LEN: the full length when the copy was cut short
  uint32_t skb_info = 0;             // NFQA_SKB_INFO bits
  std::optional<uint32_t> mark;
  std::optional<uint32_t> ctinfo;            // NFQA_CT_INFO (enum ip_conntrack_info)
  std::optional<QueuedConntrack> conntrack;  // NFQA_CT
  // NFQA_CT / NFQA_CT_INFO present but unreadable: the packet is still usable (and needs its
  // verdict); the conntrack is not.
  DecodeError conntrack_error = DecodeError::kNone;

  bool Truncated() const { return cap_len.has_value() && *cap_len != payload.size(); }
  // The checksums are partial (locally generated, offloaded): they must be recomputed in full
  // before the packet is handed back modified.
  bool ChecksumNotReady() const;
};

// Reads one NFQNL_MSG_PACKET message. kNone when the packet header and payload are readable
// (conntrack problems go to conntrack_error). On an error `out->has_id` tells whether a verdict
// can still be sent.
DecodeError ParseQueuedPacket(std::span<const uint8_t> message, QueuedPacket* out);

// The conntrack direction a ctinfo value names (CTINFO2DIR: IP_CT_IS_REPLY and above are
// replies); nullopt for values the kernel does not send with a conntrack (IP_CT_UNTRACKED, ...).
std::optional<Direction> CtinfoDirection(uint32_t ctinfo);

}  // namespace ftpalg::kernel
