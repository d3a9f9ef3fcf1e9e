// Acting on announcements (the rows of announcement_forms.h): the checks before parsing (login,
// EPSV ALL, pairing, family, overlong lines), the policy (bounce, low ports), the outside port,
// the expectation and the rewrite of the address text.
#pragma once

#include <cstdint>

#include "ftpalg/announcement_forms.h"
#include "ftpalg/command_pairing.h"
#include "ftpalg/engine_context.h"
#include "ftpalg/ftp_command.h"
#include "ftpalg/line_framer.h"

namespace ftpalg {

// A client command of an announcing form (PORT, EPRT, LPRT). Returns the serial of the installed
// expectation, 0 if none.
uint32_t OnAnnouncingCommand(const EngineContext& context, PacketWork& work, const FramedLine& line,
                             const CommandLine& command, const AnnouncementForm& form);

// A final server reply of an announcing form (227, 229, 228), with the command it answers.
void OnAnnouncingReply(const EngineContext& context, PacketWork& work, const FramedLine& line,
                       const AnnouncementForm& form, const AnsweredCommand& answered);

// Any other final reply, for what it changes about data connections: EPSV ALL accepted (no
// PORT/EPRT/LPRT from now on, RFC 2428 4), REIN (EPSV ALL no longer holds), a PORT/EPRT/LPRT the
// server refused (its expectation is withdrawn).
void AfterOtherReply(const EngineContext& context, PacketWork& work, int code,
                     const AnsweredCommand& answered);

}  // namespace ftpalg
