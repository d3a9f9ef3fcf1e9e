#include "kernel/queue_messages.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "kernel/conntrack_messages.h"

namespace ftpalg::kernel {
namespace {

// Headers plus NFQA_VERDICT_HDR plus the empty NFQA_CT nest.
constexpr size_t kVerdictOverhead = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(nfgenmsg)) +
                                    MNL_ALIGN(MNL_ATTR_HDRLEN + sizeof(nfqnl_msg_verdict_hdr)) +
                                    MNL_ATTR_HDRLEN;

BuildResult BuildCommand(std::span<uint8_t> buffer, uint32_t seq, uint16_t queue_num,
                         uint8_t command) {
  MessageBuilder b = MessageBuilder::ForQueue(buffer, NFQNL_MSG_CONFIG, queue_num, NLM_F_ACK, seq);
  // The pf field is ignored for BIND/UNBIND since Linux 3.8 (the PF commands became no-ops).
  if (b.Reserve(sizeof(nfqnl_msg_config_cmd))) nfq_nlmsg_cfg_put_cmd(b.nlh(), AF_UNSPEC, command);
  return b.Finish();
}

DecodeError ParseConntrack(const nlattr* nest, QueuedConntrack* out) {
  *out = QueuedConntrack{};
  if (!IsNested(nest)) return DecodeError::kBadAttribute;
  std::array<const nlattr*, CTA_MAX + 1> tb{};
  if (DecodeError e = ParseNested(nest, tb); e != DecodeError::kNone) return e;
  if (DecodeError e =
          ParseCtTuplePair(tb[CTA_TUPLE_ORIG], tb[CTA_TUPLE_REPLY], &out->connection.original,
                           &out->connection.reply, &out->protonum);
      e != DecodeError::kNone) {
    return e;
  }
  if (tb[CTA_ID] != nullptr) {
    if (!IsU32(tb[CTA_ID])) return DecodeError::kBadAttribute;
    out->connection.conntrack_id = GetBe32(tb[CTA_ID]);
  }
  if (tb[CTA_STATUS] != nullptr) {
    if (!IsU32(tb[CTA_STATUS])) return DecodeError::kBadAttribute;
    out->status = GetBe32(tb[CTA_STATUS]);
  }
  if (tb[CTA_MARK] != nullptr) {
    if (!IsU32(tb[CTA_MARK])) return DecodeError::kBadAttribute;
    out->mark = GetBe32(tb[CTA_MARK]);
  }
  if (tb[CTA_ZONE] != nullptr) {
    if (!IsU16(tb[CTA_ZONE])) return DecodeError::kBadAttribute;
    out->zone = GetBe16(tb[CTA_ZONE]);
  }
  if (tb[CTA_HELP] != nullptr) {
    if (!IsNested(tb[CTA_HELP])) return DecodeError::kBadAttribute;
    std::array<const nlattr*, CTA_HELP_MAX + 1> help{};
    if (DecodeError e = ParseNested(tb[CTA_HELP], help); e != DecodeError::kNone) return e;
    if (help[CTA_HELP_NAME] == nullptr) return DecodeError::kMissingAttribute;
    // NF_CT_HELPER_NAME_LEN - 1.
    if (!IsNulString(help[CTA_HELP_NAME], 15)) return DecodeError::kBadAttribute;
    out->helper_name = GetString(help[CTA_HELP_NAME]);
    if (help[CTA_HELP_INFO] != nullptr) {
      out->helper_info = std::span<const uint8_t>(
          static_cast<const uint8_t*>(mnl_attr_get_payload(help[CTA_HELP_INFO])),
          mnl_attr_get_payload_len(help[CTA_HELP_INFO]));
    }
  }
  if (DecodeError e = ParseSeqAdjustmentNest(tb[CTA_SEQ_ADJ_ORIG], &out->seq_adjustment_original);
      e != DecodeError::kNone) {
    return e;
  }
  return ParseSeqAdjustmentNest(tb[CTA_SEQ_ADJ_REPLY], &out->seq_adjustment_reply);
}

}  // namespace

BuildResult BuildQueueBind(std::span<uint8_t> buffer, uint32_t seq, uint16_t queue_num) {
  return BuildCommand(buffer, seq, queue_num, NFQNL_CFG_CMD_BIND);
}

BuildResult BuildQueueUnbind(std::span<uint8_t> buffer, uint32_t seq, uint16_t queue_num) {
  return BuildCommand(buffer, seq, queue_num, NFQNL_CFG_CMD_UNBIND);
}

BuildResult BuildQueueParams(std::span<uint8_t> buffer, uint32_t seq, uint16_t queue_num,
                             uint32_t copy_range, uint32_t max_len) {
  MessageBuilder b = MessageBuilder::ForQueue(buffer, NFQNL_MSG_CONFIG, queue_num, NLM_F_ACK, seq);
  // nfq_nlmsg_cfg_put_params takes the range as an int; the kernel clamps it to its maximum
  // (NFQNL_MAX_COPY_RANGE), so larger values are clamped here first.
  int range = static_cast<int>(std::min<uint32_t>(copy_range, 0xffff));
  if (b.Reserve(sizeof(nfqnl_msg_config_params))) {
    nfq_nlmsg_cfg_put_params(b.nlh(), NFQNL_COPY_PACKET, range);
  }
  if (b.Reserve(sizeof(uint32_t))) nfq_nlmsg_cfg_put_qmaxlen(b.nlh(), max_len);
  return b.Finish();
}

BuildResult BuildQueueFlags(std::span<uint8_t> buffer, uint32_t seq, uint16_t queue_num,
                            uint32_t flags, uint32_t mask) {
  MessageBuilder b = MessageBuilder::ForQueue(buffer, NFQNL_MSG_CONFIG, queue_num, NLM_F_ACK, seq);
  b.PutBe32(NFQA_CFG_FLAGS, flags);
  b.PutBe32(NFQA_CFG_MASK, mask);
  return b.Finish();
}

BuildResult BuildQueueOpen(std::span<uint8_t> buffer, uint32_t seq, uint16_t queue_num,
                           uint32_t copy_range, uint32_t max_len, uint32_t flags, uint32_t mask) {
  MessageBuilder b = MessageBuilder::ForQueue(buffer, NFQNL_MSG_CONFIG, queue_num, NLM_F_ACK, seq);
  if (b.Reserve(sizeof(nfqnl_msg_config_cmd))) {
    nfq_nlmsg_cfg_put_cmd(b.nlh(), AF_UNSPEC, NFQNL_CFG_CMD_BIND);
  }
  int range = static_cast<int>(std::min<uint32_t>(copy_range, 0xffff));
  if (b.Reserve(sizeof(nfqnl_msg_config_params))) {
    nfq_nlmsg_cfg_put_params(b.nlh(), NFQNL_COPY_PACKET, range);
  }
  if (b.Reserve(sizeof(uint32_t))) nfq_nlmsg_cfg_put_qmaxlen(b.nlh(), max_len);
  b.PutBe32(NFQA_CFG_FLAGS, flags);
  b.PutBe32(NFQA_CFG_MASK, mask);
  return b.Finish();
}

BuildResult BuildVerdict(std::span<uint8_t> buffer, uint32_t seq, uint16_t queue_num,
                         uint32_t packet_id, QueueVerdict verdict,
                         std::span<const uint8_t> new_packet, bool attach_conntrack,
                         const HelpInfoUpdate* help, size_t original_length) {
  MessageBuilder b = MessageBuilder::ForQueue(buffer, NFQNL_MSG_VERDICT, queue_num, 0, seq);
  if (help != nullptr && !new_packet.empty() && new_packet.size() != original_length) {
    b.Fail(BuildError::kBadInput);
  }
  if (b.Reserve(sizeof(nfqnl_msg_verdict_hdr))) {
    // The helper takes int; the id's bit pattern is what goes on the wire.
    nfq_nlmsg_verdict_put(b.nlh(), static_cast<int>(packet_id), static_cast<int>(verdict));
  }
  if (!new_packet.empty() && b.Reserve(new_packet.size())) {
    nfq_nlmsg_verdict_put_pkt(b.nlh(), new_packet.data(), static_cast<uint32_t>(new_packet.size()));
  }
  if (attach_conntrack || help != nullptr) {
    nlattr* ct = b.BeginNest(NFQA_CT);
    if (help != nullptr) PutHelpInfo(b, *help);
    b.EndNest(ct);
  }
  return b.Finish();
}

size_t VerdictMessageSize(size_t packet_len, bool with_help) {
  return kVerdictOverhead + MNL_ALIGN(MNL_ATTR_HDRLEN + packet_len) +
         (with_help ? MaxHelpInfoSize() : 0);
}

bool VerdictBatch::WouldOverflow(size_t packet_len, bool with_help) const {
  return !empty() && used_ + VerdictMessageSize(packet_len, with_help) > kMaxBytes;
}

BuildError VerdictBatch::Append(uint32_t seq, uint16_t queue_num, uint32_t packet_id,
                                QueueVerdict verdict, std::span<const uint8_t> new_packet,
                                bool attach_conntrack, const HelpInfoUpdate* help,
                                size_t original_length) {
  const size_t needed = VerdictMessageSize(new_packet.size(), help != nullptr);
  if (buffer_.size() < used_ + needed) buffer_.resize(used_ + needed);
  // used_ stays a multiple of 4 (NLMSG_ALIGN), so every message starts where netlink looks.
  BuildResult built =
      BuildVerdict(std::span<uint8_t>(buffer_).subspan(used_, needed), seq, queue_num, packet_id,
                   verdict, new_packet, attach_conntrack, help, original_length);
  if (!built.ok()) return built.error;
  used_ += NLMSG_ALIGN(built.message.size());
  ++count_;
  return BuildError::kNone;
}

void VerdictBatch::Clear() {
  used_ = 0;
  count_ = 0;
}

bool QueuedPacket::ChecksumNotReady() const { return (skb_info & NFQA_SKB_CSUMNOTREADY) != 0; }

DecodeError ParseQueuedPacket(std::span<const uint8_t> message, QueuedPacket* out) {
  *out = QueuedPacket{};
  std::array<const nlattr*, NFQA_MAX + 1> tb{};
  NfGenHeader nfg;
  if (DecodeError e =
          ParseNfnlMessage(message, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET, tb, &nfg);
      e != DecodeError::kNone) {
    return e;
  }
  out->queue_num = nfg.res_id;
  out->family = nfg.family;

  const nlattr* hdr = tb[NFQA_PACKET_HDR];
  if (hdr == nullptr) return DecodeError::kMissingAttribute;
  if (!IsBinary(hdr, sizeof(nfqnl_msg_packet_hdr))) return DecodeError::kBadAttribute;
  nfqnl_msg_packet_hdr ph;
  std::memcpy(&ph, mnl_attr_get_payload(hdr), sizeof(ph));  // packed struct: copy, not cast
  out->has_id = true;
  out->packet_id = ntohl(ph.packet_id);
  out->hw_protocol = ntohs(ph.hw_protocol);
  out->hook = ph.hook;

  if (tb[NFQA_PAYLOAD] != nullptr) {
    out->payload = std::span<const uint8_t>(
        static_cast<const uint8_t*>(mnl_attr_get_payload(tb[NFQA_PAYLOAD])),
        mnl_attr_get_payload_len(tb[NFQA_PAYLOAD]));
  }
  if (tb[NFQA_CAP_LEN] != nullptr) {
    if (!IsU32(tb[NFQA_CAP_LEN])) return DecodeError::kBadAttribute;
    out->cap_len = GetBe32(tb[NFQA_CAP_LEN]);
  }
  if (tb[NFQA_SKB_INFO] != nullptr) {
    if (!IsU32(tb[NFQA_SKB_INFO])) return DecodeError::kBadAttribute;
    out->skb_info = GetBe32(tb[NFQA_SKB_INFO]);
  }
  if (tb[NFQA_MARK] != nullptr) {
    if (!IsU32(tb[NFQA_MARK])) return DecodeError::kBadAttribute;
    out->mark = GetBe32(tb[NFQA_MARK]);
  }

  if (tb[NFQA_CT_INFO] != nullptr) {
    if (!IsU32(tb[NFQA_CT_INFO])) {
      out->conntrack_error = DecodeError::kBadAttribute;
    } else if (!CtinfoDirection(GetBe32(tb[NFQA_CT_INFO])).has_value()) {
      out->conntrack_error = DecodeError::kBadValue;
    } else {
      out->ctinfo = GetBe32(tb[NFQA_CT_INFO]);
    }
  }
  if (tb[NFQA_CT] != nullptr) {
    QueuedConntrack ct;
    DecodeError e = ParseConntrack(tb[NFQA_CT], &ct);
    if (e == DecodeError::kNone) {
      out->conntrack = ct;
    } else {
      out->conntrack_error = e;
    }
  }
  return DecodeError::kNone;
}

std::optional<Direction> CtinfoDirection(uint32_t ctinfo) {
  switch (ctinfo) {
    case IP_CT_ESTABLISHED:
    case IP_CT_RELATED:
    case IP_CT_NEW:
      return Direction::kOriginal;
    case IP_CT_ESTABLISHED_REPLY:
    case IP_CT_RELATED_REPLY:
      return Direction::kReply;
    default:
      return std::nullopt;
  }
}

}  // namespace ftpalg::kernel
