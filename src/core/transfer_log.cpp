#include "ftpalg/transfer_log.h"

#include <algorithm>
#include <array>

#include "ftpalg/event_json.h"
#include "ftpalg/ftp_command.h"

namespace ftpalg {
namespace {

// The commands that move data over a data connection (RFC 959 4.1.3; MLSD: RFC 3659 7).
constexpr std::array<std::string_view, 7> kTransferVerbs = {"RETR", "STOR", "STOU", "APPE",
                                                            "LIST", "NLST", "MLSD"};
// Per session, commands remembered while they wait for their final reply: as many as the engine's
// pairing keeps (CommandPairing::kMaxPending).
constexpr size_t kMaxPendingCommands = 16;
// Expectations predicted but not yet taken by a transfer command (the engine's default bound).
constexpr size_t kMaxUnclaimed = 4;

std::string UpperCase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// Bounded copy; `*truncated` says whether anything was cut.
std::string Bounded(std::string_view text, size_t limit, bool* truncated) {
  *truncated = text.size() > limit;
  return std::string(text.substr(0, limit));
}

// RFC 1123 4.1.2.9: the 150/250 reply to STOU carries the name the server chose, "FILE: name".
std::optional<std::string_view> StouName(std::string_view reply_line) {
  const std::string upper = UpperCase(reply_line);
  const size_t at = upper.find("FILE:");
  if (at == std::string::npos) return std::nullopt;
  std::string_view rest = reply_line.substr(at + 5);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const size_t end = rest.find(' ');
  rest = rest.substr(0, end);
  if (rest.empty()) return std::nullopt;
  return rest;
}

bool SameExpectation(const Expectation& a, const Expectation& b) {
  return a.master == b.master && a.destination == b.destination && a.cause == b.cause;
}

bool MatchesTuple(const Expectation& expectation, const Tuple& original) {
  return original.dst == expectation.destination &&
         (expectation.source_any_address || original.src.addr == expectation.source);
}

std::string_view EndKindName(DataEndKind kind) {
  switch (kind) {
    case DataEndKind::kDestroyed:
      return "destroyed";
    case DataEndKind::kClosed:
      return "closed";
    case DataEndKind::kReset:
      return "reset";
    case DataEndKind::kCaptureEnd:
      return "capture-end";
  }
  return "unknown";
}

nlohmann::ordered_json CountersJson(const std::optional<FlowCounters>& counters) {
  if (!counters) return nullptr;
  nlohmann::ordered_json out = {{"packets", counters->packets}, {"bytes", counters->bytes}};
  if (counters->payload) out["payload"] = *counters->payload;
  return out;
}

}  // namespace

bool TransferRecord::Active() const {
  if (!expectation) return false;
  const ExpectCause cause = expectation->cause;
  return cause == ExpectCause::kPort || cause == ExpectCause::kEprt || cause == ExpectCause::kLprt;
}

// The data connection's original direction runs from whoever opened it: the server in active
// mode (RFC 959 3.2: it connects to the client's announced port), the client in passive mode.
std::optional<FlowCounters> TransferRecord::ToServer() const {
  if (!data) return std::nullopt;
  return data->counters[static_cast<size_t>(Active() ? Direction::kReply : Direction::kOriginal)];
}

std::optional<FlowCounters> TransferRecord::ToClient() const {
  if (!data) return std::nullopt;
  return data->counters[static_cast<size_t>(Active() ? Direction::kOriginal : Direction::kReply)];
}

TransferLog::TransferLog(TransferLogConfig config) : config_(config) {}

TransferLog::SessionState* TransferLog::FindSession(const Tuple& master) {
  auto it = sessions_.find(master);
  return it == sessions_.end() ? nullptr : &it->second;
}

void TransferLog::OnControlLine(const ControlConnection& control, Direction direction,
                                Timestamp time, std::string_view line) {
  auto it = sessions_.find(control.original);
  if (it == sessions_.end()) {
    if (sessions_.size() >= config_.max_sessions) return;  // bounded: this session goes unlogged
    it = sessions_.try_emplace(control.original).first;
    it->second.control = control;
  }
  SessionState& session = it->second;
  session.last_seen = time;
  session.ended = 0;  // the engine took the connection up again (after an idle expiry)
  if (direction == Direction::kOriginal) {
    OnCommand(session, time, line);
  } else {
    OnReply(session, time, line);
  }
}

void TransferLog::OnCommand(SessionState& session, Timestamp time, std::string_view line) {
  const CommandLine command = ParseCommandLine(line);
  if (command.verb == CommandVerb::kUser) {
    bool truncated = false;
    session.user = Bounded(command.argument, config_.max_user_length, &truncated);
    session.user_seen = true;
  }
  const std::string code = UpperCase(command.code);
  // Not only well-formed lines: a name may carry UTF-8 (RFC 2640) or bytes a server accepts,
  // and the log must show those transfers too (the JSON writer escapes and replaces them).
  const bool transfer_verb =
      !command.code.empty() &&
      std::find(kTransferVerbs.begin(), kTransferVerbs.end(), code) != kTransferVerbs.end();
  uint64_t id = 0;
  if (transfer_verb) {
    if (session.transfers.size() >= config_.max_transfers_per_session) {
      Finish(session.transfers.front(), "evicted");
    }
    id = next_id_++;
    Transfer& transfer = transfers_[id];
    transfer.master = session.control.original;
    TransferRecord& record = transfer.record;
    record.time = time;
    record.control = session.control;
    record.user = session.user;
    record.user_seen = session.user_seen;
    record.command = code;
    record.name = Bounded(command.argument, config_.max_name_length, &record.name_truncated);
    session.transfers.push_back(id);
    Claim(session, id);
  }
  if (session.pending.size() >= kMaxPendingCommands) session.pending.pop_front();
  session.pending.push_back(id);
}

// RFC 959 3.2/3.3: PORT or PASV comes before the transfer command it serves, and a newer one
// replaces an older; so a transfer takes the newest expectation not taken yet. A pipelining client
// may send the transfer command before the expectation exists (PASV + RETR in one segment, the
// 227 comes later): it then waits, and the next expectation of the session goes to it (OnEvent).
void TransferLog::Claim(SessionState& session, uint64_t id) {
  if (session.unclaimed.empty()) return;
  Transfer& transfer = transfers_[id];
  transfer.record.expectation = session.unclaimed.back();
  session.unclaimed.clear();
}

void TransferLog::OnReply(SessionState& session, Timestamp time, std::string_view line) {
  const ReplyLine reply = session.replies.Feed(line);
  if (reply.malformed || reply.continuation || reply.final_code == 0) return;
  const int code = reply.final_code;
  if (session.pending.empty()) return;  // the greeting, or an unsolicited reply
  const uint64_t id = session.pending.front();
  auto it = id == 0 ? transfers_.end() : transfers_.find(id);
  Transfer* transfer = it == transfers_.end() ? nullptr : &it->second;
  if (transfer != nullptr && transfer->record.command == "STOU") {
    if (auto name = StouName(line)) {
      transfer->record.name =
          Bounded(*name, config_.max_name_length, &transfer->record.name_truncated);
    }
  }
  if (code < 200) {  // preliminary (RFC 959 4.2): the server starts using the data connection
    if (transfer != nullptr) transfer->preliminary_seen = true;
    return;
  }
  session.pending.pop_front();
  if (transfer == nullptr) return;
  transfer->record.final_code = code;
  transfer->reply_time = time;
  // Without a 1yz reply the server never used a data connection (RFC 959 5.4: 1yz precedes the
  // transfer), e.g. 425 Can't open data connection, 550 No such file.
  if (!transfer->preliminary_seen && !transfer->record.data) {
    return Finish(id, "no-data-connection");
  }
  FinishIfComplete(id);
}

void TransferLog::OnEvent(const Event& event) {
  SessionState* session = FindSession(event.master);
  switch (event.type) {
    case EventType::kExpect: {
      if (!event.expectation) return;
      if (session == nullptr) {
        if (sessions_.size() >= config_.max_sessions) return;
        session = &sessions_[event.master];
        session->control.original = event.master;
        session->control.reply = event.master.Reversed();
      }
      // A transfer command that came before its expectation (pipelined) takes it.
      for (uint64_t id : session->transfers) {
        Transfer& transfer = transfers_[id];
        if (!transfer.record.expectation && transfer.record.final_code == 0) {
          transfer.record.expectation = event.expectation;
          return;
        }
      }
      if (session->unclaimed.size() >= kMaxUnclaimed) session->unclaimed.pop_front();
      session->unclaimed.push_back(*event.expectation);
      return;
    }
    case EventType::kUnexpect: {
      if (session == nullptr || !event.expectation) return;
      auto& unclaimed = session->unclaimed;
      unclaimed.erase(std::remove_if(unclaimed.begin(), unclaimed.end(),
                                     [&](const Expectation& e) {
                                       return SameExpectation(e, *event.expectation);
                                     }),
                      unclaimed.end());
      if (event.reason != Reason::kServerRefused) return;
      // A pipelined PORT + RETR whose PORT the server refused: the RETR has no data connection.
      for (uint64_t id : session->transfers) {
        auto& expectation = transfers_[id].record.expectation;
        if (expectation && SameExpectation(*expectation, *event.expectation)) expectation.reset();
      }
      return;
    }
    case EventType::kSessionEnd:
      if (session != nullptr) session->ended = event.time;
      if (session != nullptr && session->transfers.empty()) sessions_.erase(event.master);
      return;
    case EventType::kGap:
      // Replies or commands were never seen (docs/gaps.md): which command a later reply answers
      // is no longer known, so the transfers waiting for their final reply keep none (they are
      // written without a code when their data connection ends or expires).
      if (session != nullptr) {
        session->pending.clear();
        session->replies.Reset();
      }
      return;
    case EventType::kStepAside:
    case EventType::kRefuse:
    case EventType::kRewrite:
      return;
  }
}

bool TransferLog::OnDataEnd(const DataConnectionEnd& end) {
  for (auto& [id, transfer] : transfers_) {
    const auto& expectation = transfer.record.expectation;
    if (!expectation || transfer.record.data) continue;
    const bool matches = end.predicted ? SameExpectation(*expectation, *end.predicted)
                                       : MatchesTuple(*expectation, end.original);
    if (!matches) continue;
    transfer.record.data = end;
    transfer.record.data->predicted.reset();
    const uint64_t found = id;
    if (transfer.record.final_code != 0) {
      FinishIfComplete(found);
    } else if (SessionState* session = FindSession(transfer.master);
               session == nullptr || session->ended != 0) {
      Finish(found, "no-final-reply");
    }
    return true;
  }
  return false;
}

void TransferLog::FinishIfComplete(uint64_t id) {
  const Transfer& transfer = transfers_[id];
  if (transfer.record.final_code == 0) return;
  if (transfer.record.data) return Finish(id, "");
  if (!transfer.record.expectation) return Finish(id, "no-data-connection");
}

void TransferLog::Finish(uint64_t id, std::string incomplete) {
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  Transfer& transfer = it->second;
  TransferRecord& record = transfer.record;
  record.incomplete = std::move(incomplete);
  // The final reply says when the transfer was over (RFC 959 4.2: 226/426 close it); conntrack's
  // destroy event comes only after TIME_WAIT, so the data connection's end is the measure only
  // when there was no reply.
  if (record.final_code != 0) {
    record.end_time = transfer.reply_time;
  } else {
    record.end_time = record.data ? record.data->time : record.time;
  }
  record.end_time = std::max(record.time, record.end_time);
  if (SessionState* session = FindSession(transfer.master)) {
    auto& ids = session->transfers;
    ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
    for (uint64_t& pending : session->pending) {
      if (pending == id) pending = 0;
    }
    if (session->ended != 0 && ids.empty()) sessions_.erase(transfer.master);
  }
  finished_.push_back(std::move(record));
  transfers_.erase(it);
}

void TransferLog::Expire(Timestamp now) {
  std::vector<std::pair<uint64_t, std::string>> due;
  for (const auto& [id, transfer] : transfers_) {
    const TransferRecord& record = transfer.record;
    const SessionState* session = FindSession(transfer.master);
    const Timestamp ended = session == nullptr ? record.time : session->ended;
    if (record.final_code != 0) {
      if (now - transfer.reply_time >= config_.data_end_wait) {
        due.emplace_back(id, "data-end-unseen");
      }
      continue;
    }
    // No final reply: the session ended (its data connection may still end), or it stalled.
    const bool session_gone = ended != 0 && now - ended >= config_.data_end_wait;
    if (session_gone || now - record.time >= config_.reply_wait) {
      due.emplace_back(id, "no-final-reply");
    }
  }
  std::sort(due.begin(), due.end());  // oldest first: ids grow with time
  for (auto& [id, why] : due) Finish(id, std::move(why));
  // Sessions with nothing open that ended, or whose engine state is long gone.
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    const SessionState& session = it->second;
    const bool stale = session.ended != 0 || now - session.last_seen >= config_.reply_wait;
    it = session.transfers.empty() && stale ? sessions_.erase(it) : std::next(it);
  }
}

void TransferLog::Flush(Timestamp now) {
  std::vector<uint64_t> ids;
  for (const auto& [id, transfer] : transfers_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (uint64_t id : ids) {
    const TransferRecord& record = transfers_[id].record;
    Finish(id, record.final_code == 0 ? "no-final-reply"
               : record.expectation   ? "data-end-unseen"
                                      : "no-data-connection");
  }
  (void)now;
  sessions_.clear();
}

std::vector<TransferRecord> TransferLog::TakeRecords() {
  std::vector<TransferRecord> out;
  out.swap(finished_);
  return out;
}

size_t TransferLog::open_transfers() const { return transfers_.size(); }

nlohmann::ordered_json TransferRecordToJson(const TransferRecord& record) {
  nlohmann::ordered_json out;
  out["event"] = "transfer";
  out["time"] = TimestampSeconds(record.time);
  out["duration"] = TimestampSeconds(record.end_time - record.time);
  out["control"] = {{"original", TupleToJson(record.control.original)},
                    {"reply", TupleToJson(record.control.reply)}};
  out["user"] = record.user_seen ? nlohmann::ordered_json(record.user) : nullptr;
  out["command"] = record.command;
  out["name"] = record.name;
  if (record.name_truncated) out["name_truncated"] = true;
  if (record.expectation) {
    out["mode"] = record.Active() ? "active" : "passive";
    out["cause"] = ExpectCauseName(record.expectation->cause);
  } else {
    out["mode"] = nullptr;
  }
  if (record.data) {
    out["data"] = {{"original", TupleToJson(record.data->original)},
                   {"reply", TupleToJson(record.data->reply)},
                   {"end", EndKindName(record.data->kind)}};
  } else {
    out["data"] = nullptr;
  }
  out["to_server"] = CountersJson(record.ToServer());
  out["to_client"] = CountersJson(record.ToClient());
  out["reply"] = record.final_code == 0 ? nlohmann::ordered_json(nullptr)
                                        : nlohmann::ordered_json(record.final_code);
  if (!record.incomplete.empty()) out["incomplete"] = record.incomplete;
  return out;
}

}  // namespace ftpalg
