#include "replay/replay.h"

#include <cstdio>

#include "ftpalg/event_json.h"
#include "ftpalg/expectation_table.h"
#include "ftpalg/packet_view.h"
#include "replay/capture.h"

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

}  // namespace

int RunReplay(const ReplayOptions& options, std::ostream* events, std::ostream* report,
              ReplayTotals* totals, std::string* error) {
  auto reader = CaptureReader::Open(options.input_path, error);
  if (!reader) return kExitBadInput;
  std::unique_ptr<CaptureWriter> writer;
  if (!options.write_path.empty()) {
    writer = CaptureWriter::Open(*reader, options.write_path, error);
    if (!writer) return kExitBadInput;
  }

  const NatDescription nat(options.snat, options.dnat, options.control_ports);
  SimulatedExpectationTable table(
      static_cast<Timestamp>(options.engine.policy.expectation_timeout_seconds) * kNanosPerSecond,
      /*max_entries=*/1u << 20);
  EngineConfig config = options.engine;
  config.shift_sequence_numbers = true;  // no kernel here to do it
  Engine engine(config, table);
  Output output(events, report);
  ReplayTotals local;
  Timestamp last_time = 0;

  while (auto record = reader->Next()) {
    ++local.records;
    last_time = record->time;
    if (!record->has_ip) {
      if (writer) writer->Write(*record);
      continue;
    }
    const auto ip_packet = record->frame.subspan(record->ip_offset);
    const TcpPacketResult parsed = ParseTcpPacket(ip_packet);
    if (!parsed.ok()) {
      if (writer) writer->Write(*record);
      continue;
    }
    table.SetTime(record->time);
    const TcpPacketView& view = parsed.view;
    auto classified = nat.Classify(view.tuple);
    if (!classified) {
      // A connection's first SYN: was it predicted?
      if (view.HasFlag(tcp_flags::kSyn) && !view.HasFlag(tcp_flags::kAck)) {
        ++local.data_connections;
        auto matched = table.Consume(view.tuple);
        if (matched) ++local.data_connections_expected;
        output.EmitData(record->time, view.tuple, matched);
      }
      if (writer) writer->Write(*record);
      continue;
    }
    ++local.control_packets;
    PacketInput input;
    input.packet = ip_packet;
    input.time = record->time;
    input.control = classified->control;
    input.direction = classified->direction;
    Decision decision = engine.Process(input);
    for (const Event& event : decision.events) output.Emit(event);
    if (writer) {
      if (decision.modified) {
        writer->Write(*record, decision.packet);
      } else {
        writer->Write(*record);
      }
    }
  }
  if (!reader->error().empty()) {
    // A truncated last record is common in captures cut short; what was read still counts.
    if (report != nullptr) *report << "warning: " << reader->error() << '\n';
  }
  if (writer && !writer->Close(error)) return kExitBadInput;

  if (events != nullptr) {
    nlohmann::ordered_json summary = {{"event", "summary"},
                              {"time", TimestampSeconds(last_time)},
                              {"records", local.records},
                              {"control_packets", local.control_packets},
                              {"data_connections", local.data_connections},
                              {"data_connections_expected", local.data_connections_expected},
                              {"sessions_open", engine.session_count()},
                              {"counters", CountersToJson(engine.counters())}};
    *events << JsonLine(summary) << '\n';
  }
  if (report != nullptr) {
    const Counters& c = engine.counters();
    *report << "summary: " << local.records << " packets, " << local.control_packets
            << " on control connections; " << c.Get(Counter::kRewrites) << " rewrites, "
            << c.Get(Counter::kExpectations) << " expectations, " << c.Get(Counter::kRefusals)
            << " refusals; " << local.data_connections_expected << " of "
            << local.data_connections << " data connections predicted\n";
  }
  if (totals != nullptr) *totals = local;
  return kExitOk;
}

}  // namespace ftpalg::replay
