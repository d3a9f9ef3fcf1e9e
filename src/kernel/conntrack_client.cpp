#include "kernel/conntrack_client.h"

#include <cerrno>
#include <string>

namespace ftpalg::kernel {
namespace {

std::string Describe(const std::string& what, const NetlinkSocket::Answer& answer) {
  if (answer.error == EPERM) return what + ": " + std::string(kNeedsNetAdmin);
  if (answer.error == ENOENT) return what + ": the conntrack is gone";
  std::string text = what + ": " + ErrnoText(answer.error);
  if (!answer.ext_message.empty()) text += ": " + answer.ext_message;
  return text;
}

std::string TupleText(const Tuple& tuple) {
  return tuple.src.ToString() + " -> " + tuple.dst.ToString();
}

}  // namespace

KernelStatus ConntrackClient::Open() {
  if (int error = socket_.Open(); error != 0) {
    if (error == EPROTONOSUPPORT) return KernelStatus::Error(error, std::string(kLacksNfnetlink));
    return KernelStatus::Error(error,
                               "cannot open a netfilter netlink socket: " + ErrnoText(error));
  }
  return KernelStatus::Ok();
}

KernelStatus ConntrackClient::SetSeqAdjustment(const Tuple& original, uint16_t zone,
                                               Direction direction, const SeqAdjustment& adjustment,
                                               const HelpInfoUpdate* help) {
  BuildResult built = BuildConntrackSeqAdjust(buffer_, socket_.NextSeq(), original, zone, direction,
                                              adjustment, help);
  if (!built.ok()) return KernelStatus::Error(EINVAL, "cannot encode the sequence adjustment");
  NetlinkSocket::Answer answer = socket_.Request(built.message);
  if (answer.error == 0) return KernelStatus::Ok();
  return KernelStatus::Error(answer.error,
                             Describe("sequence adjustment of " + TupleText(original), answer));
}

KernelStatus ConntrackClient::SetHelpInfo(const Tuple& original, uint16_t zone,
                                          const HelpInfoUpdate& help) {
  BuildResult built = BuildConntrackHelpInfo(buffer_, socket_.NextSeq(), original, zone, help);
  if (!built.ok()) return KernelStatus::Error(EINVAL, "cannot encode the helper's private data");
  NetlinkSocket::Answer answer = socket_.Request(built.message);
  if (answer.error == 0) return KernelStatus::Ok();
  return KernelStatus::Error(answer.error,
                             Describe("helper private data of " + TupleText(original), answer));
}

KernelStatus ConntrackClient::GetSeqAdjustments(const Tuple& original, uint16_t zone,
                                                ConntrackSeqAdjustments* out) {
  *out = ConntrackSeqAdjustments{};
  BuildResult built = BuildConntrackGet(buffer_, socket_.NextSeq(), original, zone);
  if (!built.ok()) return KernelStatus::Error(EINVAL, "cannot encode the conntrack query");
  bool unreadable = false;
  NetlinkSocket::Answer answer =
      socket_.Request(built.message, [&](std::span<const uint8_t> message) {
        unreadable = ParseConntrackSeqAdjustments(message, out) != DecodeError::kNone;
      });
  if (answer.error != 0) {
    return KernelStatus::Error(answer.error, Describe("reading " + TupleText(original), answer));
  }
  if (unreadable) return KernelStatus::Error(EBADMSG, "reading " + TupleText(original));
  return KernelStatus::Ok();
}

}  // namespace ftpalg::kernel
