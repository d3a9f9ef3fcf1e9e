// One of ftp-algd's packet workers: a netfilter queue in, its own engine, verdicts and
// expectations out, on its own thread.
//
// Everything of one control connection reaches one worker: the kernel queues a connection's
// packets (both directions) to the queue of the helper the rules attached to it, and each worker
// serves the queue of its own helper (see docs/workers.md). A worker's engine, sockets and
// figures are its own, so workers share nothing on the packet path. Other threads talk to a
// worker only through RequestStop(), Reconfigure() and Figures().
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/session_keeper.h"
#include "daemon/status.h"
#include "daemon/transfer_log_sink.h"
#include "ftpalg/counters.h"
#include "ftpalg/engine.h"
#include "kernel/conntrack_client.h"
#include "kernel/expectation_client.h"
#include "kernel/queue_client.h"

namespace ftpalg::daemon {

struct WorkerSetup {
  int index = 0;  // 0..workers-1: the label of its metrics
  uint16_t queue_num = 0;
  uint32_t queue_max_len = 4096;
  EngineConfig engine;
  Log::Format log_format = Log::Format::kJson;
  bool log_packets = false;
  // Shared by every worker (it locks itself); nullptr or disabled: no transfer log.
  TransferLogSink* transfer_log = nullptr;
};

// A copy of one worker's figures, taken by the worker itself (the metrics thread reads it).
struct WorkerFigures {
  Counters counters;
  kernel::QueueStats queue;
  uint64_t packets_without_conntrack = 0;
  uint64_t packets_truncated = 0;
  uint64_t expectation_install_errors = 0;
  uint64_t seq_adjust_errors = 0;
  uint64_t verdict_encode_errors = 0;
  uint64_t session_state_bytes = 0;  // refreshed once a second (it walks the session table)
  SessionKeeperStats session_state;  // the helper private data (session_keeper.h)
};

// The workers' figures added up (the totals of the metrics).
WorkerFigures SumFigures(const std::vector<WorkerFigures>& figures);
// The figures of `total` that are not engine counters, as the metrics' extra lines.
std::vector<ExtraMetric> WorkerExtraMetrics(const WorkerFigures& total);
// Packets, sessions and queue overruns of each worker, labelled worker="INDEX" (the index in
// `figures`), in Prometheus text format.
std::string RenderPerWorkerMetrics(const std::vector<WorkerFigures>& figures);

class Worker {
 public:
  explicit Worker(const WorkerSetup& setup);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  // Binds the queue and opens the ctnetlink sockets. Returns an empty string or a one-line error.
  std::string Open();
  // The packet loop, on the calling thread, until RequestStop(). Then unbinds the queue.
  void Run();

  // From any thread.
  void RequestStop();
  // Applied by the worker's loop before its next batch.
  void Reconfigure(const EngineConfig& engine, Log::Format log_format, bool log_packets);
  WorkerFigures Figures() const;
  // The sessions of this worker's engine for `ftp-algd status`, taken by the worker's own thread
  // (the engine is not shared); waits at most `wait_ms`. False when the worker did not answer.
  bool AppendSessions(int wait_ms, StatusReport* report);
  int index() const { return setup_.index; }

 private:
  class KernelInstaller : public ExpectationInstaller {
   public:
    KernelInstaller(kernel::ExpectationClient& client, Log& log) : client_(client), log_(log) {}
    Result Install(const Expectation& expectation) override;
    void Remove(const Expectation& expectation) override;
    uint64_t failures() const { return failures_; }

   private:
    kernel::ExpectationClient& client_;
    Log& log_;
    uint64_t failures_ = 0;
  };

  // `now`: when its receive batch was read (one clock reading per batch).
  void OnPacket(const kernel::QueuedPacket& packet, kernel::DecodeError error, Timestamp now);
  // Hands the kernel the rewritten packet of `decision`, after its sequence adjustment; lets the
  // packet through unchanged when either cannot be done (the stream then stays consistent).
  // `help` (non-null): the session's snapshot to store with it (session_keeper.h).
  void SendRewritten(const kernel::QueuedPacket& packet, Direction direction,
                     const Decision& decision, const kernel::HelpInfoUpdate* help);
  void AcceptUnchanged(uint32_t packet_id, const kernel::HelpInfoUpdate* help = nullptr);
  // A session first seen mid-stream (after a failover, conntrackd committed the entry with the
  // other gateway's adjustment; or a restarted daemon) already has an adjustment in the kernel
  // for rewrites this engine never saw: the new change goes on top of the kernel's.
  std::optional<SeqAdjustment> OnTopOfKernelAdjustment(const kernel::QueuedConntrack& conntrack,
                                                       Direction direction,
                                                       const SeqAdjustment& engine);
  void AnswerStatusRequest();
  void Wake();  // the loop's control eventfd: stop, a new configuration or a status request
  void ReceiveBatch();
  void ApplyPendingConfig();
  void PublishFigures(bool with_memory);
  void LogEvents(const std::vector<Event>& events) {
    for (const Event& event : events) log_.Decision(event);
    if (setup_.transfer_log != nullptr) setup_.transfer_log->OnEvents(events);
  }

  WorkerSetup setup_;
  Log log_;
  kernel::QueueClient queue_;
  kernel::ExpectationClient expectations_;
  kernel::ConntrackClient conntracks_;
  KernelInstaller installer_;
  Engine engine_;
  int control_fd_ = -1;  // eventfd: stop or a new configuration
  std::atomic<bool> stop_{false};
  uint64_t packets_without_conntrack_ = 0;
  uint64_t packets_truncated_ = 0;
  uint64_t seq_adjust_errors_ = 0;
  uint64_t verdict_encode_errors_ = 0;
  SessionKeeper session_keeper_;
  std::atomic<uint64_t> status_requested_{0};

  mutable std::mutex shared_mutex_;
  std::condition_variable status_answered_;
  uint64_t status_served_ = 0;                // guarded by shared_mutex_
  StatusReport status_part_;                  // guarded by shared_mutex_
  std::optional<WorkerSetup> pending_setup_;  // guarded by shared_mutex_
  WorkerFigures figures_;                     // guarded by shared_mutex_
};

}  // namespace ftpalg::daemon
