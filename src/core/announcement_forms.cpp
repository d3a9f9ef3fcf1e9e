#include "ftpalg/announcement_forms.h"

#include <array>

#include "ftpalg/eprt_command.h"
#include "ftpalg/expectation_builder.h"
#include "ftpalg/lprt_command.h"

namespace ftpalg {
namespace {

// Parsers and formatters with the table's signatures. The control connection gives the family
// (EPRT, LPRT, 228) or the address itself (229).
HostPortResult ParsePort(std::string_view argument, const ControlConnection&) {
  return ParsePortArgument(argument);
}
HostPortResult Parse227(std::string_view line, const ControlConnection&) {
  return Parse227Reply(line);
}
HostPortResult ParseEprt(std::string_view argument, const ControlConnection& control) {
  return ParseEprtArgument(argument, control.original.family());
}
HostPortResult Parse229(std::string_view line, const ControlConnection& control) {
  const PortResult port = Parse229Reply(line);
  HostPortResult result;
  result.error = port.error;
  if (!port.ok()) return result;
  // RFC 2428 3: the data connection goes to the address of the control connection.
  result.value.endpoint = Endpoint{AnnouncerAddress(control, Direction::kReply), port.value.port};
  result.value.begin = port.value.begin;
  result.value.end = port.value.end;
  return result;
}
HostPortResult ParseLprt(std::string_view argument, const ControlConnection& control) {
  return ParseLprtArgument(argument, control.original.family());
}
HostPortResult Parse228(std::string_view line, const ControlConnection& control) {
  return Parse228Reply(line, control.original.family());
}

std::string FormatHostPort(const Endpoint& endpoint, std::string_view) {
  return FormatPortArgument(endpoint);
}
std::string FormatEprt(const Endpoint& endpoint, std::string_view old_text) {
  // The parsed span starts at net-prt, one character ("1" or "2"), then the line's delimiter.
  const char delimiter = old_text.size() > 1 ? old_text[1] : '|';
  return FormatEprtFields(endpoint, delimiter);
}
std::string FormatPortDigits(const Endpoint& endpoint, std::string_view) {
  return std::to_string(endpoint.port);
}
std::string FormatLong(const Endpoint& endpoint, std::string_view) {
  return FormatLongHostPort(endpoint);
}

constexpr Direction kClient = Direction::kOriginal;
constexpr Direction kServer = Direction::kReply;
constexpr CommandVerb kNoVerb = CommandVerb::kOther;
constexpr std::optional<Family> kEither = std::nullopt;

constexpr std::array<AnnouncementForm, 6> kForms = {{
    // cause, name, announcer, verb, reply, answers, only_family, parse, format
    {ExpectCause::kPort, "PORT", kClient, CommandVerb::kPort, 0, kNoVerb, Family::kIpv4, ParsePort,
     FormatHostPort},
    {ExpectCause::kEprt, "EPRT", kClient, CommandVerb::kEprt, 0, kNoVerb, kEither, ParseEprt,
     FormatEprt},
    {ExpectCause::k227, "227", kServer, kNoVerb, 227, CommandVerb::kPasv, Family::kIpv4, Parse227,
     FormatHostPort},
    {ExpectCause::k229, "229", kServer, kNoVerb, 229, CommandVerb::kEpsv, kEither, Parse229,
     FormatPortDigits},
    {ExpectCause::kLprt, "LPRT", kClient, CommandVerb::kLprt, 0, kNoVerb, kEither, ParseLprt,
     FormatLong},
    {ExpectCause::k228, "228", kServer, kNoVerb, 228, CommandVerb::kLpsv, kEither, Parse228,
     FormatLong},
}};

constexpr bool RowsInCauseOrder() {
  for (size_t i = 0; i < kForms.size(); ++i) {
    if (static_cast<size_t>(kForms[i].cause) != i) return false;
  }
  return true;
}
static_assert(RowsInCauseOrder(), "FormOf() indexes the table by ExpectCause");

}  // namespace

std::span<const AnnouncementForm> AnnouncementForms() { return kForms; }

const AnnouncementForm* FindCommandForm(CommandVerb verb) {
  if (verb == kNoVerb) return nullptr;
  for (const AnnouncementForm& form : kForms) {
    if (form.verb == verb) return &form;
  }
  return nullptr;
}

const AnnouncementForm* FindReplyForm(int code) {
  if (code == 0) return nullptr;
  for (const AnnouncementForm& form : kForms) {
    if (form.reply_code == code) return &form;
  }
  return nullptr;
}

const AnnouncementForm& FormOf(ExpectCause cause) { return kForms[static_cast<size_t>(cause)]; }

std::string_view ExpectCauseName(ExpectCause cause) {
  const auto index = static_cast<size_t>(cause);
  return index < kForms.size() ? kForms[index].name : "?";
}

}  // namespace ftpalg
