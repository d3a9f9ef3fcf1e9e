// The predicted data connections of a capture, followed from their SYN to their end (FIN both
// ways, RST, or the capture's end) with packets and bytes counted per direction the way
// conntrack's accounting counts them, plus the TCP payload: the replay's stand-in for conntrack's
// destroy events, for the transfer log.
#pragma once

#include <unordered_map>
#include <vector>

#include "ftpalg/packet_view.h"
#include "ftpalg/transfer_log.h"

namespace ftpalg::replay {

class DataConnections {
 public:
  // A SYN that matched `predicted`: follow its connection.
  void Start(const Tuple& syn, const Expectation& predicted, Timestamp time);
  // Any packet that is not on a control connection. Returns the end when this packet ended a
  // followed connection.
  std::optional<DataConnectionEnd> Count(const TcpPacketView& view, Timestamp time);
  // The connections still open when the capture ended.
  std::vector<DataConnectionEnd> EndAll(Timestamp time);

 private:
  struct Followed {
    DataConnectionEnd end;
    std::array<bool, 2> fin_seen{};
  };
  std::unordered_map<Tuple, Followed, TupleHash> open_;  // by the SYN's tuple
};

}  // namespace ftpalg::replay
