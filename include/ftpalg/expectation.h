// The expectation for a predicted data connection: what the engine asks the kernel (ctnetlink on a
// live gateway) or the replay's simulated table to admit and translate.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "ftpalg/ip_address.h"

namespace ftpalg {

// Which direction of the control connection a conntrack tuple or packet belongs to
// (IP_CT_DIR_ORIGINAL = 0: client to server as first seen, IP_CT_DIR_REPLY = 1).
enum class Direction : uint8_t { kOriginal = 0, kReply = 1 };
inline Direction Opposite(Direction d) {
  return d == Direction::kOriginal ? Direction::kReply : Direction::kOriginal;
}

// What conntrack knows about a control connection: the tuple of each direction as the kernel
// stores them. Without NAT, reply == original.Reversed(). With SNAT (masquerade) the reply's dst is
// the gateway's public address; with DNAT the reply's src is the inside server.
struct ControlConnection {
  Tuple original;             // client -> server, as the client sent it
  Tuple reply;                // server -> client, as the server sends it
  uint32_t conntrack_id = 0;  // 0 when not known (replay)
  // The conntrack zone (CTA_ZONE) it lives in; 0, the default, in replay. Tuples are unique per
  // zone only, so the expectations for its data connections must name the same zone.
  uint16_t zone = 0;
  bool Translated() const { return !(reply == original.Reversed()); }
};

// The announcement form that caused an expectation (one row each in announcement_forms.h).
enum class ExpectCause : uint8_t { kPort, kEprt, k227, k229, kLprt, k228 };
std::string_view ExpectCauseName(ExpectCause cause);  // "PORT", "EPRT", "227", "229", "LPRT", "228"

struct Expectation {
  Tuple master;                                       // the control connection's original tuple
  Direction master_direction = Direction::kOriginal;  // direction of the line that caused it
  // The data connection's first packet as it will reach the gateway: from `source` (any port) to
  // `destination`. `source_any_address` widens the source to any address (loose policy).
  IpAddress source;
  bool source_any_address = false;
  Endpoint destination;
  // For a translated data connection: where the gateway must send it (the inside endpoint), and
  // the conntrack direction of the NAT (RFC-free kernel detail: the kernel's nf_nat_ftp sets the
  // opposite of the direction of the line that announced the port).
  std::optional<Endpoint> nat_to;
  Direction nat_direction = Direction::kReply;
  ExpectCause cause = ExpectCause::kPort;
  uint16_t zone = 0;  // the master's conntrack zone (ControlConnection::zone)

  Family family() const { return destination.addr.family; }
};

}  // namespace ftpalg
