// ftp-alg-replay: the ftp-alg engine over a capture file.
#include <CLI/CLI.hpp>
#include <exception>
#include <fstream>
#include <iostream>

#include "replay/replay.h"
#include "settings/engine_options.h"

namespace {

// `path` "-" is stdout, empty is no output; anything else a file opened into *file.
bool OpenOutput(const std::string& path, std::ofstream* file, std::ostream** out) {
  if (path == "-") {
    *out = &std::cout;
  } else if (!path.empty()) {
    file->open(path);
    if (!*file) {
      std::cerr << "ftp-alg-replay: cannot write " << path << '\n';
      return false;
    }
    *out = file;
  }
  return true;
}

int RunTool(int argc, char** argv) {
  using ftpalg::replay::ReplayOptions;
  ReplayOptions options;
  std::string events_path;
  std::string transfers_path;
  std::vector<std::string> snat_rules;
  std::vector<std::string> dnat_rules;
  std::vector<uint16_t> control_ports;
  bool quiet = false;
  ftpalg::settings::EngineOptions engine_options;

  CLI::App app{
      "Runs the ftp-alg engine over a capture (pcap or pcapng, optionally gzipped): rewrites\n"
      "PORT/EPRT/LPRT and 227/229/228 as the gateway would under the given NAT, predicts data\n"
      "connections, and reports every decision."};
  app.add_option("capture", options.input_path, "capture file to read")->required();
  app.add_option("-w,--write", options.write_path, "write the rewritten capture here (pcap)");
  app.add_option("-e,--events", events_path,
                 "write JSON lines of every decision here ('-' = stdout)");
  app.add_option("--transfers", transfers_path,
                 "write the transfer log here, one JSON line per data transfer ('-' = stdout)");
  app.add_option("--snat", snat_rules,
                 "inside clients leave as a public address: PREFIX/LEN=PUBLIC "
                 "(e.g. 192.0.2.0/24=198.51.100.1); repeatable");
  app.add_option("--dnat", dnat_rules,
                 "an inside server published on a public address: PUBLIC:PORT=INSIDE:PORT "
                 "(e.g. 198.51.100.1:21=192.0.2.10:21, IPv6 as [addr]:port); repeatable");
  app.add_option("-p,--control-port", control_ports, "FTP control port (default 21); repeatable");
  engine_options.AddTo(app, &options.engine);
  app.add_flag("-q,--quiet", quiet, "no plain-words report on stdout");
  CLI11_PARSE(app, argc, argv);

  engine_options.Apply(&options.engine);
  if (std::string notice = engine_options.DeprecationNotice(); !notice.empty()) {
    std::cerr << "ftp-alg-replay: " << notice << '\n';
  }
  if (!control_ports.empty()) options.control_ports = control_ports;
  std::string error;
  for (const std::string& rule : snat_rules) {
    auto parsed = ftpalg::ParseSnatRule(rule, &error);
    if (!parsed) {
      std::cerr << "ftp-alg-replay: " << error << '\n';
      return ftpalg::replay::kExitBadInput;
    }
    options.snat.push_back(*parsed);
  }
  for (const std::string& rule : dnat_rules) {
    auto parsed = ftpalg::ParseDnatRule(rule, &error);
    if (!parsed) {
      std::cerr << "ftp-alg-replay: " << error << '\n';
      return ftpalg::replay::kExitBadInput;
    }
    options.dnat.push_back(*parsed);
  }

  std::ofstream events_file;
  std::ofstream transfers_file;
  std::ostream* events = nullptr;
  std::ostream* transfers = nullptr;
  if (!OpenOutput(events_path, &events_file, &events) ||
      !OpenOutput(transfers_path, &transfers_file, &transfers)) {
    return ftpalg::replay::kExitBadInput;
  }
  // The plain-words report goes to stdout unless stdout carries JSON.
  const bool stdout_taken = events == &std::cout || transfers == &std::cout;
  std::ostream* report = (quiet || stdout_taken) ? nullptr : &std::cout;
  const int status = ftpalg::replay::RunReplay(options, events, report, nullptr, &error, transfers);
  if (status != 0) std::cerr << "ftp-alg-replay: " << error << '\n';
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  // Wire data never throws (the replay reports it); what can is the setup around it (CLI11 while
  // the options are described, allocation). Report it in one line instead of std::terminate.
  try {
    return RunTool(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "ftp-alg-replay: " << error.what() << '\n';
  } catch (...) {
    std::cerr << "ftp-alg-replay: unexpected error\n";
  }
  return 1;
}
