// Rebuilds one direction of a TCP byte stream from the segments a gateway forwarded, and checks
// that every copy of a byte (a retransmission, an overlapping resend) carries the same value at the
// same sequence number. A rewrite that is repeated differently on a retransmission, or a segment
// shifted by the wrong offset, shows up as a conflict.
//
//   ForwardedStream stream(client_isn + 1);
//   for (const auto& packet : forwarded_client_packets) stream.Add(packet);
//   EXPECT_TRUE(stream.conflicts().empty());
//   EXPECT_EQ(stream.Contiguous(), "USER a\r\nPORT 198,51,100,1,4,1\r\n");
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "ftpalg/packet_view.h"

namespace ftpalg::test {

class ForwardedStream {
 public:
  // `first_seq`: the sequence number of the stream's first payload byte (ISN + 1).
  explicit ForwardedStream(uint32_t first_seq) : first_seq_(first_seq) {}

  // Adds the payload of one forwarded IP packet (non-TCP or empty packets are ignored).
  void Add(std::span<const uint8_t> ip_packet) {
    const TcpPacketResult parsed = ParseTcpPacket(ip_packet);
    if (!parsed.ok() || parsed.view.payload.empty()) return;
    Add(parsed.view.seq, parsed.view.payload);
  }

  void Add(uint32_t seq, std::span<const uint8_t> payload) {
    const uint32_t offset = seq - first_seq_;  // modulo 2^32, as sequence numbers are
    for (size_t i = 0; i < payload.size(); ++i) {
      const uint32_t at = offset + static_cast<uint32_t>(i);
      auto [it, inserted] = bytes_.try_emplace(at, payload[i]);
      if (!inserted && it->second != payload[i]) {
        conflicts_.push_back("byte " + std::to_string(at) + ": first copy " +
                             std::to_string(it->second) + ", later copy " +
                             std::to_string(payload[i]) + " (segment at offset " +
                             std::to_string(offset) + ")");
      }
    }
    ++segments_;
  }

  // The bytes from the stream's start up to the first hole.
  std::string Contiguous() const {
    std::string out;
    uint32_t next = 0;
    for (const auto& [at, byte] : bytes_) {
      if (at != next) break;
      out.push_back(static_cast<char>(byte));
      ++next;
    }
    return out;
  }

  const std::vector<std::string>& conflicts() const { return conflicts_; }
  size_t segments() const { return segments_; }
  size_t size() const { return bytes_.size(); }

 private:
  uint32_t first_seq_;
  std::map<uint32_t, uint8_t> bytes_;  // offset from first_seq_ -> byte
  std::vector<std::string> conflicts_;
  size_t segments_ = 0;
};

}  // namespace ftpalg::test
