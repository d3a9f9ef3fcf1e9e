// The engine's control lines, for whoever wants to follow a session beyond what the engine acts on
// (the transfer log). Set with Engine::SetLineObserver.
#pragma once

#include <string_view>

#include "ftpalg/events.h"
#include "ftpalg/expectation.h"

namespace ftpalg {

// What the engine hands an observer of control lines (Engine::SetLineObserver).
class ControlLineObserver {
 public:
  virtual ~ControlLineObserver() = default;
  // A complete control line (without CR LF, at most the engine's line bound) of a session that is
  // being parsed (not after TLS or a not-FTP step-aside). `direction` kOriginal: a client command.
  virtual void OnControlLine(const ControlConnection& control, Direction direction, Timestamp time,
                             std::string_view line) = 0;
};

}  // namespace ftpalg
