// Builds capture files for the hostile-traffic replay tests: a scripted FTP control connection
// (both sides' sequence numbers kept, like the engine tests' Conversation) whose packets are
// written as an Ethernet pcap with libpcap, so that the real ftp-alg-replay binary reads them.
//
//   CaptureScript ftp(kSnat4);
//   ftp.Handshake();
//   ftp.Login();
//   ftp.Client("PORT 203,0,113,9,4,1\r\n");
//   ftp.DataSyn(Ep("198.51.100.2", 20), Ep("203.0.113.9", 1025));
//   WritePcap(path, ftp);
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ftpalg/events.h"
#include "packet_builder.h"

namespace ftpalg::test {

// Where the capture is taken and how the gateway translates: the replay tool's NAT arguments and
// the endpoints as they appear in the capture (the gateway's inside).
struct Topology {
  const char* name;
  Endpoint client;
  Endpoint server;
  std::vector<std::string> nat_args;
};

// An inside client masqueraded to 198.51.100.1 (IPv4) / 2001:db8:2::1 (IPv6).
inline Topology Snat4() {
  return {"snat-ipv4",
          Ep("192.0.2.2", 40000),
          Ep("198.51.100.2", 21),
          {"--snat", "192.0.2.0/24=198.51.100.1"}};
}
inline Topology Snat6() {
  return {"snat-ipv6",
          Ep("2001:db8:1::2", 40000),
          Ep("2001:db8:2::2", 21),
          {"--snat", "2001:db8:1::/64=2001:db8:2::1"}};
}
// An outside client talking to an inside server published on 198.51.100.1:21.
inline Topology Dnat4() {
  return {"dnat-ipv4",
          Ep("198.51.100.2", 40000),
          Ep("192.0.2.10", 21),
          {"--dnat", "198.51.100.1:21=192.0.2.10:21"}};
}

struct CaptureFrame {
  Timestamp time = 0;
  std::vector<uint8_t> ip;  // the IP packet (the Ethernet header is added when writing)
  bool from_client = true;
};

class CaptureScript {
 public:
  explicit CaptureScript(const Topology& topology, uint32_t client_isn = 1000,
                         uint32_t server_isn = 5000)
      : client_(topology.client),
        server_(topology.server),
        client_seq_(client_isn),
        server_seq_(server_isn) {}

  // SYN, SYN-ACK, ACK.
  void Handshake() {
    Send(true, "", tcp_flags::kSyn);
    Send(false, "", tcp_flags::kSyn | tcp_flags::kAck);
    Send(true, "", tcp_flags::kAck);
  }
  // Greeting and a successful login.
  void Login() {
    Server("220 ready\r\n");
    Client("USER anonymous\r\n");
    Server("331 password please\r\n");
    Client("PASS guest@\r\n");
    Server("230 logged in\r\n");
  }
  void Client(const std::string& payload) { Send(true, payload); }
  void Server(const std::string& payload) { Send(false, payload); }

  // One segment: the next bytes of that side's stream, unless `seq` is given (a retransmission or
  // a reordered segment; the side's next sequence number then stays where it was).
  void Send(bool from_client, const std::string& payload,
            uint8_t flags = tcp_flags::kAck | tcp_flags::kPsh,
            std::optional<uint32_t> seq = std::nullopt) {
    uint32_t& own = from_client ? client_seq_ : server_seq_;
    const uint32_t peer = from_client ? server_seq_ : client_seq_;
    PacketSpec spec;
    spec.src = from_client ? client_ : server_;
    spec.dst = from_client ? server_ : client_;
    spec.seq = seq.value_or(own);
    spec.ack = (flags & tcp_flags::kSyn) && !(flags & tcp_flags::kAck) ? 0 : peer;
    spec.flags = flags;
    spec.payload = payload;
    spec.ipv4_id = static_cast<uint16_t>(frames_.size());
    Add(BuildTcpPacket(spec), from_client);
    if (!seq) {
      own += static_cast<uint32_t>(payload.size());
      if (flags & (tcp_flags::kSyn | tcp_flags::kFin)) own += 1;
    }
  }
  // Moves a side's next sequence number on (after segments sent with `seq` that were new bytes).
  void Advance(bool client, uint32_t bytes) { (client ? client_seq_ : server_seq_) += bytes; }

  // The first SYN of a data connection, as it reaches the gateway's inside.
  void DataSyn(const Endpoint& src, const Endpoint& dst) {
    PacketSpec spec;
    spec.src = src;
    spec.dst = dst;
    spec.seq = 777000;
    spec.flags = tcp_flags::kSyn;
    Add(BuildTcpPacket(spec), src.addr == client_.addr);
  }

  // FIN from both sides.
  void Close() {
    Send(true, "", tcp_flags::kFin | tcp_flags::kAck);
    Send(false, "", tcp_flags::kFin | tcp_flags::kAck);
    Send(true, "", tcp_flags::kAck);
  }

  uint32_t client_seq() const { return client_seq_; }
  uint32_t server_seq() const { return server_seq_; }
  const std::vector<CaptureFrame>& frames() const { return frames_; }

 private:
  void Add(std::vector<uint8_t> ip, bool from_client) {
    frames_.push_back({time_, std::move(ip), from_client});
    time_ += kNanosPerSecond / 100;
  }

  Endpoint client_;
  Endpoint server_;
  uint32_t client_seq_;
  uint32_t server_seq_;
  Timestamp time_ = 1'700'000'000 * kNanosPerSecond;
  std::vector<CaptureFrame> frames_;
};

// Writes the frames as a classic pcap, Ethernet link type (DLT_EN10MB), with libpcap. The client
// side's frames come from 02:00:00:00:00:01 to the gateway 02:00:00:00:00:fe and back. Returns
// false with a reason on failure. Deterministic: the same script gives the same bytes.
inline bool WritePcap(const std::filesystem::path& path, const std::vector<CaptureFrame>& frames,
                      std::string* error) {
  constexpr int kSnapLength = 262144;
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, kSnapLength);
  if (dead == nullptr) {
    *error = "pcap_open_dead failed";
    return false;
  }
  pcap_dumper_t* dumper = pcap_dump_open(dead, path.c_str());
  if (dumper == nullptr) {
    *error = std::string("pcap_dump_open: ") + pcap_geterr(dead);
    pcap_close(dead);
    return false;
  }
  static constexpr uint8_t kClientMac[6] = {0x02, 0, 0, 0, 0, 0x01};
  static constexpr uint8_t kGatewayMac[6] = {0x02, 0, 0, 0, 0, 0xfe};
  std::vector<uint8_t> frame;
  for (const CaptureFrame& f : frames) {
    frame.clear();
    const uint8_t* dst = f.from_client ? kGatewayMac : kClientMac;
    const uint8_t* src = f.from_client ? kClientMac : kGatewayMac;
    frame.insert(frame.end(), dst, dst + 6);
    frame.insert(frame.end(), src, src + 6);
    const bool v6 = !f.ip.empty() && (f.ip[0] >> 4) == 6;
    frame.push_back(v6 ? 0x86 : 0x08);
    frame.push_back(v6 ? 0xdd : 0x00);
    frame.insert(frame.end(), f.ip.begin(), f.ip.end());
    pcap_pkthdr header{};
    header.ts.tv_sec = static_cast<time_t>(f.time / kNanosPerSecond);
    header.ts.tv_usec = static_cast<suseconds_t>((f.time % kNanosPerSecond) / 1000);
    header.caplen = static_cast<bpf_u_int32>(frame.size());
    header.len = header.caplen;
    pcap_dump(reinterpret_cast<u_char*>(dumper), &header, frame.data());
  }
  const bool flushed = pcap_dump_flush(dumper) == 0;
  pcap_dump_close(dumper);
  pcap_close(dead);
  if (!flushed) *error = "pcap_dump_flush failed for " + path.string();
  return flushed;
}

inline bool WritePcap(const std::filesystem::path& path, const CaptureScript& script,
                      std::string* error) {
  return WritePcap(path, script.frames(), error);
}

}  // namespace ftpalg::test
