// Synthetic FTP control traffic for the benchmarks: IPv4/TCP packets with valid checksums, built
// from a connection's two sequence spaces, and the texts of the commands and replies that carry
// addresses. Shared by engine_bench (packets fed straight to Engine::Process) and
// make_large_capture (packets written to a capture file).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ftpalg/ip_address.h"
#include "ftpalg/packet_view.h"

namespace ftpalg::bench {

// Appends one IPv4 packet (20-byte header, DF, TTL 64) carrying a TCP segment without options,
// with the IP header checksum and the TCP checksum (pseudo-header included) filled in.
void AppendTcpPacket(const Endpoint& src, const Endpoint& dst, uint32_t seq, uint32_t ack,
                     uint8_t flags, std::string_view payload, uint16_t ip_id,
                     std::vector<uint8_t>* out);

// One TCP connection: the two directions' next sequence numbers and the addresses each
// direction's packets carry. Packets are appended in IP form (no link header).
class TcpFlow {
 public:
  // `forward` is the client's packets (src -> dst), `backward` the server's.
  TcpFlow(const Tuple& forward, const Tuple& backward, uint32_t client_isn, uint32_t server_isn)
      : forward_(forward),
        backward_(backward),
        client_next_(client_isn),
        server_next_(server_isn) {}

  // The next segment of one direction: `payload` at that direction's next sequence number,
  // acknowledging everything the other side sent. SYN and FIN take one sequence number. A bare
  // SYN (no ACK flag) carries ack 0.
  void Append(bool from_client, uint8_t flags, std::string_view payload, std::vector<uint8_t>* out);

  const Tuple& forward() const { return forward_; }
  const Tuple& backward() const { return backward_; }

 private:
  Tuple forward_;
  Tuple backward_;
  uint32_t client_next_;
  uint32_t server_next_;
  uint16_t ip_id_ = 1;
};

// "PORT 192,0,2,1,4,1\r\n" (RFC 959 4.1.2).
std::string PortCommand(const IpAddress& address, uint16_t port);
// "227 Entering Passive Mode (198,51,100,2,4,1).\r\n" (RFC 959 4.2.2, the vsftpd wording).
std::string Reply227(const IpAddress& address, uint16_t port);

// Documentation addresses (RFC 5737): 192.0.2.0/24 inside, 198.51.100.0/24 outside (198.51.100.1
// is the gateway's public address), 203.0.113.0/24 for outside clients of a published server.
IpAddress InsideHost(uint32_t index);    // 192.0.2.1 .. 192.0.2.254
IpAddress OutsideHost(uint32_t index);   // 198.51.100.2 .. 198.51.100.254
IpAddress RemoteClient(uint32_t index);  // 203.0.113.1 .. 203.0.113.254
inline IpAddress GatewayPublic() { return IpAddress::V4(198, 51, 100, 1); }

}  // namespace ftpalg::bench
