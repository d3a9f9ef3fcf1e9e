// What the engine does when bytes of a control connection were never seen (a segment the queue
// let past the daemon, a capture's loss): the rules of docs/gaps.md. Framing resynchronises by
// itself (line_framer.h); this resets what the missing bytes may have changed.
#pragma once

#include "ftpalg/engine_context.h"

namespace ftpalg {

// Called for the segment that revealed the gap (work.direction is the stream with the hole):
// pairing becomes unsure (command_pairing.h), a login not yet seen becomes unknown (a 230 may have
// been in the hole: login_state.h), a multi-line reply in progress is forgotten. Reports a `gap`
// event; the session is counted once.
void RecoverFromGap(const EngineContext& context, PacketWork& work);

}  // namespace ftpalg
