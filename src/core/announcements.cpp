#include "ftpalg/announcements.h"

#include <algorithm>
#include <optional>
#include <string>

#include "ftpalg/expectation_builder.h"
#include "ftpalg/login_state.h"
#include "ftpalg/seq_shift.h"

namespace ftpalg {
namespace {

size_t Index(Direction direction) { return static_cast<size_t>(direction); }

// Where the announced address text lies: in the line (offsets into line.text) and on the wire.
struct AddressText {
  Endpoint announced;
  size_t begin = 0;
  size_t end = 0;
  std::string old_text;
  uint32_t seq = 0;                // sequence number of its first byte
  uint32_t offset_in_segment = 0;  // of its first byte in the segment being processed
  // A rewrite can change only bytes of this segment: text that began in an earlier, already
  // forwarded segment cannot be replaced.
  bool in_segment = false;
};

// The family check and the form's parser. `text` is the command's argument or the whole reply
// line, starting at line.text[offset]. Refuses (and returns nullopt) what does not parse.
// `report` false: for an announcement already refused, parsed only to conceal its address.
std::optional<AddressText> ParseAnnouncement(const EngineContext& context, PacketWork& work,
                                             const FramedLine& line, const AnnouncementForm& form,
                                             std::string_view text, size_t offset,
                                             bool report = true) {
  const ControlConnection& control = work.session.control;
  if (form.only_family && control.original.family() != *form.only_family) {
    // RFC 959's PORT and 227 carry IPv4 only; on IPv6 RFC 2428 says EPRT/EPSV.
    if (report) Refuse(context, work, form.name, Reason::kWrongFamily);
    return std::nullopt;
  }
  const HostPortResult parsed = form.parse(text, control);
  if (!parsed.ok()) {
    const Reason reason =
        parsed.error == ParseError::kWrongFamily ? Reason::kWrongFamily : Reason::kMalformed;
    if (report) Refuse(context, work, form.name, reason, std::string(ParseErrorName(parsed.error)));
    return std::nullopt;
  }
  AddressText address;
  address.announced = parsed.value.endpoint;
  address.begin = offset + parsed.value.begin;
  address.end = offset + parsed.value.end;
  address.old_text = std::string(line.text.substr(address.begin, address.end - address.begin));
  address.seq = line.start_seq + static_cast<uint32_t>(address.begin);
  address.offset_in_segment = address.seq - work.view.seq;
  address.in_segment = !SeqBefore(address.seq, work.view.seq) &&
                       address.offset_in_segment < work.view.payload.size();
  return address;
}

// RFC 2577 3: a data connection to or from a third party (FTP bounce) or to a privileged port is
// never opened.
bool PassesPolicy(const EngineContext& context, PacketWork& work, const AnnouncementForm& form,
                  const Endpoint& announced) {
  const PolicyConfig& policy = context.config.policy;
  if (policy.require_same_address &&
      announced.addr != AnnouncerAddress(work.session.control, form.announcer)) {
    Refuse(context, work, form.name, Reason::kBounce, announced.addr.ToString());
    return false;
  }
  if (policy.refuse_low_ports && announced.port < 1024) {
    Refuse(context, work, form.name, Reason::kLowPort, std::to_string(announced.port));
    return false;
  }
  return true;
}

// The per-connection bound: the oldest pending expectation makes room (like the kernel's
// max_expected eviction).
void MakeRoom(const EngineContext& context, PacketWork& work) {
  Session& session = work.session;
  const size_t bound = std::max<size_t>(context.config.policy.max_pending_expectations, 1);
  while (!session.expectations.empty() && session.expectations.size() >= bound) {
    context.counters.Add(Counter::kExpectationsReplaced);
    Withdraw(context, session, 0, Reason::kReplaced, work.time, &work.decision.events);
  }
}

struct Installed {
  Expectation expectation;
  std::string new_text;  // the address text naming the installed outside port
};

// Chooses the outside port: the announced one, then the next ones up (as nf_nat_ftp does), when
// the connection is translated; without NAT the port is what the announcer listens on. A
// third-party address (loose policy) keeps its port: there is no translation to move it.
std::optional<Installed> Install(const EngineContext& context, PacketWork& work,
                                 const AnnouncementForm& form, const AddressText& address) {
  const ControlConnection& control = work.session.control;
  const bool own_address = address.announced.addr == AnnouncerAddress(control, form.announcer);
  const uint32_t attempts = (control.Translated() && own_address)
                                ? std::max<uint32_t>(context.config.max_port_attempts, 1)
                                : 1;
  for (uint32_t attempt = 0; attempt < attempts; ++attempt) {
    const uint32_t port = uint32_t{address.announced.port} + attempt;
    if (port > 65535) break;
    Installed installed;
    installed.expectation =
        BuildExpectation(control, form.cause, address.announced, static_cast<uint16_t>(port));
    installed.new_text = form.format(installed.expectation.destination, address.old_text);
    if (installed.new_text != address.old_text && !address.in_segment) {
      Refuse(context, work, form.name, Reason::kSplit);
      return std::nullopt;
    }
    MakeRoom(context, work);
    switch (context.installer.Install(installed.expectation)) {
      case ExpectationInstaller::Result::kInstalled:
        return installed;
      case ExpectationInstaller::Result::kFailed:
        context.counters.Add(Counter::kExpectationsFailed);
        Refuse(context, work, form.name, Reason::kInstallFailed);
        return std::nullopt;
      case ExpectationInstaller::Result::kBusy:
        break;
    }
  }
  context.counters.Add(Counter::kExpectationsFailed);
  Refuse(context, work, form.name, Reason::kNoPortFree);
  return std::nullopt;
}

// Keeps the installed expectation pending in the session and reports it. Returns its serial.
uint32_t Remember(const EngineContext& context, PacketWork& work, const AnnouncementForm& form,
                  const Expectation& expectation) {
  Session& session = work.session;
  context.counters.Add(Counter::kExpectations);
  PendingExpectation pending;
  pending.expectation = expectation;
  pending.serial = session.next_serial++;
  if (session.next_serial == 0) session.next_serial = 1;
  pending.expires =
      work.time +
      static_cast<Timestamp>(context.config.policy.expectation_timeout_seconds) * kNanosPerSecond;
  session.expectations.push_back(pending);
  work.decision.expectations.push_back(expectation);
  Event event = MakeEvent(EventType::kExpect, session, work.direction, work.time);
  event.cause = std::string(form.name);
  event.expectation = expectation;
  work.decision.events.push_back(std::move(event));
  return pending.serial;
}

// Replaces the address text in this segment and records the edit for retransmissions.
void Rewrite(const EngineContext& context, PacketWork& work, const FramedLine& line,
             const AnnouncementForm& form, const AddressText& address,
             const std::string& new_text) {
  const size_t old_length = address.end - address.begin;
  work.edits.push_back(
      PayloadEdit{address.offset_in_segment, address.offset_in_segment + old_length, new_text});
  const int32_t delta = static_cast<int32_t>(new_text.size()) - static_cast<int32_t>(old_length);
  work.new_delta += delta;
  StreamState& stream = work.session.streams[Index(work.direction)];
  if (stream.edits.size() >= StreamState::kMaxRecordedEdits) {
    stream.edits.erase(stream.edits.begin());
  }
  stream.edits.push_back(RecordedEdit{work.view.seq, address.seq, address.old_text, new_text});
  context.counters.Add(Counter::kRewrites);

  Event event = MakeEvent(EventType::kRewrite, work.session, work.direction, work.time);
  event.cause = std::string(form.name);
  event.old_text = std::string(line.text);
  event.new_text = std::string(line.text.substr(0, address.begin)) + new_text +
                   std::string(line.text.substr(address.end));
  event.delta = delta;
  work.decision.events.push_back(std::move(event));
}

// Issue 11 part 4: an announcement of the announcer's own address that is not acted on would
// still carry the inside address out. Rewritten to the address the peer sees (the announced
// port kept, as the first port Install() would try), it discloses nothing and opens nothing: no
// expectation names that port. Only text of this segment can be replaced (a split address has
// left already); a third-party address has no translation.
void Conceal(const EngineContext& context, PacketWork& work, const FramedLine& line,
             const AnnouncementForm& form, const AddressText& address) {
  const ControlConnection& control = work.session.control;
  if (!control.Translated() || !address.in_segment ||
      address.announced.addr != AnnouncerAddress(control, form.announcer)) {
    return;
  }
  const Expectation unused =
      BuildExpectation(control, form.cause, address.announced, address.announced.port);
  const std::string new_text = form.format(unused.destination, address.old_text);
  if (new_text == address.old_text) return;
  context.counters.Add(Counter::kAddressesConcealed);
  Rewrite(context, work, line, form, address, new_text);
}

// For an announcement refused before it was parsed (login, pairing, EPSV ALL).
void ConcealRefused(const EngineContext& context, PacketWork& work, const FramedLine& line,
                    const AnnouncementForm& form, std::string_view text, size_t offset) {
  if (line.overlong) return;  // only its start was kept: nothing to rewrite
  const std::optional<AddressText> address =
      ParseAnnouncement(context, work, line, form, text, offset, /*report=*/false);
  if (address) Conceal(context, work, line, form, *address);
}

// Parses what passed the form's checks and acts on it. Returns the expectation's serial, 0 if
// none.
uint32_t Act(const EngineContext& context, PacketWork& work, const FramedLine& line,
             const AnnouncementForm& form, std::string_view text, size_t offset) {
  const std::optional<AddressText> address =
      ParseAnnouncement(context, work, line, form, text, offset);
  if (!address) return 0;
  if (!PassesPolicy(context, work, form, address->announced)) {
    Conceal(context, work, line, form, *address);
    return 0;
  }
  const std::optional<Installed> installed = Install(context, work, form, *address);
  if (!installed) return 0;
  const uint32_t serial = Remember(context, work, form, installed->expectation);
  if (installed->new_text != address->old_text) {
    Rewrite(context, work, line, form, *address, installed->new_text);
  }
  return serial;
}

}  // namespace

uint32_t OnAnnouncingCommand(const EngineContext& context, PacketWork& work, const FramedLine& line,
                             const CommandLine& command, const AnnouncementForm& form) {
  const Session& session = work.session;
  if (line.overlong) {
    Refuse(context, work, form.name, Reason::kOverlong);
    return 0;
  }
  if (session.epsv_all) {
    Refuse(context, work, form.name, Reason::kEpsvAll);
    ConcealRefused(context, work, line, form, command.argument, command.argument_offset);
    return 0;
  }
  // Login unknown (picked up, or a gap before it: docs/gaps.md): acted on at once. Its lines
  // got the pre-login checks; a server that is not logged in refuses the PORT (530) and the
  // expectation is withdrawn (AfterOtherReply).
  const bool login_unknown = session.login == LoginState::kUnknown;
  if (!login_unknown && BeforeLogin(session.login, context.config.policy)) {
    Refuse(context, work, form.name, Reason::kNotLoggedIn);
    ConcealRefused(context, work, line, form, command.argument, command.argument_offset);
    return 0;
  }
  return Act(context, work, line, form, command.argument, command.argument_offset);
}

void OnAnnouncingReply(const EngineContext& context, PacketWork& work, const FramedLine& line,
                       const AnnouncementForm& form, const AnsweredCommand& answered) {
  // RFC 959 4.2 pairs every reply with its command: a 227 that answers no PASV (unsolicited, or
  // after EPSV ALL) names a port nobody asked for.
  const bool answers_its_command = answered.Is(form.answers) && !answered.command.epsv_all;
  if (context.config.policy.require_paired_reply && !answers_its_command) {
    Refuse(context, work, form.name, Reason::kUnpaired);
    return ConcealRefused(context, work, line, form, line.text, 0);
  }
  if (line.overlong) return Refuse(context, work, form.name, Reason::kOverlong);
  Act(context, work, line, form, line.text, 0);
}

void AfterOtherReply(const EngineContext& context, PacketWork& work, int code,
                     const AnsweredCommand& answered) {
  Session& session = work.session;
  if (!answered.paired) return;
  if (code == 200 && answered.command.epsv_all) {
    session.epsv_all = true;  // RFC 2428 4: from now on only EPSV, never PORT/EPRT/PASV
  } else if (code == 220 && answered.command.verb == CommandVerb::kRein) {
    session.epsv_all = false;  // RFC 959 4.1.1: REIN resets the session's state
  } else if (code >= 400 && answered.command.expectation_serial != 0) {
    // The server refused the PORT/EPRT/LPRT: nothing will connect, so close the hole again.
    for (size_t i = 0; i < session.expectations.size(); ++i) {
      if (session.expectations[i].serial == answered.command.expectation_serial) {
        Withdraw(context, session, i, Reason::kServerRefused, work.time, &work.decision.events);
        break;
      }
    }
  }
}

}  // namespace ftpalg
