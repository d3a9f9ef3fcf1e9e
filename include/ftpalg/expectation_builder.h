// Builds the expectation for a data connection announced on a control connection. One place for
// the rules the kernel's nf_conntrack_ftp/nf_nat_ftp follow, written from conntrack's point of
// view (ControlConnection's two tuples). The text that announces it after NAT is each form's
// formatter (announcement_forms.h).
#pragma once

#include <optional>
#include <string>

#include "ftpalg/expectation.h"

namespace ftpalg {

// Who announced the data endpoint: the client (PORT/EPRT/LPRT, original direction) or the
// server (227/229/228, reply direction); the announcement forms table says which.
Direction AnnouncerDirection(ExpectCause cause);

// The address the announcer has on its own side of the gateway: what a legitimate PORT/EPRT/227
// names (RFC 2577 3: anything else is a bounce). Client: original.src; server: reply.src.
IpAddress AnnouncerAddress(const ControlConnection& control, Direction announcer);

// The address the peer must connect to, on the peer's side of the gateway: the client's public
// address (reply.dst) for PORT/EPRT, the server's published address (original.dst) for 227/229.
IpAddress AnnouncedAddressAfterNat(const ControlConnection& control, Direction announcer);

// True when the announcer's side is translated, so the line must be rewritten and the data
// connection translated back to `announced`.
bool AnnouncementNeedsNat(const ControlConnection& control, Direction announcer);

// The expectation for a data connection that the peer opens to `outside_port` on
// AnnouncedAddressAfterNat(); when the control connection is translated, the data connection is
// translated too and sent on to `announced` (the kernel's nf_nat_follow_master with the NAT
// direction opposite to the announcer's, as nf_nat_ftp does).
Expectation BuildExpectation(const ControlConnection& control, ExpectCause cause,
                             const Endpoint& announced, uint16_t outside_port);

}  // namespace ftpalg
