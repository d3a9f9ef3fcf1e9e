// Keeps each session's snapshot (ftpalg/session_snapshot.h) in its conntrack's helper private data
// (kernel/help_info.h), so that a restarted ftp-algd resumes sessions instead of trusting them as
// logged in. Pure: it reads what the queued packet brought and says what to write; the daemon
// sends it with messages it sends anyway.
//
// When to write: whenever the engine's snapshot of the session differs from the one the packet
// brought (the kernel's copy is the truth: nothing is cached here). The snapshot holds state that
// changes a few times per session (greeting, login, EPSV ALL, step-aside), so most packets write
// nothing. Where: in the packet's verdict (NFQA_CT {CTA_HELP}) when the payload keeps its length;
// when a rewrite changed the length (a verdict must then not carry NFQA_CT: conntrack_messages.h),
// with the session's next packet. Not in the ctnetlink update of the sequence adjustment, which
// could carry it (kernel/help_info.h): one write path, the one the restart test proves.
#pragma once

#include <cstdint>
#include <optional>

#include "ftpalg/session_snapshot.h"
#include "kernel/help_info.h"
#include "kernel/queue_messages.h"

namespace ftpalg {

struct SessionKeeperStats {
  uint64_t resumed_reads = 0;    // snapshots handed to the engine for a packet
  uint64_t never_written = 0;    // packets whose conntrack's area was all zero
  uint64_t unreadable = 0;       // areas of another size or version, or malformed
  uint64_t without_area = 0;     // packets whose helper has no private data (old registration)
  uint64_t writes_verdict = 0;   // written with the packet's verdict
  uint64_t writes_deferred = 0;  // left for the next packet (length-changed retransmission)
};

class SessionKeeper {
 public:
  // The snapshot to resume a session from, read from the packet's conntrack (nullopt: none was
  // written, or it cannot be read; the engine then follows its pickup rules).
  std::optional<SessionSnapshot> Stored(const kernel::QueuedConntrack& conntrack);

  // The bytes to write after the engine processed the packet, given the engine's snapshot of the
  // session (nullopt: no session): nullopt when the stored area already says the same, or when
  // the helper has no area of the snapshot's size to write into.
  std::optional<SnapshotBytes> ToWrite(const kernel::QueuedConntrack& conntrack,
                                       const std::optional<SessionSnapshot>& current) const;

  // The daemon reports where a write went.
  enum class WritePath : uint8_t { kVerdict, kDeferred };
  void Count(WritePath path);

  const SessionKeeperStats& stats() const { return stats_; }

 private:
  SessionKeeperStats stats_;
};

// The help-info update for `bytes` on the packet's conntrack (the name is its own helper's).
kernel::HelpInfoUpdate HelpInfoFor(const kernel::QueuedConntrack& conntrack,
                                   const SnapshotBytes& bytes);

}  // namespace ftpalg
