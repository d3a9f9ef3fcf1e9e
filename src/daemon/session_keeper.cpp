#include "daemon/session_keeper.h"

#include <algorithm>

namespace ftpalg {

std::optional<SessionSnapshot> SessionKeeper::Stored(const kernel::QueuedConntrack& conntrack) {
  if (!conntrack.helper_info) {
    ++stats_.without_area;
    return std::nullopt;
  }
  const SnapshotRead read = DecodeSnapshot(*conntrack.helper_info);
  switch (read.status) {
    case SnapshotStatus::kOk:
      ++stats_.resumed_reads;
      return read.snapshot;
    case SnapshotStatus::kNeverWritten:
      ++stats_.never_written;
      return std::nullopt;
    case SnapshotStatus::kWrongSize:
    case SnapshotStatus::kUnknownVersion:
    case SnapshotStatus::kBadField:
      ++stats_.unreadable;
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<SnapshotBytes> SessionKeeper::ToWrite(
    const kernel::QueuedConntrack& conntrack, const std::optional<SessionSnapshot>& current) const {
  if (!current || !conntrack.helper_info) return std::nullopt;
  const std::span<const uint8_t> stored = *conntrack.helper_info;
  if (stored.size() != SessionSnapshot::kSize) return std::nullopt;
  SnapshotBytes bytes = EncodeSnapshot(*current);
  if (std::equal(bytes.begin(), bytes.end(), stored.begin())) return std::nullopt;
  return bytes;
}

void SessionKeeper::Count(WritePath path) {
  switch (path) {
    case WritePath::kVerdict:
      ++stats_.writes_verdict;
      break;
    case WritePath::kDeferred:
      ++stats_.writes_deferred;
      break;
  }
}

kernel::HelpInfoUpdate HelpInfoFor(const kernel::QueuedConntrack& conntrack,
                                   const SnapshotBytes& bytes) {
  return kernel::HelpInfoUpdate{conntrack.helper_name, bytes};
}

}  // namespace ftpalg
