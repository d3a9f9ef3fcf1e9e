// Google Benchmark of Engine::Process on control-connection packets (one core, no I/O):
//   BM_EngineSteady          an established session's commands, replies and ACKs (no addresses)
//   BM_EnginePort            PORT, 200, ACK under masquerade: a rewrite + expectation per cycle
//   BM_Engine227             PASV, 227, ACK of a published (DNAT) server: the same for 227
//   BM_EngineSessions/N      the steady mix over N established sessions, round robin
//   BM_EngineCapture/daemon  every control packet of a capture (--capture FILE, read into memory
//   BM_EngineCapture/replay  first, classified as ftp-alg-replay --snat 192.0.2.0/24=198.51.100.1
//                            does): the daemon's configuration, and the replay's (sequence numbers
//                            shifted after rewrites); no-op installer, no JSON
//   BM_ParseFloor            ParseTcpPacket alone on the steady mix's packets (the floor)
//   BM_MemoryPerSession/N    N sessions, each logged in with a pending PORT expectation: bytes
//                            per session (Engine::ApproximateMemory, heap and RSS deltas)
// The expectation installer is a no-op. Packets are built in batches outside the timed region.
// Injected time advances 1 us per packet (a gateway at 1M packets/s), which paces the engine's
// once-a-second idle sweep.
//
// Extra modes (instead of the benchmarks):
//   engine_bench --sizes              sizeof() of the per-session structures
//   engine_bench --count MIX N [S]    exactly N packets of MIX (steady|port|227) over S sessions
//                                     through Engine::Process, for callgrind instruction counts
//   engine_bench --count-capture FILE [daemon|replay]
//                                     every control packet of FILE through Engine::Process once
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ftp_traffic.h"
#include "ftpalg/engine.h"
#include "ftpalg/nat_description.h"
#include "ftpalg/packet_view.h"
#include "ftpalg/session.h"
#include "replay/capture.h"

namespace ftpalg::bench {
namespace {

constexpr Timestamp kStartTime = 1'700'000'000 * kNanosPerSecond;
constexpr Timestamp kPacketSpacing = 1000;  // 1 us
constexpr size_t kBatch = 4096;
constexpr uint8_t kAck = tcp_flags::kAck;
constexpr uint8_t kData = tcp_flags::kAck | tcp_flags::kPsh;

class NoopInstaller : public ExpectationInstaller {
 public:
  Result Install(const Expectation& /*expectation*/) override { return Result::kInstalled; }
  void Remove(const Expectation& /*expectation*/) override {}
};

enum class Mix : uint8_t { kSteady, kPort, k227 };

// Session `index`: an inside client masqueraded to the gateway's public address, or (published)
// an outside client of an inside server published on the public address.
ControlConnection MakeControl(uint32_t index, bool published) {
  const auto client_port = static_cast<uint16_t>(1024 + index / 254);
  ControlConnection control;
  if (published) {
    const Endpoint client{RemoteClient(index), client_port};
    control.original = {client, Endpoint{GatewayPublic(), 21}};
    control.reply = {Endpoint{InsideHost(9), 21}, client};
  } else {
    const Endpoint client{InsideHost(index), client_port};
    const Endpoint server{OutsideHost(0), 21};
    control.original = {client, server};
    control.reply = {server, Endpoint{GatewayPublic(), client_port}};
  }
  return control;
}

struct Step {
  bool from_client = true;
  uint8_t flags = kData;
  std::string payload;
};

// The cycles each session repeats once logged in. Every command gets its reply (replies are
// paired with commands), and the client acknowledges each reply with a pure ACK.
size_t CycleLength(Mix mix) { return mix == Mix::kSteady ? 12 : 3; }

void CycleStep(Mix mix, size_t position, const ControlConnection& control, uint16_t data_port,
               Step* step) {
  static constexpr std::string_view kSteady[] = {
      "NOOP\r\n",     "200 NOOP ok.\r\n",
      "CWD /pub\r\n", "250 Directory successfully changed.\r\n",
      "PWD\r\n",      "257 \"/pub\" is the current directory\r\n",
      "TYPE I\r\n",   "200 Switching to Binary mode.\r\n"};
  const size_t slot = position % CycleLength(mix);
  step->flags = kData;
  if (slot % 3 == 2) {  // the client's ACK of the reply
    step->from_client = true;
    step->flags = kAck;
    step->payload.clear();
    return;
  }
  step->from_client = slot % 3 == 0;
  if (mix == Mix::kSteady) {
    step->payload = kSteady[slot / 3 * 2 + slot % 3];
  } else if (mix == Mix::kPort) {
    step->payload = step->from_client ? PortCommand(control.original.src.addr, data_port)
                                      : "200 PORT command successful. Consider using PASV.\r\n";
  } else {
    step->payload = step->from_client ? "PASV\r\n" : Reply227(control.reply.src.addr, data_port);
  }
}

// Scripted sessions and the packets they send next, built in batches.
class Workload {
 public:
  struct Item {
    size_t offset = 0;
    size_t length = 0;
    uint32_t session = 0;
    Direction direction = Direction::kOriginal;
  };

  Workload(Mix mix, size_t session_count) : mix_(mix) {
    sessions_.reserve(session_count);
    for (size_t i = 0; i < session_count; ++i) {
      const ControlConnection control = MakeControl(static_cast<uint32_t>(i), mix == Mix::k227);
      // Packets as the gateway sees them: the client's to the server it named, the server's from
      // its real address (Conversation in tests/unit/engine_test_util.h does the same).
      const Tuple forward = control.original;
      const Tuple backward{control.reply.src, control.original.src};
      const auto isn = static_cast<uint32_t>(i * 7919u);
      sessions_.push_back(Script{control, TcpFlow(forward, backward, 1000 + isn, 900000 + isn)});
    }
    arena_.reserve(kBatch * 128);
    items_.reserve(kBatch);
  }

  size_t session_count() const { return sessions_.size(); }
  const std::vector<Item>& items() const { return items_; }
  std::span<const uint8_t> PacketOf(const Item& item) const {
    return std::span<const uint8_t>(arena_.data() + item.offset, item.length);
  }
  const ControlConnection& ControlOf(const Item& item) const {
    return sessions_[item.session].control;
  }

  // Runs every session's handshake, greeting and login through `engine`.
  void Establish(Engine& engine, Timestamp* now) {
    static constexpr std::string_view kLogin[] = {
        "220 (vsFTPd 3.0.3)\r\n", "USER anonymous\r\n", "331 Please specify the password.\r\n",
        "PASS guest@example.org\r\n", "230 Login successful.\r\n"};
    for (uint32_t index = 0; index < sessions_.size(); ++index) {
      Begin();
      Emit(index, true, tcp_flags::kSyn, "");
      Emit(index, false, tcp_flags::kSyn | kAck, "");
      Emit(index, true, kAck, "");
      bool from_client = false;
      for (std::string_view line : kLogin) {
        Emit(index, from_client, kData, line);
        from_client = !from_client;
      }
      Emit(index, true, kAck, "");
      Feed(engine, now);
    }
  }

  // One cycle step of every session (a PORT/PASV for the announcement mixes), fed to `engine`.
  void StepAll(Engine& engine, Timestamp* now, size_t steps) {
    for (uint32_t index = 0; index < sessions_.size(); ++index) {
      Begin();
      for (size_t i = 0; i < steps; ++i) EmitNext(index);
      Feed(engine, now);
    }
  }

  // The next `count` packets, sessions taking turns.
  void Refill(size_t count) {
    Begin();
    for (size_t i = 0; i < count; ++i) {
      EmitNext(static_cast<uint32_t>(next_session_));
      if (++next_session_ == sessions_.size()) next_session_ = 0;
    }
  }

  // Processes the current batch; returns the number of packets.
  size_t Feed(Engine& engine, Timestamp* now) const {
    for (const Item& item : items_) {
      PacketInput input;
      input.packet = PacketOf(item);
      input.control = ControlOf(item);
      input.direction = item.direction;
      *now += kPacketSpacing;
      input.time = *now;
      Decision decision = engine.Process(input);
      benchmark::DoNotOptimize(decision);
    }
    return items_.size();
  }

  uint64_t announcements() const { return announcements_; }

 private:
  // One scripted session: its connection, sequence numbers and place in the cycle.
  struct Script {
    ControlConnection control;
    TcpFlow flow;
    size_t position = 0;
  };

  void Begin() {
    arena_.clear();
    items_.clear();
  }

  void Emit(uint32_t index, bool from_client, uint8_t flags, std::string_view payload) {
    Item item;
    item.offset = arena_.size();
    item.session = index;
    item.direction = from_client ? Direction::kOriginal : Direction::kReply;
    sessions_[index].flow.Append(from_client, flags, payload, &arena_);
    item.length = arena_.size() - item.offset;
    items_.push_back(item);
  }

  void EmitNext(uint32_t index) {
    Script& session = sessions_[index];
    const size_t slot = session.position % CycleLength(mix_);
    if (mix_ != Mix::kSteady && slot == (mix_ == Mix::kPort ? 0 : 1)) {
      ++announcements_;
      data_port_ = data_port_ >= 65000 ? 1024 : static_cast<uint16_t>(data_port_ + 1);
    }
    CycleStep(mix_, session.position++, session.control, data_port_, &step_);
    Emit(index, step_.from_client, step_.flags, step_.payload);
  }

  Mix mix_;
  std::vector<Script> sessions_;
  std::vector<uint8_t> arena_;
  std::vector<Item> items_;
  size_t next_session_ = 0;
  uint16_t data_port_ = 1024;
  uint64_t announcements_ = 0;
  Step step_;
};

// An engine with established sessions, kept across the benchmark library's calls of one
// benchmark (setting up 100000 sessions takes a second; the state just keeps going).
struct Setup {
  Setup(Mix mix, size_t sessions) : workload(mix, sessions) {
    EngineConfig config;
    config.max_sessions = sessions + 16;
    engine = std::make_unique<Engine>(config, installer);
    workload.Establish(*engine, &now);
  }
  NoopInstaller installer;
  Workload workload;
  std::unique_ptr<Engine> engine;
  Timestamp now = kStartTime;
};

Setup& CachedSetup(Mix mix, size_t sessions) {
  static std::unique_ptr<Setup> cache;
  static Mix cached_mix = Mix::kSteady;
  if (!cache || cached_mix != mix || cache->workload.session_count() != sessions) {
    cache.reset();  // free the old one first: 100000 sessions are ~100 MB
    cache = std::make_unique<Setup>(mix, sessions);
    cached_mix = mix;
  }
  return *cache;
}

void ReportPackets(benchmark::State& state, uint64_t packets) {
  state.SetItemsProcessed(static_cast<int64_t>(packets));
  // Seconds per packet (shown as e.g. "250n"): the inverse of items_per_second.
  state.counters["per_packet"] = benchmark::Counter(
      static_cast<double>(packets), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void RunEngine(benchmark::State& state, Setup& setup) {
  uint64_t packets = 0;
  const uint64_t announcements_before = setup.workload.announcements();
  for (auto _ : state) {
    state.PauseTiming();
    setup.workload.Refill(kBatch);
    state.ResumeTiming();
    packets += setup.workload.Feed(*setup.engine, &setup.now);
  }
  ReportPackets(state, packets);
  const uint64_t announcements = setup.workload.announcements() - announcements_before;
  if (announcements > 0) {
    state.counters["announcements"] =
        benchmark::Counter(static_cast<double>(announcements), benchmark::Counter::kIsRate);
  }
  state.counters["sessions"] = static_cast<double>(setup.engine->session_count());
}

void BM_EngineSteady(benchmark::State& state) { RunEngine(state, CachedSetup(Mix::kSteady, 1)); }
BENCHMARK(BM_EngineSteady);

void BM_EnginePort(benchmark::State& state) { RunEngine(state, CachedSetup(Mix::kPort, 1)); }
BENCHMARK(BM_EnginePort);

void BM_Engine227(benchmark::State& state) { RunEngine(state, CachedSetup(Mix::k227, 1)); }
BENCHMARK(BM_Engine227);

void BM_EngineSessions(benchmark::State& state) {
  RunEngine(state, CachedSetup(Mix::kSteady, static_cast<size_t>(state.range(0))));
}
BENCHMARK(BM_EngineSessions)->Arg(1)->Arg(1000)->Arg(100000);

// The control packets of a capture, classified the way ftp-alg-replay does, in memory.
struct LoadedCapture {
  struct Packet {
    size_t offset = 0;
    size_t length = 0;
    Timestamp time = 0;
    uint32_t control = 0;  // index into `controls`
    Direction direction = Direction::kOriginal;
  };
  std::vector<uint8_t> bytes;
  std::vector<Packet> packets;
  std::vector<ControlConnection> controls;
};

std::string& CapturePath() {
  static std::string path;
  return path;
}

const LoadedCapture& Capture() {
  static std::unique_ptr<LoadedCapture> loaded;
  if (loaded) return *loaded;
  loaded = std::make_unique<LoadedCapture>();
  std::string error;
  auto reader = replay::CaptureReader::Open(CapturePath(), &error);
  if (!reader) {
    std::fprintf(stderr, "engine_bench: %s\n", error.c_str());
    std::exit(2);
  }
  const std::optional<SnatRule> snat = ParseSnatRule("192.0.2.0/24=198.51.100.1", &error);
  const NatDescription nat({*snat}, {}, {21});
  std::unordered_map<Tuple, uint32_t, TupleHash> index;
  while (auto record = reader->Next()) {
    if (!record->has_ip) continue;
    const auto ip = record->frame.subspan(record->ip_offset);
    const TcpPacketResult parsed = ParseTcpPacket(ip);
    if (!parsed.ok()) continue;
    const auto classified = nat.Classify(parsed.view.tuple);
    if (!classified) continue;
    auto [it, inserted] = index.try_emplace(classified->control.original,
                                            static_cast<uint32_t>(loaded->controls.size()));
    if (inserted) loaded->controls.push_back(classified->control);
    LoadedCapture::Packet packet;
    packet.offset = loaded->bytes.size();
    packet.length = parsed.view.packet.size();
    packet.time = record->time;
    packet.control = it->second;
    packet.direction = classified->direction;
    loaded->bytes.insert(loaded->bytes.end(), parsed.view.packet.begin(), parsed.view.packet.end());
    loaded->packets.push_back(packet);
  }
  return *loaded;
}

// Every control packet of the capture through a fresh engine; returns the number of packets.
// `shift`: false = the daemon's configuration, true = the replay's (sequence numbers shifted).
size_t RunCapture(const LoadedCapture& capture, bool shift, benchmark::State* state) {
  NoopInstaller installer;
  EngineConfig config;
  config.shift_sequence_numbers = shift;
  config.max_sessions = capture.controls.size() + 16;
  auto engine = std::make_unique<Engine>(config, installer);
  for (const LoadedCapture::Packet& packet : capture.packets) {
    PacketInput input;
    input.packet = std::span<const uint8_t>(capture.bytes.data() + packet.offset, packet.length);
    input.time = packet.time;
    input.control = capture.controls[packet.control];
    input.direction = packet.direction;
    Decision decision = engine->Process(input);
    benchmark::DoNotOptimize(decision);
  }
  if (state != nullptr) state->PauseTiming();
  engine.reset();
  if (state != nullptr) state->ResumeTiming();
  return capture.packets.size();
}

void BM_EngineCapture(benchmark::State& state, bool shift) {
  const LoadedCapture& capture = Capture();
  // Each iteration builds ~19k sessions and frees them again. Keep the freed heap (a long-running
  // daemon reuses its memory) so that the kernel's page faults and zeroing are not timed, and warm
  // up once.
  static bool warmed_up = false;
  if (!warmed_up) {
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    RunCapture(capture, shift, nullptr);
    warmed_up = true;
  }
  uint64_t packets = 0;
  for (auto _ : state) packets += RunCapture(capture, shift, &state);
  ReportPackets(state, packets);
  state.counters["sessions"] = static_cast<double>(capture.controls.size());
}

void BM_ParseFloor(benchmark::State& state) {
  Workload workload(Mix::kSteady, 1);
  uint64_t packets = 0;
  for (auto _ : state) {
    state.PauseTiming();
    workload.Refill(kBatch);
    state.ResumeTiming();
    for (const Workload::Item& item : workload.items()) {
      TcpPacketResult parsed = ParseTcpPacket(workload.PacketOf(item));
      benchmark::DoNotOptimize(parsed);
    }
    packets += workload.items().size();
  }
  ReportPackets(state, packets);
}
BENCHMARK(BM_ParseFloor);

size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0;
  size_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

size_t HeapBytes() { return mallinfo2().uordblks; }

// Run it in a process of its own (--benchmark_filter=BM_MemoryPerSession/10000$) for a clean RSS
// baseline; heap and ApproximateMemory() figures do not depend on that.
void BM_MemoryPerSession(benchmark::State& state) {
  const auto sessions = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    Workload workload(Mix::kPort, sessions);  // the script's own memory: before the baseline
    NoopInstaller installer;
    EngineConfig config;
    config.max_sessions = sessions + 16;
    malloc_trim(0);
    const size_t rss_before = ResidentBytes();
    const size_t heap_before = HeapBytes();
    Engine engine(config, installer);
    Timestamp now = kStartTime;
    workload.Establish(engine, &now);
    workload.StepAll(engine, &now, CycleLength(Mix::kPort));  // PORT, 200, ACK: one pending
    const size_t heap_after = HeapBytes();
    const size_t rss_after = ResidentBytes();
    const auto per_session = [sessions](size_t bytes) {
      return static_cast<double>(bytes) / static_cast<double>(sessions);
    };
    state.counters["approx_B_per_session"] = per_session(engine.ApproximateMemory());
    state.counters["heap_B_per_session"] = per_session(heap_after - heap_before);
    state.counters["rss_B_per_session"] =
        per_session(rss_after > rss_before ? rss_after - rss_before : 0);
    state.counters["sessions"] = static_cast<double>(engine.session_count());
    state.counters["pending_expectations"] =
        static_cast<double>(engine.counters().Get(Counter::kExpectations));
  }
}
BENCHMARK(BM_MemoryPerSession)
    ->Arg(10000)
    ->Arg(100000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

int PrintSizes() {
  using Node = std::pair<const Tuple, Session>;
  struct Row {
    const char* name;
    size_t bytes;
  };
  const Row rows[] = {
      {"Session", sizeof(Session)},
      {"  ControlConnection", sizeof(ControlConnection)},
      {"  StreamState (x2)", sizeof(StreamState)},
      {"    LineFramer", sizeof(LineFramer)},
      {"    SeqShift", sizeof(SeqShift)},
      {"    std::vector<RecordedEdit>", sizeof(std::vector<RecordedEdit>)},
      {"  ReplyTracker", sizeof(ReplyTracker)},
      {"  std::vector<PendingCommand>", sizeof(std::vector<PendingCommand>)},
      {"  std::vector<PendingExpectation>", sizeof(std::vector<PendingExpectation>)},
      {"Tuple (map key)", sizeof(Tuple)},
      {"IpAddress", sizeof(IpAddress)},
      {"pair<const Tuple, Session> (map value)", sizeof(Node)},
      {"PendingCommand (heap, per entry)", sizeof(PendingCommand)},
      {"PendingExpectation (heap, per entry)", sizeof(PendingExpectation)},
      {"  Expectation", sizeof(Expectation)},
      {"RecordedEdit (heap, per entry)", sizeof(RecordedEdit)},
  };
  for (const Row& row : rows) std::printf("%-42s %5zu\n", row.name, row.bytes);
  return 0;
}

// Exactly `packets` packets through Engine::Process after the setup, for instruction counts
// (valgrind --tool=callgrind --toggle-collect='ftpalg::Engine::Process*').
int CountMode(std::string_view mix_name, size_t packets, size_t sessions) {
  Mix mix = Mix::kSteady;
  if (mix_name == "port") {
    mix = Mix::kPort;
  } else if (mix_name == "227") {
    mix = Mix::k227;
  } else if (mix_name != "steady") {
    std::fprintf(stderr, "engine_bench: unknown mix %.*s\n", static_cast<int>(mix_name.size()),
                 mix_name.data());
    return 2;
  }
  Setup setup(mix, sessions);
  const uint64_t before = setup.engine->counters().Get(Counter::kPackets);
  for (size_t done = 0; done < packets;) {
    const size_t batch = std::min(kBatch, packets - done);
    setup.workload.Refill(batch);
    done += setup.workload.Feed(*setup.engine, &setup.now);
  }
  std::printf("mix=%.*s sessions=%zu setup_packets=%" PRIu64 " measured_packets=%zu\n",
              static_cast<int>(mix_name.size()), mix_name.data(), sessions, before, packets);
  return 0;
}

// Every control packet of a capture through Engine::Process once (callgrind, like CountMode).
int CountCaptureMode(const char* path, std::string_view configuration) {
  CapturePath() = path;
  const size_t packets = RunCapture(Capture(), configuration == "replay", nullptr);
  std::printf("capture=%s configuration=%.*s measured_packets=%zu\n", path,
              static_cast<int>(configuration.size()), configuration.data(), packets);
  return 0;
}

}  // namespace
}  // namespace ftpalg::bench

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "--sizes") == 0) return ftpalg::bench::PrintSizes();
  if (argc >= 3 && std::strcmp(argv[1], "--count-capture") == 0) {
    return ftpalg::bench::CountCaptureMode(argv[2], argc >= 4 ? argv[3] : "daemon");
  }
  if (argc >= 3 && std::strcmp(argv[1], "--capture") == 0) {
    ftpalg::bench::CapturePath() = argv[2];
    benchmark::RegisterBenchmark("BM_EngineCapture/daemon", ftpalg::bench::BM_EngineCapture, false)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("BM_EngineCapture/replay", ftpalg::bench::BM_EngineCapture, true)
        ->Unit(benchmark::kMillisecond);
    argv[2] = argv[0];  // drop the two arguments
    argc -= 2;
    argv += 2;
  }
  if (argc >= 4 && std::strcmp(argv[1], "--count") == 0) {
    const size_t sessions = argc >= 5 ? std::strtoull(argv[4], nullptr, 10) : 1;
    return ftpalg::bench::CountMode(argv[2], std::strtoull(argv[3], nullptr, 10),
                                    sessions == 0 ? 1 : sessions);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
