#include "ftpalg/event_json.h"

#include <cmath>

namespace ftpalg {

nlohmann::ordered_json TupleToJson(const Tuple& tuple) {
  return nlohmann::ordered_json{{"src", tuple.src.addr.ToString()},
                                {"dst", tuple.dst.addr.ToString()},
                                {"sport", tuple.src.port},
                                {"dport", tuple.dst.port}};
}

double TimestampSeconds(Timestamp time) {
  const double micros = std::round(static_cast<double>(time) / 1000.0);
  return micros / 1e6;
}

nlohmann::ordered_json EventToJson(const Event& event) {
  nlohmann::ordered_json out;
  out["event"] = EventTypeName(event.type);
  out["time"] = TimestampSeconds(event.time);
  if (event.expectation) {
    const Expectation& exp = *event.expectation;
    out["family"] = FamilyName(exp.family());
    out["src"] = exp.source_any_address ? std::string("*") : exp.source.ToString();
    out["dst"] = exp.destination.addr.ToString();
    out["sport"] = 0;  // any source port: the mask leaves it open
    out["dport"] = exp.destination.port;
  }
  out["master"] = TupleToJson(event.master);
  out["dir"] = event.direction == Direction::kOriginal ? "client" : "server";
  if (!event.cause.empty()) out["cause"] = event.cause;
  if (event.reason != Reason::kNone) out["reason"] = ReasonName(event.reason);
  if (!event.detail.empty()) out["detail"] = event.detail;
  if (event.type == EventType::kRewrite) {
    out["old"] = event.old_text;
    out["new"] = event.new_text;
    out["delta"] = event.delta;
  }
  if (event.expectation && event.expectation->nat_to) {
    out["nat"] = nlohmann::ordered_json{{"addr", event.expectation->nat_to->addr.ToString()},
                                        {"port", event.expectation->nat_to->port}};
  }
  return out;
}

nlohmann::ordered_json CountersToJson(const Counters& counters) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (size_t i = 0; i < static_cast<size_t>(Counter::kCount); ++i) {
    const auto counter = static_cast<Counter>(i);
    out[std::string(CounterName(counter))] = counters.Get(counter);
  }
  return out;
}

std::string JsonLine(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string TupleToText(const Tuple& tuple) {
  return tuple.src.ToString() + " -> " + tuple.dst.ToString();
}

std::string EventToText(const Event& event) {
  std::string text = TupleToText(event.master) + "  ";
  switch (event.type) {
    case EventType::kRewrite:
      return text + "rewrote " + (event.direction == Direction::kOriginal ? "client" : "server") +
             " line \"" + event.old_text + "\" -> \"" + event.new_text + "\" (" +
             (event.delta >= 0 ? "+" : "") + std::to_string(event.delta) + " bytes)";
    case EventType::kExpect:
    case EventType::kUnexpect: {
      const Expectation& exp = *event.expectation;
      text +=
          event.type == EventType::kExpect ? "expect data connection " : "withdrew expectation ";
      text += (exp.source_any_address ? std::string("*") : exp.source.ToString()) + " -> " +
              exp.destination.ToString();
      if (exp.nat_to) text += " (translated to " + exp.nat_to->ToString() + ")";
      text += " for " + event.cause;
      if (event.reason != Reason::kNone) text += ": " + std::string(ReasonName(event.reason));
      return text;
    }
    case EventType::kRefuse:
      return text + "refused " + event.cause + ": " + std::string(ReasonName(event.reason)) +
             (event.detail.empty() ? "" : " (" + event.detail + ")");
    case EventType::kStepAside:
      return text + "stopped parsing this connection: " + std::string(ReasonName(event.reason)) +
             " (after " + event.cause + ")";
    case EventType::kSessionEnd:
      return text + "control connection ended (" + std::string(ReasonName(event.reason)) + ")";
    case EventType::kGap:
      return text + "bytes of the " +
             (event.direction == Direction::kOriginal ? "client" : "server") +
             " stream were never seen: framing and pairing resynchronise (" + event.detail + ")";
  }
  return text;
}

}  // namespace ftpalg
