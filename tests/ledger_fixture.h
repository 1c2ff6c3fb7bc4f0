// Opening a ledger in a Catch2 test, appending one command to it and reading
// one envelope back: each REQUIREs success, with the status in the failure
// message; and a GroupSink that keeps what a writer publishes. Only the test
// binary includes it.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/ledger.h"
#include "core/replication.h"

namespace accountable::test {

inline std::unique_ptr<Ledger> OpenLedger(const LedgerOptions& o) {
  std::unique_ptr<Ledger> l;
  Status s = Ledger::Open(o, &l);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return l;
}

// Appends c alone, REQUIREs success, and returns its result.
inline Ledger::Appended AppendOne(Ledger& l, Ledger::Command c) {
  std::vector<Ledger::Command> b;
  b.push_back(std::move(c));
  std::vector<Ledger::Appended> out;
  Status s = l.Append(std::move(b), &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  REQUIRE(out.size() == 1);
  return out[0];
}

// The stored envelope at seq.
inline std::string EnvelopeAt(Ledger& l, uint64_t seq) {
  std::vector<Ledger::Stored> one;
  Status s = l.ReadRange(seq, 1, &one);
  INFO(s.ToString());
  REQUIRE(s.ok());
  REQUIRE(one.size() == 1);
  return one[0].envelope;
}

// Keeps every group a writer publishes, in order, for a test to apply to a
// copy; while refuse is not OK it refuses instead.
class CaptureSink final : public GroupSink {
 public:
  std::vector<ReplicatedGroup> groups;
  Status refuse;
  Status Publish(const ReplicatedGroup& g) override {
    if (!refuse.ok()) return refuse;
    groups.push_back(g);
    return Status::OK();
  }
};

}  // namespace accountable::test
