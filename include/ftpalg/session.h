// Per control connection state: what the engine remembers between packets.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ftpalg/command_pairing.h"
#include "ftpalg/events.h"
#include "ftpalg/expectation.h"
#include "ftpalg/ftp_reply.h"
#include "ftpalg/line_framer.h"
#include "ftpalg/login_state.h"
#include "ftpalg/recorded_edits.h"
#include "ftpalg/seq_shift.h"

namespace ftpalg {

struct StreamState {
  explicit StreamState(size_t max_line_length) : framer(max_line_length) {}
  LineFramer framer;
  SeqShift shift;  // length changes made to this direction's stream
  // The most recent rewrites, oldest first (empty, so no heap, until the first rewrite).
  static constexpr size_t kMaxRecordedEdits = 4;
  std::vector<RecordedEdit> edits;
  bool fin_seen = false;
};

enum class StepAside : uint8_t { kNo, kTls, kNotFtp };

struct PendingExpectation {
  Expectation expectation;
  uint32_t serial = 0;
  Timestamp expires = 0;
};

struct Session {
  Session(const ControlConnection& control_connection, size_t max_line_length)
      : control(control_connection),
        streams{StreamState(max_line_length), StreamState(max_line_length)} {}
  ControlConnection control;
  std::array<StreamState, 2> streams;  // indexed by Direction
  ReplyTracker replies;
  CommandPairing commands;
  // What the session needs to go on (a restarted daemon's snapshot): login, step_aside, epsv_all
  // and whether pairing is unsure (commands.unsure()); the waiting commands themselves are lost
  // on a restart like bytes of a gap (CommandPairing::LoseTrack).
  LoginState login = LoginState::kLoggedIn;
  StepAside step_aside = StepAside::kNo;
  bool epsv_all = false;
  std::string user;  // USER's argument, bounded (session_view.h), for the operator's view
  bool had_gap = false;  // counted once per session (Counter::kSessionsWithGaps)
  // A vector rather than a deque: an empty one holds no heap, and it stays a few entries long.
  std::vector<PendingExpectation> expectations;  // oldest first, bounded by the policy
  uint32_t next_serial = 1;
  Timestamp last_seen = 0;
  Timestamp closed_at = 0;  // 0 while open
};

}  // namespace ftpalg
