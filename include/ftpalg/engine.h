// The engine: one function that the daemon and the replay tool both call. Packet in, decision out.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "ftpalg/control_line_observer.h"
#include "ftpalg/counters.h"
#include "ftpalg/events.h"
#include "ftpalg/expectation.h"
#include "ftpalg/policy.h"
#include "ftpalg/seq_shift.h"
#include "ftpalg/session_view.h"
#include "ftpalg/session_snapshot.h"

namespace ftpalg {

// Where expectations go: ctnetlink on a live gateway, a simulated table in replay. The engine asks
// for one outside port after another (the announced one first, as nf_nat_ftp does) until one is
// free.
class ExpectationInstaller {
 public:
  enum class Result : uint8_t { kInstalled, kBusy, kFailed };
  virtual ~ExpectationInstaller() = default;
  virtual Result Install(const Expectation& expectation) = 0;
  virtual void Remove(const Expectation& expectation) = 0;
};

struct EngineConfig {
  PolicyConfig policy;
  size_t max_line_length = 512;
  size_t max_sessions = 65536;
  // Session state is dropped after this long without a packet (the kernel keeps an established
  // conntrack for days; an FTP client idles for minutes at most before the server drops it).
  Timestamp session_idle_timeout = 3600 * kNanosPerSecond;
  // A closed session (FIN both ways, or RST) is kept this long for stray retransmissions.
  Timestamp closed_linger = 10 * kNanosPerSecond;
  // Replay shifts later sequence/ack numbers itself; a live gateway leaves that to the kernel
  // (nf_ct_seqadj, when the verdict carries the conntrack).
  bool shift_sequence_numbers = false;
  // How many ports above the announced one to try when the outside port is taken.
  uint32_t max_port_attempts = 64;
};

// What the caller knows about the packet besides its bytes.
struct PacketInput {
  std::span<const uint8_t> packet;  // starts at the IP header
  Timestamp time = 0;
  // The control connection as conntrack has it, and the packet's direction (live gateway). Without
  // them (replay), the caller derives them from its NAT description (NatDescription::Classify).
  ControlConnection control;
  Direction direction = Direction::kOriginal;
  // The state a session of this connection had before the daemon restarted (the conntrack's
  // helper private data, session_snapshot.h). Used only when this packet starts the engine's
  // session; without it a session picked up mid-stream follows the pickup rules.
  std::optional<SessionSnapshot> resume;
  // The sequence adjustments the kernel applies to the connection now, indexed by Direction (a
  // live gateway reads them from the queued packet's conntrack). Used, like `resume`, only when
  // this packet starts the engine's session: a later length change then continues them.
  std::array<std::optional<SeqAdjustment>, 2> kernel_seq_adjustments;
};

struct Decision {
  enum class Verdict : uint8_t { kAccept, kDrop };
  Verdict verdict = Verdict::kAccept;
  bool modified = false;
  std::vector<uint8_t> packet;  // the new packet when modified
  int32_t payload_delta = 0;    // length change of the payload
  // Set when this packet's rewrite changed the length of new bytes of its direction's stream: the
  // kernel's sequence adjustment for that direction from now on (a retransmission of a rewritten
  // segment keeps the adjustment it had and leaves this empty).
  std::optional<SeqAdjustment> seq_adjustment;
  std::vector<Expectation> expectations;  // installed while processing this packet
  std::vector<Event> events;
};

class Engine {
 public:
  Engine(EngineConfig config, ExpectationInstaller& installer);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Processes one packet of a control connection. Never throws on wire data; a packet the engine
  // cannot make sense of is accepted unchanged and counted.
  Decision Process(const PacketInput& input);

  // Drops sessions idle past the timeout (and closed ones past the linger), withdrawing their
  // pending expectations. The caller calls it as time advances (the daemon from a timer, the
  // replay once a second of capture time); Process() does not, so that these events, which
  // belong to no packet, never ride in a packet's Decision.
  void Expire(Timestamp now, std::vector<Event>* events = nullptr);

  // Ends a control connection's session now, withdrawing its pending expectations. No caller yet:
  // the daemon does not follow conntrack's destroy events, so sessions end on FIN/RST or idle.
  void EndSession(const Tuple& original, Timestamp now, std::vector<Event>* events = nullptr);

  // Every control line of a session being parsed goes to `observer` too (nullptr: none). The
  // observer must outlive the engine or be unset first.
  void SetLineObserver(ControlLineObserver* observer);
  // What the session of a control connection would need to go on after a restart (nullopt when
  // the engine has no session for it). The caller stores it with the connection when it differs
  // from what is stored, and hands it back in PacketInput::resume.
  std::optional<SessionSnapshot> Snapshot(const Tuple& original) const;

  // Replaces the policy and limits (SIGHUP); sessions keep their state.
  void Reconfigure(const EngineConfig& config);

  const Counters& counters() const { return counters_; }
  size_t session_count() const;
  // A copy of up to `limit` sessions for the operator's status view (read-only; O(sessions)).
  std::vector<SessionView> Sessions(Timestamp now, size_t limit) const;
  // Approximate heap bytes held by session state (for the memory-per-session figure).
  size_t ApproximateMemory() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  Counters counters_;
};

}  // namespace ftpalg
