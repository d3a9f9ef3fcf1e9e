#include "replay/capture.h"

#include <zlib.h>

#include <cstring>

namespace ftpalg::replay {
namespace {

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
constexpr uint16_t kEtherTypeVlan = 0x8100;
constexpr uint16_t kEtherTypeQinQ = 0x88a8;
constexpr uint16_t kEtherTypeQinQOld = 0x9100;
// LINKTYPE values that libpcap may hand back as themselves on Linux.
constexpr int kLinkTypeLinuxSll2 = 276;
constexpr int kLinkTypeIpv4 = 228;
constexpr int kLinkTypeIpv6 = 229;
constexpr int kLinkTypeRaw = 101;

uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

bool IsIpEtherType(uint16_t type) { return type == kEtherTypeIpv4 || type == kEtherTypeIpv6; }

// An IP header must start with version 4 or 6.
std::optional<size_t> CheckIp(std::span<const uint8_t> frame, size_t offset) {
  if (offset >= frame.size()) return std::nullopt;
  const uint8_t version = frame[offset] >> 4;
  if (version != 4 && version != 6) return std::nullopt;
  return offset;
}

// gzip-compressed captures (zeek ships some) are read through a stdio stream over zlib, so that
// memory stays flat however long the capture is.
ssize_t GzRead(void* cookie, char* buffer, size_t size) {
  const unsigned chunk = size > (1u << 30) ? (1u << 30) : static_cast<unsigned>(size);
  return gzread(static_cast<gzFile>(cookie), buffer, chunk);
}
int GzClose(void* cookie) { return gzclose(static_cast<gzFile>(cookie)) == Z_OK ? 0 : EOF; }

bool IsGzip(const std::string& path) {
  FILE* probe = std::fopen(path.c_str(), "rb");
  if (probe == nullptr) return false;
  unsigned char magic[2] = {0, 0};
  const size_t got = std::fread(magic, 1, 2, probe);
  std::fclose(probe);
  return got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

}  // namespace

bool LinkTypeSupported(int link_type) {
  switch (link_type) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case kLinkTypeLinuxSll2:
    case DLT_RAW:
    case kLinkTypeRaw:
    case kLinkTypeIpv4:
    case kLinkTypeIpv6:
    case DLT_NULL:
    case DLT_LOOP:
      return true;
    default:
      return false;
  }
}

std::optional<size_t> IpOffset(int link_type, std::span<const uint8_t> frame) {
  switch (link_type) {
    case DLT_EN10MB: {
      if (frame.size() < 14) return std::nullopt;
      size_t offset = 12;
      uint16_t type = Load16(&frame[offset]);
      // 802.1Q / 802.1ad tags, possibly stacked: each adds 4 bytes before the real EtherType.
      for (int tags = 0; tags < 4 && (type == kEtherTypeVlan || type == kEtherTypeQinQ ||
                                      type == kEtherTypeQinQOld);
           ++tags) {
        offset += 4;
        if (offset + 2 > frame.size()) return std::nullopt;
        type = Load16(&frame[offset]);
      }
      if (!IsIpEtherType(type)) return std::nullopt;
      return CheckIp(frame, offset + 2);
    }
    case DLT_LINUX_SLL:  // 16-byte header, protocol in the last two bytes
      if (frame.size() < 16 || !IsIpEtherType(Load16(&frame[14]))) return std::nullopt;
      return CheckIp(frame, 16);
    case kLinkTypeLinuxSll2:  // 20-byte header, protocol first
      if (frame.size() < 20 || !IsIpEtherType(Load16(&frame[0]))) return std::nullopt;
      return CheckIp(frame, 20);
    case DLT_RAW:
    case kLinkTypeRaw:
    case kLinkTypeIpv4:
    case kLinkTypeIpv6:
      return CheckIp(frame, 0);
    case DLT_NULL:
    case DLT_LOOP: {
      // A 4-byte address family (host order of the capturing machine for DLT_NULL, network order
      // for DLT_LOOP). AF_INET is 2 everywhere; AF_INET6 is 10, 24, 28 or 30 depending on the OS.
      // Either byte order is accepted: the IP version nibble decides.
      if (frame.size() < 4) return std::nullopt;
      uint32_t le = frame[0] | (frame[1] << 8) | (frame[2] << 16) | (uint32_t{frame[3]} << 24);
      uint32_t be = (uint32_t{frame[0]} << 24) | (frame[1] << 16) | (frame[2] << 8) | frame[3];
      auto known = [](uint32_t family) {
        return family == 2 || family == 10 || family == 24 || family == 28 || family == 30;
      };
      if (!known(le) && !known(be)) return std::nullopt;
      return CheckIp(frame, 4);
    }
    default:
      return std::nullopt;
  }
}

std::unique_ptr<CaptureReader> CaptureReader::Open(const std::string& path, std::string* error) {
  char errbuf[PCAP_ERRBUF_SIZE] = {0};
  FILE* file = nullptr;
  if (IsGzip(path)) {
    gzFile gz = gzopen(path.c_str(), "rb");
    if (gz == nullptr) {
      *error = path + ": cannot open";
      return nullptr;
    }
    cookie_io_functions_t functions{};
    functions.read = GzRead;
    functions.close = GzClose;
    file = fopencookie(gz, "rb", functions);
    if (file == nullptr) {
      gzclose(gz);
      *error = path + ": cannot open gzip stream";
      return nullptr;
    }
  } else {
    file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
      *error = path + ": " + std::strerror(errno);
      return nullptr;
    }
  }
  pcap_t* pcap = pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (pcap == nullptr) {
    std::fclose(file);
    *error = path + ": not a pcap or pcapng capture (" + errbuf + ")";
    return nullptr;
  }
  auto reader = std::unique_ptr<CaptureReader>(new CaptureReader(pcap));
  if (!LinkTypeSupported(reader->link_type_)) {
    const char* name = pcap_datalink_val_to_name(reader->link_type_);
    *error = path + ": unsupported link type " + std::to_string(reader->link_type_) + " (" +
             (name != nullptr ? name : "unknown") + ")";
    return nullptr;
  }
  return reader;
}

CaptureReader::CaptureReader(pcap_t* pcap) : pcap_(pcap), link_type_(pcap_datalink(pcap)) {}

CaptureReader::~CaptureReader() { pcap_close(pcap_); }

std::optional<CaptureRecord> CaptureReader::Next() {
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  const int status = pcap_next_ex(pcap_, &header, &data);
  if (status == PCAP_ERROR_BREAK) return std::nullopt;  // end of file
  if (status != 1) {
    error_ = std::string("read error: ") + pcap_geterr(pcap_);
    return std::nullopt;
  }
  CaptureRecord record;
  record.time = static_cast<Timestamp>(header->ts.tv_sec) * kNanosPerSecond +
                static_cast<Timestamp>(header->ts.tv_usec);  // nanosecond precision requested
  record.original_length = header->len;
  record.frame = std::span<const uint8_t>(data, header->caplen);
  if (auto offset = IpOffset(link_type_, record.frame)) {
    record.ip_offset = *offset;
    record.has_ip = true;
  }
  return record;
}

std::unique_ptr<CaptureWriter> CaptureWriter::Open(const CaptureReader& reader,
                                                   const std::string& path, std::string* error) {
  pcap_t* dead = pcap_open_dead_with_tstamp_precision(reader.link_type(), 262144,
                                                      PCAP_TSTAMP_PRECISION_NANO);
  if (dead == nullptr) {
    *error = "cannot create a capture writer";
    return nullptr;
  }
  pcap_dumper_t* dumper = pcap_dump_open(dead, path.c_str());
  if (dumper == nullptr) {
    *error = path + ": " + pcap_geterr(dead);
    pcap_close(dead);
    return nullptr;
  }
  return std::unique_ptr<CaptureWriter>(new CaptureWriter(dead, dumper));
}

CaptureWriter::~CaptureWriter() {
  if (dumper_ != nullptr) pcap_dump_close(dumper_);
  pcap_close(dead_);
}

void CaptureWriter::Write(const CaptureRecord& record) { Write(record, {}); }

void CaptureWriter::Write(const CaptureRecord& record,
                          std::span<const uint8_t> replacement_ip_packet) {
  pcap_pkthdr header{};
  header.ts.tv_sec = static_cast<time_t>(record.time / kNanosPerSecond);
  header.ts.tv_usec = static_cast<suseconds_t>(record.time % kNanosPerSecond);
  if (replacement_ip_packet.empty()) {
    header.caplen = static_cast<bpf_u_int32>(record.frame.size());
    header.len = record.original_length;
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &header, record.frame.data());
    return;
  }
  buffer_.assign(record.frame.begin(),
                 record.frame.begin() + static_cast<ptrdiff_t>(record.ip_offset));
  buffer_.insert(buffer_.end(), replacement_ip_packet.begin(), replacement_ip_packet.end());
  header.caplen = static_cast<bpf_u_int32>(buffer_.size());
  header.len = header.caplen;
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &header, buffer_.data());
}

bool CaptureWriter::Close(std::string* error) {
  if (dumper_ == nullptr) return true;
  const bool flushed = pcap_dump_flush(dumper_) == 0;
  pcap_dump_close(dumper_);
  dumper_ = nullptr;
  if (!flushed) *error = "cannot write the output capture";
  return flushed;
}

}  // namespace ftpalg::replay
