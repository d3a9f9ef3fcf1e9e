// Gap variants (issue 11 part 1): every capture of the project (pcaps/, the inside ones) and of the
// shared corpus, replayed once per control segment with that one segment removed, the way a packet
// the queue let past the daemon (fail-open) looks to the engine. Every data connection that starts after the
// next command/reply exchange following the gap (NextExchangeEnd) must still be predicted
// (docs/gaps.md). Segments
// that carry an announcement or its request (PORT, EPRT, LPRT, PASV, EPSV, LPSV, 227, 228, 229)
// are never removed: without them nothing can be predicted, by any ALG.
//
// A summary (JSON) goes to $FTPALG_GAP_SUMMARY when set, for the notes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "replay_test_util.h"

namespace ftpalg::test {
namespace {

constexpr uint16_t kControlPort = 21;

struct CaptureUnderTest {
  std::filesystem::path path;
  std::vector<std::string> nat_args;
};

std::vector<std::string> Split(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

std::vector<CaptureUnderTest> AllCaptures() {
  std::vector<CaptureUnderTest> out;
  std::ifstream in(SourceDir() / "pcaps" / "captures.json");
  const auto manifest = nlohmann::json::parse(in, nullptr, false);
  if (!manifest.is_discarded()) {
    for (const auto& entry : manifest) {
      // The outside captures are the kernel helper's output, not what a gateway's ALG sees.
      if (entry["side"] != "inside") continue;
      out.push_back({SourceDir() / "pcaps" / entry["file"].get<std::string>(),
                     Split(entry["nat"].get<std::string>())});
    }
  }
  if (std::filesystem::exists(CorpusDir())) {
    std::vector<std::filesystem::path> corpus;
    for (const auto& file : std::filesystem::recursive_directory_iterator(CorpusDir())) {
      const std::string name = file.path().string();
      if (name.ends_with(".pcap") || name.ends_with(".pcap.gz")) corpus.push_back(file.path());
    }
    std::sort(corpus.begin(), corpus.end());
    for (const auto& path : corpus) out.push_back({path, {}});
  }
  return out;
}

// One control segment of the capture: its record index, time and direction.
struct ControlSegment {
  size_t record = 0;
  double time = 0;
  bool from_client = false;
  bool announces = false;  // carries an announcement or its request: never removed
};

bool CarriesAnnouncement(std::string_view payload) {
  std::string upper(payload);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const char* word : {"PORT", "EPRT", "LPRT", "PASV", "EPSV", "LPSV"}) {
    if (upper.find(word) != std::string::npos) return true;
  }
  for (const char* code : {"227", "228", "229"}) {
    if (upper.starts_with(code) || upper.find(std::string("\n") + code) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::vector<ControlSegment> ControlSegments(const std::filesystem::path& capture) {
  std::vector<ControlSegment> out;
  std::string error;
  auto reader = replay::CaptureReader::Open(capture.string(), &error);
  if (!reader) return out;
  size_t index = 0;
  while (auto record = reader->Next()) {
    const size_t this_index = index++;
    if (!record->has_ip) continue;
    auto parsed = ParseTcpPacket(record->frame.subspan(record->ip_offset));
    if (!parsed.ok() || parsed.view.payload.empty()) continue;
    const auto& view = parsed.view;
    const bool from_client = view.tuple.dst.port == kControlPort;
    if (!from_client && view.tuple.src.port != kControlPort) continue;
    const std::string_view text(reinterpret_cast<const char*>(view.payload.data()),
                                view.payload.size());
    out.push_back({this_index, static_cast<double>(record->time) / 1e9, from_client,
                   CarriesAnnouncement(text)});
  }
  return out;
}

// Writes the capture without record `skipped`.
bool WriteWithout(const std::filesystem::path& capture, size_t skipped,
                  const std::filesystem::path& out) {
  std::string error;
  auto reader = replay::CaptureReader::Open(capture.string(), &error);
  if (!reader) return false;
  auto writer = replay::CaptureWriter::Open(*reader, out.string(), &error);
  if (!writer) return false;
  size_t index = 0;
  while (auto record = reader->Next()) {
    if (index++ != skipped) writer->Write(*record);
  }
  return writer->Close(&error);
}

// The end of the next command/reply exchange following the gap: the gap shows at the next
// segment of the same direction (which is not parsed either: its line start is unknown, for the
// kernel helper as for ftp-alg); the exchange is the client's first segment after that one and
// the server's first segment after it. Infinity when there is none.
double NextExchangeEnd(const std::vector<ControlSegment>& segments, size_t removed) {
  size_t revealed = removed + 1;
  while (revealed < segments.size() &&
         segments[revealed].from_client != segments[removed].from_client) {
    ++revealed;
  }
  bool command_seen = false;
  for (size_t i = revealed + 1; i < segments.size(); ++i) {
    if (segments[i].from_client) command_seen = true;
    if (!segments[i].from_client && command_seen) return segments[i].time;
  }
  return std::numeric_limits<double>::infinity();
}

struct Tally {
  size_t variants = 0;
  size_t variants_with_losses = 0;
  size_t counted = 0;
  size_t predicted = 0;
  size_t gap_events = 0;
};

TEST(GapVariants, EveryDataConnectionAfterTheNextExchangeIsPredicted) {
  const auto temp =
      std::filesystem::temp_directory_path() / ("ftpalg-gap-variants-" + std::to_string(getpid()));
  std::filesystem::create_directories(temp);
  Tally total;
  nlohmann::json per_capture = nlohmann::json::array();
  for (const CaptureUnderTest& capture : AllCaptures()) {
    const auto syns = DataConnectionSyns(capture.path);
    if (syns.empty()) continue;  // nothing to predict
    const auto segments = ControlSegments(capture.path);
    Tally tally;
    for (size_t s = 0; s < segments.size(); ++s) {
      if (segments[s].announces) continue;
      const auto variant = temp / "variant.pcap";
      ASSERT_TRUE(WriteWithout(capture.path, segments[s].record, variant)) << capture.path;
      std::vector<std::string> args = {variant.string()};
      args.insert(args.end(), capture.nat_args.begin(), capture.nat_args.end());
      const ReplayRun run = RunReplayTool(args);
      ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
      const double after = NextExchangeEnd(segments, s);
      const auto expects = run.Of("expect");
      size_t lost_here = 0;
      for (const SynSeen& syn : syns) {
        if (syn.time <= after) continue;
        ++tally.counted;
        if (PredictedBy(syn, expects)) {
          ++tally.predicted;
        } else {
          ++lost_here;
          ADD_FAILURE() << capture.path.filename() << " without segment " << s << " (record "
                        << segments[s].record << ", "
                        << (segments[s].from_client ? "client" : "server") << "): data connection "
                        << syn.tuple.src.ToString() << " -> " << syn.tuple.dst.ToString()
                        << " not predicted";
        }
      }
      ++tally.variants;
      if (lost_here > 0) ++tally.variants_with_losses;
      for (const auto& event : run.events) {
        if (event.value("event", "") == "gap") ++tally.gap_events;
      }
    }
    per_capture.push_back({{"capture", capture.path.filename().string()},
                           {"variants", tally.variants},
                           {"variants_with_losses", tally.variants_with_losses},
                           {"data_connections_after_next_exchange", tally.counted},
                           {"predicted", tally.predicted},
                           {"gap_events", tally.gap_events}});
    total.variants += tally.variants;
    total.variants_with_losses += tally.variants_with_losses;
    total.counted += tally.counted;
    total.predicted += tally.predicted;
    total.gap_events += tally.gap_events;
  }
  std::filesystem::remove_all(temp);
  const nlohmann::json summary = {{"variants", total.variants},
                                  {"variants_with_losses", total.variants_with_losses},
                                  {"data_connections_after_next_exchange", total.counted},
                                  {"predicted", total.predicted},
                                  {"gap_events", total.gap_events},
                                  {"captures", per_capture}};
  std::cout << "gap variants: " << total.predicted << " of " << total.counted
            << " data connections predicted (" << total.variants << " variants, "
            << total.variants_with_losses << " with losses)\n";
  if (const char* path = std::getenv("FTPALG_GAP_SUMMARY")) {
    std::ofstream(path) << summary.dump(2) << "\n";
  }
  EXPECT_GT(total.counted, 0U);
  EXPECT_EQ(total.predicted, total.counted);
}

}  // namespace
}  // namespace ftpalg::test
