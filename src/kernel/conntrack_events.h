// ctnetlink conntrack events (NFNLGRP_CONNTRACK_NEW / _UPDATE / _DESTROY): pure decoding of one
// event message. The transfer log reads destroy events of data connections.
//
// Kernel semantics (nf_conntrack_netlink.c, ctnetlink_conntrack_event, 6.1): an event carries
// CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_ID, CTA_STATUS (IPS_* bits; IPS_EXPECTED for a connection
// created from an expectation), CTA_ZONE when not the default; a destroy event
// (IPCTNL_MSG_CT_DELETE) adds CTA_COUNTERS_ORIG/REPLY {CTA_COUNTERS_PACKETS, CTA_COUNTERS_BYTES}
// only where the conntrack has the accounting extension (net.netfilter.nf_conntrack_acct=1 when
// it was created), and CTA_TIMESTAMP only with nf_conntrack_timestamp=1. Bytes are whole IP
// packets as conntrack saw them. A destroy event carries no CTA_TUPLE_MASTER.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "ftpalg/expectation.h"
#include "kernel/netlink_codec.h"

namespace ftpalg::kernel {

struct ConntrackCounters {
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

struct ConntrackEvent {
  bool destroy = false;          // IPCTNL_MSG_CT_DELETE (else IPCTNL_MSG_CT_NEW: new or update)
  ControlConnection connection;  // tuples, CTA_ID, CTA_ZONE
  uint8_t protonum = 0;
  std::optional<uint32_t> status;  // IPS_* bits
  // Indexed by Direction; absent without accounting.
  std::array<std::optional<ConntrackCounters>, 2> counters;
};

// Reads one ctnetlink conntrack event message.
DecodeError ParseConntrackEvent(std::span<const uint8_t> message, ConntrackEvent* out);

}  // namespace ftpalg::kernel
