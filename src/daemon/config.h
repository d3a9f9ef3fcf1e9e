// ftp-algd's configuration: command-line flags, and the same keys in a configuration file
// (TOML/INI, "key = value", read by CLI11). SIGHUP re-reads the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/log.h"
#include "ftpalg/engine.h"

namespace ftpalg::daemon {

// A bound on --workers (and on the per-CPU default): each worker is a helper registration, a
// queue and a thread.
inline constexpr uint32_t kMaxWorkers = 64;

struct DaemonConfig {
  std::string config_file;  // empty: none
  uint16_t queue_num = 21;
  uint32_t queue_max_len = 4096;
  std::string helper_name = "ftp-alg";
  // Packet workers, each serving its own helper and queue (docs/workers.md); 0: one per CPU this
  // process may run on. Resolve with WorkerCount().
  uint32_t workers = 0;
  // Experimental (docs/workers.md, "Payload-only queueing"): the helpers stay registered but
  // disabled, so the kernel's helper hook queues nothing; the firewall queues the segments with
  // payload itself.
  bool payload_only = false;
  EngineConfig engine;
  std::string metrics_listen = "127.0.0.1:9477";  // empty: no metrics endpoint
  std::string log_format = "json";                // json | text
  std::string transfer_log = "journal";           // off | journal | stdout | a file path
  bool log_packets = false;                       // debug: one line per queued packet
  bool check_only = false;                        // probe the kernel and exit
  bool release_only = false;                      // disable a registration nobody serves, exit
  // Ports of FTP control connections watched for a missing helper (conntrack NEW events);
  // 0 alone switches the watch off.
  std::vector<uint16_t> control_ports = {21};
  std::string status_socket = "/run/ftp-algd/status.sock";  // empty: no status socket
  bool status_only = false;        // `ftp-algd status`: print the running daemon's status, exit
  bool status_json = false;        // ... as its JSON document
  std::string deprecation_notice;  // set when a deprecated option spelling was used

  uint32_t WorkerCount() const;
  Log::Format LogFormat() const {
    return log_format == "text" ? Log::Format::kText : Log::Format::kJson;
  }
};

enum class ParseOutcome { kRun, kExit };

// Parses argv (and the configuration file it names). On kExit, *exit_code holds the status to
// exit with (0 after --help/--version, 2 after an error, which is already printed).
ParseOutcome ParseDaemonConfig(int argc, const char* const* argv, DaemonConfig* config,
                               int* exit_code);

// Re-reads the configuration (SIGHUP) with the original argv. Returns false with a one-line
// reason when the new configuration is invalid; the running one then stays.
bool ReloadDaemonConfig(int argc, const char* const* argv, DaemonConfig* config,
                        std::string* error);

}  // namespace ftpalg::daemon
