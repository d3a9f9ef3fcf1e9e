#include "ftpalg/step_aside.h"

namespace ftpalg {

bool IsNotFtp(const CommandLine& command, bool overlong) {
  return !command.well_formed || command.looks_like_http || overlong;
}

bool StartsTls(int code, const AnsweredCommand& answered, const PolicyConfig& policy) {
  return code == 234 && answered.Is(CommandVerb::kAuth) && policy.step_aside_on_tls;
}

void StepAsideSession(const EngineContext& context, PacketWork& work, StepAside why,
                      std::string_view cause) {
  Session& session = work.session;
  session.step_aside = why;
  const bool tls = why == StepAside::kTls;
  context.counters.Add(tls ? Counter::kStepAsideTls : Counter::kStepAsideNotFtp);
  const Reason reason = tls ? Reason::kTls : Reason::kNotFtp;
  Event event = MakeEvent(EventType::kStepAside, session, work.direction, work.time);
  event.cause = std::string(cause);
  event.reason = reason;
  work.decision.events.push_back(std::move(event));
  while (!session.expectations.empty()) {
    Withdraw(context, session, 0, reason, work.time, &work.decision.events);
  }
}

}  // namespace ftpalg
