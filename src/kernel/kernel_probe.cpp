#include "kernel/kernel_probe.h"

#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <sys/socket.h>

#include <cerrno>

#include "kernel/cthelper_messages.h"
#include "kernel/kernel_status.h"
#include "kernel/netlink_socket.h"
#include "kernel/queue_messages.h"

namespace ftpalg::kernel {
namespace {

// A queue number no configuration should use, so the probe never touches a live queue (and it
// does not bind it anyway).
constexpr uint16_t kProbeQueue = 65535;

// nfnetlink answers a request for a subsystem that is not there with EINVAL (nfnetlink_rcv_msg
// after its module request fails; seen on 6.18); other kernels or paths give these two.
bool SubsystemMissing(int error) {
  return error == EINVAL || error == EOPNOTSUPP || error == EPROTONOSUPPORT;
}

std::string Unexpected(const std::string& what, const NetlinkSocket::Answer& answer) {
  std::string text = "probing " + what + " failed: " + ErrnoText(answer.error);
  if (!answer.ext_message.empty()) text += ": " + answer.ext_message;
  return text;
}

}  // namespace

KernelSupport ProbeKernel() {
  KernelSupport support;
  NetlinkSocket socket;
  if (int error = socket.Open(std::chrono::seconds(2)); error != 0) {
    support.missing.push_back(error == EPROTONOSUPPORT
                                  ? std::string(kLacksNfnetlink)
                                  : "cannot open a netfilter netlink socket: " + ErrnoText(error));
    return support;
  }
  support.netlink = true;
  std::vector<uint8_t> buffer(256);
  auto ignore = [](std::span<const uint8_t>) {};

  // 1. nfnetlink_cthelper: dump the userspace helpers. nfnetlink refuses everything with EPERM
  //    when the caller lacks CAP_NET_ADMIN, before it looks at the subsystem.
  NetlinkSocket::Answer answer =
      socket.Request(BuildHelperDump(buffer, socket.NextSeq()).message, ignore);
  if (answer.error == EPERM) {
    support.missing.push_back(std::string(kNeedsNetAdmin));
    return support;
  }
  support.permitted = true;
  if (answer.error == 0) {
    support.cthelper = true;
  } else if (SubsystemMissing(answer.error)) {
    support.missing.push_back(std::string(kLacksCthelper));
  } else {
    support.missing.push_back(Unexpected("nfnetlink_cthelper", answer));
  }

  // 2. ctnetlink expectations: dump the IPv4 ones.
  {
    MessageBuilder b(buffer, NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_GET, NLM_F_ACK | NLM_F_DUMP,
                     socket.NextSeq(), AF_INET, 0);
    answer = socket.Request(b.Finish().message, ignore);
  }
  if (answer.error == 0) {
    support.ctnetlink = true;
  } else if (SubsystemMissing(answer.error)) {
    support.missing.push_back(std::string(kLacksCtnetlink));
  } else {
    support.missing.push_back(Unexpected("ctnetlink", answer));
  }

  // 3. nfnetlink_queue and its conntrack glue: set the conntrack flag on an unbound queue. The
  //    flag is checked first (EOPNOTSUPP without glue), then the queue is looked up (ENODEV:
  //    unbound, as expected; EPERM: someone bound it, which still means the flag passed).
  answer = socket.Request(BuildQueueFlags(buffer, socket.NextSeq(), kProbeQueue,
                                          NFQA_CFG_F_CONNTRACK, NFQA_CFG_F_CONNTRACK)
                              .message,
                          ignore);
  switch (answer.error) {
    case ENODEV:
    case EPERM:
    case 0:
      support.queue = true;
      support.queue_conntrack = true;
      break;
    case EOPNOTSUPP:
      support.queue = true;
      support.missing.push_back(std::string(kLacksQueueConntrack));
      break;
    case EINVAL:
    case EPROTONOSUPPORT:
      support.missing.push_back(std::string(kLacksQueue));
      break;
    default:
      support.missing.push_back(Unexpected("nfnetlink_queue", answer));
      break;
  }
  return support;
}

}  // namespace ftpalg::kernel
