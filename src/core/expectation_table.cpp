#include "ftpalg/expectation_table.h"

#include <algorithm>

namespace ftpalg {
namespace {

// Same data connection: the kernel's expect_clash() compares the tuples under both masks; with the
// source port always wild that is source address + destination endpoint.
bool SameDataConnection(const Expectation& a, const Expectation& b) {
  return a.destination == b.destination &&
         (a.source_any_address || b.source_any_address || a.source == b.source);
}

}  // namespace

void SimulatedExpectationTable::SetTime(Timestamp now) {
  now_ = now;
  std::erase_if(entries_, [now](const Entry& entry) { return entry.expires <= now; });
}

ExpectationInstaller::Result SimulatedExpectationTable::Install(const Expectation& expectation) {
  for (Entry& entry : entries_) {
    if (!SameDataConnection(entry.expectation, expectation)) continue;
    // nf_ct_expect_related(): the same master asking again replaces its entry; another master's
    // entry for the same data connection makes it -EBUSY.
    if (entry.expectation.master == expectation.master) {
      entry = Entry{expectation, now_ + timeout_};
      return Result::kInstalled;
    }
    return Result::kBusy;
  }
  if (entries_.size() >= max_entries_) return Result::kFailed;
  entries_.push_back(Entry{expectation, now_ + timeout_});
  return Result::kInstalled;
}

void SimulatedExpectationTable::Remove(const Expectation& expectation) {
  std::erase_if(entries_, [&expectation](const Entry& entry) {
    return entry.expectation.master == expectation.master &&
           entry.expectation.destination == expectation.destination;
  });
}

std::optional<Expectation> SimulatedExpectationTable::Consume(const Tuple& syn) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    const Expectation& exp = it->expectation;
    const bool to_destination =
        syn.dst == exp.destination || (exp.nat_to && syn.dst == *exp.nat_to);
    // Behind a translating gateway the data connection's source is translated as well
    // (nf_nat_follow_master gives it the address the peer knows for the announcer's side, one of
    // the control connection's own addresses), so those count as the expected source too.
    const bool from_source = exp.source_any_address || syn.src.addr == exp.source ||
                             (exp.nat_to && (syn.src.addr == exp.master.src.addr ||
                                             syn.src.addr == exp.master.dst.addr));
    if (to_destination && from_source) {
      Expectation found = exp;
      entries_.erase(it);
      return found;
    }
  }
  return std::nullopt;
}

}  // namespace ftpalg
