#include "ftpalg/engine.h"

#include <algorithm>
#include <unordered_map>

#include "ftpalg/announcement_forms.h"
#include "ftpalg/announcements.h"
#include "ftpalg/engine_context.h"
#include "ftpalg/ftp_command.h"
#include "ftpalg/gap_recovery.h"
#include "ftpalg/login_state.h"
#include "ftpalg/packet_rewrite.h"
#include "ftpalg/packet_view.h"
#include "ftpalg/recorded_edits.h"
#include "ftpalg/session.h"
#include "ftpalg/session_snapshot.h"
#include "ftpalg/step_aside.h"

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

// The sequence/ack shifts a packet needs for the length changes made so far in both directions:
// its own sequence number by its stream's, its acknowledgement and SACK blocks (RFC 2018: they
// name bytes of the peer's stream) by the peer's.
void ShiftSequenceNumbers(const TcpPacketView& view, const SeqShift& own, const SeqShift& peer,
                          PacketChanges* changes) {
  changes->seq_shift = own.OffsetFor(view.seq);
  if (view.HasFlag(tcp_flags::kAck)) changes->ack_shift = peer.OffsetFor(view.ack);
  if (view.sack_block_count == 0) return;
  // Each edge on its own: a block can span a rewritten segment (nf_ct_sack_block_adjust).
  std::array<SackEdgeShift, 4> shifts{};
  bool any = false;
  for (size_t i = 0; i < view.sack_block_count; ++i) {
    shifts[i] = SackEdgeShift{peer.OffsetFor(view.sack_blocks[i].left),
                              peer.OffsetFor(view.sack_blocks[i].right)};
    any = any || shifts[i].left != 0 || shifts[i].right != 0;
  }
  if (any) changes->sack_edge_shifts = shifts;
}

}  // namespace

class Engine::Impl {
 public:
  Impl(EngineConfig config, ExpectationInstaller& installer, Counters& counters)
      : config_(config), context_{config_, installer, counters} {}

  Decision Process(const PacketInput& input);
  void Expire(Timestamp now, std::vector<Event>* events);
  void EndSession(const Tuple& original, Timestamp now, std::vector<Event>* events);
  void Reconfigure(const EngineConfig& config) { config_ = config; }
  void SetLineObserver(ControlLineObserver* observer) { line_observer_ = observer; }
  size_t session_count() const { return sessions_.size(); }
  std::vector<SessionView> Sessions(Timestamp now, size_t limit) const {
    std::vector<SessionView> views;
    for (const auto& [tuple, session] : sessions_) {
      if (views.size() >= limit) break;
      views.push_back(ViewOf(session, now));
    }
    return views;
  }
  size_t ApproximateMemory() const;
  std::optional<SessionSnapshot> Snapshot(const Tuple& original) const {
    auto it = sessions_.find(original);
    if (it == sessions_.end()) return std::nullopt;
    return SnapshotOf(it->second);
  }

 private:
  // Hands the framer's lines of the packet being processed to the line handlers.
  struct LineHandler : LineSink {
    LineHandler(Impl& impl_ref, PacketWork& work_ref) : impl(impl_ref), work(work_ref) {}
    void OnLine(const FramedLine& line) override { impl.HandleLine(work, line); }
    Impl& impl;
    PacketWork& work;
  };

  Session* FindOrCreateSession(const PacketInput& input, const TcpPacketView& view,
                               Decision& decision);
  void TrackConnectionState(Session& session, const TcpPacketView& view, Direction direction,
                            Timestamp time);
  void FeedPayload(PacketWork& work);
  void Finish(PacketWork& work);
  void HandleLine(PacketWork& work, const FramedLine& line);
  void HandleCommand(PacketWork& work, const FramedLine& line);
  void HandleReply(PacketWork& work, const FramedLine& line);
  void EndSessionAt(std::unordered_map<Tuple, Session, TupleHash>::iterator it, Reason reason,
                    Timestamp now, std::vector<Event>* events);
  Counters& counters() { return context_.counters; }

  EngineConfig config_;
  EngineContext context_;  // refers to config_
  std::unordered_map<Tuple, Session, TupleHash> sessions_;
  ControlLineObserver* line_observer_ = nullptr;  // the transfer log
};

Decision Engine::Impl::Process(const PacketInput& input) {
  Decision decision;
  counters().Add(Counter::kPackets);
  TcpPacketResult parsed = ParseTcpPacket(input.packet);
  if (!parsed.ok()) {
    counters().Add(parsed.error == PacketError::kNotTcp ? Counter::kPacketsNotTcp
                                                        : Counter::kPacketsMalformed);
    return decision;
  }
  Session* session = FindOrCreateSession(input, parsed.view, decision);
  if (session == nullptr) return decision;
  TrackConnectionState(*session, parsed.view, input.direction, input.time);
  PacketWork work{*session, parsed.view, input.direction, input.time, decision};
  if (!parsed.view.payload.empty()) FeedPayload(work);
  Finish(work);
  return decision;
}

void Engine::Impl::TrackConnectionState(Session& session, const TcpPacketView& view,
                                        Direction direction, Timestamp time) {
  session.last_seen = time;
  StreamState& stream = session.streams[Index(direction)];
  if (view.HasFlag(tcp_flags::kSyn)) {
    // RFC 793 3.3: the SYN occupies one sequence number; data starts after it.
    if (!stream.framer.started()) stream.framer.StartAt(view.seq + 1);
  }
  if (view.HasFlag(tcp_flags::kRst)) {
    session.closed_at = time;
  } else if (view.HasFlag(tcp_flags::kFin)) {
    stream.fin_seen = true;
    if (session.streams[0].fin_seen && session.streams[1].fin_seen && session.closed_at == 0) {
      session.closed_at = time;
    }
  }
}

void Engine::Impl::FeedPayload(PacketWork& work) {
  Session& session = work.session;
  StreamState& stream = session.streams[Index(work.direction)];
  if (session.step_aside != StepAside::kNo) {
    counters().Add(Counter::kBytesIgnored, work.view.payload.size());
  } else {
    LineHandler handler(*this, work);
    switch (stream.framer.Feed(work.view.seq, work.view.payload, handler)) {
      case FeedKind::kRetransmission:
        counters().Add(Counter::kSegmentsRetransmitted);
        break;
      case FeedKind::kOverlap:
        counters().Add(Counter::kSegmentsOverlapping);
        break;
      case FeedKind::kGap:
        counters().Add(Counter::kSegmentsOutOfOrder);
        RecoverFromGap(context_, work);
        break;
      case FeedKind::kInOrder:
      case FeedKind::kEmpty:
        break;
    }
  }
  // Bytes framed before (a retransmission, the old part of an overlap) carry the rewrite they
  // got the first time, so that both copies have the same length and content.
  counters().Add(Counter::kRetransmitRewrites,
                 RepeatRecordedEdits(stream.edits, work.view, &work.edits));
}

// Applies the packet's edits and sequence shifts, and records its own length change for the
// packets after it.
void Engine::Impl::Finish(PacketWork& work) {
  StreamState& stream = work.session.streams[Index(work.direction)];
  PacketChanges changes;
  changes.edits = std::move(work.edits);
  std::sort(changes.edits.begin(), changes.edits.end(),
            [](const PayloadEdit& a, const PayloadEdit& b) { return a.begin < b.begin; });
  if (config_.shift_sequence_numbers) {
    const SeqShift& peer = work.session.streams[Index(Opposite(work.direction))].shift;
    ShiftSequenceNumbers(work.view, stream.shift, peer, &changes);
  }
  Decision& decision = work.decision;
  // nf_ct_seqadj: what the kernel adjusts this direction by from this segment on (none when
  // nothing new changed length).
  decision.seq_adjustment = stream.shift.Record(work.view.seq, work.new_delta);
  if (changes.empty()) return;
  decision.packet = RewriteTcpPacket(work.view, changes);
  decision.modified = true;
  for (const PayloadEdit& edit : changes.edits) {
    decision.payload_delta +=
        static_cast<int32_t>(edit.replacement.size()) - static_cast<int32_t>(edit.end - edit.begin);
  }
  counters().Add(Counter::kPacketsModified);
}

Session* Engine::Impl::FindOrCreateSession(const PacketInput& input, const TcpPacketView& view,
                                           Decision& decision) {
  auto it = sessions_.find(input.control.original);
  if (it != sessions_.end()) {
    if (input.control.conntrack_id != 0) {
      it->second.control.conntrack_id = input.control.conntrack_id;
    }
    return &it->second;
  }
  // A stray packet of a session that already ended (RST, retransmitted FIN) starts nothing.
  if (view.HasFlag(tcp_flags::kRst) || (view.HasFlag(tcp_flags::kFin) && view.payload.empty())) {
    return nullptr;
  }
  if (sessions_.size() >= config_.max_sessions) {
    counters().Add(Counter::kSessionsRejected);
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
  counters().Add(Counter::kSessions);
  counters().Add(Counter::kSessionsActive);
  session.login = InitialLoginState(view.HasFlag(tcp_flags::kSyn), config_.policy);
  if (input.resume) {
    ResumeFrom(*input.resume, session);
    counters().Add(Counter::kSessionsResumed);
  }
  for (size_t i = 0; i < session.streams.size(); ++i) {
    if (const auto& adjustment = input.kernel_seq_adjustments[i]) {
      session.streams[i].shift.Seed(*adjustment);
    }
  }
  return &session;
}

void Engine::Impl::HandleLine(PacketWork& work, const FramedLine& line) {
  counters().Add(Counter::kLines);
  if (line.overlong) counters().Add(Counter::kLinesOverlong);
  if (work.session.step_aside != StepAside::kNo) return;
  if (line_observer_ != nullptr) {
    line_observer_->OnControlLine(work.session.control, work.direction, work.time, line.text);
  }
  if (work.direction == Direction::kOriginal) {
    HandleCommand(work, line);
  } else {
    HandleReply(work, line);
  }
}

void Engine::Impl::HandleCommand(PacketWork& work, const FramedLine& line) {
  Session& session = work.session;
  const CommandLine command = ParseCommandLine(line.text);
  if (BeforeLogin(session.login, config_.policy) && IsNotFtp(command, line.overlong)) {
    StepAsideSession(context_, work, StepAside::kNotFtp,
                     command.code.empty() ? std::string_view("line") : command.code);
    return;
  }
  PendingCommand pending;
  pending.verb = command.verb;
  pending.epsv_all =
      command.verb == CommandVerb::kEpsv && EqualsIgnoreCase(command.argument, "ALL");
  session.commands.Push(pending);
  if (command.verb == CommandVerb::kUser) RememberUser(session, command.argument);
  if (const AnnouncementForm* form = FindCommandForm(command.verb)) {
    session.commands.newest().expectation_serial =
        OnAnnouncingCommand(context_, work, line, command, *form);
  }
}

void Engine::Impl::HandleReply(PacketWork& work, const FramedLine& line) {
  Session& session = work.session;
  const ReplyLine reply = session.replies.Feed(line.text);
  if (reply.malformed) {
    counters().Add(Counter::kReplyLinesMalformed);
    // Maybe a final reply without its code (docs/gaps.md): pairing no longer sure.
    session.commands.NoteCodelessReply();
    return;
  }
  // RFC 959 4.2: only the last line of a multi-line reply carries the reply; text on the lines
  // before it (which may well look like "227 ...") is never acted on.
  if (reply.continuation || reply.final_code == 0) return;
  const int code = reply.final_code;
  if (session.login == LoginState::kAwaitingGreeting) {
    session.login = LoginAfterGreeting(code);
    return;
  }
  if (code < 200) return;  // preliminary (1yz): the command is still running

  const AnsweredCommand answered = session.commands.TakeAnswered(code);
  session.login = LoginAfterReply(session.login, code, answered, config_.policy);
  if (const AnnouncementForm* form = FindReplyForm(code)) {
    OnAnnouncingReply(context_, work, line, *form, answered);
  } else if (StartsTls(code, answered, config_.policy)) {
    StepAsideSession(context_, work, StepAside::kTls, "AUTH");
  } else {
    AfterOtherReply(context_, work, code, answered);
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
    Withdraw(context_, session, 0, Reason::kSessionEnded, now, events);
  }
  if (events != nullptr) {
    Event event = MakeEvent(EventType::kSessionEnd, session, Direction::kOriginal, now);
    event.reason = reason;
    events->push_back(std::move(event));
  }
  sessions_.erase(it);
  counters().Subtract(Counter::kSessionsActive);
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
      if (idle && !closed) counters().Add(Counter::kSessionsExpired);
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
    total += session.commands.heap_bytes();
    total += session.expectations.capacity() * sizeof(PendingExpectation);
    for (const StreamState& stream : session.streams) {
      total += stream.framer.buffered_bytes();
      total += stream.edits.capacity() * sizeof(RecordedEdit);
    }
  }
  return total;
}

Engine::Engine(EngineConfig config, ExpectationInstaller& installer)
    : impl_(std::make_unique<Impl>(config, installer, counters_)) {}
Engine::~Engine() = default;

Decision Engine::Process(const PacketInput& input) { return impl_->Process(input); }
void Engine::Expire(Timestamp now, std::vector<Event>* events) { impl_->Expire(now, events); }
void Engine::EndSession(const Tuple& original, Timestamp now, std::vector<Event>* events) {
  impl_->EndSession(original, now, events);
}
void Engine::Reconfigure(const EngineConfig& config) { impl_->Reconfigure(config); }
void Engine::SetLineObserver(ControlLineObserver* observer) { impl_->SetLineObserver(observer); }
std::optional<SessionSnapshot> Engine::Snapshot(const Tuple& original) const {
  return impl_->Snapshot(original);
}
size_t Engine::session_count() const { return impl_->session_count(); }
std::vector<SessionView> Engine::Sessions(Timestamp now, size_t limit) const {
  return impl_->Sessions(now, limit);
}
size_t Engine::ApproximateMemory() const { return impl_->ApproximateMemory(); }

}  // namespace ftpalg
