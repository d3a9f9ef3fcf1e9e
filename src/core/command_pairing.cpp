#include "ftpalg/command_pairing.h"

#include <algorithm>

namespace ftpalg {
namespace {

// Replies that answer one kind of command only: RFC 959 4.2.2 (227 PASV, 230 USER/PASS/ACCT),
// RFC 2428 3 (229 EPSV), RFC 1639 2 (228 LPSV), RFC 2228 3 (234 AUTH). They resynchronise
// pairing.
bool OnlyAnswers(int code, CommandVerb verb) {
  switch (code) {
    case 227:
      return verb == CommandVerb::kPasv;
    case 229:
      return verb == CommandVerb::kEpsv;
    case 228:
      return verb == CommandVerb::kLpsv;
    case 230:
      return verb == CommandVerb::kUser || verb == CommandVerb::kPass || verb == CommandVerb::kAcct;
    case 234:
      return verb == CommandVerb::kAuth;
    default:
      return false;
  }
}

bool IsResyncCode(int code) {
  return code == 227 || code == 229 || code == 228 || code == 230 || code == 234;
}

}  // namespace

void CommandPairing::Push(const PendingCommand& command) {
  if (pending_.size() >= kMaxPending) {
    pending_.erase(pending_.begin());
    unsure_ = true;
  }
  pending_.push_back(command);
  pending_.back().sent_after_reply = reply_since_push_;
  reply_since_push_ = false;
}

AnsweredCommand CommandPairing::TakeAnswered(int code) {
  reply_since_push_ = true;
  AnsweredCommand answered;
  if (pending_.empty()) return answered;
  if (!unsure_) {
    answered.command = pending_.front();
    answered.paired = true;
    pending_.erase(pending_.begin());
    return answered;
  }
  auto answered_at = pending_.end();
  if (IsResyncCode(code)) {
    answered_at = std::find_if(pending_.begin(), pending_.end(), [code](const PendingCommand& c) {
      return OnlyAnswers(code, c.verb);
    });
  } else if (pending_.back().sent_after_reply) {
    answered_at = std::prev(pending_.end());
  }
  if (answered_at == pending_.end()) {
    // Unknown what it answers: it uses up the oldest command at most, and acts on nothing.
    if (!IsResyncCode(code)) {
      answered.command = pending_.front();
      pending_.erase(pending_.begin());
    }
    return answered;
  }
  answered.command = *answered_at;
  answered.paired = true;
  pending_.erase(pending_.begin(), std::next(answered_at));
  unsure_ = false;
  return answered;
}

void CommandPairing::LoseTrack(bool server_side) {
  pending_.clear();
  unsure_ = true;
  // The missing server bytes held replies; the missing client bytes, commands sent after them.
  reply_since_push_ = server_side;
}

void CommandPairing::NoteCodelessReply() {
  unsure_ = true;
  reply_since_push_ = true;
}

}  // namespace ftpalg
