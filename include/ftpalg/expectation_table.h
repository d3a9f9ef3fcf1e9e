// A model of the kernel's expectation table for the replay tool: it answers Install() the way
// nf_ct_expect_related() does (a clash with another master's expectation is "busy"), expires
// entries after the policy timeout, and lets a new connection consume the expectation it matches.
#pragma once

#include <optional>
#include <vector>

#include "ftpalg/engine.h"
#include "ftpalg/events.h"
#include "ftpalg/expectation.h"

namespace ftpalg {

class SimulatedExpectationTable : public ExpectationInstaller {
 public:
  SimulatedExpectationTable(Timestamp timeout, size_t max_entries)
      : timeout_(timeout), max_entries_(max_entries) {}

  // The clock for expiry; the replay sets it to each packet's capture time.
  void SetTime(Timestamp now);

  Result Install(const Expectation& expectation) override;
  void Remove(const Expectation& expectation) override;

  // A connection's first packet (a SYN from src to dst) arrives: the expectation it matches, which
  // is consumed, as the kernel does. A capture taken behind the gateway shows the connection
  // already translated, so the NAT target matches too.
  std::optional<Expectation> Consume(const Tuple& syn);

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Expectation expectation;
    Timestamp expires;
  };
  Timestamp timeout_;
  size_t max_entries_;
  Timestamp now_ = 0;
  std::vector<Entry> entries_;
};

}  // namespace ftpalg
