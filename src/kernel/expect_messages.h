// ctnetlink expectation messages (NFNL_SUBSYS_CTNETLINK_EXP): create, delete, flush and list the
// expectations for FTP data connections. Pure builders and parsers; golden-byte tested.
//
// Kernel semantics these follow (net/netfilter/nf_conntrack_netlink.c, 6.x):
// - IPCTNL_MSG_EXP_NEW needs CTA_EXPECT_TUPLE, CTA_EXPECT_MASK and CTA_EXPECT_MASTER, each a full
//   tuple (both addresses, protocol, both ports; ctnetlink_parse_tuple with CTA_FILTER_FLAG(ALL)).
//   Of the mask only the source address and port are used (ctnetlink_alloc_expect); the
//   destination always matches exactly.
// - The master is looked up by its original tuple (nf_conntrack_find_get on CTA_EXPECT_MASTER) in
//   the zone CTA_EXPECT_ZONE names. It must carry a helper: without the help extension the answer
//   is EOPNOTSUPP (ctnetlink_alloc_expect); the expectation's lifetime and the per-master limit
//   come from that helper's policy (nf_ct_expect_insert), so CTA_EXPECT_TIMEOUT is not sent.
// - CTA_EXPECT_HELP_NAME would attach a helper to the *data* connection; it is not sent, so data
//   connections are never queued to the daemon.
// - CTA_EXPECT_NAT {CTA_EXPECT_NAT_DIR, CTA_EXPECT_NAT_TUPLE} (ctnetlink_parse_expect_nat) stores
//   the NAT tuple's *source* address and port as exp->saved_addr / saved_proto; the tuple must
//   still hold both addresses and ports. With CTA_EXPECT_FN "nat-follow-master" the kernel's
//   nf_nat_follow_master then maps the data connection: SNAT to the master's
//   tuplehash[!dir].dst address, DNAT to the master's tuplehash[!dir].src address and the saved
//   port. Note the DNAT *address* comes from the master, not from saved_addr.
// - Answers to EXP_NEW with NLM_F_CREATE | NLM_F_EXCL: EEXIST when an expectation matching the
//   tuple exists (ctnetlink_new_expect; checked before the master is even looked up, so it may
//   belong to another master), EBUSY when one overlaps it (__nf_ct_expect_check), EMFILE when the
//   expectation table is full, ENOENT when the master is gone. (All checked against 6.18 by
//   netlink_expect_test's live test.)
// - IPCTNL_MSG_EXP_DELETE removes one expectation by CTA_EXPECT_TUPLE, or every expectation whose
//   master's helper has the name in CTA_EXPECT_HELP_NAME (expect_iter_name), or all. There is no
//   delete by master; GET with NLM_F_DUMP and CTA_EXPECT_MASTER lists a master's expectations.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ftpalg/expectation.h"
#include "kernel/netlink_codec.h"

namespace ftpalg::kernel {

// The expectfn nf_nat_core registers (nf_ct_helper_expectfn "nat-follow-master").
inline constexpr char kNatFollowMaster[] = "nat-follow-master";

// IPCTNL_MSG_EXP_NEW with NLM_F_CREATE | NLM_F_EXCL for `expectation` (TCP). `zone` is the
// master's conntrack zone (0, the default, is not sent). Fails with kBadInput when the families of
// master, source, destination and NAT target differ.
BuildResult BuildExpectCreate(std::span<uint8_t> buffer, uint32_t seq,
                              const Expectation& expectation, uint16_t zone = 0);
// IPCTNL_MSG_EXP_DELETE of the expectation with `expectation`'s tuple.
BuildResult BuildExpectDelete(std::span<uint8_t> buffer, uint32_t seq,
                              const Expectation& expectation, uint16_t zone = 0);
// IPCTNL_MSG_EXP_DELETE of every expectation whose master carries the helper `helper_name`.
BuildResult BuildExpectFlushHelper(std::span<uint8_t> buffer, uint32_t seq,
                                   std::string_view helper_name);
// IPCTNL_MSG_EXP_GET with NLM_F_DUMP and CTA_EXPECT_MASTER: the expectations of one master.
BuildResult BuildExpectDumpMaster(std::span<uint8_t> buffer, uint32_t seq, const Tuple& master,
                                  uint16_t zone = 0);

// An expectation message as ctnetlink sends it (ctnetlink_exp_fill_info), or as built above.
struct ParsedExpectation {
  uint8_t family = 0;  // nfgen_family
  CtTuple master;
  CtTuple tuple;
  CtTuple mask;
  std::optional<uint32_t> timeout_s;
  std::optional<uint32_t> id;
  std::optional<uint32_t> flags;
  std::optional<uint32_t> expect_class;
  std::optional<uint16_t> zone;
  std::string helper_name;  // CTA_EXPECT_HELP_NAME: the helper for the expected connection
  std::string function;     // CTA_EXPECT_FN
  struct Nat {
    uint32_t direction = 0;
    CtTuple tuple;
  };
  std::optional<Nat> nat;
};

// Reads one IPCTNL_MSG_EXP_NEW message (a dump entry, a GET answer, an event, or our request).
DecodeError ParseExpectation(std::span<const uint8_t> message, ParsedExpectation* out);

// The engine's view of a parsed expectation: master, source (any address when the mask's source
// address is zero), destination, NAT target and direction. master_direction and cause are not on
// the wire and stay at their defaults.
Expectation ToExpectation(const ParsedExpectation& parsed);

}  // namespace ftpalg::kernel
