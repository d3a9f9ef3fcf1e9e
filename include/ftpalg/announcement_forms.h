// The announcement forms: every way a client or a server names a data endpoint on the control
// connection, one row each (RFC 959 PORT/227, RFC 2428 EPRT/229, RFC 1639 LPRT/228). The engine
// dispatches on this table only; adding a form is one row here plus its parser and formatter.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ftpalg/expectation.h"
#include "ftpalg/ftp_command.h"
#include "ftpalg/port_command.h"

namespace ftpalg {

struct AnnouncementForm {
  ExpectCause cause;      // also what events name it by (ExpectCauseName)
  std::string_view name;  // "PORT", "227", ...
  // Who announces: the client in a command (kOriginal), the server in a reply (kReply).
  Direction announcer;
  CommandVerb verb;     // the announcing command (client forms); kOther for replies
  int reply_code;       // the announcing reply (server forms); 0 for commands
  CommandVerb answers;  // the command a server form must answer (PASV, EPSV, LPSV); else kOther
  // The one control connection family the form is defined for (RFC 959's forms carry IPv4 only);
  // nullopt when it names either family and the parser checks it against the connection's.
  std::optional<Family> only_family;
  // Finds the endpoint in a command's argument or in a whole reply line; offsets are relative to
  // `text` and cover exactly the bytes `format` rewrites. Forms that carry only a port (229) take
  // the address from the control connection.
  HostPortResult (*parse)(std::string_view text, const ControlConnection& control);
  // The replacement for the parsed span, naming `endpoint`; `old_text` is that span as sent (EPRT
  // keeps the line's own delimiter).
  std::string (*format)(const Endpoint& endpoint, std::string_view old_text);
};

// Every row, in ExpectCause order.
std::span<const AnnouncementForm> AnnouncementForms();

// The row announced by a command verb or a final reply code; nullptr when it announces nothing.
const AnnouncementForm* FindCommandForm(CommandVerb verb);
const AnnouncementForm* FindReplyForm(int code);

// The row of an expectation's cause.
const AnnouncementForm& FormOf(ExpectCause cause);

}  // namespace ftpalg
