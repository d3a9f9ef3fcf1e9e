#include "ftp_traffic.h"

#include <cstring>
#include <span>

#include "ftpalg/packet_rewrite.h"

namespace ftpalg::bench {
namespace {

void Store16(uint8_t* at, uint16_t value) {
  at[0] = static_cast<uint8_t>(value >> 8);
  at[1] = static_cast<uint8_t>(value & 0xff);
}

void Store32(uint8_t* at, uint32_t value) {
  Store16(at, static_cast<uint16_t>(value >> 16));
  Store16(at + 2, static_cast<uint16_t>(value & 0xffff));
}

uint32_t AddressSum(const IpAddress& address) {
  return (uint32_t{address.bytes[0]} << 8 | address.bytes[1]) +
         (uint32_t{address.bytes[2]} << 8 | address.bytes[3]);
}

std::string HostPort(const IpAddress& address, uint16_t port) {
  std::string text;
  for (size_t i = 0; i < 4; ++i) {
    text += std::to_string(address.bytes[i]);
    text += ',';
  }
  text += std::to_string(port >> 8);
  text += ',';
  text += std::to_string(port & 0xff);
  return text;
}

}  // namespace

void AppendTcpPacket(const Endpoint& src, const Endpoint& dst, uint32_t seq, uint32_t ack,
                     uint8_t flags, std::string_view payload, uint16_t ip_id,
                     std::vector<uint8_t>* out) {
  constexpr size_t kIpHeader = 20;
  constexpr size_t kTcpHeader = 20;
  const size_t start = out->size();
  const auto total = static_cast<uint16_t>(kIpHeader + kTcpHeader + payload.size());
  out->resize(start + total);
  uint8_t* ip = out->data() + start;
  // RFC 791 3.1 (checksum below).
  ip[0] = 0x45;
  ip[1] = 0;
  Store16(ip + 2, total);
  Store16(ip + 4, ip_id);
  Store16(ip + 6, 0x4000);  // DF
  ip[8] = 64;
  ip[9] = 6;
  Store16(ip + 10, 0);
  std::memcpy(ip + 12, src.addr.bytes.data(), 4);
  std::memcpy(ip + 16, dst.addr.bytes.data(), 4);
  // RFC 793 3.1 (checksum below).
  uint8_t* tcp = ip + kIpHeader;
  Store16(tcp, src.port);
  Store16(tcp + 2, dst.port);
  Store32(tcp + 4, seq);
  Store32(tcp + 8, ack);
  tcp[12] = static_cast<uint8_t>((kTcpHeader / 4) << 4);
  tcp[13] = flags;
  Store16(tcp + 14, 64240);
  Store16(tcp + 16, 0);
  Store16(tcp + 18, 0);  // urgent pointer
  if (!payload.empty()) std::memcpy(tcp + kTcpHeader, payload.data(), payload.size());

  Store16(ip + 10, InternetChecksum(std::span<const uint8_t>(ip, kIpHeader)));
  const uint32_t pseudo = AddressSum(src.addr) + AddressSum(dst.addr) + 6 +
                          static_cast<uint32_t>(kTcpHeader + payload.size());
  Store16(ip + kIpHeader + 16,
          InternetChecksum(std::span<const uint8_t>(ip + kIpHeader, total - kIpHeader), pseudo));
}

void TcpFlow::Append(bool from_client, uint8_t flags, std::string_view payload,
                     std::vector<uint8_t>* out) {
  uint32_t& own = from_client ? client_next_ : server_next_;
  const uint32_t peer = from_client ? server_next_ : client_next_;
  const bool bare_syn = (flags & tcp_flags::kSyn) != 0 && (flags & tcp_flags::kAck) == 0;
  const Tuple& tuple = from_client ? forward_ : backward_;
  AppendTcpPacket(tuple.src, tuple.dst, own, bare_syn ? 0 : peer, flags, payload, ip_id_++, out);
  own += static_cast<uint32_t>(payload.size());
  if ((flags & (tcp_flags::kSyn | tcp_flags::kFin)) != 0) own += 1;
}

std::string PortCommand(const IpAddress& address, uint16_t port) {
  return "PORT " + HostPort(address, port) + "\r\n";
}

std::string Reply227(const IpAddress& address, uint16_t port) {
  return "227 Entering Passive Mode (" + HostPort(address, port) + ").\r\n";
}

IpAddress InsideHost(uint32_t index) {
  return IpAddress::V4(192, 0, 2, static_cast<uint8_t>(1 + index % 254));
}
IpAddress OutsideHost(uint32_t index) {
  return IpAddress::V4(198, 51, 100, static_cast<uint8_t>(2 + index % 253));
}
IpAddress RemoteClient(uint32_t index) {
  return IpAddress::V4(203, 0, 113, static_cast<uint8_t>(1 + index % 254));
}

}  // namespace ftpalg::bench
