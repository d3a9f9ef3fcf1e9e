#include "daemon/daemon.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/metrics.h"
#include "daemon/release_guard.h"
#include "daemon/status.h"
#include "daemon/transfer_log_sink.h"
#include "daemon/unhelped_watch.h"
#include "daemon/session_keeper.h"
#include "ftpalg/engine.h"
#include "kernel/conntrack_client.h"
#include "kernel/cthelper_client.h"
#include "kernel/expectation_client.h"
#include "kernel/kernel_probe.h"
#include "kernel/kernel_status.h"
#include "kernel/queue_client.h"

namespace ftpalg::daemon {
namespace {

// Expectations go to the kernel over ctnetlink. EEXIST/EBUSY mean the outside port is taken: the
// engine then tries the next one and rewrites the line with the port it got (as nf_nat_ftp does).
class KernelInstaller : public ExpectationInstaller {
 public:
  KernelInstaller(kernel::ExpectationClient& client, Log& log) : client_(client), log_(log) {}

  Result Install(const Expectation& expectation) override {
    const kernel::ExpectResult result = client_.Create(expectation, expectation.zone);
    if (result.outcome == kernel::ExpectOutcome::kCreated) return Result::kInstalled;
    if (result.PortTaken()) return Result::kBusy;
    ++failures_;
    log_.Warning("expectation not installed: " + result.message);
    return Result::kFailed;
  }
  void Remove(const Expectation& expectation) override {
    // ENOENT: already used by its data connection, or expired. Nothing to do either way.
    kernel::KernelStatus status = client_.Delete(expectation, expectation.zone);
    if (!status.ok() && status.error != ENOENT) {
      log_.Warning("expectation not removed: " + status.message);
    }
  }
  uint64_t failures() const { return failures_; }

 private:
  kernel::ExpectationClient& client_;
  Log& log_;
  uint64_t failures_ = 0;
};

}  // namespace

class Daemon::Impl {
 public:
  Impl(int argc, const char* const* argv, DaemonConfig config)
      : argc_(argc),
        argv_(argv),
        config_(std::move(config)),
        log_(config_.LogFormat()),
        installer_(expectations_, log_),
        engine_(config_.engine, installer_),
        transfer_log_(log_),
        unhelped_(config_.helper_name, config_.control_ports) {}

  int Run();

 private:
  bool Start();
  void Stop();
  // `now`: when its receive batch was read (one clock reading per batch).
  void OnPacket(const kernel::QueuedPacket& packet, kernel::DecodeError error, Timestamp now);
  // Hands the kernel the rewritten packet of `decision`, after its sequence adjustment; lets the
  // packet through unchanged when either cannot be done (the stream then stays consistent).
  // `help` (non-null): the session's snapshot to store with it (session_keeper.h).
  void SendRewritten(const kernel::QueuedPacket& packet, Direction direction,
                     const Decision& decision, const kernel::HelpInfoUpdate* help);
  void AcceptUnchanged(uint32_t packet_id, const kernel::HelpInfoUpdate* help = nullptr);
  std::optional<SeqAdjustment> OnTopOfKernelAdjustment(const kernel::QueuedConntrack& conntrack,
                                                       Direction direction,
                                                       const SeqAdjustment& engine);
  void Reload();
  std::vector<ExtraMetric> HealthFigures() const;
  std::string Metrics() const;
  // Issue 13: the watch for unhelped control connections, the status socket.
  void StartOperatorViews();
  std::string Status() const;
  void LogEvents(const std::vector<Event>& events) {
    for (const Event& event : events) log_.Decision(event);
    transfer_log_.OnEvents(events);
  }

  int argc_;
  const char* const* argv_;
  DaemonConfig config_;
  Log log_;
  kernel::QueueClient queue_;
  kernel::CthelperClient cthelper_;
  kernel::ExpectationClient expectations_;
  kernel::ConntrackClient conntracks_;
  KernelInstaller installer_;
  Engine engine_;
  TransferLogSink transfer_log_;
  MetricsServer metrics_;
  UnhelpedControlWatch unhelped_;
  StatusServer status_;
  kernel::HelperRegistration registration_;
  ReleaseGuard guard_;
  SessionKeeper session_keeper_;
  int signal_fd_ = -1;
  uint64_t packets_without_conntrack_ = 0;
  uint64_t packets_truncated_ = 0;
  uint64_t seq_adjust_errors_ = 0;
  uint64_t verdict_encode_errors_ = 0;
  uint64_t reloads_ = 0;
};

kernel::HelperRegistration Registration(const DaemonConfig& config) {
  kernel::HelperRegistration registration;
  registration.name = config.helper_name;
  registration.queue_num = config.queue_num;
  registration.policy.name = config.helper_name;
  registration.policy.expect_max =
      static_cast<uint32_t>(config.engine.policy.max_pending_expectations);
  registration.policy.expect_timeout_s = config.engine.policy.expectation_timeout_seconds;
  registration.priv_data_len = kernel::kHelperPrivateDataLength;
  return registration;
}

int ReleaseHelper(const DaemonConfig& config, Log& log) {
  log.Info(ReleaseRegistration(Registration(config)));
  return 0;
}

int CheckKernel(Log& log) {
  if (!kernel::HasNetAdmin()) {
    log.Error(std::string(kernel::kNeedsNetAdmin));
    return 1;
  }
  const kernel::KernelSupport support = kernel::ProbeKernel();
  for (const std::string& line : support.missing) log.Error(line);
  if (support.ok()) log.Info("kernel supports userspace conntrack helpers: ftp-algd can run");
  return support.ok() ? 0 : 1;
}

bool Daemon::Impl::Start() {
  // Say plainly what is missing before anything half-starts.
  if (CheckKernel(log_) != 0) return false;

  registration_ = Registration(config_);
  // Before any netlink socket exists (see release_guard.h): whatever ends this process, the
  // registration is disabled so that FTP passes unhelped rather than being blocked.
  if (std::string error; !guard_.Start(registration_, &error)) {
    log_.Error(error);
    return false;
  }

  kernel::QueueOptions queue_options;
  queue_options.queue_num = config_.queue_num;
  queue_options.max_len = config_.queue_max_len;
  // Fail-open: when the daemon is down or the queue is full, control packets pass unhelped rather
  // than being dropped. FTP through the gateway then loses the ALG, but nothing else breaks.
  queue_options.fail_open = true;
  queue_options.conntrack = true;
  queue_options.require_conntrack = true;
  if (auto status = queue_.Open(queue_options); !status.ok()) {
    log_.Error(status.message);
    return false;
  }
  if (auto status = expectations_.Open(); !status.ok()) {
    log_.Error(status.message);
    return false;
  }
  if (auto status = conntracks_.Open(); !status.ok()) {
    log_.Error(status.message);
    return false;
  }
  if (std::string error = transfer_log_.Start(config_.transfer_log); !error.empty()) {
    log_.Error(error);
    return false;
  }
  engine_.SetLineObserver(transfer_log_.observer());
  if (auto status = cthelper_.Open(); !status.ok()) {
    log_.Error(status.message);
    return false;
  }
  if (auto status = cthelper_.Register(registration_); !status.ok()) {
    log_.Error(status.message);
    return false;
  }
  if (cthelper_.private_data_length() < kernel::kHelperPrivateDataLength) {
    // Taken over from an older ftp-algd (or nfct): an update cannot add the area, and deleting the
    // helper would take it off every running control connection.
    log_.Warning("helper '" + config_.helper_name +
                 "' was registered without room for session state: sessions will not survive a "
                 "restart until it is re-created (stop ftp-algd, nfct del helper " +
                 config_.helper_name + " inet tcp; the same for inet6; start ftp-algd)");
  }
  if (!config_.metrics_listen.empty()) {
    if (std::string error = metrics_.Listen(config_.metrics_listen); !error.empty()) {
      log_.Error(error);
      return false;
    }
  }
  StartOperatorViews();
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  signal_fd_ = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) {
    log_.Error(std::string("signalfd: ") + std::strerror(errno));
    return false;
  }
  log_.Info("serving helper '" + config_.helper_name + "' on queue " +
            std::to_string(config_.queue_num) +
            (config_.metrics_listen.empty() ? "" : ", metrics on " + config_.metrics_listen));
  return true;
}

void Daemon::Impl::Stop() {
  // Leave the registration in place but disabled: rules that name the helper stay valid, packets
  // pass unqueued, and the next start takes the registration over.
  if (auto status = cthelper_.SetEnabled(registration_, false); !status.ok()) {
    log_.Warning("could not disable the helper: " + status.message);
  }
  guard_.Dismiss();
  queue_.Close();
  transfer_log_.Stop(Now());
  if (signal_fd_ >= 0) close(signal_fd_);
  signal_fd_ = -1;
  log_.Info("stopped");
}

void Daemon::Impl::AcceptUnchanged(uint32_t packet_id, const kernel::HelpInfoUpdate* help) {
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

void Daemon::Impl::OnPacket(const kernel::QueuedPacket& packet, kernel::DecodeError error,
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
  if (config_.log_packets) {
    log_.Info("packet " + std::to_string(packet.packet_id) + " conntrack " +
              std::to_string(input.control.conntrack_id) + " " +
              (input.direction == Direction::kOriginal ? "client" : "server") + " " +
              std::to_string(packet.payload.size()) + " bytes" +
              (decision.modified ? ", rewritten" : ""));
  }
  LogEvents(decision.events);
  if (decision.modified) return SendRewritten(packet, *direction, decision, help);
  AcceptUnchanged(packet.packet_id, help);
}

void Daemon::Impl::SendRewritten(const kernel::QueuedPacket& packet, Direction direction,
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

// A session first seen mid-stream (a gateway that took over after a failover: conntrackd committed
// the entry with the other gateway's adjustment; or a restarted daemon) already has an adjustment
// in the kernel for rewrites this engine never saw, while the engine's figures start at 0. The
// new change goes on top of the kernel's (ContinueKernelAdjustment); setting the engine's figures
// would undo the earlier rewrites' shift and break the stream. One ctnetlink query per
// length-changing rewrite; if it fails, the engine's figures are used as before.
std::optional<SeqAdjustment> Daemon::Impl::OnTopOfKernelAdjustment(
    const kernel::QueuedConntrack& conntrack, Direction direction, const SeqAdjustment& engine) {
  kernel::ConntrackSeqAdjustments current;
  if (!conntracks_.GetSeqAdjustments(conntrack.connection.original, conntrack.zone, &current)
           .ok()) {
    return engine;
  }
  return ContinueKernelAdjustment(
      direction == Direction::kOriginal ? current.original : current.reply, engine);
}

void Daemon::Impl::Reload() {
  std::string error;
  DaemonConfig fresh = config_;
  if (!ReloadDaemonConfig(argc_, argv_, &fresh, &error)) {
    log_.Error("reload failed, keeping the running configuration: " + error);
    return;
  }
  if (fresh.queue_num != config_.queue_num || fresh.helper_name != config_.helper_name ||
      fresh.metrics_listen != config_.metrics_listen ||
      fresh.transfer_log != config_.transfer_log) {
    log_.Warning("queue, helper name, metrics address and transfer log change only on restart");
    fresh.queue_num = config_.queue_num;
    fresh.helper_name = config_.helper_name;
    fresh.metrics_listen = config_.metrics_listen;
    fresh.transfer_log = config_.transfer_log;
  }
  config_ = fresh;
  log_.set_format(config_.LogFormat());
  if (std::string reopen = transfer_log_.Reopen(); !reopen.empty()) log_.Warning(reopen);
  engine_.Reconfigure(config_.engine);
  registration_.policy.expect_max =
      static_cast<uint32_t>(config_.engine.policy.max_pending_expectations);
  registration_.policy.expect_timeout_s = config_.engine.policy.expectation_timeout_seconds;
  if (auto status = cthelper_.Register(registration_); !status.ok()) {
    log_.Warning("helper policy not updated: " + status.message);
  }
  ++reloads_;
  log_.Info("configuration reloaded");
}

void Daemon::Impl::StartOperatorViews() {
  // Neither is needed to serve FTP: a failure is a warning and the daemon runs on without it.
  if (!config_.control_ports.empty()) {
    if (std::string error = unhelped_.Open(); !error.empty()) log_.Warning(error);
  }
  if (!config_.status_socket.empty()) {
    if (std::string error = status_.Listen(config_.status_socket); !error.empty()) {
      log_.Warning(error + ": `ftp-algd status` will not answer");
    }
  }
}

std::string Daemon::Impl::Status() const {
  StatusReport report;
  AppendEngine(engine_, Now(), &report);
  report.health = HealthFigures();
  return StatusJson(report);
}

std::string Daemon::Impl::Metrics() const {
  return RenderMetrics(engine_.counters(), HealthFigures());
}

std::vector<ExtraMetric> Daemon::Impl::HealthFigures() const {
  const kernel::QueueStats& q = queue_.stats();
  return {
      {"queue_packets", "packets received from the queue", false, static_cast<double>(q.packets)},
      {"queue_undecodable", "queue messages that could not be read", false,
       static_cast<double>(q.undecodable)},
      {"queue_verdict_errors", "verdicts the kernel rejected", false,
       static_cast<double>(q.verdict_errors)},
      {"queue_verdict_datagrams", "datagrams carrying verdicts (one per receive batch)", false,
       static_cast<double>(q.verdict_datagrams)},
      {"queue_verdict_send_failures", "verdict datagrams the socket refused", false,
       static_cast<double>(q.verdict_send_failures)},
      {"queue_overruns", "times the kernel could not deliver (packets passed, fail-open)", false,
       static_cast<double>(q.overruns)},
      {"packets_without_conntrack", "queued packets without conntrack (passed unchanged)", false,
       static_cast<double>(packets_without_conntrack_)},
      {"packets_truncated", "queued packets copied short (passed unchanged)", false,
       static_cast<double>(packets_truncated_)},
      {"expectation_install_errors", "ctnetlink errors creating expectations", false,
       static_cast<double>(installer_.failures())},
      {"seq_adjust_errors",
       "rewrites let through unchanged because ctnetlink refused their sequence adjustment", false,
       static_cast<double>(seq_adjust_errors_)},
      {"verdict_encode_errors", "verdicts that could not be encoded (packet let through unchanged)",
       false, static_cast<double>(verdict_encode_errors_)},
      {"reloads", "configuration reloads (SIGHUP)", false, static_cast<double>(reloads_)},
      {"transfer_records", "transfer log records written", false,
       static_cast<double>(transfer_log_.counts().records)},
      {"transfer_data_ends", "destroy events of expected connections read for the transfer log",
       false, static_cast<double>(transfer_log_.counts().data_ends)},
      {"transfer_event_losses", "destroy events lost (socket overrun or hand-over queue full)",
       false, static_cast<double>(transfer_log_.counts().event_losses)},
      {"session_state_writes_verdict", "session snapshots stored with a verdict", false,
       static_cast<double>(session_keeper_.stats().writes_verdict)},
      {"session_state_writes_deferred", "session snapshots left for the session's next packet",
       false, static_cast<double>(session_keeper_.stats().writes_deferred)},
      {"session_state_reads", "packets whose conntrack held a session snapshot", false,
       static_cast<double>(session_keeper_.stats().resumed_reads)},
      {"session_state_unreadable", "session snapshots of another size or version (ignored)", false,
       static_cast<double>(session_keeper_.stats().unreadable)},
      {"session_state_missing", "packets whose helper has no private data area", false,
       static_cast<double>(session_keeper_.stats().without_area)},
      {"resident_bytes", "daemon resident memory", true, static_cast<double>(ResidentBytes())},
      {"session_state_bytes", "approximate heap held by session state", true,
       static_cast<double>(engine_.ApproximateMemory())},
      {"unhelped_control_connections",
       "new TCP connections to a control port (--control-port) that no rule gave the helper", false,
       static_cast<double>(unhelped_.unhelped())},
      {"conntrack_event_overruns", "times conntrack events were lost (receive buffer full)", false,
       static_cast<double>(unhelped_.overruns())},
  };
}

int Daemon::Impl::Run() {
  if (!Start()) return 1;
  Timestamp last_expire = Now();
  bool running = true;
  while (running) {
    // The metrics and status servers run on their own threads; their wake fds only ask for fresh
    // figures. poll() skips the fds that are -1 (a server or watch that is off).
    pollfd fds[5] = {{queue_.fd(), POLLIN, 0},
                     {signal_fd_, POLLIN, 0},
                     {metrics_.wake_fd(), POLLIN, 0},
                     {unhelped_.fd(), POLLIN, 0},
                     {status_.wake_fd(), POLLIN, 0}};
    const int ready = poll(fds, 5, 1000);
    if (ready < 0 && errno != EINTR) {
      log_.Error(std::string("poll: ") + std::strerror(errno));
      break;
    }
    if (ready > 0 && (fds[0].revents & POLLIN)) {
      // One clock reading and one sendto for the verdicts of a whole receive batch: per packet
      // they were most of the daemon's CPU time (perf, bench/README.md).
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
    if (ready > 0 && (fds[1].revents & POLLIN)) {
      signalfd_siginfo info{};
      while (read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        if (info.ssi_signo == SIGHUP) {
          Reload();
        } else {
          log_.Info(std::string("received ") + strsignal(static_cast<int>(info.ssi_signo)));
          running = false;
        }
      }
    }
    if (ready > 0 && (fds[2].revents & POLLIN)) metrics_.Publish(Metrics());
    if (ready > 0 && (fds[3].revents & POLLIN)) unhelped_.OnReadable(Now(), log_);
    if (ready > 0 && (fds[4].revents & POLLIN)) status_.Publish(Status());
    const Timestamp now = Now();
    if (now - last_expire >= kNanosPerSecond) {
      std::vector<Event> events;
      engine_.Expire(now, &events);
      LogEvents(events);
      transfer_log_.Tick(now);
      last_expire = now;
    }
  }
  Stop();
  return 0;
}

Daemon::Daemon(int argc, const char* const* argv, DaemonConfig config)
    : impl_(std::make_unique<Impl>(argc, argv, std::move(config))) {}
Daemon::~Daemon() = default;
int Daemon::Run() { return impl_->Run(); }

}  // namespace ftpalg::daemon
