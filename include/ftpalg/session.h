// Per control connection state: what the engine remembers between packets.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ftpalg/events.h"
#include "ftpalg/expectation.h"
#include "ftpalg/ftp_command.h"
#include "ftpalg/ftp_reply.h"
#include "ftpalg/line_framer.h"
#include "ftpalg/seq_shift.h"

namespace ftpalg {

// A rewrite made in one direction, kept so that a retransmission of the same bytes gets the same
// rewrite (and so the same length, which the sequence shift already assumes).
struct RecordedEdit {
  uint32_t segment_seq = 0;  // original sequence number of the segment it was made in: where
                             // the length change is recorded (SeqShift, nf_ct_seqadj)
  uint32_t seq = 0;          // original sequence number of the first replaced byte
  std::string old_text;      // the bytes replaced (bounded by the line length)
  std::string new_text;
};

struct StreamState {
  explicit StreamState(size_t max_line_length) : framer(max_line_length) {}
  LineFramer framer;
  SeqShift shift;  // length changes made to this direction's stream
  // The most recent rewrites, oldest first (empty, so no heap, until the first rewrite).
  static constexpr size_t kMaxRecordedEdits = 4;
  std::vector<RecordedEdit> edits;
  bool fin_seen = false;
};

enum class LoginState : uint8_t {
  kAwaitingGreeting,  // connection seen from its SYN, no 220 yet
  kAwaitingLogin,     // greeting received, no 230 yet
  kLoggedIn,          // 230 received, or session picked up mid-stream
};

enum class StepAside : uint8_t { kNo, kTls, kNotFtp };

// A command waiting for its final reply (RFC 959 4.2: every command gets exactly one final reply,
// in order; 1yz replies are preliminary and do not end it).
struct PendingCommand {
  CommandVerb verb = CommandVerb::kOther;
  bool epsv_all = false;  // EPSV ALL (RFC 2428 4)
  // Serial of the expectation a PORT/EPRT installed (0 = none), withdrawn if the server refuses.
  uint32_t expectation_serial = 0;
};

struct PendingExpectation {
  Expectation expectation;
  uint32_t serial = 0;
  Timestamp expires = 0;
};

struct Session {
  Session(const ControlConnection& control_connection, size_t max_line_length)
      : control(control_connection), streams{StreamState(max_line_length),
                                             StreamState(max_line_length)} {}
  ControlConnection control;
  std::array<StreamState, 2> streams;  // indexed by Direction
  ReplyTracker replies;
  // Vectors rather than deques: empty ones hold no heap, and both stay a few entries long.
  std::vector<PendingCommand> commands;  // oldest first, bounded by kMaxPendingCommands
  static constexpr size_t kMaxPendingCommands = 16;
  bool pairing_lost = false;  // commands overflowed: replies can no longer be paired
  LoginState login = LoginState::kLoggedIn;
  StepAside step_aside = StepAside::kNo;
  bool epsv_all = false;
  std::vector<PendingExpectation> expectations;  // oldest first, bounded by the policy
  uint32_t next_serial = 1;
  Timestamp last_seen = 0;
  Timestamp closed_at = 0;  // 0 while open
};

}  // namespace ftpalg
