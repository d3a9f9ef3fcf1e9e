#include "ftpalg/nat_description.h"

#include <algorithm>
#include <charconv>

namespace ftpalg {
namespace {

std::optional<uint16_t> ParsePort(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

}  // namespace

std::optional<Endpoint> ParseEndpoint(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto addr = IpAddress::Parse(host);
  auto port_number = ParsePort(port);
  if (!addr || !port_number) return std::nullopt;
  return Endpoint{*addr, *port_number};
}

std::optional<SnatRule> ParseSnatRule(std::string_view text, std::string* error) {
  size_t equals = text.find('=');
  size_t slash = text.find('/');
  if (equals == std::string_view::npos || slash == std::string_view::npos || slash > equals) {
    *error = "--snat wants PREFIX/LENGTH=PUBLIC, for example 192.0.2.0/24=198.51.100.1";
    return std::nullopt;
  }
  auto network = IpAddress::Parse(text.substr(0, slash));
  unsigned length = 0;
  std::string_view length_text = text.substr(slash + 1, equals - slash - 1);
  auto [end, ec] =
      std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
  auto public_address = IpAddress::Parse(text.substr(equals + 1));
  if (!network || !public_address || ec != std::errc() ||
      end != length_text.data() + length_text.size() || length > network->size() * 8 ||
      network->family != public_address->family) {
    *error = "--snat '" + std::string(text) + "': bad prefix, length or public address";
    return std::nullopt;
  }
  return SnatRule{*network, length, *public_address};
}

std::optional<DnatRule> ParseDnatRule(std::string_view text, std::string* error) {
  size_t equals = text.find('=');
  if (equals == std::string_view::npos) {
    *error = "--dnat wants PUBLIC:PORT=INSIDE:PORT, for example 198.51.100.1:21=192.0.2.10:21";
    return std::nullopt;
  }
  auto published = ParseEndpoint(text.substr(0, equals));
  auto inside = ParseEndpoint(text.substr(equals + 1));
  if (!published || !inside || published->addr.family != inside->addr.family) {
    *error = "--dnat '" + std::string(text) + "': bad endpoints (IPv6 as [addr]:port)";
    return std::nullopt;
  }
  return DnatRule{*published, *inside};
}

NatDescription::NatDescription(std::vector<SnatRule> snat, std::vector<DnatRule> dnat,
                               std::vector<uint16_t> control_ports)
    : snat_(std::move(snat)), dnat_(std::move(dnat)), control_ports_(std::move(control_ports)) {}

bool NatDescription::IsControlPort(uint16_t port) const {
  return std::find(control_ports_.begin(), control_ports_.end(), port) != control_ports_.end();
}

std::optional<ClassifiedPacket> NatDescription::Classify(const Tuple& packet) const {
  const bool to_control = IsControlPort(packet.dst.port);
  const bool from_control = IsControlPort(packet.src.port);
  if (!to_control && !from_control) return std::nullopt;
  // The client is the side that is not on the control port. When both are (port 21 to port 21,
  // which no real client does), the destination is taken as the server.
  const Direction direction =
      (from_control && !to_control) ? Direction::kReply : Direction::kOriginal;
  const Tuple as_original = direction == Direction::kOriginal ? packet : packet.Reversed();
  const Endpoint client = as_original.src;
  const Endpoint server = as_original.dst;

  ClassifiedPacket out;
  out.direction = direction;
  out.control.original = Tuple{client, server};
  out.control.reply = Tuple{server, client};
  for (const DnatRule& rule : dnat_) {
    if (server == rule.published || server == rule.inside) {
      out.control.original.dst = rule.published;
      out.control.reply.src = rule.inside;
      break;
    }
  }
  for (const SnatRule& rule : snat_) {
    if (client.addr.InPrefix(rule.inside_network, rule.prefix_length)) {
      out.control.reply.dst = Endpoint{rule.public_address, client.port};
      break;
    }
  }
  return out;
}

}  // namespace ftpalg
