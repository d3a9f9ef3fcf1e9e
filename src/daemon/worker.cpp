#include "daemon/worker.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "kernel/kernel_status.h"

namespace ftpalg::daemon {

// Expectations go to the kernel over ctnetlink. EEXIST/EBUSY mean the outside port is taken: the
// engine then tries the next one and rewrites the line with the port it got (as nf_nat_ftp does).
Worker::KernelInstaller::Result Worker::KernelInstaller::Install(const Expectation& expectation) {
  const kernel::ExpectResult result = client_.Create(expectation, expectation.zone);
  if (result.outcome == kernel::ExpectOutcome::kCreated) return Result::kInstalled;
  if (result.PortTaken()) return Result::kBusy;
  ++failures_;
  log_.Warning("expectation not installed: " + result.message);
  return Result::kFailed;
}

void Worker::KernelInstaller::Remove(const Expectation& expectation) {
  // ENOENT: already used by its data connection, or expired. Nothing to do either way.
  kernel::KernelStatus status = client_.Delete(expectation, expectation.zone);
  if (!status.ok() && status.error != ENOENT) {
    log_.Warning("expectation not removed: " + status.message);
  }
}

WorkerFigures SumFigures(const std::vector<WorkerFigures>& figures) {
  WorkerFigures total;
  for (const WorkerFigures& one : figures) {
    total.counters.AddAll(one.counters);
    total.queue.packets += one.queue.packets;
    total.queue.undecodable += one.queue.undecodable;
    total.queue.verdict_errors += one.queue.verdict_errors;
    total.queue.overruns += one.queue.overruns;
    total.queue.verdict_datagrams += one.queue.verdict_datagrams;
    total.queue.verdict_send_failures += one.queue.verdict_send_failures;
    total.packets_without_conntrack += one.packets_without_conntrack;
    total.packets_truncated += one.packets_truncated;
    total.expectation_install_errors += one.expectation_install_errors;
    total.seq_adjust_errors += one.seq_adjust_errors;
    total.verdict_encode_errors += one.verdict_encode_errors;
    total.session_state_bytes += one.session_state_bytes;
    total.session_state.resumed_reads += one.session_state.resumed_reads;
    total.session_state.never_written += one.session_state.never_written;
    total.session_state.unreadable += one.session_state.unreadable;
    total.session_state.without_area += one.session_state.without_area;
    total.session_state.writes_verdict += one.session_state.writes_verdict;
    total.session_state.writes_deferred += one.session_state.writes_deferred;
  }
  return total;
}

std::vector<ExtraMetric> WorkerExtraMetrics(const WorkerFigures& total) {
  const kernel::QueueStats& q = total.queue;
  auto count = [](uint64_t value) { return static_cast<double>(value); };
  return {
      {"queue_packets", "packets received from the queues", false, count(q.packets)},
      {"queue_undecodable", "queue messages that could not be read", false, count(q.undecodable)},
      {"queue_verdict_errors", "verdicts the kernel rejected", false, count(q.verdict_errors)},
      {"queue_verdict_datagrams", "datagrams carrying verdicts (one per receive batch)", false,
       count(q.verdict_datagrams)},
      {"queue_verdict_send_failures", "verdict datagrams the socket refused", false,
       count(q.verdict_send_failures)},
      {"queue_overruns", "times the kernel could not deliver (packets passed, fail-open)", false,
       count(q.overruns)},
      {"packets_without_conntrack", "queued packets without conntrack (passed unchanged)", false,
       count(total.packets_without_conntrack)},
      {"packets_truncated", "queued packets copied short (passed unchanged)", false,
       count(total.packets_truncated)},
      {"expectation_install_errors", "ctnetlink errors creating expectations", false,
       count(total.expectation_install_errors)},
      {"seq_adjust_errors",
       "rewrites let through unchanged because ctnetlink refused their sequence adjustment", false,
       count(total.seq_adjust_errors)},
      {"verdict_encode_errors", "verdicts that could not be encoded (packet let through unchanged)",
       false, count(total.verdict_encode_errors)},
      {"session_state_bytes", "approximate heap held by session state", true,
       count(total.session_state_bytes)},
      {"session_state_writes_verdict", "session snapshots stored with a verdict", false,
       count(total.session_state.writes_verdict)},
      {"session_state_writes_deferred", "session snapshots left for the session's next packet",
       false, count(total.session_state.writes_deferred)},
      {"session_state_reads", "packets whose conntrack held a session snapshot", false,
       count(total.session_state.resumed_reads)},
      {"session_state_unreadable", "session snapshots of another size or version (ignored)", false,
       count(total.session_state.unreadable)},
      {"session_state_missing", "packets whose helper has no private data area", false,
       count(total.session_state.without_area)},
  };
}

std::string RenderPerWorkerMetrics(const std::vector<WorkerFigures>& figures) {
  std::string out;
  auto family = [&out, &figures](const std::string& name, const char* help, bool gauge,
                                 uint64_t (*value)(const WorkerFigures&)) {
    const std::string full = "ftpalg_worker_" + name + (gauge ? "" : "_total");
    out += "# HELP " + full + " " + help + "\n";
    out += "# TYPE " + full + (gauge ? " gauge\n" : " counter\n");
    for (size_t i = 0; i < figures.size(); ++i) {
      out += full + "{worker=\"" + std::to_string(i) + "\"} " + std::to_string(value(figures[i])) +
             "\n";
    }
  };
  family("queue_packets", "packets received from this worker's queue", false,
         [](const WorkerFigures& f) { return f.queue.packets; });
  family("sessions", "control connections this worker tracked", false,
         [](const WorkerFigures& f) { return f.counters.Get(Counter::kSessions); });
  family("sessions_active", "control connections this worker tracks now", true,
         [](const WorkerFigures& f) { return f.counters.Get(Counter::kSessionsActive); });
  family("queue_overruns", "times the kernel could not deliver to this worker's queue", false,
         [](const WorkerFigures& f) { return f.queue.overruns; });
  return out;
}

Worker::Worker(const WorkerSetup& setup)
    : setup_(setup),
      log_(setup_.log_format),
      installer_(expectations_, log_),
      engine_(setup_.engine, installer_) {
  if (setup_.transfer_log != nullptr) engine_.SetLineObserver(setup_.transfer_log->observer());
}

Worker::~Worker() {
  if (control_fd_ >= 0) close(control_fd_);
}

std::string Worker::Open() {
  control_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (control_fd_ < 0) return std::string("eventfd: ") + std::strerror(errno);
  kernel::QueueOptions queue_options;
  queue_options.queue_num = setup_.queue_num;
  queue_options.max_len = setup_.queue_max_len;
  // Fail-open: when the daemon is down or the queue is full, control packets pass unhelped rather
  // than being dropped. FTP through the gateway then loses the ALG, but nothing else breaks.
  queue_options.fail_open = true;
  queue_options.conntrack = true;
  queue_options.require_conntrack = true;
  if (auto status = queue_.Open(queue_options); !status.ok()) return status.message;
  if (auto status = expectations_.Open(); !status.ok()) return status.message;
  if (auto status = conntracks_.Open(); !status.ok()) return status.message;
  return "";
}

void Worker::RequestStop() {
  stop_.store(true);
  Wake();
}

void Worker::Wake() {
  const uint64_t one = 1;
  // Fails only when the counter would overflow: the loop has been told already.
  [[maybe_unused]] ssize_t ignored = write(control_fd_, &one, sizeof one);
}

void Worker::Reconfigure(const EngineConfig& engine, Log::Format log_format, bool log_packets) {
  {
    std::lock_guard<std::mutex> lock(shared_mutex_);
    WorkerSetup fresh = setup_;
    fresh.engine = engine;
    fresh.log_format = log_format;
    fresh.log_packets = log_packets;
    pending_setup_ = fresh;
  }
  Wake();
}

void Worker::ApplyPendingConfig() {
  std::optional<WorkerSetup> fresh;
  {
    std::lock_guard<std::mutex> lock(shared_mutex_);
    fresh.swap(pending_setup_);
  }
  if (!fresh) return;
  setup_.engine = fresh->engine;
  setup_.log_format = fresh->log_format;
  setup_.log_packets = fresh->log_packets;
  log_.set_format(setup_.log_format);
  engine_.Reconfigure(setup_.engine);
}

WorkerFigures Worker::Figures() const {
  std::lock_guard<std::mutex> lock(shared_mutex_);
  return figures_;
}

void Worker::PublishFigures(bool with_memory) {
  // Taken after every batch, so a metrics request sees every packet handled so far; the walk over
  // the session table for the memory figure only once a second.
  const uint64_t memory = with_memory ? engine_.ApproximateMemory() : 0;
  std::lock_guard<std::mutex> lock(shared_mutex_);
  figures_.counters = engine_.counters();
  figures_.queue = queue_.stats();
  figures_.packets_without_conntrack = packets_without_conntrack_;
  figures_.packets_truncated = packets_truncated_;
  figures_.expectation_install_errors = installer_.failures();
  figures_.seq_adjust_errors = seq_adjust_errors_;
  figures_.verdict_encode_errors = verdict_encode_errors_;
  figures_.session_state = session_keeper_.stats();
  if (with_memory) figures_.session_state_bytes = memory;
}

bool Worker::AppendSessions(int wait_ms, StatusReport* report) {
  std::unique_lock<std::mutex> lock(shared_mutex_);
  const uint64_t request = status_requested_.fetch_add(1) + 1;
  Wake();
  if (!status_answered_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                                 [&] { return status_served_ >= request; })) {
    return false;
  }
  AppendReport(status_part_, report);
  return true;
}

void Worker::AnswerStatusRequest() {
  const uint64_t request = status_requested_.load();
  {
    std::lock_guard<std::mutex> lock(shared_mutex_);
    if (status_served_ >= request) return;
  }
  StatusReport part;
  AppendEngine(engine_, Now(), &part);
  {
    std::lock_guard<std::mutex> lock(shared_mutex_);
    status_part_ = std::move(part);
    status_served_ = request;
  }
  status_answered_.notify_all();
}

void Worker::AcceptUnchanged(uint32_t packet_id, const kernel::HelpInfoUpdate* help) {
  if (help != nullptr) {
    if (queue_.DeferVerdict(packet_id, kernel::QueueVerdict::kAccept, {}, help).ok()) {
      return session_keeper_.Count(SessionKeeper::WritePath::kVerdict);
    }
  }
  // Only an encoding failure comes back here; the packet would then wait in the kernel until the
  // queue is closed.
  if (auto status = queue_.DeferVerdict(packet_id, kernel::QueueVerdict::kAccept); !status.ok()) {
    ++verdict_encode_errors_;
    log_.Warning("queue: " + status.message);
  }
}

void Worker::OnPacket(const kernel::QueuedPacket& packet, kernel::DecodeError error,
                      Timestamp now) {
  if (!packet.has_id) return;
  if (error != kernel::DecodeError::kNone) return AcceptUnchanged(packet.packet_id);
  if (packet.Truncated()) {
    ++packets_truncated_;
    return AcceptUnchanged(packet.packet_id);
  }
  std::optional<Direction> direction;
  if (packet.ctinfo) direction = kernel::CtinfoDirection(*packet.ctinfo);
  if (!packet.conntrack || !direction) {
    ++packets_without_conntrack_;
    return AcceptUnchanged(packet.packet_id);
  }
  PacketInput input;
  input.packet = packet.payload;
  input.time = now;
  input.control = packet.conntrack->connection;
  input.direction = *direction;
  input.control.zone = packet.conntrack->zone;
  input.resume = session_keeper_.Stored(*packet.conntrack);
  input.kernel_seq_adjustments = {packet.conntrack->seq_adjustment_original,
                                  packet.conntrack->seq_adjustment_reply};
  Decision decision = engine_.Process(input);
  const std::optional<SnapshotBytes> snapshot =
      session_keeper_.ToWrite(*packet.conntrack, engine_.Snapshot(input.control.original));
  kernel::HelpInfoUpdate help_update;
  if (snapshot) help_update = HelpInfoFor(*packet.conntrack, *snapshot);
  const kernel::HelpInfoUpdate* help = snapshot ? &help_update : nullptr;
  if (setup_.log_packets) {
    log_.Info("worker " + std::to_string(setup_.index) + " packet " +
              std::to_string(packet.packet_id) + " conntrack " +
              std::to_string(input.control.conntrack_id) + " " +
              (input.direction == Direction::kOriginal ? "client" : "server") + " " +
              std::to_string(packet.payload.size()) + " bytes" +
              (decision.modified ? ", rewritten" : ""));
  }
  LogEvents(decision.events);
  if (decision.modified) return SendRewritten(packet, *direction, decision, help);
  AcceptUnchanged(packet.packet_id, help);
}

void Worker::SendRewritten(const kernel::QueuedPacket& packet, Direction direction,
                           const Decision& decision, const kernel::HelpInfoUpdate* help) {
  if (decision.seq_adjustment) {
    // Before the verdict, and acknowledged: the kernel adjusts this very segment (and every later
    // one) when the verdict re-injects it (nf_confirm_cthelper), so the adjustment must be there
    // by then. A retransmission of a rewritten segment keeps the adjustment it had (no update).
    // The snapshot does not ride on this update (it could: netlink_help_info_test.cpp, live on
    // 6.1); it goes with the session's next packet whose verdict keeps its length (below), the
    // path the restart test proves. A state change and a length change in one packet are rare.
    const std::optional<SeqAdjustment> adjustment =
        OnTopOfKernelAdjustment(*packet.conntrack, direction, *decision.seq_adjustment);
    const kernel::KernelStatus status =
        adjustment ? conntracks_.SetSeqAdjustment(packet.conntrack->connection.original,
                                                  packet.conntrack->zone, direction, *adjustment)
                   : kernel::KernelStatus::Ok();
    if (!status.ok()) {
      ++seq_adjust_errors_;
      log_.Warning("rewrite not applied: " + status.message);
      return AcceptUnchanged(packet.packet_id);
    }
  }
  // A verdict with NFQA_CT must keep the payload's length (help_info.h): the state of a packet
  // whose length changed goes with the session's next packet.
  if (help != nullptr && decision.packet.size() != packet.payload.size()) {
    session_keeper_.Count(SessionKeeper::WritePath::kDeferred);
    help = nullptr;
  }
  if (help != nullptr) session_keeper_.Count(SessionKeeper::WritePath::kVerdict);
  if (auto status = queue_.DeferVerdict(packet.packet_id, kernel::QueueVerdict::kAccept,
                                        decision.packet, help, packet.payload.size());
      !status.ok()) {
    ++verdict_encode_errors_;
    log_.Warning("rewrite not applied: " + status.message);
    AcceptUnchanged(packet.packet_id);
  }
}

// The engine's figures count only the rewrites it made; the kernel's are the truth on the wire
// (seq_shift.h ContinueKernelAdjustment). One ctnetlink query per length-changing rewrite; if it
// fails, the engine's figures are used as before. A session resumed from a snapshot is seeded with
// the kernel's figures already (SeqShift::Seed), and then both agree.
std::optional<SeqAdjustment> Worker::OnTopOfKernelAdjustment(
    const kernel::QueuedConntrack& conntrack, Direction direction, const SeqAdjustment& engine) {
  kernel::ConntrackSeqAdjustments current;
  if (!conntracks_.GetSeqAdjustments(conntrack.connection.original, conntrack.zone, &current)
           .ok()) {
    return engine;
  }
  return ContinueKernelAdjustment(
      direction == Direction::kOriginal ? current.original : current.reply, engine);
}

void Worker::ReceiveBatch() {
  // One clock reading and one sendto for the verdicts of a whole receive batch: per packet they
  // were most of the daemon's CPU time (perf, bench/README.md).
  const Timestamp batch_time = Now();
  auto status = queue_.ReceiveBatch(
      64,
      [this, batch_time](const kernel::QueuedPacket& packet, kernel::DecodeError error) {
        OnPacket(packet, error, batch_time);
      },
      /*wait=*/false);
  if (!status.ok()) log_.Warning("queue: " + status.message);
  if (auto sent = queue_.FlushVerdicts(); !sent.ok()) log_.Warning("queue: " + sent.message);
}

void Worker::Run() {
  Timestamp last_expire = Now();
  PublishFigures(/*with_memory=*/true);
  while (!stop_.load()) {
    pollfd fds[2] = {{queue_.fd(), POLLIN, 0}, {control_fd_, POLLIN, 0}};
    const int ready = poll(fds, 2, 1000);
    if (ready < 0 && errno != EINTR) {
      log_.Error("worker " + std::to_string(setup_.index) + ": poll: " + std::strerror(errno));
      break;
    }
    if (ready > 0 && (fds[1].revents & POLLIN)) {
      uint64_t ignored = 0;
      [[maybe_unused]] ssize_t got = read(control_fd_, &ignored, sizeof ignored);
      ApplyPendingConfig();
    }
    AnswerStatusRequest();
    if (ready > 0 && (fds[0].revents & POLLIN)) ReceiveBatch();
    const Timestamp now = Now();
    const bool second_passed = now - last_expire >= kNanosPerSecond;
    if (second_passed) {
      std::vector<Event> events;
      engine_.Expire(now, &events);
      LogEvents(events);
      last_expire = now;
    }
    PublishFigures(second_passed);
  }
  queue_.Close();
}

}  // namespace ftpalg::daemon
