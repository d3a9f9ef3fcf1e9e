#include "ftpalg/engine.h"

#include <algorithm>
#include <unordered_map>

#include "ftpalg/eprt_command.h"
#include "ftpalg/expectation_builder.h"
#include "ftpalg/ftp_command.h"
#include "ftpalg/packet_rewrite.h"
#include "ftpalg/packet_view.h"
#include "ftpalg/port_command.h"
#include "ftpalg/session.h"

namespace ftpalg {
namespace {

size_t Index(Direction direction) { return static_cast<size_t>(direction); }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) return false;
  }
  return true;
}

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

class Engine::Impl {
 public:
  Impl(EngineConfig config, ExpectationInstaller& installer, Counters& counters)
      : config_(std::move(config)), installer_(installer), counters_(counters) {}

  Decision Process(const PacketInput& input);
  void Expire(Timestamp now, std::vector<Event>* events);
  void EndSession(const Tuple& original, Timestamp now, std::vector<Event>* events);
  void Reconfigure(const EngineConfig& config) { config_ = config; }
  size_t session_count() const { return sessions_.size(); }
  size_t ApproximateMemory() const;

 private:
  // Everything about the packet being processed that line handling needs.
  struct PacketWork : LineSink {
    PacketWork(Impl& impl_ref, Session& session_ref, const TcpPacketView& view_ref, Direction dir,
               Timestamp now, Decision& decision_ref)
        : impl(impl_ref),
          session(session_ref),
          view(view_ref),
          direction(dir),
          time(now),
          decision(decision_ref) {}
    void OnLine(const FramedLine& line) override { impl.HandleLine(*this, line); }

    Impl& impl;
    Session& session;
    const TcpPacketView& view;
    Direction direction;
    Timestamp time;
    Decision& decision;
    std::vector<PayloadEdit> edits;
    int32_t new_delta = 0;  // length change from rewrites planned in this packet (not repeats)
  };

  Session* FindOrCreateSession(const PacketInput& input, const TcpPacketView& view,
                               Decision& decision);
  void HandleLine(PacketWork& work, const FramedLine& line);
  void HandleCommand(PacketWork& work, const FramedLine& line);
  void HandleReply(PacketWork& work, const FramedLine& line);
  void HandleDataCommand(PacketWork& work, const FramedLine& line, const CommandLine& command);
  // Acts on a PORT/EPRT/227/229 that passed parsing: policy, port choice, expectation, rewrite.
  // `text_begin`/`text_end` locate the address text in line.text. Returns the serial of the
  // installed expectation, 0 if none.
  uint32_t ActOnAnnouncement(PacketWork& work, const FramedLine& line, ExpectCause cause,
                             const Endpoint& announced, size_t text_begin, size_t text_end,
                             char eprt_delimiter);
  void RepeatRecordedEdits(PacketWork& work);
  bool RealignInsideEdit(PacketWork& work, const RecordedEdit& edit);
  void StepAsideSession(PacketWork& work, StepAside why, std::string_view cause);
  void Refuse(PacketWork& work, std::string_view cause, Reason reason, std::string detail = {});
  void Withdraw(Session& session, size_t index, Reason reason, Timestamp now,
                std::vector<Event>* events);
  void EndSessionAt(std::unordered_map<Tuple, Session, TupleHash>::iterator it, Reason reason,
                    Timestamp now, std::vector<Event>* events);
  Event MakeEvent(EventType type, const Session& session, Direction direction,
                  Timestamp time) const;

  EngineConfig config_;
  ExpectationInstaller& installer_;
  Counters& counters_;
  std::unordered_map<Tuple, Session, TupleHash> sessions_;
  Timestamp last_sweep_ = 0;
};

Event Engine::Impl::MakeEvent(EventType type, const Session& session, Direction direction,
                              Timestamp time) const {
  Event event;
  event.type = type;
  event.time = time;
  event.master = session.control.original;
  event.direction = direction;
  return event;
}

Decision Engine::Impl::Process(const PacketInput& input) {
  Decision decision;
  counters_.Add(Counter::kPackets);
  TcpPacketResult parsed = ParseTcpPacket(input.packet);
  if (!parsed.ok()) {
    counters_.Add(parsed.error == PacketError::kNotTcp ? Counter::kPacketsNotTcp
                                                       : Counter::kPacketsMalformed);
    return decision;
  }
  const TcpPacketView& view = parsed.view;

  // Sweep idle sessions at most once a second of injected time.
  if (input.time - last_sweep_ >= kNanosPerSecond || input.time < last_sweep_) {
    last_sweep_ = input.time;
    Expire(input.time, &decision.events);
  }

  Session* session = FindOrCreateSession(input, view, decision);
  if (session == nullptr) return decision;
  session->last_seen = input.time;
  const Direction direction = input.direction;
  StreamState& stream = session->streams[Index(direction)];

  if (view.HasFlag(tcp_flags::kSyn)) {
    // RFC 793 3.3: the SYN occupies one sequence number; data starts after it.
    if (!stream.framer.started()) stream.framer.StartAt(view.seq + 1);
  }
  if (view.HasFlag(tcp_flags::kRst)) {
    session->closed_at = input.time;
  } else if (view.HasFlag(tcp_flags::kFin)) {
    stream.fin_seen = true;
    if (session->streams[0].fin_seen && session->streams[1].fin_seen && session->closed_at == 0) {
      session->closed_at = input.time;
    }
  }

  PacketWork work(*this, *session, view, direction, input.time, decision);
  if (!view.payload.empty()) {
    if (session->step_aside != StepAside::kNo) {
      counters_.Add(Counter::kBytesIgnored, view.payload.size());
    } else {
      switch (stream.framer.Feed(view.seq, view.payload, work)) {
        case FeedKind::kRetransmission:
          counters_.Add(Counter::kSegmentsRetransmitted);
          break;
        case FeedKind::kOverlap:
          counters_.Add(Counter::kSegmentsOverlapping);
          break;
        case FeedKind::kGap:
          counters_.Add(Counter::kSegmentsOutOfOrder);
          // A multi-line reply may have begun or ended in the missing bytes.
          if (direction == Direction::kReply) session->replies.Reset();
          break;
        case FeedKind::kInOrder:
        case FeedKind::kEmpty:
          break;
      }
    }
    // Bytes framed before (a retransmission, the old part of an overlap) carry the rewrite they
    // got the first time, so that both copies have the same length and content.
    RepeatRecordedEdits(work);
  }

  PacketChanges changes;
  changes.edits = std::move(work.edits);
  std::sort(changes.edits.begin(), changes.edits.end(),
            [](const PayloadEdit& a, const PayloadEdit& b) { return a.begin < b.begin; });
  if (config_.shift_sequence_numbers) {
    const SeqShift& own = stream.shift;
    const SeqShift& peer = session->streams[Index(Opposite(direction))].shift;
    changes.seq_shift = own.OffsetFor(view.seq);
    if (view.HasFlag(tcp_flags::kAck)) changes.ack_shift = peer.OffsetFor(view.ack);
    // SACK blocks (RFC 2018) name bytes of the peer's stream, like the acknowledgement.
    // Each edge on its own: a block can span a rewritten segment (nf_ct_sack_block_adjust).
    if (view.sack_block_count > 0) {
      std::array<SackEdgeShift, 4> shifts{};
      bool any = false;
      for (size_t i = 0; i < view.sack_block_count; ++i) {
        shifts[i] = SackEdgeShift{peer.OffsetFor(view.sack_blocks[i].left),
                                  peer.OffsetFor(view.sack_blocks[i].right)};
        any = any || shifts[i].left != 0 || shifts[i].right != 0;
      }
      if (any) changes.sack_edge_shifts = shifts;
    }
  }
  decision.seq_adjustment = stream.shift.Record(view.seq, work.new_delta);

  if (!changes.empty()) {
    decision.packet = RewriteTcpPacket(view, changes);
    decision.modified = true;
    for (const PayloadEdit& edit : changes.edits) {
      decision.payload_delta += static_cast<int32_t>(edit.replacement.size()) -
                                static_cast<int32_t>(edit.end - edit.begin);
    }
    counters_.Add(Counter::kPacketsModified);
  }
  return decision;
}

Session* Engine::Impl::FindOrCreateSession(const PacketInput& input, const TcpPacketView& view,
                                           Decision& decision) {
  auto it = sessions_.find(input.control.original);
  if (it != sessions_.end()) {
    if (input.control.conntrack_id != 0)
      it->second.control.conntrack_id = input.control.conntrack_id;
    return &it->second;
  }
  // A stray packet of a session that already ended (RST, retransmitted FIN) starts nothing.
  if (view.HasFlag(tcp_flags::kRst) || (view.HasFlag(tcp_flags::kFin) && view.payload.empty())) {
    return nullptr;
  }
  if (sessions_.size() >= config_.max_sessions) {
    counters_.Add(Counter::kSessionsRejected);
    if (view.HasFlag(tcp_flags::kSyn)) {
      Event event;
      event.type = EventType::kRefuse;
      event.time = input.time;
      event.master = input.control.original;
      event.direction = input.direction;
      event.cause = "session";
      event.reason = Reason::kLimit;
      decision.events.push_back(std::move(event));
    }
    return nullptr;
  }
  auto [inserted, ok] =
      sessions_.try_emplace(input.control.original, input.control, config_.max_line_length);
  (void)ok;
  Session& session = inserted->second;
  counters_.Add(Counter::kSessions);
  counters_.Add(Counter::kSessionsActive);
  // Seen from its handshake: the greeting and login are still to come. Picked up mid-stream:
  // assume the login happened (a daemon restarted under running sessions must keep serving them).
  const bool handshake = view.HasFlag(tcp_flags::kSyn);
  session.login = (handshake && config_.policy.require_login) ? LoginState::kAwaitingGreeting
                                                              : LoginState::kLoggedIn;
  return &session;
}

void Engine::Impl::HandleLine(PacketWork& work, const FramedLine& line) {
  counters_.Add(Counter::kLines);
  if (line.overlong) counters_.Add(Counter::kLinesOverlong);
  if (work.session.step_aside != StepAside::kNo) return;
  if (work.direction == Direction::kOriginal) {
    HandleCommand(work, line);
  } else {
    HandleReply(work, line);
  }
}

void Engine::Impl::HandleCommand(PacketWork& work, const FramedLine& line) {
  Session& session = work.session;
  const CommandLine command = ParseCommandLine(line.text);
  const bool logged_in = session.login == LoginState::kLoggedIn;

  // NAT slipstreaming defence: before the login, every client line must be an FTP command (RFC
  // 959 5.3 syntax). An HTTP request smuggled onto port 21 fails that on its first header line, so
  // the connection is set aside before any PORT line in the request body is reached.
  if (config_.policy.require_login && !logged_in &&
      (!command.well_formed || command.looks_like_http || line.overlong)) {
    StepAsideSession(work, StepAside::kNotFtp,
                     command.code.empty() ? std::string_view("line") : command.code);
    return;
  }

  PendingCommand pending;
  pending.verb = command.verb;
  pending.epsv_all =
      command.verb == CommandVerb::kEpsv && EqualsIgnoreCase(command.argument, "ALL");
  if (session.commands.size() >= Session::kMaxPendingCommands) {
    // A client that pipelines this many commands without reading replies is not pairing-safe.
    session.commands.erase(session.commands.begin());
    session.pairing_lost = true;
  }
  session.commands.push_back(pending);

  if (command.verb == CommandVerb::kPort || command.verb == CommandVerb::kEprt) {
    HandleDataCommand(work, line, command);
  }
}

void Engine::Impl::HandleDataCommand(PacketWork& work, const FramedLine& line,
                                     const CommandLine& command) {
  Session& session = work.session;
  const bool is_port = command.verb == CommandVerb::kPort;
  const ExpectCause cause = is_port ? ExpectCause::kPort : ExpectCause::kEprt;
  const std::string_view cause_name = ExpectCauseName(cause);
  if (line.overlong) return Refuse(work, cause_name, Reason::kOverlong);
  if (session.epsv_all) return Refuse(work, cause_name, Reason::kEpsvAll);
  if (config_.policy.require_login && session.login != LoginState::kLoggedIn) {
    return Refuse(work, cause_name, Reason::kNotLoggedIn);
  }
  const Family family = session.control.original.family();
  HostPortResult parsed;
  char delimiter = '|';
  if (is_port) {
    // RFC 959 PORT carries an IPv4 address only; on IPv6 control connections RFC 2428 says EPRT.
    if (family != Family::kIpv4) return Refuse(work, cause_name, Reason::kWrongFamily);
    parsed = ParsePortArgument(command.argument);
  } else {
    parsed = ParseEprtArgument(command.argument, family);
    delimiter = EprtDelimiter(command.argument).value_or('|');
  }
  if (!parsed.ok()) {
    Reason reason =
        parsed.error == ParseError::kWrongFamily ? Reason::kWrongFamily : Reason::kMalformed;
    return Refuse(work, cause_name, reason, std::string(ParseErrorName(parsed.error)));
  }
  uint32_t serial = ActOnAnnouncement(work, line, cause, parsed.value.endpoint,
                                      command.argument_offset + parsed.value.begin,
                                      command.argument_offset + parsed.value.end, delimiter);
  session.commands.back().expectation_serial = serial;
}

void Engine::Impl::HandleReply(PacketWork& work, const FramedLine& line) {
  Session& session = work.session;
  const ReplyLine reply = session.replies.Feed(line.text);
  if (reply.malformed) {
    counters_.Add(Counter::kReplyLinesMalformed);
    return;
  }
  // RFC 959 4.2: only the last line of a multi-line reply carries the reply; text on the lines
  // before it (which may well look like "227 ...") is never acted on.
  if (reply.continuation || reply.final_code == 0) return;
  const int code = reply.final_code;

  if (session.login == LoginState::kAwaitingGreeting) {
    // RFC 959 5.4: the connection opens with 120 (wait) then 220, or 220, or 421.
    if (code == 220) session.login = LoginState::kAwaitingLogin;
    return;
  }
  if (code < 200) return;  // preliminary (1yz): the command is still running

  PendingCommand answered;
  bool paired = false;
  if (!session.commands.empty()) {
    answered = session.commands.front();
    session.commands.erase(session.commands.begin());
    paired = !session.pairing_lost;
  }

  // RFC 959 5.4: 230 answers USER, PASS or ACCT. A 230 that answers nothing (a server speaking
  // first, as a NAT-slipstreaming server would before the browser's request) or another command
  // logs nobody in: it would switch off the checks on the client's pre-login lines.
  if (code == 230 && paired &&
      (answered.verb == CommandVerb::kUser || answered.verb == CommandVerb::kPass ||
       answered.verb == CommandVerb::kAcct)) {
    session.login = LoginState::kLoggedIn;
  }

  if (code == 227 || code == 229) {
    const ExpectCause cause = code == 227 ? ExpectCause::k227 : ExpectCause::k229;
    const std::string_view cause_name = ExpectCauseName(cause);
    const CommandVerb wanted = code == 227 ? CommandVerb::kPasv : CommandVerb::kEpsv;
    if (config_.policy.require_paired_reply &&
        (!paired || answered.verb != wanted || answered.epsv_all)) {
      return Refuse(work, cause_name, Reason::kUnpaired);
    }
    if (line.overlong) return Refuse(work, cause_name, Reason::kOverlong);
    if (code == 227) {
      if (session.control.original.family() != Family::kIpv4) {
        return Refuse(work, cause_name, Reason::kWrongFamily);
      }
      HostPortResult parsed = Parse227Reply(line.text);
      if (!parsed.ok()) {
        return Refuse(work, cause_name, Reason::kMalformed,
                      std::string(ParseErrorName(parsed.error)));
      }
      ActOnAnnouncement(work, line, cause, parsed.value.endpoint, parsed.value.begin,
                        parsed.value.end, '|');
    } else {
      PortResult parsed = Parse229Reply(line.text);
      if (!parsed.ok()) {
        return Refuse(work, cause_name, Reason::kMalformed,
                      std::string(ParseErrorName(parsed.error)));
      }
      // RFC 2428 3: the data connection goes to the address of the control connection.
      Endpoint announced{AnnouncerAddress(session.control, Direction::kReply), parsed.value.port};
      ActOnAnnouncement(work, line, cause, announced, parsed.value.begin, parsed.value.end, '|');
    }
    return;
  }

  if (!paired) return;
  if (code == 234 && answered.verb == CommandVerb::kAuth && config_.policy.step_aside_on_tls) {
    // RFC 4217 4 / RFC 2228 3: 234 accepts AUTH TLS/SSL; the next bytes are a TLS handshake and
    // the commands that follow are encrypted. There is nothing left to parse.
    StepAsideSession(work, StepAside::kTls, "AUTH");
  } else if (code == 200 && answered.epsv_all) {
    session.epsv_all = true;  // RFC 2428 4: from now on only EPSV, never PORT/EPRT/PASV
  } else if (code == 220 && answered.verb == CommandVerb::kRein) {
    // RFC 959 4.1.1: REIN flushes the login; the user must log in again.
    session.login =
        config_.policy.require_login ? LoginState::kAwaitingLogin : LoginState::kLoggedIn;
    session.epsv_all = false;
  } else if (code >= 400 && answered.expectation_serial != 0) {
    // The server refused the PORT/EPRT: nothing will connect, so close the hole again.
    for (size_t i = 0; i < session.expectations.size(); ++i) {
      if (session.expectations[i].serial == answered.expectation_serial) {
        Withdraw(session, i, Reason::kServerRefused, work.time, &work.decision.events);
        break;
      }
    }
  }
}

uint32_t Engine::Impl::ActOnAnnouncement(PacketWork& work, const FramedLine& line,
                                         ExpectCause cause, const Endpoint& announced,
                                         size_t text_begin, size_t text_end, char eprt_delimiter) {
  Session& session = work.session;
  const ControlConnection& control = session.control;
  const Direction announcer = AnnouncerDirection(cause);
  const std::string_view cause_name = ExpectCauseName(cause);
  const PolicyConfig& policy = config_.policy;

  if (policy.require_same_address && announced.addr != AnnouncerAddress(control, announcer)) {
    // RFC 2577 3 (FTP bounce): a data connection to or from a third party is never opened.
    Refuse(work, cause_name, Reason::kBounce, announced.addr.ToString());
    return 0;
  }
  if (policy.refuse_low_ports && announced.port < 1024) {
    Refuse(work, cause_name, Reason::kLowPort, std::to_string(announced.port));
    return 0;
  }

  // Where the address text sits in the segment being processed. A rewrite can change only bytes
  // of this segment: text that began in an earlier, already forwarded segment cannot be replaced.
  const uint32_t text_seq = line.start_seq + static_cast<uint32_t>(text_begin);
  const uint32_t offset_in_segment = text_seq - work.view.seq;
  const bool text_in_segment =
      !SeqBefore(text_seq, work.view.seq) && offset_in_segment < work.view.payload.size();
  const std::string old_text(line.text.substr(text_begin, text_end - text_begin));

  // Choose the outside port: the announced one, then the next ones up (as nf_nat_ftp does), when
  // the connection is translated; without NAT the port is what the announcer listens on.
  // A third-party address (loose policy) keeps its port: there is no translation to move it.
  const bool own_address = announced.addr == AnnouncerAddress(control, announcer);
  const uint32_t attempts = (control.Translated() && own_address)
                                ? std::max<uint32_t>(config_.max_port_attempts, 1)
                                : 1;
  Expectation expectation;
  std::string new_text;
  bool installed = false;
  for (uint32_t attempt = 0; attempt < attempts; ++attempt) {
    const uint32_t port = uint32_t{announced.port} + attempt;
    if (port > 65535) break;
    expectation = BuildExpectation(control, cause, announced, static_cast<uint16_t>(port));
    new_text = AnnouncementText(cause, expectation.destination, eprt_delimiter);
    if (new_text != old_text && !text_in_segment) {
      Refuse(work, cause_name, Reason::kSplit);
      return 0;
    }
    // The per-connection bound: the oldest pending expectation makes room (like the kernel's
    // max_expected eviction).
    while (!session.expectations.empty() &&
           session.expectations.size() >= std::max<size_t>(policy.max_pending_expectations, 1)) {
      counters_.Add(Counter::kExpectationsReplaced);
      Withdraw(session, 0, Reason::kReplaced, work.time, &work.decision.events);
    }
    ExpectationInstaller::Result result = installer_.Install(expectation);
    if (result == ExpectationInstaller::Result::kInstalled) {
      installed = true;
      break;
    }
    if (result == ExpectationInstaller::Result::kFailed) {
      counters_.Add(Counter::kExpectationsFailed);
      Refuse(work, cause_name, Reason::kInstallFailed);
      return 0;
    }
  }
  if (!installed) {
    counters_.Add(Counter::kExpectationsFailed);
    Refuse(work, cause_name, Reason::kNoPortFree);
    return 0;
  }

  counters_.Add(Counter::kExpectations);
  PendingExpectation pending;
  pending.expectation = expectation;
  pending.serial = session.next_serial++;
  if (session.next_serial == 0) session.next_serial = 1;
  pending.expires =
      work.time + static_cast<Timestamp>(policy.expectation_timeout_seconds) * kNanosPerSecond;
  session.expectations.push_back(pending);
  work.decision.expectations.push_back(expectation);
  Event expect_event = MakeEvent(EventType::kExpect, session, work.direction, work.time);
  expect_event.cause = std::string(cause_name);
  expect_event.expectation = expectation;
  work.decision.events.push_back(std::move(expect_event));

  // `new_text` is the text for the port that was installed (the loop's last attempt).
  if (new_text != old_text) {
    const size_t old_length = text_end - text_begin;
    work.edits.push_back(PayloadEdit{offset_in_segment, offset_in_segment + old_length, new_text});
    const int32_t delta = static_cast<int32_t>(new_text.size()) - static_cast<int32_t>(old_length);
    work.new_delta += delta;
    StreamState& stream = session.streams[Index(work.direction)];
    if (stream.edits.size() >= StreamState::kMaxRecordedEdits)
      stream.edits.erase(stream.edits.begin());
    stream.edits.push_back(RecordedEdit{work.view.seq, text_seq, old_text, new_text});
    counters_.Add(Counter::kRewrites);

    Event rewrite = MakeEvent(EventType::kRewrite, session, work.direction, work.time);
    rewrite.cause = std::string(cause_name);
    rewrite.old_text = std::string(line.text);
    rewrite.new_text = std::string(line.text.substr(0, text_begin)) + new_text +
                       std::string(line.text.substr(text_end));
    rewrite.delta = delta;
    work.decision.events.push_back(std::move(rewrite));
  }
  return pending.serial;
}

void Engine::Impl::RepeatRecordedEdits(PacketWork& work) {
  StreamState& stream = work.session.streams[Index(work.direction)];
  const uint32_t segment_seq = work.view.seq;
  const size_t length = work.view.payload.size();
  for (const RecordedEdit& edit : stream.edits) {
    if (SeqAfter(segment_seq, edit.segment_seq)) {
      // Starts after the rewritten segment's first byte: shifted by the edit's length change.
      if (RealignInsideEdit(work, edit)) counters_.Add(Counter::kRetransmitRewrites);
      continue;
    }
    const uint32_t offset = edit.seq - segment_seq;
    if (offset > length || edit.old_text.size() > length - offset) {
      continue;  // not (wholly) in this segment
    }
    // Skip an edit planned for this very packet (first transmission).
    bool planned = std::any_of(work.edits.begin(), work.edits.end(),
                               [offset](const PayloadEdit& e) { return e.begin == offset; });
    if (planned) continue;
    const auto* bytes = reinterpret_cast<const char*>(work.view.payload.data()) + offset;
    if (std::string_view(bytes, edit.old_text.size()) != edit.old_text) continue;
    work.edits.push_back(PayloadEdit{offset, offset + edit.old_text.size(), edit.new_text});
    counters_.Add(Counter::kRetransmitRewrites);
  }
}

// A resend that starts after the first byte of a rewritten segment (a sender repacketizing after
// a partial acknowledgement) is shifted by that segment's whole length change, on a live gateway
// by nf_ct_seqadj and in the replay by SeqShift. Rewriting it again would change its length once
// more: the kernel would record a second change and the stream would be off from there on. So it
// keeps its length and carries the bytes that the first copy has at the positions it lands on.
// Positions are relative to the edit's first byte: the segment's original bytes lie at
// [start, start + length); it lands at [start + delta, start + length + delta) of the rewritten
// stream, which holds original bytes before 0, new_text in [0, new size) and original bytes,
// `delta` further on, after that. Returns false (segment left as it is) when the segment is not
// a copy of what was rewritten, lies wholly after the edit, or would need original bytes from
// outside itself (a shorter rewrite, delta < 0, resent from its first -delta bytes; a piece of
// the verb that lands on bytes after it): it then goes out unchanged, which a receiver that has
// the first copy discards as old data.
bool Engine::Impl::RealignInsideEdit(PacketWork& work, const RecordedEdit& edit) {
  const std::span<const uint8_t> payload = work.view.payload;
  const auto length = static_cast<int64_t>(payload.size());
  const int64_t start = static_cast<int32_t>(work.view.seq - edit.seq);
  const auto old_size = static_cast<int64_t>(edit.old_text.size());
  const auto new_size = static_cast<int64_t>(edit.new_text.size());
  const int64_t delta = new_size - old_size;
  if (start >= old_size || length == 0) return false;
  // The segment must carry the replaced bytes it overlaps, as the first copy did.
  for (int64_t at = std::max<int64_t>(start, 0); at < std::min(start + length, old_size); ++at) {
    if (payload[static_cast<size_t>(at - start)] !=
        static_cast<uint8_t>(edit.old_text[static_cast<size_t>(at)])) {
      return false;
    }
  }
  // Only the positions that land before the end of new_text differ from the segment's own bytes.
  const int64_t changed_end = std::min(length, new_size - start - delta);
  std::string bytes;
  bytes.reserve(static_cast<size_t>(std::max<int64_t>(changed_end, 0)));
  for (int64_t i = 0; i < changed_end; ++i) {
    const int64_t landed = start + delta + i;
    if (landed >= 0) {
      bytes.push_back(edit.new_text[static_cast<size_t>(landed)]);
    } else if (delta + i >= 0 && delta + i < length) {
      bytes.push_back(static_cast<char>(payload[static_cast<size_t>(delta + i)]));
    } else {
      return false;  // an original byte outside the segment: one we do not have
    }
  }
  const auto* own = reinterpret_cast<const char*>(payload.data());
  if (bytes.empty() || std::string_view(own, bytes.size()) == bytes) return false;
  work.edits.push_back(PayloadEdit{0, bytes.size(), std::move(bytes)});
  return true;
}

void Engine::Impl::StepAsideSession(PacketWork& work, StepAside why, std::string_view cause) {
  Session& session = work.session;
  session.step_aside = why;
  counters_.Add(why == StepAside::kTls ? Counter::kStepAsideTls : Counter::kStepAsideNotFtp);
  const Reason reason = why == StepAside::kTls ? Reason::kTls : Reason::kNotFtp;
  Event event = MakeEvent(EventType::kStepAside, session, work.direction, work.time);
  event.cause = std::string(cause);
  event.reason = reason;
  work.decision.events.push_back(std::move(event));
  // Nothing will be parsed any more, so no pending PORT of this session may stay open.
  while (!session.expectations.empty()) {
    Withdraw(session, 0, reason, work.time, &work.decision.events);
  }
}

void Engine::Impl::Refuse(PacketWork& work, std::string_view cause, Reason reason,
                          std::string detail) {
  counters_.Add(Counter::kRefusals);
  counters_.Add(RefusalCounter(reason));
  Event event = MakeEvent(EventType::kRefuse, work.session, work.direction, work.time);
  event.cause = std::string(cause);
  event.reason = reason;
  event.detail = std::move(detail);
  work.decision.events.push_back(std::move(event));
}

void Engine::Impl::Withdraw(Session& session, size_t index, Reason reason, Timestamp now,
                            std::vector<Event>* events) {
  PendingExpectation pending = session.expectations[index];
  session.expectations.erase(session.expectations.begin() + static_cast<ptrdiff_t>(index));
  installer_.Remove(pending.expectation);
  counters_.Add(Counter::kExpectationsRemoved);
  if (events != nullptr) {
    Event event =
        MakeEvent(EventType::kUnexpect, session, pending.expectation.master_direction, now);
    event.cause = std::string(ExpectCauseName(pending.expectation.cause));
    event.reason = reason;
    event.expectation = pending.expectation;
    events->push_back(std::move(event));
  }
}

void Engine::Impl::EndSessionAt(std::unordered_map<Tuple, Session, TupleHash>::iterator it,
                                Reason reason, Timestamp now, std::vector<Event>* events) {
  Session& session = it->second;
  while (!session.expectations.empty()) {
    // An expectation past its timeout is gone from the kernel already: just forget it.
    if (session.expectations.front().expires <= now) {
      session.expectations.erase(session.expectations.begin());
      continue;
    }
    Withdraw(session, 0, Reason::kSessionEnded, now, events);
  }
  if (events != nullptr) {
    Event event = MakeEvent(EventType::kSessionEnd, session, Direction::kOriginal, now);
    event.reason = reason;
    events->push_back(std::move(event));
  }
  sessions_.erase(it);
  counters_.Subtract(Counter::kSessionsActive);
}

void Engine::Impl::Expire(Timestamp now, std::vector<Event>* events) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    Session& session = it->second;
    // Expectations past their timeout have expired in the kernel (or the replay's table) too.
    auto& pending = session.expectations;
    pending.erase(std::remove_if(pending.begin(), pending.end(),
                                 [now](const PendingExpectation& p) { return p.expires <= now; }),
                  pending.end());
    const bool closed = session.closed_at != 0 && now - session.closed_at >= config_.closed_linger;
    const bool idle = now - session.last_seen >= config_.session_idle_timeout;
    if (closed || idle) {
      if (idle && !closed) counters_.Add(Counter::kSessionsExpired);
      auto next = std::next(it);
      EndSessionAt(it, closed ? Reason::kSessionEnded : Reason::kIdle, now, events);
      it = next;
    } else {
      ++it;
    }
  }
}

void Engine::Impl::EndSession(const Tuple& original, Timestamp now, std::vector<Event>* events) {
  auto it = sessions_.find(original);
  if (it != sessions_.end()) EndSessionAt(it, Reason::kSessionEnded, now, events);
}

size_t Engine::Impl::ApproximateMemory() const {
  // Node of an unordered_map: the value, the key's hash and a next pointer; plus the bucket array.
  size_t total = sessions_.bucket_count() * sizeof(void*);
  for (const auto& [key, session] : sessions_) {
    total += sizeof(std::pair<const Tuple, Session>) + 2 * sizeof(void*);
    total += session.commands.capacity() * sizeof(PendingCommand);
    total += session.expectations.capacity() * sizeof(PendingExpectation);
    for (const StreamState& stream : session.streams) {
      total += stream.framer.buffered_bytes();
      total += stream.edits.capacity() * sizeof(RecordedEdit);
    }
  }
  return total;
}

Engine::Engine(EngineConfig config, ExpectationInstaller& installer)
    : impl_(std::make_unique<Impl>(std::move(config), installer, counters_)) {}
Engine::~Engine() = default;

Decision Engine::Process(const PacketInput& input) { return impl_->Process(input); }
void Engine::Expire(Timestamp now, std::vector<Event>* events) { impl_->Expire(now, events); }
void Engine::EndSession(const Tuple& original, Timestamp now, std::vector<Event>* events) {
  impl_->EndSession(original, now, events);
}
void Engine::Reconfigure(const EngineConfig& config) { impl_->Reconfigure(config); }
size_t Engine::session_count() const { return impl_->session_count(); }
size_t Engine::ApproximateMemory() const { return impl_->ApproximateMemory(); }

}  // namespace ftpalg
