#include "ftpalg/engine_context.h"

namespace ftpalg {
namespace {

Counter RefusalCounter(Reason reason) {
  switch (reason) {
    case Reason::kBounce:
      return Counter::kRefusedBounce;
    case Reason::kLowPort:
      return Counter::kRefusedLowPort;
    case Reason::kUnpaired:
      return Counter::kRefusedUnpaired;
    case Reason::kMalformed:
    case Reason::kWrongFamily:
    case Reason::kOverlong:
      return Counter::kRefusedMalformed;
    case Reason::kNotLoggedIn:
      return Counter::kRefusedNotLoggedIn;
    case Reason::kSplit:
      return Counter::kRefusedSplit;
    default:
      return Counter::kRefusedOther;
  }
}

}  // namespace

Event MakeEvent(EventType type, const Session& session, Direction direction, Timestamp time) {
  Event event;
  event.type = type;
  event.time = time;
  event.master = session.control.original;
  event.direction = direction;
  return event;
}

void Refuse(const EngineContext& context, PacketWork& work, std::string_view cause, Reason reason,
            std::string detail) {
  context.counters.Add(Counter::kRefusals);
  context.counters.Add(RefusalCounter(reason));
  Event event = MakeEvent(EventType::kRefuse, work.session, work.direction, work.time);
  event.cause = std::string(cause);
  event.reason = reason;
  event.detail = std::move(detail);
  work.decision.events.push_back(std::move(event));
}

void Withdraw(const EngineContext& context, Session& session, size_t index, Reason reason,
              Timestamp now, std::vector<Event>* events) {
  PendingExpectation pending = session.expectations[index];
  session.expectations.erase(session.expectations.begin() + static_cast<ptrdiff_t>(index));
  context.installer.Remove(pending.expectation);
  context.counters.Add(Counter::kExpectationsRemoved);
  if (events != nullptr) {
    Event event =
        MakeEvent(EventType::kUnexpect, session, pending.expectation.master_direction, now);
    event.cause = std::string(ExpectCauseName(pending.expectation.cause));
    event.reason = reason;
    event.expectation = pending.expectation;
    events->push_back(std::move(event));
  }
}

}  // namespace ftpalg
