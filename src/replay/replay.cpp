#include "replay/replay.h"

#include <cstdio>

#include "ftpalg/event_json.h"
#include "ftpalg/expectation_table.h"
#include "ftpalg/packet_view.h"
#include "replay/capture.h"
#include "replay/data_connections.h"

namespace ftpalg::replay {
namespace {

std::string Seconds(Timestamp time) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6f", TimestampSeconds(time));
  return buffer;
}

class Output {
 public:
  Output(std::ostream* events, std::ostream* report) : events_(events), report_(report) {}
  void Emit(const Event& event) {
    if (events_ != nullptr) *events_ << JsonLine(EventToJson(event)) << '\n';
    if (report_ != nullptr && event.type != EventType::kSessionEnd) {
      *report_ << Seconds(event.time) << "  " << EventToText(event) << '\n';
    }
  }
  void EmitData(Timestamp time, const Tuple& syn, const std::optional<Expectation>& matched) {
    if (events_ != nullptr) {
      nlohmann::ordered_json line = {{"event", "data"},
                                     {"time", TimestampSeconds(time)},
                                     {"family", FamilyName(syn.family())},
                                     {"src", syn.src.addr.ToString()},
                                     {"dst", syn.dst.addr.ToString()},
                                     {"sport", syn.src.port},
                                     {"dport", syn.dst.port},
                                     {"expected", matched.has_value()}};
      if (matched) {
        line["cause"] = ExpectCauseName(matched->cause);
        line["master"] = TupleToJson(matched->master);
      }
      *events_ << JsonLine(line) << '\n';
    }
    if (report_ != nullptr) {
      *report_ << Seconds(time) << "  data connection " << TupleToText(syn)
               << (matched ? " was predicted (" + std::string(ExpectCauseName(matched->cause)) + ")"
                           : std::string(" was NOT predicted"))
               << '\n';
    }
  }

 private:
  std::ostream* events_;
  std::ostream* report_;
};

// One replay: the capture, the engine with its simulated expectation table, and the outputs.
class Replay {
 public:
  Replay(const ReplayOptions& options, CaptureReader& reader, CaptureWriter* writer,
         std::ostream* events, std::ostream* report, std::ostream* transfers)
      : reader_(reader),
        writer_(writer),
        events_(events),
        report_(report),
        nat_(options.snat, options.dnat, options.control_ports),
        table_(static_cast<Timestamp>(options.engine.policy.expectation_timeout_seconds) *
                   kNanosPerSecond,
               /*max_entries=*/1u << 20),
        engine_(EngineWithShifts(options.engine), table_),
        output_(events, report),
        transfers_(transfers) {
    if (transfers_ != nullptr) engine_.SetLineObserver(&transfer_log_);
  }

  void Run() {
    while (auto record = reader_.Next()) {
      ++totals_.records;
      last_time_ = record->time;
      HandleRecord(*record);
    }
    EndTransfers();
    if (!reader_.error().empty() && report_ != nullptr) {
      // A truncated last record is common in captures cut short; what was read still counts.
      *report_ << "warning: " << reader_.error() << '\n';
    }
  }

  void Summarize() const;
  const ReplayTotals& totals() const { return totals_; }

 private:
  static EngineConfig EngineWithShifts(EngineConfig config) {
    config.shift_sequence_numbers = true;  // no kernel here to do it
    return config;
  }

  void HandleRecord(const CaptureRecord& record);
  void HandleDataSyn(const CaptureRecord& record, const Tuple& syn);
  void HandleControlPacket(const CaptureRecord& record, std::span<const uint8_t> ip_packet,
                           const ClassifiedPacket& classified);
  void ExpireSessions(Timestamp now);
  void Emit(const Event& event) {
    output_.Emit(event);
    if (transfers_ != nullptr) transfer_log_.OnEvent(event);
  }
  void CountData(const TcpPacketView& view, Timestamp time);
  void EndTransfers();
  void WriteTransfers();
  void Forward(const CaptureRecord& record) {
    if (writer_ != nullptr) writer_->Write(record);
  }

  CaptureReader& reader_;
  CaptureWriter* writer_;
  std::ostream* events_;
  std::ostream* report_;
  const NatDescription nat_;
  SimulatedExpectationTable table_;
  Engine engine_;
  Output output_;
  std::ostream* transfers_;
  TransferLog transfer_log_;
  DataConnections data_connections_;
  ReplayTotals totals_;
  Timestamp last_time_ = 0;
  Timestamp last_sweep_ = 0;
};

void Replay::HandleRecord(const CaptureRecord& record) {
  if (!record.has_ip) return Forward(record);
  const auto ip_packet = record.frame.subspan(record.ip_offset);
  const TcpPacketResult parsed = ParseTcpPacket(ip_packet);
  if (!parsed.ok()) return Forward(record);
  table_.SetTime(record.time);
  const TcpPacketView& view = parsed.view;
  auto classified = nat_.Classify(view.tuple);
  if (!classified) {
    // A connection's first SYN: was it predicted?
    if (view.HasFlag(tcp_flags::kSyn) && !view.HasFlag(tcp_flags::kAck)) {
      HandleDataSyn(record, view.tuple);
    }
    if (transfers_ != nullptr) CountData(view, record.time);
    return Forward(record);
  }
  HandleControlPacket(record, ip_packet, *classified);
}

void Replay::HandleDataSyn(const CaptureRecord& record, const Tuple& syn) {
  ++totals_.data_connections;
  auto matched = table_.Consume(syn);
  if (matched) ++totals_.data_connections_expected;
  output_.EmitData(record.time, syn, matched);
  if (matched && transfers_ != nullptr) data_connections_.Start(syn, *matched, record.time);
}

void Replay::CountData(const TcpPacketView& view, Timestamp time) {
  if (auto end = data_connections_.Count(view, time)) {
    transfer_log_.OnDataEnd(*end);
    WriteTransfers();
  }
}

// The capture ended: connections still open end here, and transfers still waiting for a half
// are written as they are.
void Replay::EndTransfers() {
  if (transfers_ == nullptr) return;
  for (const DataConnectionEnd& end : data_connections_.EndAll(last_time_)) {
    transfer_log_.OnDataEnd(end);
  }
  transfer_log_.Flush(last_time_);
  WriteTransfers();
}

void Replay::WriteTransfers() {
  for (const TransferRecord& record : transfer_log_.TakeRecords()) {
    *transfers_ << JsonLine(TransferRecordToJson(record)) << '\n';
  }
}

void Replay::HandleControlPacket(const CaptureRecord& record, std::span<const uint8_t> ip_packet,
                                 const ClassifiedPacket& classified) {
  ++totals_.control_packets;
  ExpireSessions(record.time);
  PacketInput input;
  input.packet = ip_packet;
  input.time = record.time;
  input.control = classified.control;
  input.direction = classified.direction;
  Decision decision = engine_.Process(input);
  for (const Event& event : decision.events) Emit(event);
  if (transfers_ != nullptr) WriteTransfers();
  if (writer_ == nullptr) return;
  if (decision.modified) {
    writer_->Write(record, decision.packet);
  } else {
    writer_->Write(record);
  }
}

// Sweeps idle and closed sessions at most once a second of capture time (and when the capture's
// clock goes backwards), before the control packet that brings the time forward.
void Replay::ExpireSessions(Timestamp now) {
  if (now - last_sweep_ < kNanosPerSecond && now >= last_sweep_) return;
  last_sweep_ = now;
  std::vector<Event> expired;
  engine_.Expire(now, &expired);
  for (const Event& event : expired) Emit(event);
  if (transfers_ != nullptr) {
    transfer_log_.Expire(now);
    WriteTransfers();
  }
}

void Replay::Summarize() const {
  const Counters& c = engine_.counters();
  if (events_ != nullptr) {
    nlohmann::ordered_json summary = {
        {"event", "summary"},
        {"time", TimestampSeconds(last_time_)},
        {"records", totals_.records},
        {"control_packets", totals_.control_packets},
        {"data_connections", totals_.data_connections},
        {"data_connections_expected", totals_.data_connections_expected},
        {"sessions_open", engine_.session_count()},
        {"counters", CountersToJson(c)}};
    *events_ << JsonLine(summary) << '\n';
  }
  if (report_ != nullptr) {
    *report_ << "summary: " << totals_.records << " packets, " << totals_.control_packets
             << " on control connections; " << c.Get(Counter::kRewrites) << " rewrites, "
             << c.Get(Counter::kExpectations) << " expectations, " << c.Get(Counter::kRefusals)
             << " refusals; " << totals_.data_connections_expected << " of "
             << totals_.data_connections << " data connections predicted\n";
  }
}

}  // namespace

int RunReplay(const ReplayOptions& options, std::ostream* events, std::ostream* report,
              ReplayTotals* totals, std::string* error, std::ostream* transfers) {
  auto reader = CaptureReader::Open(options.input_path, error);
  if (!reader) return kExitBadInput;
  std::unique_ptr<CaptureWriter> writer;
  if (!options.write_path.empty()) {
    writer = CaptureWriter::Open(*reader, options.write_path, error);
    if (!writer) return kExitBadInput;
  }
  Replay replay(options, *reader, writer.get(), events, report, transfers);
  replay.Run();
  if (writer && !writer->Close(error)) return kExitBadInput;
  replay.Summarize();
  if (totals != nullptr) *totals = replay.totals();
  return kExitOk;
}

}  // namespace ftpalg::replay
