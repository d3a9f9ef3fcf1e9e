// ctnetlink conntrack messages (NFNL_SUBSYS_CTNETLINK): the sequence adjustment of a control
// connection after a rewrite changed a segment's length, and reading it back. Pure builders and
// parsers; golden-byte tested.
//
// Why the daemon sets the adjustment itself (net/netfilter, 6.1 to 6.18): a queue verdict that
// carries NFQA_CT and a payload of another length makes the kernel record the change through
// ctnetlink_glue_seqadj() -> nf_ct_tcp_seqadj_set(), which finds the TCP header at
// skb_network_header(skb) + ip_hdrlen(skb) whatever the family. For IPv6 that reads the IPv6
// header's payload length, next header and hop limit as the "sequence number", so the correction
// position is garbage: depending on how the real sequence numbers fall, the rewritten segment
// itself leaves shifted (the receiver sees a hole and stalls) or later ones are not shifted. Found
// live (issue 9: an IPv6 EPRT rewrite that changed the line's length stalled the session).
// ctnetlink's own path (ctnetlink_change_seq_adj, CTA_SEQ_ADJ_ORIG/REPLY) takes the position from
// the message, works for both families, and reports the change as an IPCT_SEQADJ event, which
// conntrackd can sync to a backup gateway.
//
// Kernel semantics these follow (nf_conntrack_netlink.c, 6.x):
// - IPCTNL_MSG_CT_NEW without NLM_F_CREATE updates the conntrack found by CTA_TUPLE_ORIG in the
//   zone CTA_ZONE names (ENOENT when there is none); NLM_F_EXCL would make it EEXIST, so it is not
//   sent. ctnetlink_change_conntrack refuses NAT and master attributes on an update; none are sent.
// - CTA_SEQ_ADJ_ORIG / CTA_SEQ_ADJ_REPLY need all three of CTA_SEQADJ_CORRECTION_POS,
//   CTA_SEQADJ_OFFSET_BEFORE and CTA_SEQADJ_OFFSET_AFTER (be32 each, change_seq_adj: EINVAL
//   otherwise) and set IPS_SEQ_ADJUST. A conntrack without the seqadj extension (it is added when
//   NAT is set up for a helped connection) ignores them silently.
// - nf_ct_seq_adjust() then shifts a segment of that direction by offset_after when its sequence
//   number is after correction_pos, else by offset_before; acknowledgements and SACK blocks of the
//   other direction are mapped back the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ftpalg/expectation.h"
#include "ftpalg/seq_shift.h"
#include "kernel/help_info.h"
#include "kernel/netlink_codec.h"

namespace ftpalg::kernel {

// IPCTNL_MSG_CT_NEW (update only, acknowledged) of the conntrack whose original tuple is
// `original` (TCP), setting the sequence adjustment of `direction` to `adjustment`. `zone` 0 (the
// default) is not sent. `help` (non-null) also writes the helper's private data (help_info.h).
BuildResult BuildConntrackSeqAdjust(std::span<uint8_t> buffer, uint32_t seq, const Tuple& original,
                                    uint16_t zone, Direction direction,
                                    const SeqAdjustment& adjustment,
                                    const HelpInfoUpdate* help = nullptr);
// IPCTNL_MSG_CT_NEW (update only, acknowledged) writing only the helper's private data.
BuildResult BuildConntrackHelpInfo(std::span<uint8_t> buffer, uint32_t seq, const Tuple& original,
                                   uint16_t zone, const HelpInfoUpdate& help);

// IPCTNL_MSG_CT_GET (acknowledged) of one conntrack by its original tuple (TCP).
BuildResult BuildConntrackGet(std::span<uint8_t> buffer, uint32_t seq, const Tuple& original,
                              uint16_t zone);

// The sequence adjustments a conntrack message carries (ctnetlink_dump_ct_seq_adj: present only
// while IPS_SEQ_ADJUST is set).
struct ConntrackSeqAdjustments {
  std::optional<SeqAdjustment> original;
  std::optional<SeqAdjustment> reply;
  // CTA_HELP/CTA_HELP_NAME and CTA_HELP_INFO (tests, diagnostics).
  std::string helper_name;
  std::optional<std::vector<uint8_t>> helper_info;
};
// Reads one CTA_SEQ_ADJ_ORIG/REPLY nest (nullptr: absent, *out unchanged).
DecodeError ParseSeqAdjustmentNest(const nlattr* nest, std::optional<SeqAdjustment>* out);
// Reads them from an IPCTNL_MSG_CT_NEW message (a GET answer, a dump entry or an event).
DecodeError ParseConntrackSeqAdjustments(std::span<const uint8_t> message,
                                         ConntrackSeqAdjustments* out);

}  // namespace ftpalg::kernel
