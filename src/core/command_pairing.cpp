#include "ftpalg/command_pairing.h"

namespace ftpalg {

void CommandPairing::Push(const PendingCommand& command) {
  if (pending_.size() >= kMaxPending) {
    pending_.erase(pending_.begin());
    lost_ = true;
  }
  pending_.push_back(command);
}

AnsweredCommand CommandPairing::TakeAnswered() {
  AnsweredCommand answered;
  if (pending_.empty()) return answered;
  answered.command = pending_.front();
  answered.paired = !lost_;
  pending_.erase(pending_.begin());
  return answered;
}

}  // namespace ftpalg
