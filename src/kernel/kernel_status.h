// Outcomes of talking to the kernel, and the one-line explanations the daemon prints when the
// kernel or the process lacks something. Shared by every socket adapter in src/kernel.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ftpalg::kernel {

// The result of an operation on a netlink socket: errno (0 = success) and a one-line message that
// says what failed and, where known, what to do about it.
struct KernelStatus {
  int error = 0;
  std::string message;

  bool ok() const { return error == 0; }
  static KernelStatus Ok() { return {}; }
  static KernelStatus Error(int error, std::string message) { return {error, std::move(message)}; }
};

// One-line explanations, kept in one place so that the probe, the clients and the documentation
// say the same thing.
inline constexpr std::string_view kNeedsNetAdmin = "needs root / CAP_NET_ADMIN";
inline constexpr std::string_view kLacksNfnetlink =
    "kernel lacks nfnetlink (CONFIG_NETFILTER_NETLINK, module nfnetlink)";
inline constexpr std::string_view kLacksCthelper =
    "kernel lacks nfnetlink_cthelper (CONFIG_NF_CT_NETLINK_HELPER, module nfnetlink_cthelper): "
    "userspace conntrack helpers cannot be registered";
inline constexpr std::string_view kLacksCtnetlink =
    "kernel lacks ctnetlink (CONFIG_NF_CT_NETLINK, module nf_conntrack_netlink): expectations "
    "cannot be installed";
inline constexpr std::string_view kLacksQueue =
    "kernel lacks nfnetlink_queue (CONFIG_NETFILTER_NETLINK_QUEUE, module nfnetlink_queue)";
inline constexpr std::string_view kLacksQueueConntrack =
    "kernel lacks conntrack support in nfnetlink_queue (CONFIG_NETFILTER_NETLINK_GLUE_CT): queued "
    "packets carry no conntrack and rewrites that change a length break the TCP stream";

// "EPERM (Operation not permitted)"; the number when glibc has no name for it.
std::string ErrnoText(int error);

// True when the calling thread has CAP_NET_ADMIN in its effective set (capget, not geteuid: a
// root process can lack it in a container, a non-root one can hold it).
bool HasNetAdmin();

// The netlink port id bound to `queue_num` in this network namespace, from
// /proc/net/netfilter/nfnetlink_queue; nullopt when the queue is unbound or the file unreadable.
std::optional<uint32_t> QueueOwnerPortid(uint16_t queue_num);
// Parses that file's text (one line per bound queue: "queue portid total mode range ...").
std::optional<uint32_t> QueueOwnerPortidFromText(std::string_view proc_text, uint16_t queue_num);

}  // namespace ftpalg::kernel
