// JSON lines for events: the replay tool's --events output and the daemon's structured log share
// these field names.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "ftpalg/counters.h"
#include "ftpalg/events.h"

namespace ftpalg {

nlohmann::ordered_json TupleToJson(const Tuple& tuple);  // {"src","dst","sport","dport"}
nlohmann::ordered_json EventToJson(const Event& event);
nlohmann::ordered_json CountersToJson(const Counters& counters);

// One line of JSON, never throwing: bytes that are not UTF-8 (wire data in "old"/"new") are
// replaced with U+FFFD rather than failing the dump.
std::string JsonLine(const nlohmann::ordered_json& value);

// "192.0.2.2:40000 -> 198.51.100.2:21"
std::string TupleToText(const Tuple& tuple);
// The same decision in plain words (the replay's report, the daemon's text log).
std::string EventToText(const Event& event);

// Seconds with microsecond precision, as the "time" field carries it.
double TimestampSeconds(Timestamp time);

}  // namespace ftpalg
