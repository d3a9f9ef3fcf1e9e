// The replay tool's stand-in for conntrack: which packets belong to a control connection, in which
// direction, and how the gateway translates it, from a NAT description given on the command line.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ftpalg/expectation.h"
#include "ftpalg/ip_address.h"

namespace ftpalg {

// "--snat 192.0.2.0/24=198.51.100.1": clients inside the prefix leave as the public address
// (masquerade keeps the source port when it can, so the description does too).
struct SnatRule {
  IpAddress inside_network;
  unsigned prefix_length = 0;
  IpAddress public_address;
};

// "--dnat 198.51.100.1:21=192.0.2.10:21" (IPv6: "[2001:db8:2::1]:21=[2001:db8:1::10]:21"): an
// inside server published on a public address.
struct DnatRule {
  Endpoint published;
  Endpoint inside;
};

// Parse failures return nullopt with a one-line reason in *error.
std::optional<SnatRule> ParseSnatRule(std::string_view text, std::string* error);
std::optional<DnatRule> ParseDnatRule(std::string_view text, std::string* error);
// "192.0.2.1:21" or "[2001:db8::1]:21".
std::optional<Endpoint> ParseEndpoint(std::string_view text);

struct ClassifiedPacket {
  ControlConnection control;
  Direction direction = Direction::kOriginal;
};

class NatDescription {
 public:
  NatDescription(std::vector<SnatRule> snat, std::vector<DnatRule> dnat,
                 std::vector<uint16_t> control_ports);

  bool IsControlPort(uint16_t port) const;

  // The control connection a packet belongs to (as conntrack would name it) and the packet's
  // direction; nullopt when neither port is a control port. The capture may have been taken on
  // either side of the gateway: a server seen at either the published or the inside endpoint of
  // a DNAT rule is that rule's server.
  std::optional<ClassifiedPacket> Classify(const Tuple& packet) const;

 private:
  std::vector<SnatRule> snat_;
  std::vector<DnatRule> dnat_;
  std::vector<uint16_t> control_ports_;
};

}  // namespace ftpalg
