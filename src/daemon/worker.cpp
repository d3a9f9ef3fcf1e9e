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
    for (size_t i = 0; i < static_cast<size_t>(Counter::kCount); ++i) {
      const auto counter = static_cast<Counter>(i);
      total.counters.Add(counter, one.counters.Get(counter));
    }
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
      engine_(setup_.engine, installer_) {}

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
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t ignored = write(control_fd_, &one, sizeof one);
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
  if (with_memory) figures_.session_state_bytes = memory;
}

void Worker::AcceptUnchanged(uint32_t packet_id) {
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
  Decision decision = engine_.Process(input);
  if (setup_.log_packets) {
    log_.Info("worker " + std::to_string(setup_.index) + " packet " +
              std::to_string(packet.packet_id) + " conntrack " +
              std::to_string(input.control.conntrack_id) + " " +
              (input.direction == Direction::kOriginal ? "client" : "server") + " " +
              std::to_string(packet.payload.size()) + " bytes" +
              (decision.modified ? ", rewritten" : ""));
  }
  LogEvents(decision.events);
  if (decision.modified) return SendRewritten(packet, *direction, decision);
  AcceptUnchanged(packet.packet_id);
}

void Worker::SendRewritten(const kernel::QueuedPacket& packet, Direction direction,
                           const Decision& decision) {
  if (decision.seq_adjustment) {
    // Before the verdict, and acknowledged: the kernel adjusts this very segment (and every later
    // one) when the verdict re-injects it (nf_confirm_cthelper), so the adjustment must be there
    // by then. A retransmission of a rewritten segment keeps the adjustment it had (no update).
    const kernel::KernelStatus status =
        conntracks_.SetSeqAdjustment(packet.conntrack->connection.original, packet.conntrack->zone,
                                     direction, *decision.seq_adjustment);
    if (!status.ok()) {
      ++seq_adjust_errors_;
      log_.Warning("rewrite not applied: " + status.message);
      return AcceptUnchanged(packet.packet_id);
    }
  }
  if (auto status =
          queue_.DeferVerdict(packet.packet_id, kernel::QueueVerdict::kAccept, decision.packet);
      !status.ok()) {
    ++verdict_encode_errors_;
    log_.Warning("rewrite not applied: " + status.message);
    AcceptUnchanged(packet.packet_id);
  }
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
