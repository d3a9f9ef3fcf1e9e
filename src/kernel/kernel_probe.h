// What the running kernel (and this process) can do for the daemon, found out by asking: each
// capability is tried with a harmless request, and what is missing comes back as the one-line
// explanations of kernel_status.h. The daemon runs this at start and refuses to run, naming the
// missing pieces, rather than failing obscurely later.
#pragma once

#include <string>
#include <vector>

namespace ftpalg::kernel {

struct KernelSupport {
  bool netlink = false;              // a NETLINK_NETFILTER socket could be opened
  bool permitted = false;            // nfnetlink accepted our requests (CAP_NET_ADMIN)
  bool cthelper = false;             // nfnetlink_cthelper answers
  bool ctnetlink = false;            // ctnetlink's expectation subsystem answers
  bool queue = false;                // nfnetlink_queue answers
  bool queue_conntrack = false;      // nfnetlink_queue accepts NFQA_CFG_F_CONNTRACK (glue)
  std::vector<std::string> missing;  // one line per missing piece, in the order probed

  bool ok() const { return missing.empty(); }
};

// Probes without side effects: a cthelper dump, an expectation dump (of one address family), and
// a queue flags message to a queue nobody should bind (65535) without binding it (the kernel
// checks flags before it looks the queue up: EOPNOTSUPP means no glue, ENODEV means fine).
KernelSupport ProbeKernel();

}  // namespace ftpalg::kernel
