// The project's own captures (pcaps/, made by scripts/make-captures.sh): real FTP sessions through
// a NAT gateway running the kernel's own ftp helper, captured on both sides. Replaying the inside
// capture with the same NAT description must give what the kernel put on the wire outside: the
// same control text, the same sequence and acknowledgement numbers, and expectations for every
// data connection.
#include <gtest/gtest.h>

#include <sstream>

#include "ftpalg/eprt_command.h"
#include "ftpalg/ftp_command.h"
#include "ftpalg/packet_rewrite.h"
#include "replay_test_util.h"

namespace ftpalg::test {
namespace {

struct ControlSegment {
  uint32_t seq;
  uint32_t ack;
  std::string payload;
};

// Control packets with payload, per direction (0 = client to server), in capture order.
struct ControlStreams {
  std::vector<ControlSegment> segments[2];
  std::vector<std::string> lines[2];  // reassembled lines, without CRLF
  size_t bad_checksums = 0;
};

ControlStreams ReadControlStreams(const std::filesystem::path& capture) {
  ControlStreams out;
  std::string error;
  auto reader = replay::CaptureReader::Open(capture.string(), &error);
  EXPECT_NE(reader, nullptr) << error;
  if (!reader) return out;
  std::string partial[2];
  uint32_t next[2] = {0, 0};
  bool started[2] = {false, false};
  while (auto record = reader->Next()) {
    if (!record->has_ip) continue;
    auto parsed = ParseTcpPacket(record->frame.subspan(record->ip_offset));
    if (!parsed.ok()) continue;
    const auto& v = parsed.view;
    if (v.tuple.dst.port != 21 && v.tuple.src.port != 21) continue;
    if (!TcpChecksumValid(v)) ++out.bad_checksums;
    const int d = v.tuple.dst.port == 21 ? 0 : 1;
    if (v.payload.empty()) continue;
    std::string payload(v.payload.begin(), v.payload.end());
    out.segments[d].push_back({v.seq, v.ack, payload});
    if (started[d] && v.seq != next[d]) continue;  // retransmission: framed once
    started[d] = true;
    next[d] = v.seq + static_cast<uint32_t>(payload.size());
    partial[d] += payload;
    size_t newline;
    while ((newline = partial[d].find('\n')) != std::string::npos) {
      std::string line = partial[d].substr(0, newline);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      out.lines[d].push_back(line);
      partial[d].erase(0, newline + 1);
    }
  }
  return out;
}

std::vector<std::string> SplitArgs(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  std::string word;
  while (in >> word) out.push_back(word);
  return out;
}

// Two control lines say the same thing. IPv6 EPRT is compared by what it means: the kernel writes
// the address uncompressed ("2001:0db8:0002:0000:..."), ftp-alg writes the RFC 5952 form, and
// both name the same endpoint (some servers, pyftpdlib among them, compare the text with the
// client's address and refuse the kernel's form).
bool SameLine(const std::string& ours, const std::string& kernels) {
  if (ours == kernels) return true;
  const CommandLine a = ParseCommandLine(ours);
  const CommandLine b = ParseCommandLine(kernels);
  if (a.verb != CommandVerb::kEprt || b.verb != CommandVerb::kEprt) return false;
  auto x = ParseEprtArgument(a.argument, Family::kIpv6);
  auto y = ParseEprtArgument(b.argument, Family::kIpv6);
  return x.ok() && y.ok() && x.value.endpoint == y.value.endpoint;
}

struct OwnCapture {
  std::string inside;
  std::string outside;
  std::string nat;
  size_t data_connections;
};

std::vector<OwnCapture> InsideCaptures() {
  std::vector<OwnCapture> out;
  std::ifstream in(SourceDir() / "pcaps" / "captures.json");
  if (!in) return out;
  const auto manifest = nlohmann::json::parse(in, nullptr, false);
  if (manifest.is_discarded()) return out;
  for (const auto& entry : manifest) {
    if (entry["side"] != "inside") continue;
    out.push_back({entry["file"], entry["pair"], entry["nat"], entry["data_connections"]});
  }
  return out;
}

class OwnCaptureReplay : public ::testing::TestWithParam<OwnCapture> {};

TEST_P(OwnCaptureReplay, ReplayGivesWhatTheKernelHelperPutOnTheWire) {
  const OwnCapture& capture = GetParam();
  const auto pcaps = SourceDir() / "pcaps";
  const auto written = std::filesystem::temp_directory_path() /
                       ("ftpalg-own-" + std::to_string(getpid()) + "-" + capture.inside);
  std::vector<std::string> args = {(pcaps / capture.inside).string(), "--write", written.string()};
  for (const std::string& arg : SplitArgs(capture.nat)) args.push_back(arg);
  const ReplayRun run = RunReplayTool(args);
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;

  const ControlStreams ours = ReadControlStreams(written);
  const ControlStreams kernel = ReadControlStreams(pcaps / capture.outside);
  const ControlStreams input = ReadControlStreams(pcaps / capture.inside);
  std::filesystem::remove(written);
  // Captured on veth before checksum offload filled them in, the input's checksums are partial;
  // every packet the replay changed has a full, valid checksum, so there are fewer bad ones.
  EXPECT_LE(ours.bad_checksums, input.bad_checksums);
  for (int d = 0; d < 2; ++d) {
    // The same text, line for line.
    ASSERT_EQ(ours.lines[d].size(), kernel.lines[d].size()) << "direction " << d;
    for (size_t i = 0; i < ours.lines[d].size(); ++i) {
      EXPECT_TRUE(SameLine(ours.lines[d][i], kernel.lines[d][i]))
          << "ours: " << ours.lines[d][i] << "\nkernel: " << kernel.lines[d][i];
    }
    // The same sequence and acknowledgement numbers, segment for segment (masquerade and DNAT
    // keep the numbers; only the helper's length changes move them). IPv6 EPRT lines differ in
    // length by design (see SameLine), which moves the client's numbers by a known amount.
    ASSERT_EQ(ours.segments[d].size(), kernel.segments[d].size()) << "direction " << d;
    const bool ipv6_eprt = capture.inside.find("ipv6-eprt") != std::string::npos;
    if (!ipv6_eprt) {
      for (size_t i = 0; i < ours.segments[d].size(); ++i) {
        EXPECT_EQ(ours.segments[d][i].seq, kernel.segments[d][i].seq) << "segment " << i;
        EXPECT_EQ(ours.segments[d][i].ack, kernel.segments[d][i].ack) << "segment " << i;
      }
    }
  }

  // Every data connection, on either side of the gateway, was predicted.
  const auto expects = run.Of("expect");
  for (const auto& file : {capture.inside, capture.outside}) {
    const auto syns = DataConnectionSyns(pcaps / file);
    EXPECT_EQ(syns.size(), capture.data_connections) << file;
    for (const SynSeen& syn : syns) {
      EXPECT_TRUE(PredictedBy(syn, expects))
          << file << ": " << syn.tuple.src.ToString() << " -> " << syn.tuple.dst.ToString();
    }
  }
  EXPECT_TRUE(run.Of("refuse").empty());
}

INSTANTIATE_TEST_SUITE_P(KernelHelperReference, OwnCaptureReplay,
                         ::testing::ValuesIn(InsideCaptures()),
                         [](const ::testing::TestParamInfo<OwnCapture>& test) {
                           std::string name = test.param.inside;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(OwnCaptures, ManifestListsTheExpectedSessions) {
  // Active PORT, active EPRT, PASV, EPSV; IPv4 and IPv6; masquerade and DNAT.
  EXPECT_GE(InsideCaptures().size(), 10u);
}

// tshark's view of the rewritten capture: no checksum or sequence problems the input did not have.
TEST(OwnCaptures, TsharkSeesNoNewProblemsInRewrittenCaptures) {
  if (std::system("command -v tshark >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "tshark not installed (scripts/install-deps.sh installs it)";
  }
  auto count = [](const std::filesystem::path& file, const std::string& filter) {
    const std::string command = "tshark -o tcp.check_checksum:TRUE -r '" + file.string() +
                                "' -Y '" + filter + "' 2>/dev/null | wc -l";
    FILE* pipe = popen(command.c_str(), "r");
    int lines = -1;
    if (pipe != nullptr) {
      if (std::fscanf(pipe, "%d", &lines) != 1) lines = -1;
      pclose(pipe);
    }
    return lines;
  };
  const std::string sequence_problems =
      "tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment || tcp.analysis.out_of_order || "
      "tcp.analysis.retransmission || tcp.analysis.spurious_retransmission || "
      "tcp.analysis.duplicate_ack || tcp.analysis.zero_window";
  const std::string bad_checksums = "tcp.checksum.status == 0 || ip.checksum.status == 0";
  for (const OwnCapture& capture : InsideCaptures()) {
    const auto input = SourceDir() / "pcaps" / capture.inside;
    const auto written = std::filesystem::temp_directory_path() /
                         ("ftpalg-tshark-" + std::to_string(getpid()) + "-" + capture.inside);
    std::vector<std::string> args = {input.string(), "--write", written.string()};
    for (const std::string& arg : SplitArgs(capture.nat)) args.push_back(arg);
    ASSERT_EQ(RunReplayTool(args).exit_code, 0);
    const int sequence_before = count(input, sequence_problems);
    const int sequence_after = count(written, sequence_problems);
    const int checksum_before = count(input, bad_checksums);
    const int checksum_after = count(written, bad_checksums);
    std::filesystem::remove(written);
    ASSERT_GE(sequence_before, 0);
    ASSERT_GE(checksum_before, 0);
    EXPECT_EQ(sequence_after, sequence_before) << capture.inside;
    EXPECT_LE(checksum_after, checksum_before) << capture.inside;
  }
}

}  // namespace
}  // namespace ftpalg::test
