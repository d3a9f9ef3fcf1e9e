// Capture files in and out (libpcap): pcap and pcapng, gzip-compressed or not, and the link-layer
// framing around the IP packet.
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ftpalg/events.h"

namespace ftpalg::replay {

struct CaptureRecord {
  Timestamp time = 0;
  uint32_t original_length = 0;  // on the wire
  std::span<const uint8_t> frame;       // as captured, link header included
  size_t ip_offset = 0;                 // where the IP header starts in `frame`
  bool has_ip = false;                  // false: not IPv4/IPv6 (ARP, ...), written unchanged
};

class CaptureReader {
 public:
  // Opens `path`; on failure returns nullptr and a one-line reason in *error.
  static std::unique_ptr<CaptureReader> Open(const std::string& path, std::string* error);
  ~CaptureReader();
  CaptureReader(const CaptureReader&) = delete;
  CaptureReader& operator=(const CaptureReader&) = delete;

  // The next record, or nullopt at the end (or on a read error: see error()).
  std::optional<CaptureRecord> Next();
  const std::string& error() const { return error_; }
  int link_type() const { return link_type_; }
  pcap_t* handle() const { return pcap_; }

 private:
  explicit CaptureReader(pcap_t* pcap);
  pcap_t* pcap_;  // owns the FILE it was opened on (a gzip stream's too): pcap_close closes it
  int link_type_;
  std::string error_;
};

// Where the IP header starts in a frame of this link type; nullopt when the frame carries no
// IPv4/IPv6 (or is too short). Supported: Ethernet with 802.1Q/802.1ad tags, Linux cooked v1 and
// v2, raw IP, BSD loopback (DLT_NULL and DLT_LOOP).
std::optional<size_t> IpOffset(int link_type, std::span<const uint8_t> frame);
bool LinkTypeSupported(int link_type);

class CaptureWriter {
 public:
  static std::unique_ptr<CaptureWriter> Open(const CaptureReader& reader, const std::string& path,
                                             std::string* error);
  ~CaptureWriter();
  CaptureWriter(const CaptureWriter&) = delete;
  CaptureWriter& operator=(const CaptureWriter&) = delete;
  // Writes the record, with its IP packet replaced by `ip_packet` when given.
  void Write(const CaptureRecord& record, std::span<const uint8_t> replacement_ip_packet);
  void Write(const CaptureRecord& record);
  bool Close(std::string* error);

 private:
  CaptureWriter(pcap_t* dead, pcap_dumper_t* dumper) : dead_(dead), dumper_(dumper) {}
  pcap_t* dead_;
  pcap_dumper_t* dumper_;
  std::vector<uint8_t> buffer_;
};

}  // namespace ftpalg::replay
