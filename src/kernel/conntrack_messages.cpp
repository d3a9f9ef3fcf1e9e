#include "kernel/conntrack_messages.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>

namespace ftpalg::kernel {
namespace {

uint8_t AddressFamily(const Tuple& tuple) {
  return tuple.family() == Family::kIpv4 ? AF_INET : AF_INET6;
}

MessageBuilder Start(std::span<uint8_t> buffer, uint8_t message, uint32_t seq,
                     const Tuple& original, uint16_t zone) {
  MessageBuilder b(buffer, NFNL_SUBSYS_CTNETLINK, message, NLM_F_ACK, seq, AddressFamily(original),
                   0);
  if (original.src.addr.family != original.dst.addr.family) b.Fail(BuildError::kBadInput);
  PutCtTuple(b, CTA_TUPLE_ORIG, original, IPPROTO_TCP);
  if (zone != 0) b.PutBe16(CTA_ZONE, zone);
  return b;
}

DecodeError ParseSeqAdjustment(const nlattr* nest, std::optional<SeqAdjustment>* out) {
  if (nest == nullptr) return DecodeError::kNone;
  if (!IsNested(nest)) return DecodeError::kBadAttribute;
  std::array<const nlattr*, CTA_SEQADJ_MAX + 1> tb{};
  if (DecodeError e = ParseNested(nest, tb); e != DecodeError::kNone) return e;
  for (int type : {CTA_SEQADJ_CORRECTION_POS, CTA_SEQADJ_OFFSET_BEFORE, CTA_SEQADJ_OFFSET_AFTER}) {
    if (tb[type] == nullptr) return DecodeError::kMissingAttribute;
    if (!IsU32(tb[type])) return DecodeError::kBadAttribute;
  }
  *out = SeqAdjustment{GetBe32(tb[CTA_SEQADJ_CORRECTION_POS]),
                       static_cast<int32_t>(GetBe32(tb[CTA_SEQADJ_OFFSET_BEFORE])),
                       static_cast<int32_t>(GetBe32(tb[CTA_SEQADJ_OFFSET_AFTER]))};
  return DecodeError::kNone;
}

}  // namespace

DecodeError ParseSeqAdjustmentNest(const nlattr* nest, std::optional<SeqAdjustment>* out) {
  return ParseSeqAdjustment(nest, out);
}

BuildResult BuildConntrackSeqAdjust(std::span<uint8_t> buffer, uint32_t seq, const Tuple& original,
                                    uint16_t zone, Direction direction,
                                    const SeqAdjustment& adjustment, const HelpInfoUpdate* help) {
  MessageBuilder b = Start(buffer, IPCTNL_MSG_CT_NEW, seq, original, zone);
  if (help != nullptr) PutHelpInfo(b, *help);
  nlattr* nest =
      b.BeginNest(direction == Direction::kOriginal ? CTA_SEQ_ADJ_ORIG : CTA_SEQ_ADJ_REPLY);
  b.PutBe32(CTA_SEQADJ_CORRECTION_POS, adjustment.correction_pos);
  // The offsets are signed in the kernel (s32); on the wire they are their two's complement.
  b.PutBe32(CTA_SEQADJ_OFFSET_BEFORE, static_cast<uint32_t>(adjustment.offset_before));
  b.PutBe32(CTA_SEQADJ_OFFSET_AFTER, static_cast<uint32_t>(adjustment.offset_after));
  b.EndNest(nest);
  return b.Finish();
}

BuildResult BuildConntrackHelpInfo(std::span<uint8_t> buffer, uint32_t seq, const Tuple& original,
                                   uint16_t zone, const HelpInfoUpdate& help) {
  MessageBuilder b = Start(buffer, IPCTNL_MSG_CT_NEW, seq, original, zone);
  PutHelpInfo(b, help);
  return b.Finish();
}

BuildResult BuildConntrackGet(std::span<uint8_t> buffer, uint32_t seq, const Tuple& original,
                              uint16_t zone) {
  return Start(buffer, IPCTNL_MSG_CT_GET, seq, original, zone).Finish();
}

DecodeError ParseConntrackSeqAdjustments(std::span<const uint8_t> message,
                                         ConntrackSeqAdjustments* out) {
  *out = ConntrackSeqAdjustments{};
  std::array<const nlattr*, CTA_MAX + 1> tb{};
  const uint16_t type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
  if (DecodeError e = ParseNfnlMessage(message, type, tb); e != DecodeError::kNone) return e;
  if (DecodeError e = ParseSeqAdjustment(tb[CTA_SEQ_ADJ_ORIG], &out->original);
      e != DecodeError::kNone) {
    return e;
  }
  if (DecodeError e = ParseSeqAdjustment(tb[CTA_SEQ_ADJ_REPLY], &out->reply);
      e != DecodeError::kNone) {
    return e;
  }
  if (tb[CTA_HELP] == nullptr) return DecodeError::kNone;
  if (!IsNested(tb[CTA_HELP])) return DecodeError::kBadAttribute;
  std::array<const nlattr*, CTA_HELP_MAX + 1> help{};
  if (DecodeError e = ParseNested(tb[CTA_HELP], help); e != DecodeError::kNone) return e;
  if (help[CTA_HELP_NAME] != nullptr && IsNulString(help[CTA_HELP_NAME], 15)) {
    out->helper_name = std::string(GetString(help[CTA_HELP_NAME]));
  }
  if (help[CTA_HELP_INFO] != nullptr) {
    const auto* info = static_cast<const uint8_t*>(mnl_attr_get_payload(help[CTA_HELP_INFO]));
    out->helper_info.emplace(info, info + mnl_attr_get_payload_len(help[CTA_HELP_INFO]));
  }
  return DecodeError::kNone;
}

}  // namespace ftpalg::kernel
