#include "daemon/transfer_log_sink.h"

#include <linux/netfilter/nf_conntrack_common.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstring>

#include "ftpalg/event_json.h"
#include "kernel/conntrack_events.h"

namespace ftpalg::daemon {
namespace {

// Ends handed over between two ticks at most; past it they are dropped and counted (a gateway
// ending this many FTP data connections a second has bigger worries than its transfer log).
constexpr size_t kMaxHandedOver = 65536;
// Room for a burst of destroy events of every kind while the thread is scheduled out.
constexpr int kEventBufferBytes = 4 << 20;

DataConnectionEnd ToDataEnd(const kernel::ConntrackEvent& event, Timestamp now) {
  DataConnectionEnd end;
  end.original = event.original;
  end.reply = event.reply;
  end.time = now;
  end.kind = DataEndKind::kDestroyed;
  const std::optional<kernel::ConntrackCounters>* counters[2] = {&event.counters_original,
                                                                 &event.counters_reply};
  for (size_t i = 0; i < 2; ++i) {
    if (*counters[i]) {
      end.counters[i] = FlowCounters{(*counters[i])->packets, (*counters[i])->bytes, {}};
    }
  }
  return end;
}

}  // namespace

struct TransferLogSink::EventSocket {
  kernel::ConntrackEventSocket socket;
};

TransferLogSink::TransferLogSink(Log& log) : log_(log) {}

TransferLogSink::~TransferLogSink() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  if (owns_out_ && out_ != nullptr) std::fclose(out_);
}

std::string TransferLogSink::Start(const std::string& destination) {
  destination_ = destination;
  if (destination == "off") return "";
  if (destination == "journal") {
    out_ = stderr;
  } else if (destination == "stdout") {
    out_ = stdout;
  } else if (std::string error = Reopen(); !error.empty()) {
    return error;
  }
  socket_ = std::make_unique<EventSocket>();
  kernel::ConntrackEventGroups groups;
  groups.destroyed = true;
  if (int error = socket_->socket.Open(groups, kEventBufferBytes); error != 0) {
    return std::string("transfer log: conntrack destroy events: ") + std::strerror(error);
  }
  enabled_ = true;
  // Every signal blocked on the thread: the daemon takes SIGTERM/SIGHUP through its signalfd
  // (metrics.cpp has the same for the same reason).
  sigset_t all;
  sigset_t creator_mask;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &creator_mask);
  thread_ = std::thread([this] { ReadEvents(); });
  pthread_sigmask(SIG_SETMASK, &creator_mask, nullptr);
  return "";
}

void TransferLogSink::ReadEvents() {
  while (!stopping_) {
    // The timeout bounds how long the thread takes to notice the daemon stopping.
    pollfd ready{socket_->socket.fd(), POLLIN, 0};
    if (poll(&ready, 1, 500) <= 0) continue;
    const Timestamp now = Now();
    socket_->socket.Drain(64, [&](const kernel::ConntrackEvent& event) {
      // Only connections conntrack created from an expectation can be predicted data connections.
      if (event.kind != kernel::ConntrackEventKind::kDestroy || !event.status ||
          (*event.status & IPS_EXPECTED) == 0) {
        return;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      if (handed_over_.size() >= kMaxHandedOver) {
        event_losses_.fetch_add(1, std::memory_order_relaxed);
      } else {
        handed_over_.push_back(ToDataEnd(event, now));
      }
    });
    socket_overruns_.store(socket_->socket.overruns(), std::memory_order_relaxed);
  }
}

void TransferLogSink::LockedObserver::OnControlLine(const ControlConnection& control,
                                                    Direction direction, Timestamp time,
                                                    std::string_view line) {
  std::lock_guard<std::mutex> lock(sink_.tracker_mutex_);
  sink_.transfers_.OnControlLine(control, direction, time, line);
}

void TransferLogSink::OnEvents(const std::vector<Event>& events) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(tracker_mutex_);
  for (const Event& event : events) transfers_.OnEvent(event);
}

void TransferLogSink::Tick(Timestamp now) {
  if (!enabled_) return;
  std::vector<DataConnectionEnd> ends;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ends.swap(handed_over_);
  }
  std::lock_guard<std::mutex> lock(tracker_mutex_);
  for (const DataConnectionEnd& end : ends) {
    ++counts_.data_ends;
    if (!transfers_.OnDataEnd(end)) ++counts_.data_unmatched;
  }
  transfers_.Expire(now);
  Write();
}

void TransferLogSink::Write() {
  for (const TransferRecord& record : transfers_.TakeRecords()) {
    std::fprintf(out_, "%s\n", JsonLine(TransferRecordToJson(record)).c_str());
    ++counts_.records;
  }
  std::fflush(out_);
}

std::string TransferLogSink::Reopen() {
  if (destination_ == "off" || destination_ == "journal" || destination_ == "stdout") return "";
  std::FILE* fresh = std::fopen(destination_.c_str(), "ae");
  if (fresh == nullptr) {
    return "transfer log: cannot open " + destination_ + ": " + std::strerror(errno);
  }
  std::lock_guard<std::mutex> lock(tracker_mutex_);
  if (owns_out_ && out_ != nullptr) std::fclose(out_);
  out_ = fresh;
  owns_out_ = true;
  return "";
}

void TransferLogSink::Stop(Timestamp now) {
  if (!enabled_) return;
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  Tick(now);
  std::lock_guard<std::mutex> lock(tracker_mutex_);
  transfers_.Flush(now);
  Write();
  enabled_ = false;
}

TransferLogCounts TransferLogSink::counts() const {
  std::lock_guard<std::mutex> lock(tracker_mutex_);
  TransferLogCounts counts = counts_;
  counts.event_losses = event_losses_.load(std::memory_order_relaxed) +
                        socket_overruns_.load(std::memory_order_relaxed);
  return counts;
}

}  // namespace ftpalg::daemon
