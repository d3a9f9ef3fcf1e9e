// pcap_read_floor: the floor under ftp-alg-replay's throughput: read every record of a capture
// with libpcap, the way the replay's CaptureReader does (pcap_fopen_offline, nanosecond precision,
// pcap_next_ex), and nothing else; --parse also runs ParseTcpPacket on each Ethernet/IPv4 frame.
//
//   pcap_read_floor CAPTURE [--parse]
//
// Prints "records=N bytes=B seconds=S packets_per_second=R" on stdout.
#include <pcap/pcap.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>

#include "ftpalg/packet_view.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3 || (argc == 3 && std::strcmp(argv[2], "--parse") != 0)) {
    std::fprintf(stderr, "usage: pcap_read_floor CAPTURE [--parse]\n");
    return 2;
  }
  const bool parse = argc == 3;
  const auto start = std::chrono::steady_clock::now();
  FILE* file = std::fopen(argv[1], "rb");
  if (file == nullptr) {
    std::perror(argv[1]);
    return 2;
  }
  char errbuf[PCAP_ERRBUF_SIZE] = {0};
  pcap_t* pcap = pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (pcap == nullptr) {
    std::fclose(file);
    std::fprintf(stderr, "pcap_read_floor: %s: %s\n", argv[1], errbuf);
    return 2;
  }
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t tcp = 0;
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int status = 0;
  while ((status = pcap_next_ex(pcap, &header, &data)) == 1) {
    ++records;
    bytes += header->caplen;
    if (parse && header->caplen > 14) {
      const std::span<const uint8_t> ip(data + 14, header->caplen - 14);
      if (ftpalg::ParseTcpPacket(ip).ok()) ++tcp;
    }
  }
  const bool failed = status != PCAP_ERROR_BREAK;
  if (failed) std::fprintf(stderr, "pcap_read_floor: %s\n", pcap_geterr(pcap));
  pcap_close(pcap);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("records=%" PRIu64 " bytes=%" PRIu64 " tcp=%" PRIu64
              " seconds=%.6f packets_per_second=%.0f\n",
              records, bytes, tcp, seconds,
              seconds > 0 ? static_cast<double>(records) / seconds : 0.0);
  return failed ? 1 : 0;
}
