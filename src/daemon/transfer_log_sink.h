// ftp-algd's transfer log (docs/transfer-log.md): the core's TransferLog fed from the packet loop
// (control lines through the engine's observer, the engine's events) and from conntrack's destroy
// events of the predicted data connections, written as JSON lines to the journal (stderr),
// stdout or a file that SIGHUP reopens (logrotate).
//
// The destroy events are read on a thread of their own, never on the packet path: a gateway's
// ctnetlink destroy group carries every connection that ends, FTP or not. The thread keeps only
// connections conntrack created from an expectation (IPS_EXPECTED) and hands them over in a
// bounded queue; the packet loop takes them once a second.
#pragma once

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/log.h"
#include "ftpalg/transfer_log.h"

namespace ftpalg::daemon {

struct TransferLogCounts {
  uint64_t records = 0;         // records written
  uint64_t data_ends = 0;       // destroy events of expected connections taken in
  uint64_t data_unmatched = 0;  // ... that matched no transfer (another helper's, or evicted)
  uint64_t event_losses = 0;    // ENOBUFS on the event socket, or the hand-over queue full
};

class TransferLogSink {
 public:
  explicit TransferLogSink(Log& log);
  ~TransferLogSink();
  TransferLogSink(const TransferLogSink&) = delete;
  TransferLogSink& operator=(const TransferLogSink&) = delete;

  // `destination`: "off", "journal" (stderr, beside the daemon's log), "stdout", or a file path
  // (appended to). Returns "" or a one-line reason.
  std::string Start(const std::string& destination);
  bool enabled() const { return enabled_; }
  // What the engine reports control lines to (nullptr when off).
  // Every method may be called from any packet worker's thread (one sink serves them all).
  ControlLineObserver* observer() { return enabled_ ? &locked_observer_ : nullptr; }
  void OnEvents(const std::vector<Event>& events);
  // Once a second from the packet loop: the data connections' ends the event thread read, expiry,
  // and writing what is complete.
  void Tick(Timestamp now);
  // SIGHUP: the file is closed and opened again (logrotate moved it). Returns "" or a reason.
  std::string Reopen();
  // Shutdown: what is still open is written as it is.
  void Stop(Timestamp now);
  TransferLogCounts counts() const;

 private:
  // Forwards the engines' control lines to the tracker under tracker_mutex_.
  class LockedObserver : public ControlLineObserver {
   public:
    explicit LockedObserver(TransferLogSink& sink) : sink_(sink) {}
    void OnControlLine(const ControlConnection& control, Direction direction, Timestamp time,
                       std::string_view line) override;

   private:
    TransferLogSink& sink_;
  };

  void ReadEvents();
  void Write();  // with tracker_mutex_ held

  Log& log_;
  bool enabled_ = false;
  std::string destination_;
  std::FILE* out_ = nullptr;
  bool owns_out_ = false;
  mutable std::mutex tracker_mutex_;  // guards transfers_, counts_ and out_
  TransferLog transfers_;
  TransferLogCounts counts_;
  LockedObserver locked_observer_{*this};
  // The event thread and what it hands over.
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> event_losses_{0};     // the hand-over queue was full
  std::atomic<uint64_t> socket_overruns_{0};  // ENOBUFS: the kernel dropped events
  std::mutex mutex_;
  std::vector<DataConnectionEnd> handed_over_;  // guarded by mutex_
  struct EventSocket;
  std::unique_ptr<EventSocket> socket_;
};

}  // namespace ftpalg::daemon
