#include "ftpalg/gap_recovery.h"

#include <string>

#include "ftpalg/login_state.h"

namespace ftpalg {

void RecoverFromGap(const EngineContext& context, PacketWork& work) {
  Session& session = work.session;
  const bool server_side = work.direction == Direction::kReply;
  // A multi-line reply may have begun or ended in the missing bytes.
  if (server_side) session.replies.Reset();
  session.commands.LoseTrack(server_side);
  session.login = LoginAfterGap(session.login);
  if (!session.had_gap) {
    session.had_gap = true;
    context.counters.Add(Counter::kSessionsWithGaps);
  }
  Event event = MakeEvent(EventType::kGap, session, work.direction, work.time);
  event.detail =
      "login " + std::string(session.login == LoginState::kLoggedIn ? "known" : "unknown");
  work.decision.events.push_back(std::move(event));
}

}  // namespace ftpalg
