// Opening a ledger in a Catch2 test: REQUIREs the open to succeed, with its
// status in the failure message. Only the test binary includes it.
#pragma once

#include <catch2/catch.hpp>

#include <memory>

#include "core/ledger.h"

namespace accountable::test {

inline std::unique_ptr<Ledger> OpenLedger(const LedgerOptions& o) {
  std::unique_ptr<Ledger> l;
  Status s = Ledger::Open(o, &l);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return l;
}

}  // namespace accountable::test
