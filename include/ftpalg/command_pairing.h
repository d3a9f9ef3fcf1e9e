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
  // Sent after the server's latest final reply: a client that waits for each reply (nearly all
  // do) has then no other command outstanding. Set by CommandPairing::Push.
  bool sent_after_reply = false;
};

// What a final reply answers. `paired` is false when no command was waiting, or when pairing
// was lost (the command is then a guess and nothing may be opened on it).
struct AnsweredCommand {
  PendingCommand command;
  bool paired = false;
  bool Is(CommandVerb verb) const { return paired && command.verb == verb; }
};

// Pairing can be lost: bytes of either direction never seen (a gap: commands or replies among
// them), a server line without a reply code, more than kMaxPending commands outstanding. Pairing
// is then "unsure" until it resynchronises (docs/gaps.md):
// - a reply only one kind of command gets (227 PASV, 229 EPSV, 228 LPSV, 230 USER/PASS/ACCT, 234
//   AUTH) answers the oldest waiting command of that kind; the commands before it were answered;
// - any other final reply answers the newest waiting command if that one was sent after the
//   server's previous final reply (the client waited for it), and the ones before it were
//   answered; else it is paired with nothing.
// Either way a reply acts only on a command the engine saw, so a 227 is still acted on only as
// the answer to a PASV: each PASV seen lets at most one 227 through, as before.
class CommandPairing {
 public:
  static constexpr size_t kMaxPending = 16;

  // A client command was seen. Beyond kMaxPending the oldest is dropped and pairing is unsure.
  void Push(const PendingCommand& command);
  // The command pushed last (there must be one).
  PendingCommand& newest() { return pending_.back(); }
  // A final reply with `code` arrived: the command it answers (see above).
  AnsweredCommand TakeAnswered(int code);
  // Bytes of the client's (`server_side` false) or the server's stream were never seen. The
  // waiting commands may have been answered in them, or commands lost: all are forgotten.
  void LoseTrack(bool server_side);
  // A server line that is no reply (no code, outside a multi-line reply): a server's broken
  // final reply (seen: `UNIX Type: L8` to SYST) or junk. Which, is unknown.
  void NoteCodelessReply();
  bool unsure() const { return unsure_; }

  size_t heap_bytes() const { return pending_.capacity() * sizeof(PendingCommand); }

 private:
  // A vector rather than a deque: an empty one holds no heap, and it stays a few entries long.
  std::vector<PendingCommand> pending_;  // oldest first
  bool unsure_ = false;
  bool reply_since_push_ = true;  // a final reply (or the greeting) since the latest command
};

}  // namespace ftpalg
