// Opening a ledger in a Catch2 test, and appending one command to it: each
// REQUIREs success, with the status in the failure message. Only the test binary includes it.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <utility>
#include <vector>

#include "core/ledger.h"

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

}  // namespace accountable::test
