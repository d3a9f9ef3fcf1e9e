// make_large_capture: writes a big, deterministic capture of FTP control traffic for the offline
// benchmark (ftp-alg-replay against a plain capture reader).
//
//   make_large_capture OUT.pcap [--packets N] [--seed S] [--concurrent C]
//
// Many FTP sessions between inside clients (192.0.2.0/24) and outside servers (198.51.100.0/24),
// as seen on the gateway's inside (replay with --snat 192.0.2.0/24=198.51.100.1). Each session:
// TCP handshake, greeting, login, SYST, TYPE I, at least two active transfers (PORT, 200, LIST,
// 150, the server's data SYN, 226) and two passive ones (PASV, 227, the client's data SYN, RETR,
// 150, 226) plus random extra rounds and NOOP/CWD/PWD chatter, QUIT and both FINs. `C` sessions run
// at once, interleaved at random; new sessions start until N control packets were written, then
// the running ones finish. Ethernet frames, nanosecond timestamps, a packet every 5-15 us.
// The same seed gives the same bytes.
#include <pcap/pcap.h>

#include <CLI/CLI.hpp>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ftp_traffic.h"
#include "ftpalg/events.h"

namespace ftpalg::bench {
namespace {

constexpr uint8_t kSyn = tcp_flags::kSyn;
constexpr uint8_t kFin = tcp_flags::kFin;
constexpr uint8_t kAck = tcp_flags::kAck;
constexpr uint8_t kData = tcp_flags::kAck | tcp_flags::kPsh;

struct Step {
  enum class Kind : uint8_t { kClient, kServer, kDataSyn };
  Kind kind = Kind::kClient;
  uint8_t flags = kData;
  std::string payload;
  Tuple data;  // kDataSyn: the data connection's SYN, src -> dst
};

// Ports handed out in turn from [first, last], so that no two pending data connections collide.
class PortPool {
 public:
  PortPool(uint16_t first, uint16_t last) : first_(first), last_(last), next_(first) {}
  uint16_t Next() {
    const uint16_t port = next_;
    next_ = next_ >= last_ ? first_ : static_cast<uint16_t>(next_ + 1);
    return port;
  }

 private:
  uint16_t first_;
  uint16_t last_;
  uint16_t next_;
};

class SessionScript {
 public:
  SessionScript(uint32_t index, std::mt19937_64& rng, PortPool& data_ports,
                PortPool& ephemeral_ports)
      : client_{InsideHost(index), static_cast<uint16_t>(1024 + (index / 254) % 60000)},
        server_{OutsideHost(static_cast<uint32_t>(rng() % 253)), 21},
        isns_(rng()),
        flow_(Tuple{client_, server_}, Tuple{server_, client_}, static_cast<uint32_t>(isns_),
              static_cast<uint32_t>(isns_ >> 32)) {
    Client(kSyn, "");
    Server(kSyn | kAck, "");
    Client(kAck, "");
    Server(kData, "220 (vsFTPd 3.0.3)\r\n");
    Client(kAck, "");
    Exchange("USER anonymous\r\n", "331 Please specify the password.\r\n");
    Exchange("PASS guest@example.org\r\n", "230 Login successful.\r\n");
    Exchange("SYST\r\n", "215 UNIX Type: L8\r\n");
    Exchange("TYPE I\r\n", "200 Switching to Binary mode.\r\n");
    Client(kAck, "");
    // Two active and two passive transfers, 0-3 more rounds of any kind, in random order.
    std::vector<int> rounds = {0, 0, 1, 1};
    const auto extra = static_cast<size_t>(rng() % 4);
    for (size_t i = 0; i < extra; ++i) rounds.push_back(static_cast<int>(rng() % 3));
    for (size_t i = rounds.size() - 1; i > 0; --i) {
      std::swap(rounds[i], rounds[static_cast<size_t>(rng() % (i + 1))]);
    }
    uint32_t file = 0;
    for (int round : rounds) {
      if (round == 0) {  // active: the server connects from port 20 to the announced port
        const uint16_t port = data_ports.Next();
        Exchange(PortCommand(client_.addr, port),
                 "200 PORT command successful. Consider using PASV.\r\n");
        Client(kData, "LIST\r\n");
        Server(kData, "150 Here comes the directory listing.\r\n");
        DataSyn(Tuple{Endpoint{server_.addr, 20}, Endpoint{client_.addr, port}});
        Server(kData, "226 Directory send OK.\r\n");
        Client(kAck, "");
      } else if (round == 1) {  // passive: the client connects to the announced port
        const uint16_t port = data_ports.Next();
        Client(kData, "PASV\r\n");
        Server(kData, Reply227(server_.addr, port));
        DataSyn(
            Tuple{Endpoint{client_.addr, ephemeral_ports.Next()}, Endpoint{server_.addr, port}});
        const std::string name = "file-" + std::to_string(index) + "-" + std::to_string(++file);
        Client(kData, "RETR " + name + ".bin\r\n");
        Server(kData,
               "150 Opening BINARY mode data connection for " + name + ".bin (1048576 bytes).\r\n");
        Server(kData, "226 Transfer complete.\r\n");
        Client(kAck, "");
      } else {  // chatter
        Exchange("NOOP\r\n", "200 NOOP ok.\r\n");
        Exchange("CWD /pub\r\n", "250 Directory successfully changed.\r\n");
        Exchange("PWD\r\n", "257 \"/pub\" is the current directory\r\n");
        Client(kAck, "");
      }
    }
    Exchange("QUIT\r\n", "221 Goodbye.\r\n");
    Server(kFin | kAck, "");
    Client(kAck, "");
    Client(kFin | kAck, "");
    Server(kAck, "");
  }

  bool done() const { return next_ >= steps_.size(); }

  // Appends the next packet (IP only) to `out`; returns whether it is a control packet.
  bool EmitNext(std::vector<uint8_t>* out) {
    const Step& step = steps_[next_++];
    if (step.kind == Step::Kind::kDataSyn) {
      AppendTcpPacket(step.data.src, step.data.dst, data_isn_, 0, kSyn, "", 1, out);
      data_isn_ += 0x10000;
      return false;
    }
    flow_.Append(step.kind == Step::Kind::kClient, step.flags, step.payload, out);
    return true;
  }

 private:
  void Client(uint8_t flags, std::string payload) {
    steps_.push_back(Step{Step::Kind::kClient, flags, std::move(payload), {}});
  }
  void Server(uint8_t flags, std::string payload) {
    steps_.push_back(Step{Step::Kind::kServer, flags, std::move(payload), {}});
  }
  void Exchange(std::string command, std::string reply) {
    Client(kData, std::move(command));
    Server(kData, std::move(reply));
  }
  void DataSyn(const Tuple& data) { steps_.push_back(Step{Step::Kind::kDataSyn, kSyn, "", data}); }

  Endpoint client_;
  Endpoint server_;
  uint64_t isns_;  // both initial sequence numbers, drawn at once (argument order is unspecified)
  TcpFlow flow_;
  std::vector<Step> steps_;
  size_t next_ = 0;
  uint32_t data_isn_ = 0x01000000;
};

int Generate(const std::string& path, uint64_t target, uint64_t seed, size_t concurrent) {
  pcap_t* dead =
      pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
  if (dead == nullptr) {
    std::fprintf(stderr, "make_large_capture: cannot create a capture writer\n");
    return 1;
  }
  pcap_dumper_t* dumper = pcap_dump_open(dead, path.c_str());
  if (dumper == nullptr) {
    std::fprintf(stderr, "make_large_capture: %s: %s\n", path.c_str(), pcap_geterr(dead));
    pcap_close(dead);
    return 1;
  }

  std::mt19937_64 rng(seed);
  PortPool data_ports(1024, 32767);        // announced in PORT and 227
  PortPool ephemeral_ports(32768, 60999);  // the client's side of a passive data connection
  std::vector<SessionScript> running;
  uint32_t sessions = 0;
  uint64_t control = 0;
  uint64_t records = 0;
  Timestamp now = 1'700'000'000 * kNanosPerSecond;
  // Ethernet II: locally administered MACs, EtherType IPv4.
  const std::vector<uint8_t> ethernet = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0};
  std::vector<uint8_t> frame;
  frame.reserve(2048);

  while (true) {
    while (control < target && running.size() < concurrent) {
      running.emplace_back(sessions++, rng, data_ports, ephemeral_ports);
    }
    if (running.empty()) break;
    const auto pick = static_cast<size_t>(rng() % running.size());
    frame.assign(ethernet.begin(), ethernet.end());
    if (running[pick].EmitNext(&frame)) ++control;
    ++records;
    now += 5000 + static_cast<Timestamp>(rng() % 10000);
    pcap_pkthdr header{};
    header.ts.tv_sec = static_cast<time_t>(now / kNanosPerSecond);
    header.ts.tv_usec = static_cast<suseconds_t>(now % kNanosPerSecond);  // nanoseconds
    header.caplen = static_cast<bpf_u_int32>(frame.size());
    header.len = header.caplen;
    pcap_dump(reinterpret_cast<u_char*>(dumper), &header, frame.data());
    if (running[pick].done()) {
      std::swap(running[pick], running.back());
      running.pop_back();
    }
  }
  const bool flushed = pcap_dump_flush(dumper) == 0;
  pcap_dump_close(dumper);
  pcap_close(dead);
  if (!flushed) {
    std::fprintf(stderr, "make_large_capture: %s: write failed\n", path.c_str());
    return 1;
  }
  std::printf("%s: %" PRIu64 " records, %" PRIu64 " control packets, %" PRIu64
              " data SYNs, %" PRIu32 " sessions\n",
              path.c_str(), records, control, records - control, sessions);
  return 0;
}

}  // namespace
}  // namespace ftpalg::bench

int main(int argc, char** argv) {
  std::string path;
  uint64_t packets = 1'000'000;
  uint64_t seed = 1;
  size_t concurrent = 256;
  CLI::App app{"Writes a large deterministic capture of FTP control traffic (pcap, Ethernet)."};
  app.add_option("output", path, "capture file to write")->required();
  app.add_option("--packets", packets, "control packets to write at least (default 1000000)");
  app.add_option("--seed", seed, "random seed (default 1)");
  app.add_option("--concurrent", concurrent, "sessions running at once (default 256)")
      ->check(CLI::Range(1, 100000));
  CLI11_PARSE(app, argc, argv);
  return ftpalg::bench::Generate(path, packets, seed, concurrent);
}
