#include "kernel/expectation_client.h"

#include <cerrno>

namespace ftpalg::kernel {
namespace {

std::string TupleText(const Tuple& tuple) {
  return tuple.src.ToString() + " -> " + tuple.dst.ToString();
}

std::string Describe(const std::string& what, const NetlinkSocket::Answer& answer) {
  if (answer.error == EPERM) return what + ": " + std::string(kNeedsNetAdmin);
  std::string text = what + ": " + ErrnoText(answer.error);
  if (!answer.ext_message.empty()) text += ": " + answer.ext_message;
  return text;
}

// ctnetlink lives in the conntrack_expect nfnetlink subsystem; its absence reads as EINVAL from
// nfnetlink (and the messages here are well-formed).
bool LacksSubsystem(int error) { return error == EINVAL || error == EPROTONOSUPPORT; }

}  // namespace

std::string_view ExpectOutcomeName(ExpectOutcome outcome) {
  switch (outcome) {
    case ExpectOutcome::kCreated:
      return "created";
    case ExpectOutcome::kExists:
      return "exists";
    case ExpectOutcome::kClash:
      return "clash";
    case ExpectOutcome::kNoMaster:
      return "no-master";
    case ExpectOutcome::kMasterUnhelped:
      return "master-unhelped";
    case ExpectOutcome::kTableFull:
      return "table-full";
    case ExpectOutcome::kFailed:
      return "failed";
  }
  return "unknown";
}

KernelStatus ExpectationClient::Open() {
  if (int error = socket_.Open(); error != 0) {
    if (error == EPROTONOSUPPORT) return KernelStatus::Error(error, std::string(kLacksNfnetlink));
    return KernelStatus::Error(error,
                               "cannot open a netfilter netlink socket: " + ErrnoText(error));
  }
  return KernelStatus::Ok();
}

ExpectResult ExpectationClient::Create(const Expectation& expectation, uint16_t zone) {
  BuildResult built = BuildExpectCreate(buffer_, socket_.NextSeq(), expectation, zone);
  if (!built.ok()) {
    return {ExpectOutcome::kFailed, EINVAL,
            "cannot encode expectation: " + std::string(BuildErrorName(built.error))};
  }
  NetlinkSocket::Answer answer = socket_.Request(built.message);
  std::string what = "expectation for " + expectation.destination.ToString() + " (master " +
                     TupleText(expectation.master) + ")";
  switch (answer.error) {
    case 0:
      return {ExpectOutcome::kCreated, 0, {}};
    case EEXIST:
      return {ExpectOutcome::kExists, EEXIST, what + ": already expected"};
    case EBUSY:
    case EALREADY:  // newer kernels: the same tuple expected for another master or class
      return {ExpectOutcome::kClash, answer.error, what + ": clashes with another expectation"};
    case ENOENT:
      return {ExpectOutcome::kNoMaster, ENOENT, what + ": the master conntrack is gone"};
    case EOPNOTSUPP:
    case ESHUTDOWN:
      return {ExpectOutcome::kMasterUnhelped, answer.error,
              what +
                  ": the master conntrack has no helper; the rules must attach the daemon's "
                  "helper to control connections (nft ct helper / iptables -j CT --helper)"};
    case EMFILE:
      return {ExpectOutcome::kTableFull, EMFILE,
              what +
                  ": expectation table full (net.netfilter.nf_conntrack_expect_max) or the "
                  "helper policy's limit reached"};
    default:
      if (LacksSubsystem(answer.error) && answer.ext_message.empty()) {
        return {ExpectOutcome::kFailed, answer.error, what + ": " + std::string(kLacksCtnetlink)};
      }
      return {ExpectOutcome::kFailed, answer.error, Describe(what, answer)};
  }
}

KernelStatus ExpectationClient::Delete(const Expectation& expectation, uint16_t zone) {
  BuildResult built = BuildExpectDelete(buffer_, socket_.NextSeq(), expectation, zone);
  if (!built.ok()) return KernelStatus::Error(EINVAL, "cannot encode expectation deletion");
  NetlinkSocket::Answer answer = socket_.Request(built.message);
  if (answer.error == 0) return KernelStatus::Ok();
  std::string what = "deleting expectation for " + expectation.destination.ToString();
  if (answer.error == ENOENT) return KernelStatus::Error(ENOENT, what + ": already gone");
  return KernelStatus::Error(answer.error, Describe(what, answer));
}

KernelStatus ExpectationClient::FlushHelper(std::string_view helper_name) {
  BuildResult built = BuildExpectFlushHelper(buffer_, socket_.NextSeq(), helper_name);
  if (!built.ok()) return KernelStatus::Error(EINVAL, "cannot encode expectation flush");
  NetlinkSocket::Answer answer = socket_.Request(built.message);
  if (answer.error == 0) return KernelStatus::Ok();
  std::string what = "deleting expectations of helper '" + std::string(helper_name) + "'";
  if (LacksSubsystem(answer.error) && answer.ext_message.empty()) {
    return KernelStatus::Error(answer.error, what + ": " + std::string(kLacksCtnetlink));
  }
  return KernelStatus::Error(answer.error, Describe(what, answer));
}

KernelStatus ExpectationClient::ListForMaster(const Tuple& master, uint16_t zone,
                                              std::vector<ParsedExpectation>* out) {
  out->clear();
  BuildResult built = BuildExpectDumpMaster(buffer_, socket_.NextSeq(), master, zone);
  if (!built.ok()) return KernelStatus::Error(EINVAL, "cannot encode expectation dump");
  bool unreadable = false;
  NetlinkSocket::Answer answer =
      socket_.Request(built.message, [&](std::span<const uint8_t> message) {
        ParsedExpectation parsed;
        if (ParseExpectation(message, &parsed) == DecodeError::kNone) {
          out->push_back(std::move(parsed));
        } else {
          unreadable = true;
        }
      });
  std::string what = "listing expectations of " + TupleText(master);
  // The master being gone is an empty list, not a failure.
  if (answer.error == ENOENT) return KernelStatus::Ok();
  if (answer.error != 0) return KernelStatus::Error(answer.error, Describe(what, answer));
  if (unreadable) return KernelStatus::Error(EBADMSG, what + ": unreadable answer");
  return KernelStatus::Ok();
}

}  // namespace ftpalg::kernel
