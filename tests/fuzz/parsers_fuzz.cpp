// libFuzzer target: every text parser on arbitrary lines. Invariants: offsets stay inside the
// input, and whatever parses can be written back and parses to the same endpoint.
#include <cstdlib>
#include <string_view>

#include "ftpalg/eprt_command.h"
#include "ftpalg/ftp_command.h"
#include "ftpalg/ftp_reply.h"
#include "ftpalg/lprt_command.h"
#include "ftpalg/port_command.h"

namespace {

void CheckSpan(const ftpalg::HostPortResult& result, std::string_view text) {
  if (!result.ok()) return;
  if (result.value.begin > result.value.end || result.value.end > text.size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const ftpalg::CommandLine command = ftpalg::ParseCommandLine(text);
  if (command.argument_offset > text.size()) std::abort();

  auto port = ftpalg::ParsePortArgument(text);
  CheckSpan(port, text);
  if (port.ok()) {
    auto again = ftpalg::ParsePortArgument(ftpalg::FormatPortArgument(port.value.endpoint));
    if (!again.ok() || again.value.endpoint != port.value.endpoint) std::abort();
  }
  CheckSpan(ftpalg::Parse227Reply(text), text);
  for (ftpalg::Family family : {ftpalg::Family::kIpv4, ftpalg::Family::kIpv6}) {
    auto eprt = ftpalg::ParseEprtArgument(text, family);
    CheckSpan(eprt, text);
    if (eprt.ok()) {
      const char delimiter = ftpalg::EprtDelimiter(text).value_or('|');
      std::string rebuilt = std::string(1, delimiter) +
                            ftpalg::FormatEprtFields(eprt.value.endpoint, delimiter) + delimiter;
      auto again = ftpalg::ParseEprtArgument(rebuilt, family);
      if (!again.ok() || again.value.endpoint != eprt.value.endpoint) std::abort();
    }
  }
  for (ftpalg::Family family : {ftpalg::Family::kIpv4, ftpalg::Family::kIpv6}) {
    auto lprt = ftpalg::ParseLprtArgument(text, family);
    CheckSpan(lprt, text);
    if (lprt.ok()) {
      auto again =
          ftpalg::ParseLprtArgument(ftpalg::FormatLongHostPort(lprt.value.endpoint), family);
      if (!again.ok() || again.value.endpoint != lprt.value.endpoint) std::abort();
    }
    CheckSpan(ftpalg::Parse228Reply(text, family), text);
  }
  auto epsv = ftpalg::Parse229Reply(text);
  if (epsv.ok() && (epsv.value.begin > epsv.value.end || epsv.value.end > text.size())) {
    std::abort();
  }
  ftpalg::ReplyTracker replies;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '\n') {
      replies.Feed(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return 0;
}
