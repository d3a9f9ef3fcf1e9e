// nfnetlink_cthelper messages (NFNL_SUBSYS_CTHELPER): register, update, look up and remove a
// userspace conntrack helper. Pure builders and parsers; golden-byte tested.
//
// Kernel semantics these follow (net/netfilter/nfnetlink_cthelper.c):
// - Helpers are matched by name AND tuple (l3num, l4 protocol): to serve IPv4 and IPv6 one
//   registers the same name twice, once per family, as `nfct add helper NAME inet tcp` /
//   `inet6 tcp` do (nfnl_cthelper_new/_get/_del compare tuple.src.l3num exactly).
// - NFNL_MSG_CTHELPER_NEW on an unknown name+tuple creates (nfnl_cthelper_create): needs
//   NFCTH_TUPLE, NFCTH_POLICY and NFCTH_PRIV_DATA_LEN, else EINVAL. On a known one it updates
//   (nfnl_cthelper_update), or answers EEXIST when NLM_F_EXCL is set. An update may change queue
//   number, status and the policies' numbers, but not their count or names, nor the private data
//   length (EBUSY for any of those).
// - The helper registry is global (not per network namespace) and needs CAP_NET_ADMIN in the
//   initial user namespace (capable(), not ns_capable()).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/netlink_codec.h"

namespace ftpalg::kernel {

// NF_CT_HELPER_NAME_LEN - 1: helper and policy names longer than this cannot be registered.
inline constexpr size_t kHelperNameMax = 15;

// One expectation class of a helper (the kernel's nf_conntrack_expect_policy). The timeout is what
// an expectation created for a master with this helper lives for (nf_ct_expect_insert), whatever
// CTA_EXPECT_TIMEOUT says.
struct HelperPolicy {
  std::string name;
  uint32_t expect_max = 1;          // 0 means the kernel's maximum (NF_CT_EXPECT_MAX_CNT, 255)
  uint32_t expect_timeout_s = 300;  // nf_conntrack_ftp's value
  auto operator<=>(const HelperPolicy&) const = default;
};

// What identifies a helper registration: name + L3 family (NFPROTO_IPV4 / NFPROTO_IPV6) + L4.
struct HelperKey {
  std::string name;
  uint16_t l3num = 0;
  uint8_t l4proto = 0;
};

struct HelperSpec {
  HelperKey key;
  uint16_t queue_num = 0;
  HelperPolicy policy;  // exactly one expectation class: FTP needs no more
  bool enabled = true;  // NFCTH_STATUS: a disabled userspace helper lets packets pass unqueued
  // NFCTH_PRIV_DATA_LEN: bytes of private data per conntrack (help_info.h); sent on creation only.
  uint32_t priv_data_len = 0;
};

// NEW with NLM_F_CREATE | NLM_F_EXCL: name, tuple, queue number, a policy set of one, private data
// length and status.
BuildResult BuildHelperCreate(std::span<uint8_t> buffer, uint32_t seq, const HelperSpec& spec);
// NEW without NLM_F_EXCL and without NFCTH_PRIV_DATA_LEN: updates an existing helper's queue
// number, policy numbers and status. The policy name must be the registered one.
BuildResult BuildHelperUpdate(std::span<uint8_t> buffer, uint32_t seq, const HelperSpec& spec);
// NEW carrying only name, tuple and NFCTH_STATUS: switches an existing helper on or off.
BuildResult BuildHelperSetStatus(std::span<uint8_t> buffer, uint32_t seq, const HelperKey& key,
                                 bool enabled);
// GET for one helper (answered by one NFNL_MSG_CTHELPER_NEW message, or ENOENT).
BuildResult BuildHelperGet(std::span<uint8_t> buffer, uint32_t seq, const HelperKey& key);
// GET with NLM_F_DUMP: every userspace helper.
BuildResult BuildHelperDump(std::span<uint8_t> buffer, uint32_t seq);
// DEL for one helper.
BuildResult BuildHelperDelete(std::span<uint8_t> buffer, uint32_t seq, const HelperKey& key);

// A helper as the kernel describes it (nfnl_cthelper_fill_info).
struct HelperInfo {
  HelperKey key;
  uint32_t queue_num = 0;
  std::vector<HelperPolicy> policies;
  uint32_t priv_data_len = 0;
  bool enabled = false;
};

// Reads one NFNL_MSG_CTHELPER_NEW message (a GET answer or a dump entry).
DecodeError ParseHelper(std::span<const uint8_t> message, HelperInfo* out);

}  // namespace ftpalg::kernel
