#include "daemon/unhelped_watch.h"

#include <netinet/in.h>

#include <algorithm>

#include "kernel/kernel_status.h"
#include "settings/ruleset.h"

namespace ftpalg::daemon {

bool UnhelpedControlTally::IsUnhelpedControl(const kernel::ConntrackEvent& event) const {
  if (event.kind != kernel::ConntrackEventKind::kNew || event.protonum != IPPROTO_TCP) {
    return false;
  }
  // The original tuple's destination: the port the client connected to, before any DNAT (the
  // port the operator's rule has to match in iptables' raw table).
  const uint16_t port = event.original.dst.port;
  if (std::find(ports_.begin(), ports_.end(), port) == ports_.end()) return false;
  return event.helper_name != helper_name_;
}

std::optional<std::string> UnhelpedControlTally::Observe(const kernel::ConntrackEvent& event,
                                                         Timestamp now) {
  if (!IsUnhelpedControl(event)) return std::nullopt;
  ++count_;
  if (last_warning_.has_value() && now - *last_warning_ < kWarningInterval) return std::nullopt;
  const uint64_t since = count_ - count_at_last_warning_;
  last_warning_ = now;
  count_at_last_warning_ = count_;
  std::string text = "control connection without helper \"" + helper_name_ +
                     "\": " + event.original.src.ToString() + " -> " +
                     event.original.dst.ToString();
  if (event.zone != 0) text += " zone " + std::to_string(event.zone);
  text += event.helper_name.empty() ? " (no helper)" : " (helper \"" + event.helper_name + "\")";
  if (since > 1) text += ", " + std::to_string(since) + " such connections since the last warning";
  text += "; no rule attached the helper to it. Fix: " +
          settings::SuggestedHelperRules(helper_name_, event.original.dst.port) +
          " (`ftp-algd --check` reads the loaded rules)";
  return text;
}

std::string UnhelpedControlWatch::Open() {
  const int error =
      socket_.Open({.new_connections = true, .destroyed = false}, kReceiveBufferBytes);
  if (error == 0) return {};
  return "conntrack events unavailable (" + kernel::ErrnoText(error) +
         "): control connections without the helper are not noticed";
}

void UnhelpedControlWatch::OnReadable(Timestamp now, Log& log) {
  socket_.Drain(kMaxDatagramsPerWakeup, [&](const kernel::ConntrackEvent& event) {
    if (auto warning = tally_.Observe(event, now); warning.has_value()) log.Warning(*warning);
  });
}

}  // namespace ftpalg::daemon
