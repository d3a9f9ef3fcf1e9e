#include "daemon/daemon.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "daemon/metrics.h"
#include "daemon/release_guard.h"
#include "daemon/status.h"
#include "daemon/transfer_log_sink.h"
#include "daemon/unhelped_watch.h"
#include "daemon/worker.h"
#include "kernel/cthelper_client.h"
#include "kernel/kernel_probe.h"
#include "kernel/kernel_status.h"

namespace ftpalg::daemon {

// The daemon owns the workers (worker.h), the helper registrations, signals, reloads and the
// metrics endpoint; the packet path is the workers'.
class Daemon::Impl {
 public:
  Impl(int argc, const char* const* argv, DaemonConfig config)
      : argc_(argc),
        argv_(argv),
        config_(std::move(config)),
        log_(config_.LogFormat()),
        transfer_log_(log_),
        unhelped_(config_.helper_name, config_.control_ports) {}

  int Run();

 private:
  bool Start();
  bool StartWorkers();
  void Stop();
  void Reload();
  std::string Metrics() const;
  // The daemon's own figures beside the workers' totals (metrics and status).
  std::vector<ExtraMetric> HealthFigures(const WorkerFigures& total) const;
  // Issue 13: the watch for unhelped control connections, the status socket.
  void StartOperatorViews();
  std::string Status();
  std::vector<kernel::HelperRegistration> HelperRegistrations() const;
  // Creates or updates a registration; with --payload-only it is then disabled again.
  kernel::KernelStatus Register(const kernel::HelperRegistration& registration);

  int argc_;
  const char* const* argv_;
  DaemonConfig config_;
  Log log_;
  kernel::CthelperClient cthelper_;
  TransferLogSink transfer_log_;  // before the workers, which report to it
  MetricsServer metrics_;
  UnhelpedControlWatch unhelped_;
  StatusServer status_;
  std::vector<WorkerRegistration> registrations_;
  ReleaseGuard guard_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  bool registered_ = false;  // some registration may be enabled: Stop() disables them
  int signal_fd_ = -1;
  uint64_t reloads_ = 0;
};

std::string WorkerHelperName(const std::string& prefix, uint32_t index) {
  return prefix + "-" + std::to_string(index);
}

std::vector<WorkerRegistration> Registrations(const DaemonConfig& config, std::string* error) {
  const uint32_t workers = config.WorkerCount();
  if (static_cast<uint32_t>(config.queue_num) + workers - 1 > UINT16_MAX) {
    *error = "queues " + std::to_string(config.queue_num) + ".." +
             std::to_string(config.queue_num + workers - 1) + " do not fit below 65536";
    return {};
  }
  auto registration = [&config](const std::string& name, uint32_t worker) {
    WorkerRegistration entry;
    entry.worker = worker;
    entry.registration.name = name;
    entry.registration.queue_num = static_cast<uint16_t>(config.queue_num + worker);
    entry.registration.policy.name = name;
    entry.registration.policy.expect_max =
        static_cast<uint32_t>(config.engine.policy.max_pending_expectations);
    entry.registration.policy.expect_timeout_s = config.engine.policy.expectation_timeout_seconds;
    entry.registration.priv_data_len = kernel::kHelperPrivateDataLength;
    return entry;
  };
  std::vector<WorkerRegistration> out = {registration(config.helper_name, 0)};
  if (workers == 1) return out;
  // The kernel keeps helper names in 16 bytes with the terminating NUL (NF_CT_HELPER_NAME_LEN).
  if (WorkerHelperName(config.helper_name, workers - 1).size() > 15) {
    *error = "helper name '" + WorkerHelperName(config.helper_name, workers - 1) +
             "' is longer than 15 characters: shorten --helper-name";
    return {};
  }
  for (uint32_t i = 0; i < workers; ++i) {
    out.push_back(registration(WorkerHelperName(config.helper_name, i), i));
  }
  return out;
}

int ReleaseHelper(const DaemonConfig& config, Log& log) {
  std::string error;
  const std::vector<WorkerRegistration> registrations = Registrations(config, &error);
  if (!error.empty()) log.Error(error);
  for (const WorkerRegistration& entry : registrations) {
    log.Info(ReleaseRegistration(entry.registration));
  }
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

std::vector<kernel::HelperRegistration> Daemon::Impl::HelperRegistrations() const {
  std::vector<kernel::HelperRegistration> out;
  for (const WorkerRegistration& entry : registrations_) out.push_back(entry.registration);
  return out;
}

kernel::KernelStatus Daemon::Impl::Register(const kernel::HelperRegistration& registration) {
  kernel::KernelStatus status = cthelper_.Register(registration);
  if (!status.ok() || !config_.payload_only) return status;
  return cthelper_.SetEnabled(registration, false);
}

bool Daemon::Impl::Start() {
  // Say plainly what is missing before anything half-starts.
  if (CheckKernel(log_) != 0) return false;

  std::string error;
  registrations_ = Registrations(config_, &error);
  if (registrations_.empty()) {
    log_.Error(error);
    return false;
  }
  // Before any netlink socket exists (see release_guard.h): whatever ends this process, the
  // registrations are disabled so that FTP passes unhelped rather than being blocked.
  if (!guard_.Start(HelperRegistrations(), &error)) {
    log_.Error(error);
    return false;
  }
  // Signals are taken by signalfd on this thread only: block them before any thread starts (the
  // workers and the metrics thread inherit the mask).
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
  if (std::string failed = transfer_log_.Start(config_.transfer_log); !failed.empty()) {
    log_.Error(failed);
    return false;
  }
  for (uint32_t i = 0; i < config_.WorkerCount(); ++i) {
    WorkerSetup setup;
    setup.index = static_cast<int>(i);
    setup.queue_num = static_cast<uint16_t>(config_.queue_num + i);
    setup.queue_max_len = config_.queue_max_len;
    setup.engine = config_.engine;
    setup.log_format = config_.LogFormat();
    setup.log_packets = config_.log_packets;
    setup.transfer_log = &transfer_log_;
    workers_.push_back(std::make_unique<Worker>(setup));
    if (std::string failed = workers_.back()->Open(); !failed.empty()) {
      log_.Error(failed);
      return false;
    }
  }
  if (auto status = cthelper_.Open(); !status.ok()) {
    log_.Error(status.message);
    return false;
  }
  // Every queue is bound before any helper is enabled: a helper whose queue nobody serves would
  // block its connections' confirmation (release_guard.h).
  registered_ = true;
  for (const WorkerRegistration& entry : registrations_) {
    if (auto status = Register(entry.registration); !status.ok()) {
      log_.Error(status.message);
      return false;
    }
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
    if (std::string failed = metrics_.Listen(config_.metrics_listen); !failed.empty()) {
      log_.Error(failed);
      return false;
    }
  }
  StartOperatorViews();
  for (auto& worker : workers_) threads_.emplace_back([&worker] { worker->Run(); });
  std::string helpers;
  for (const WorkerRegistration& entry : registrations_) {
    helpers += (helpers.empty() ? "'" : ", '") + entry.registration.name + "' on queue " +
               std::to_string(entry.registration.queue_num);
  }
  log_.Info(std::to_string(workers_.size()) + (workers_.size() == 1 ? " worker" : " workers") +
            " serving helper " + helpers +
            (config_.metrics_listen.empty() ? "" : ", metrics on " + config_.metrics_listen));
  return true;
}

void Daemon::Impl::Stop() {
  // Leave the registrations in place but disabled, before the queues close: rules that name the
  // helpers stay valid, packets pass unqueued, and the next start takes the registrations over.
  if (registered_) {
    for (const WorkerRegistration& entry : registrations_) {
      if (auto status = cthelper_.SetEnabled(entry.registration, false); !status.ok()) {
        log_.Warning("could not disable the helper: " + status.message);
      }
    }
  }
  guard_.Dismiss();
  for (auto& worker : workers_) worker->RequestStop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  workers_.clear();
  transfer_log_.Stop(Now());
  if (signal_fd_ >= 0) close(signal_fd_);
  signal_fd_ = -1;
  log_.Info("stopped");
}

void Daemon::Impl::Reload() {
  std::string error;
  DaemonConfig fresh = config_;
  if (!ReloadDaemonConfig(argc_, argv_, &fresh, &error)) {
    log_.Error("reload failed, keeping the running configuration: " + error);
    return;
  }
  if (fresh.queue_num != config_.queue_num || fresh.helper_name != config_.helper_name ||
      fresh.metrics_listen != config_.metrics_listen || fresh.workers != config_.workers ||
      fresh.payload_only != config_.payload_only || fresh.transfer_log != config_.transfer_log) {
    log_.Warning(
        "queue, helper name, workers, payload-only, metrics address and transfer log change only "
        "on restart");
    fresh.transfer_log = config_.transfer_log;
    fresh.payload_only = config_.payload_only;
    fresh.queue_num = config_.queue_num;
    fresh.helper_name = config_.helper_name;
    fresh.metrics_listen = config_.metrics_listen;
    fresh.workers = config_.workers;
  }
  config_ = fresh;
  log_.set_format(config_.LogFormat());
  if (std::string reopen = transfer_log_.Reopen(); !reopen.empty()) log_.Warning(reopen);
  for (auto& worker : workers_) {
    worker->Reconfigure(config_.engine, config_.LogFormat(), config_.log_packets);
  }
  for (WorkerRegistration& entry : registrations_) {
    entry.registration.policy.expect_max =
        static_cast<uint32_t>(config_.engine.policy.max_pending_expectations);
    entry.registration.policy.expect_timeout_s = config_.engine.policy.expectation_timeout_seconds;
    if (auto status = Register(entry.registration); !status.ok()) {
      log_.Warning("helper policy not updated: " + status.message);
    }
  }
  ++reloads_;
  log_.Info("configuration reloaded");
}

std::vector<ExtraMetric> Daemon::Impl::HealthFigures(const WorkerFigures& total) const {
  auto count = [](uint64_t value) { return static_cast<double>(value); };
  std::vector<ExtraMetric> extra = WorkerExtraMetrics(total);
  const TransferLogCounts transfers = transfer_log_.counts();
  extra.insert(
      extra.end(),
      {
          {"reloads", "configuration reloads (SIGHUP)", false, count(reloads_)},
          {"resident_bytes", "daemon resident memory", true, count(ResidentBytes())},
          {"workers", "packet workers (one helper and queue each)", true, count(workers_.size())},
          {"transfer_records", "transfer log records written", false, count(transfers.records)},
          {"transfer_data_ends", "destroy events of expected connections read for the transfer log",
           false, count(transfers.data_ends)},
          {"transfer_event_losses", "destroy events lost (socket overrun or hand-over queue full)",
           false, count(transfers.event_losses)},
          {"unhelped_control_connections",
           "new TCP connections to a control port (--control-port) that no rule gave the helper",
           false, count(unhelped_.unhelped())},
          {"conntrack_event_overruns", "times conntrack events were lost (receive buffer full)",
           false, count(unhelped_.overruns())},
      });
  return extra;
}

std::string Daemon::Impl::Metrics() const {
  std::vector<WorkerFigures> figures;
  for (const auto& worker : workers_) figures.push_back(worker->Figures());
  const WorkerFigures total = SumFigures(figures);
  return RenderMetrics(total.counters, HealthFigures(total)) + RenderPerWorkerMetrics(figures);
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

std::string Daemon::Impl::Status() {
  // Each worker lists its own engine's sessions on its own thread; the status server allows the
  // whole answer StatusServer::kFreshWaitMs, shared among the workers.
  const int wait_ms =
      StatusServer::kFreshWaitMs / static_cast<int>(std::max<size_t>(1, workers_.size()));
  StatusReport report;
  std::vector<WorkerFigures> figures;
  for (const auto& worker : workers_) {
    if (!worker->AppendSessions(wait_ms, &report)) {
      log_.Warning("status: worker " + std::to_string(worker->index()) + " did not answer");
    }
    figures.push_back(worker->Figures());
  }
  report.health = HealthFigures(SumFigures(figures));
  return StatusJson(report);
}

int Daemon::Impl::Run() {
  if (!Start()) {
    Stop();
    return 1;
  }
  bool running = true;
  while (running) {
    // The metrics server runs on its own thread; its wake fd only asks for fresh figures.
    // The metrics and status servers run on their own threads; their wake fds only ask for fresh
    // figures. poll() skips the fds that are -1 (a server or watch that is off). The timeout
    // drives the transfer log's once-a-second work.
    pollfd fds[4] = {{signal_fd_, POLLIN, 0},
                     {metrics_.wake_fd(), POLLIN, 0},
                     {unhelped_.fd(), POLLIN, 0},
                     {status_.wake_fd(), POLLIN, 0}};
    const int ready = poll(fds, 4, 1000);
    if (ready < 0 && errno != EINTR) {
      log_.Error(std::string("poll: ") + std::strerror(errno));
      break;
    }
    if (ready > 0 && (fds[0].revents & POLLIN)) {
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
    if (ready > 0 && (fds[1].revents & POLLIN)) metrics_.Publish(Metrics());
    if (ready > 0 && (fds[2].revents & POLLIN)) unhelped_.OnReadable(Now(), log_);
    if (ready > 0 && (fds[3].revents & POLLIN)) status_.Publish(Status());
    transfer_log_.Tick(Now());
  }
  Stop();
  return 0;
}

Daemon::Daemon(int argc, const char* const* argv, DaemonConfig config)
    : impl_(std::make_unique<Impl>(argc, argv, std::move(config))) {}
Daemon::~Daemon() = default;
int Daemon::Run() { return impl_->Run(); }

}  // namespace ftpalg::daemon
