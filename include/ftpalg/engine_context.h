// What the pieces of the engine (announcements, step-aside, the session table) share while a
// packet is processed: the configuration, where expectations go, the counters, and the packet's
// own work. Internal to the engine; callers use engine.h.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ftpalg/engine.h"
#include "ftpalg/packet_rewrite.h"
#include "ftpalg/packet_view.h"
#include "ftpalg/session.h"

namespace ftpalg {

struct EngineContext {
  const EngineConfig& config;
  ExpectationInstaller& installer;
  Counters& counters;
};

// The packet being processed, as the line handlers see it.
struct PacketWork {
  Session& session;
  const TcpPacketView& view;
  Direction direction;
  Timestamp time;
  Decision& decision;
  std::vector<PayloadEdit> edits = {};  // planned for this packet (repeats of old ones included)
  int32_t new_delta = 0;  // length change from rewrites planned in this packet (not repeats)
};

Event MakeEvent(EventType type, const Session& session, Direction direction, Timestamp time);

// Counts a refusal and reports it in the packet's decision.
void Refuse(const EngineContext& context, PacketWork& work, std::string_view cause, Reason reason,
            std::string detail = {});

// Withdraws the session's pending expectation at `index` from the installer; reports it in
// `events` unless that is nullptr.
void Withdraw(const EngineContext& context, Session& session, size_t index, Reason reason,
              Timestamp now, std::vector<Event>* events);

}  // namespace ftpalg
