#include "replay/data_connections.h"

#include <algorithm>

namespace ftpalg::replay {

void DataConnections::Start(const Tuple& syn, const Expectation& predicted, Timestamp time) {
  Followed followed;
  // As conntrack has it: `original` as the first packet reached the gateway (the expectation's
  // destination), `reply` from where NAT sent it. A capture taken behind the NAT shows the
  // translated SYN (to the inside endpoint): its original destination is the expectation's.
  const bool translated_capture =
      predicted.nat_to && syn.dst == *predicted.nat_to && !(syn.dst == predicted.destination);
  followed.end.original = syn;
  if (translated_capture) followed.end.original.dst = predicted.destination;
  const Endpoint answering = predicted.nat_to ? *predicted.nat_to : syn.dst;
  followed.end.reply = Tuple{answering, syn.src};
  followed.end.time = time;
  followed.end.predicted = predicted;
  followed.end.counters = {FlowCounters{0, 0, 0}, FlowCounters{0, 0, 0}};
  open_[syn] = followed;
}

std::optional<DataConnectionEnd> DataConnections::Count(const TcpPacketView& view, Timestamp time) {
  auto it = open_.find(view.tuple);
  Direction direction = Direction::kOriginal;
  if (it == open_.end()) {
    it = open_.find(view.tuple.Reversed());
    direction = Direction::kReply;
  }
  if (it == open_.end()) return std::nullopt;
  Followed& followed = it->second;
  FlowCounters& counters = *followed.end.counters[static_cast<size_t>(direction)];
  counters.packets += 1;
  counters.bytes += view.packet.size();
  *counters.payload += view.payload.size();
  followed.end.time = time;
  if (view.HasFlag(tcp_flags::kFin)) followed.fin_seen[static_cast<size_t>(direction)] = true;
  const bool reset = view.HasFlag(tcp_flags::kRst);
  if (!reset && !(followed.fin_seen[0] && followed.fin_seen[1])) return std::nullopt;
  DataConnectionEnd end = followed.end;
  end.kind = reset ? DataEndKind::kReset : DataEndKind::kClosed;
  open_.erase(it);
  return end;
}

std::vector<DataConnectionEnd> DataConnections::EndAll(Timestamp time) {
  std::vector<DataConnectionEnd> ends;
  for (auto& [syn, followed] : open_) {
    ends.push_back(followed.end);
    ends.back().kind = DataEndKind::kCaptureEnd;
    ends.back().time = std::max(ends.back().time, time);
  }
  open_.clear();
  // In a stable order (the map's is not): by when they were last seen, then by tuple.
  std::sort(ends.begin(), ends.end(), [](const DataConnectionEnd& a, const DataConnectionEnd& b) {
    return a.time != b.time ? a.time < b.time : a.original < b.original;
  });
  return ends;
}

}  // namespace ftpalg::replay
