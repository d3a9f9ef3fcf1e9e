// Counters an operator reads (the daemon's metrics, the replay's summary event).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ftpalg {

// X-macro so that the enum, the names and the help texts stay in one place.
#define FTPALG_COUNTERS(X)                                                                    \
  X(kPackets, "packets", "control-connection packets seen by the engine")                     \
  X(kPacketsNotTcp, "packets_not_tcp", "packets that were not TCP over IPv4/IPv6")            \
  X(kPacketsMalformed, "packets_malformed", "packets whose IP/TCP headers did not parse")     \
  X(kPacketsModified, "packets_modified", "packets whose bytes the engine changed")           \
  X(kSegmentsRetransmitted, "segments_retransmitted", "segments with no new bytes")           \
  X(kSegmentsOverlapping, "segments_overlapping", "segments partly new")                      \
  X(kSegmentsOutOfOrder, "segments_out_of_order", "segments after a gap: not parsed")         \
  X(kLines, "lines", "lines framed")                                                          \
  X(kLinesOverlong, "lines_overlong", "lines longer than the bound, skipped")                 \
  X(kReplyLinesMalformed, "reply_lines_malformed", "server lines that are not replies")       \
  X(kExpectations, "expectations", "expectations installed")                                  \
  X(kExpectationsReplaced, "expectations_replaced", "pending expectations replaced (limit)")  \
  X(kExpectationsRemoved, "expectations_removed", "expectations withdrawn")                   \
  X(kExpectationsFailed, "expectations_failed", "expectations the kernel refused")            \
  X(kRewrites, "rewrites", "address/port texts rewritten")                                    \
  X(kRetransmitRewrites, "retransmit_rewrites", "rewrites repeated on a retransmission")      \
  X(kRefusals, "refusals", "commands/replies refused by policy or malformed")                 \
  X(kRefusedBounce, "refused_bounce", "third-party address (bounce)")                         \
  X(kRefusedLowPort, "refused_low_port", "data port below 1024")                              \
  X(kRefusedUnpaired, "refused_unpaired", "227/229 without PASV/EPSV")                        \
  X(kRefusedMalformed, "refused_malformed", "malformed PORT/EPRT/227/229")                    \
  X(kRefusedNotLoggedIn, "refused_not_logged_in", "PORT/EPRT before login")                   \
  X(kRefusedSplit, "refused_split", "address text split across segments, not rewritable")     \
  X(kRefusedOther, "refused_other", "refused for another reason")                             \
  X(kSessions, "sessions", "control connections tracked")                                     \
  X(kSessionsActive, "sessions_active", "control connections tracked now (gauge)")            \
  X(kSessionsExpired, "sessions_expired", "sessions dropped after idling")                    \
  X(kSessionsResumed, "sessions_resumed", "sessions resumed from state kept in conntrack")    \
  X(kSessionsRejected, "sessions_rejected", "sessions not tracked: table full")               \
  X(kStepAsideTls, "step_aside_tls", "sessions that switched to TLS")                         \
  X(kStepAsideNotFtp, "step_aside_not_ftp", "sessions that are not FTP (slipstreaming)")      \
  X(kBytesIgnored, "bytes_ignored", "payload bytes not parsed (stepped aside)")               \
  X(kSessionsWithGaps, "sessions_with_gaps", "sessions with bytes never seen (queue bypass)") \
  X(kAddressesConcealed, "addresses_concealed", "refused announcements rewritten, no opening")

enum class Counter : size_t {
#define FTPALG_COUNTER_ENUM(id, name, help) id,
  FTPALG_COUNTERS(FTPALG_COUNTER_ENUM)
#undef FTPALG_COUNTER_ENUM
      kCount
};

std::string_view CounterName(Counter counter);
std::string_view CounterHelp(Counter counter);

class Counters {
 public:
  void Add(Counter counter, uint64_t amount = 1) { values_[Index(counter)] += amount; }
  void Subtract(Counter counter, uint64_t amount = 1) { values_[Index(counter)] -= amount; }
  uint64_t Get(Counter counter) const { return values_[Index(counter)]; }
  // Every counter of `other` added to this one (totals over several engines).
  void AddAll(const Counters& other) {
    for (size_t i = 0; i < values_.size(); ++i) values_[i] += other.values_[i];
  }

 private:
  static size_t Index(Counter counter) { return static_cast<size_t>(counter); }
  std::array<uint64_t, static_cast<size_t>(Counter::kCount)> values_{};
};

}  // namespace ftpalg
