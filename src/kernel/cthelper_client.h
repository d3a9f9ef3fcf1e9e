// Registers the daemon as a userspace conntrack helper (nfnetlink_cthelper), once per address
// family, and takes over or refuses an existing registration of the same name.
//
// Who owns a registration: the kernel records none (helpers are not tied to a socket and survive
// the process that made them). What is owned is the queue the helper sends packets to: a queue has
// exactly one bound socket. So the daemon binds its queue first (QueueClient::Open fails if another
// process holds it); Register() then treats an existing helper of the same name as stale and
// updates it in place, unless it points at a *different* queue that some process has bound, which
// means another instance is serving it.
//
// Deleting a helper: on kernels before the 2025/2026 helper refcount rework (Debian 12's 6.1
// among them) NFNL_MSG_CTHELPER_DEL answers EBUSY while rules (xt_CT templates, nft ct helper
// objects) reference the helper; newer kernels delete it anyway and strip it from every conntrack
// that has it. Either way deleting is rarely what a restart wants: on shutdown the daemon should
// Disable() (packets then pass unqueued) and leave the registration for the next start.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernel/cthelper_messages.h"
#include "kernel/kernel_status.h"
#include "kernel/netlink_socket.h"

namespace ftpalg::kernel {

struct HelperRegistration {
  std::string name = "ftp-alg";  // at most 15 characters; must not be a kernel helper's name
  uint16_t queue_num = 0;
  HelperPolicy policy;  // policy.name empty: the helper's name
  // NFPROTO_IPV4 (2) and NFPROTO_IPV6 (10): the kernel matches helpers by family, so a rule in an
  // ip6 table finds only the IPv6 registration. (Numbers, not the macros: <linux/netfilter.h>
  // drags in <linux/in.h>, which clashes with <netinet/in.h> when included first.)
  std::vector<uint16_t> families = {2, 10};
  // Private data per conntrack (help_info.h). Only a new registration gets it: an existing one
  // keeps the length it was created with (an update cannot change it), see private_data_length().
  uint32_t priv_data_len = 0;
};

class CthelperClient {
 public:
  KernelStatus Open();

  // Creates or updates the registration for every family: queue number, policy, status enabled.
  KernelStatus Register(const HelperRegistration& registration);
  // Switches every family's registration on or off (NFCTH_STATUS).
  KernelStatus SetEnabled(const HelperRegistration& registration, bool enabled);
  // Deletes every family's registration; see the header comment before using it.
  KernelStatus Unregister(const HelperRegistration& registration);

  // After Register(): the smallest private data length of the registrations (an older one taken
  // over in place may have none).
  uint32_t private_data_length() const { return private_data_length_; }

  // One registration; error ENOENT when there is none.
  KernelStatus Get(const HelperKey& key, HelperInfo* out);
  // Every userspace helper the kernel knows.
  KernelStatus List(std::vector<HelperInfo>* out);

 private:
  KernelStatus RegisterOne(const HelperSpec& spec);
  KernelStatus Create(const HelperSpec& spec);
  NetlinkSocket::Answer Send(const BuildResult& built);

  NetlinkSocket socket_;
  uint32_t private_data_length_ = 0;
  std::vector<uint8_t> buffer_ = std::vector<uint8_t>(1024);
};

// "ftp-alg (ipv4/tcp)": how messages name one registration.
std::string DescribeHelper(const HelperKey& key);

}  // namespace ftpalg::kernel
