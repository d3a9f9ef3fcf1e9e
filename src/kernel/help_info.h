// The userspace helper's private data of a conntrack (CTA_HELP {CTA_HELP_NAME, CTA_HELP_INFO}):
// where ftp-algd keeps each session's snapshot (ftpalg/session_snapshot.h) so that a restarted
// daemon resumes it.
//
// Kernel semantics (net/netfilter, 6.1; nfnetlink_cthelper.c, nf_conntrack_netlink.c):
// - The area is helper->data_len bytes (NFCTH_PRIV_DATA_LEN at creation, at most the 32 bytes of
//   nf_conn_help's data, else ENOMEM), zeroed when the helper is attached to the conntrack.
// - Reading: every queued packet's NFQA_CT carries CTA_HELP {CTA_HELP_NAME, CTA_HELP_INFO}
//   (nfnl_cthelper_to_nlattr); CTA_HELP_INFO is absent when the helper was created with length 0.
// - Writing: CTA_HELP {CTA_HELP_NAME, CTA_HELP_INFO} in a verdict's NFQA_CT
//   (ctnetlink_glue_parse_ct) or in an IPCTNL_MSG_CT_NEW update (ctnetlink_change_conntrack); both
//   go to ctnetlink_change_helper, which calls the helper's from_nlattr only when the name is the
//   conntrack's own helper (another name: EBUSY, an unknown one: EOPNOTSUPP). from_nlattr copies
//   the attribute (nla_memcpy: at most 32 bytes, the rest zeroed); for a helper created with
//   length 0 it fails and ctnetlink_change_helper ignores that: the write is silently lost. The
//   daemon therefore checks the registered length at start.
// - Observed on 6.1: the verdict path stores the area (faults.sh fault-restart-sessions resumes
//   from it) and so does an IPCTNL_MSG_CT_NEW update (tests/vm/netlink-live.sh). An area given
//   when a conntrack is created over ctnetlink is lost: ctnetlink_create_conntrack calls
//   from_nlattr before it sets help->helper. The daemon writes with verdicts only.
// - A verdict must not carry NFQA_CT when its payload length changed (conntrack_messages.h: the
//   kernel's own sequence adjustment is wrong for IPv6); such packets get a ctnetlink update
//   anyway, which carries the help info instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "kernel/netlink_codec.h"

namespace ftpalg::kernel {

// The private data length ftp-algd registers its helper with (the kernel's maximum in 6.x).
inline constexpr uint32_t kHelperPrivateDataLength = 32;

struct HelpInfoUpdate {
  std::string_view helper_name;   // the conntrack's helper (at most 15 characters)
  std::span<const uint8_t> info;  // at most kHelperPrivateDataLength bytes
};

// Appends CTA_HELP {CTA_HELP_NAME, CTA_HELP_INFO}; kBadInput for a name or data too long.
void PutHelpInfo(MessageBuilder& b, const HelpInfoUpdate& update);

// The most bytes PutHelpInfo adds.
size_t MaxHelpInfoSize();

}  // namespace ftpalg::kernel
