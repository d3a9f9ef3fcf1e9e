// The transfer log: one record per data transfer (who moved which file through the gateway), joined
// from two halves that arrive in either order: what the control connection said (user, command,
// name, final reply; fed line by line by the engine) and the end of the data connection (from
// the caller: conntrack's destroy event on a live gateway, the capture's FIN/RST in replay).
// Pure: no clock, no I/O; the caller passes times and takes the finished records.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ftpalg/control_line_observer.h"
#include "ftpalg/events.h"
#include "ftpalg/expectation.h"
#include "ftpalg/ftp_reply.h"

namespace ftpalg {

// Packets and bytes of one direction of a data connection. Bytes as conntrack's accounting counts
// them (whole IP packets, headers included); `payload` only where the caller can count it (replay).
struct FlowCounters {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  std::optional<uint64_t> payload;
};

// How the caller saw the data connection end.
enum class DataEndKind : uint8_t {
  kDestroyed,   // conntrack dropped the entry (live gateway)
  kClosed,      // FIN both ways (replay)
  kReset,       // RST (replay)
  kCaptureEnd,  // still open when the capture ended (replay)
};

struct DataConnectionEnd {
  // The data connection as conntrack has it: `original` as its first packet reached the gateway,
  // `reply` as the answering side sends (differs from original.Reversed() under NAT).
  Tuple original;
  Tuple reply;
  Timestamp time = 0;  // when it ended
  DataEndKind kind = DataEndKind::kDestroyed;
  // Indexed by the data connection's Direction; absent when accounting is off
  // (net.netfilter.nf_conntrack_acct=0: the destroy event carries no CTA_COUNTERS_*).
  std::array<std::optional<FlowCounters>, 2> counters;
  // The expectation it matched, when the caller knows it (replay: its simulated table). Without
  // it (live: a destroy event) it is found by tuple: `original` goes to the expectation's
  // destination, from its source address.
  std::optional<Expectation> predicted;
};

// One finished transfer.
struct TransferRecord {
  Timestamp time = 0;      // the transfer command
  Timestamp end_time = 0;  // the final reply, else the data connection's end, else `time`
  ControlConnection control;
  std::string user;  // last USER argument, bounded; empty when none was seen
  bool user_seen = false;
  std::string command;  // RETR, STOR, STOU, APPE, LIST, NLST, MLSD (upper case)
  std::string name;     // the argument (STOU: the name from the 150/250 reply when given), bounded
  bool name_truncated = false;
  std::optional<Expectation> expectation;  // the predicted data connection it used
  std::optional<DataConnectionEnd> data;   // absent: it never came, or its end was not seen
  int final_code = 0;                      // 0: no final reply (session ended, expired)
  // Why the record was written without one of its halves: "" when both came, else
  // "no-data-connection", "data-end-unseen", "no-final-reply", "evicted".
  std::string incomplete;
  bool Active() const;  // PORT/EPRT/LPRT: the server opened the data connection
  // The data connection's counters towards the server / the client (absent: no accounting).
  std::optional<FlowCounters> ToServer() const;
  std::optional<FlowCounters> ToClient() const;
};

struct TransferLogConfig {
  size_t max_name_length = 256;
  size_t max_user_length = 64;
  size_t max_sessions = 65536;
  size_t max_transfers_per_session = 8;
  // How long a transfer whose final reply came waits for its data connection's end. Conntrack
  // reports a FIN-closed connection only when it leaves TIME_WAIT (nf_conntrack_tcp_timeout_
  // time_wait, 120 s by default), so the wait must be longer than that.
  Timestamp data_end_wait = 180 * kNanosPerSecond;
  // How long a transfer without a final reply is kept (a stalled or abandoned transfer).
  Timestamp reply_wait = 3600 * kNanosPerSecond;
};

class TransferLog : public ControlLineObserver {
 public:
  explicit TransferLog(TransferLogConfig config = {});

  void OnControlLine(const ControlConnection& control, Direction direction, Timestamp time,
                     std::string_view line) override;
  // The engine's events: expect (a data connection predicted), unexpect (withdrawn before use),
  // session-end (the control connection's state is gone).
  void OnEvent(const Event& event);
  // A data connection ended. Returns false when no transfer predicted it.
  bool OnDataEnd(const DataConnectionEnd& end);
  // Writes what waited too long (see TransferLogConfig).
  void Expire(Timestamp now);
  // Writes everything still open (the end of a capture, a daemon shutting down).
  void Flush(Timestamp now);

  std::vector<TransferRecord> TakeRecords();
  size_t open_transfers() const;

 private:
  struct Transfer {
    Tuple master;  // its session's key
    TransferRecord record;
    bool preliminary_seen = false;  // a 1yz reply: the server started using the data connection
    Timestamp reply_time = 0;
  };
  struct SessionState {
    ControlConnection control;
    std::string user;
    bool user_seen = false;
    ReplyTracker replies;
    // Commands waiting for their final reply (RFC 959 4.2: answered in order): a transfer's id,
    // 0 for any other command.
    std::deque<uint64_t> pending;
    std::deque<Expectation> unclaimed;  // predicted data connections no transfer took yet
    std::deque<uint64_t> transfers;     // open transfer ids, oldest first
    Timestamp last_seen = 0;
    Timestamp ended = 0;  // when the engine ended the control connection's session (0: open)
  };

  void OnCommand(SessionState& session, Timestamp time, std::string_view line);
  void OnReply(SessionState& session, Timestamp time, std::string_view line);
  void Claim(SessionState& session, uint64_t id);
  void Finish(uint64_t id, std::string incomplete);
  void FinishIfComplete(uint64_t id);
  SessionState* FindSession(const Tuple& master);

  TransferLogConfig config_;
  std::unordered_map<Tuple, SessionState, TupleHash> sessions_;
  std::unordered_map<uint64_t, Transfer> transfers_;
  uint64_t next_id_ = 1;
  std::vector<TransferRecord> finished_;
};

// One JSON object per record (docs/transfer-log.md describes the fields); JsonLine() writes it.
nlohmann::ordered_json TransferRecordToJson(const TransferRecord& record);

}  // namespace ftpalg
