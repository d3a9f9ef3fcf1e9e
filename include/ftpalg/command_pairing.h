// Pairs every final reply with the command it answers (RFC 959 4.2: each command gets exactly one
// final reply, in order; 1yz replies are preliminary and do not end it). The engine acts on a
// reply only for what it answers: a 227 only as the answer to PASV, a 230 only to USER/PASS/ACCT.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ftpalg/ftp_command.h"

namespace ftpalg {

// A command waiting for its final reply.
struct PendingCommand {
  CommandVerb verb = CommandVerb::kOther;
  bool epsv_all = false;  // EPSV ALL (RFC 2428 4)
  // Serial of the expectation a PORT/EPRT/LPRT installed (0 = none), withdrawn if the server
  // refuses it.
  uint32_t expectation_serial = 0;
};

// What a final reply answers. `paired` is false when no command was waiting, or when pairing
// was lost (the command is then a guess and nothing may be opened on it).
struct AnsweredCommand {
  PendingCommand command;
  bool paired = false;
  bool Is(CommandVerb verb) const { return paired && command.verb == verb; }
};

class CommandPairing {
 public:
  static constexpr size_t kMaxPending = 16;

  // A client command was seen. A client that pipelines more than kMaxPending commands without
  // reading replies is not pairing-safe: the oldest is dropped and pairing is lost for good.
  void Push(const PendingCommand& command);
  // The command pushed last (there must be one).
  PendingCommand& newest() { return pending_.back(); }
  // A final reply arrived: the oldest waiting command is the one it answers.
  AnsweredCommand TakeAnswered();

  // Pairing was lost for good (kept across a daemon restart: session_snapshot.h).
  bool lost() const { return lost_; }
  void MarkLost() { lost_ = true; }

  size_t heap_bytes() const { return pending_.capacity() * sizeof(PendingCommand); }

 private:
  // A vector rather than a deque: an empty one holds no heap, and it stays a few entries long.
  std::vector<PendingCommand> pending_;  // oldest first
  bool lost_ = false;
};

}  // namespace ftpalg
