// A scripted FTP control connection for engine tests: keeps both sides' sequence numbers, builds
// the packets, runs them through an Engine and keeps every decision.
#pragma once

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "ftpalg/engine.h"
#include "ftpalg/packet_rewrite.h"
#include "ftpalg/packet_view.h"
#include "packet_builder.h"

namespace ftpalg::test {

// Records what the engine installs; can be told that some outside ports are taken.
class RecordingInstaller : public ExpectationInstaller {
 public:
  Result Install(const Expectation& expectation) override {
    if (fail_all) return Result::kFailed;
    if (busy_ports.count(expectation.destination.port) != 0) return Result::kBusy;
    installed.push_back(expectation);
    return Result::kInstalled;
  }
  void Remove(const Expectation& expectation) override { removed.push_back(expectation); }

  std::vector<Expectation> installed;
  std::vector<Expectation> removed;
  std::set<uint16_t> busy_ports;
  bool fail_all = false;
};

inline std::string PayloadOf(const std::vector<uint8_t>& packet) {
  TcpPacketResult parsed = ParseTcpPacket(packet);
  EXPECT_TRUE(parsed.ok());
  return std::string(parsed.view.payload.begin(), parsed.view.payload.end());
}

class Conversation {
 public:
  Conversation(Engine& engine, ControlConnection control, uint32_t client_isn = 1000,
               uint32_t server_isn = 5000)
      : engine_(engine), control_(control), client_seq_(client_isn), server_seq_(server_isn) {}

  // SYN, SYN-ACK, ACK.
  void Handshake() {
    Send(Direction::kOriginal, "", tcp_flags::kSyn);
    Send(Direction::kReply, "", tcp_flags::kSyn | tcp_flags::kAck);
    Send(Direction::kOriginal, "", tcp_flags::kAck);
  }
  // Greeting and a successful login.
  void Login() {
    Server("220 ready\r\n");
    Client("USER anonymous\r\n");
    Server("331 password please\r\n");
    Client("PASS guest@\r\n");
    Server("230 logged in\r\n");
  }

  Decision Client(const std::string& payload) { return Send(Direction::kOriginal, payload); }
  Decision Server(const std::string& payload) { return Send(Direction::kReply, payload); }

  // Sends one segment in `direction` (the next bytes of that stream, unless `seq_override`).
  Decision Send(Direction direction, const std::string& payload,
                 uint8_t flags = tcp_flags::kAck | tcp_flags::kPsh,
                 std::optional<uint32_t> seq_override = std::nullopt) {
    const bool original = direction == Direction::kOriginal;
    uint32_t& own = original ? client_seq_ : server_seq_;
    const uint32_t peer = original ? server_seq_ : client_seq_;
    PacketSpec spec;
    // Packets as the gateway's inside sees them: the client's and the server's real addresses.
    spec.src = original ? control_.original.src : control_.reply.src;
    spec.dst = original ? control_.original.dst : control_.original.src;
    spec.seq = seq_override.value_or(own);
    spec.ack = (flags & tcp_flags::kSyn) && !(flags & tcp_flags::kAck) ? 0 : peer;
    spec.flags = flags;
    spec.payload = payload;
    last_packet = BuildTcpPacket(spec);
    PacketInput input;
    input.packet = last_packet;
    input.time = now;
    input.control = control_;
    input.direction = direction;
    decisions.push_back(engine_.Process(input));
    inputs.push_back(last_packet);
    input_directions.push_back(direction);
    if (!seq_override) {
      own += static_cast<uint32_t>(payload.size());
      if (flags & (tcp_flags::kSyn | tcp_flags::kFin)) own += 1;
    }
    now += kNanosPerSecond / 100;
    return decisions.back();
  }

  std::vector<Event> EventsOf(EventType type) const {
    std::vector<Event> out;
    for (const Decision& d : decisions) {
      for (const Event& e : d.events) {
        if (e.type == type) out.push_back(e);
      }
    }
    return out;
  }

  // Moves a side's next sequence number on by `bytes` (after segments sent with seq_override
  // that carried new bytes).
  void Advance(Direction direction, uint32_t bytes) {
    (direction == Direction::kOriginal ? client_seq_ : server_seq_) += bytes;
  }

  // The packet the gateway forwards for the i-th Send(): the engine's copy when it changed it.
  const std::vector<uint8_t>& Forwarded(size_t i) const {
    return decisions[i].modified ? decisions[i].packet : inputs[i];
  }

  uint32_t client_seq() const { return client_seq_; }
  uint32_t server_seq() const { return server_seq_; }

  Timestamp now = 1'700'000'000 * kNanosPerSecond;
  std::vector<uint8_t> last_packet;
  std::vector<Decision> decisions;
  std::vector<std::vector<uint8_t>> inputs;  // the packet of each Send(), as built
  std::vector<Direction> input_directions;

 private:
  Engine& engine_;
  ControlConnection control_;
  uint32_t client_seq_;
  uint32_t server_seq_;
};

// The engine as the replay tool runs it: it shifts sequence numbers itself after a length change
// (the daemon leaves that to the kernel).
inline EngineConfig ReplayConfig() {
  EngineConfig config;
  config.shift_sequence_numbers = true;
  return config;
}

// Typical control connections (documentation addresses).
inline ControlConnection Untranslated(Family family = Family::kIpv4) {
  ControlConnection c;
  if (family == Family::kIpv4) {
    c.original = {Ep("192.0.2.2", 40000), Ep("198.51.100.2", 21)};
  } else {
    c.original = {Ep("2001:db8:1::2", 40000), Ep("2001:db8:2::2", 21)};
  }
  c.reply = c.original.Reversed();
  return c;
}

// Inside client masqueraded to the gateway's public address.
inline ControlConnection Masqueraded(Family family = Family::kIpv4) {
  ControlConnection c = Untranslated(family);
  c.reply.dst = family == Family::kIpv4 ? Ep("198.51.100.1", 40000) : Ep("2001:db8:2::1", 40000);
  return c;
}

// Outside client, inside server published on the gateway's public address.
inline ControlConnection Published(Family family = Family::kIpv4) {
  ControlConnection c;
  if (family == Family::kIpv4) {
    c.original = {Ep("198.51.100.2", 40000), Ep("198.51.100.1", 21)};
    c.reply = {Ep("192.0.2.10", 21), Ep("198.51.100.2", 40000)};
  } else {
    c.original = {Ep("2001:db8:2::2", 40000), Ep("2001:db8:2::1", 21)};
    c.reply = {Ep("2001:db8:1::10", 21), Ep("2001:db8:2::2", 40000)};
  }
  return c;
}

}  // namespace ftpalg::test
