// Ledger point lookups under the event DB's read options (core/ledger.cc):
// the `streams` prefix extractor and the memtable and SST filters must not
// change what StreamVersion, ReadStream and LookupRequest answer, whether a
// row sits in the memtable, in SSTs, or the account has neighbours on both
// sides or none.
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/ledger.h"
#include "tests/ledger_fixture.h"
#include "tests/test_util.h"

namespace accountable {
namespace {

using test::OpenLedger;

// Appends one event for each account in `accounts`, in one batch.
void AppendFor(Ledger& l, const std::vector<uint64_t>& accounts, const std::string& tag) {
  std::vector<Ledger::Command> batch;
  for (size_t i = 0; i < accounts.size(); ++i)
    batch.push_back(test::Consent(accounts[i], tag + "/" + std::to_string(i)));
  std::vector<Ledger::Appended> out;
  Status s = l.Append(std::move(batch), &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
}

// Every account's stream holds exactly its own events, versions 1..expected.
void CheckStreams(Ledger& l, const std::map<uint64_t, uint64_t>& expected) {
  for (const auto& [account, versions] : expected) {
    INFO("account " << account);
    CHECK(l.StreamVersion(account) == versions);
    std::vector<Ledger::Stored> got;
    REQUIRE(l.ReadStream(account, 1, 1000, &got).ok());
    REQUIRE(got.size() == versions);
    for (const auto& st : got) {
      events::EventView v;
      REQUIRE(events::EventView::Parse(st.envelope, &v).ok());
      CHECK(v.envelope()->account_id() == account);
    }
    if (versions >= 2) {  // a read from the middle starts at that version
      REQUIRE(l.ReadStream(account, versions, 1000, &got).ok());
      CHECK(got.size() == 1);
    }
  }
}

TEST_CASE("ledger: stream versions and reads are exact across memtable and SSTs", "[ledger]") {
  test::TempDir dir;
  const LedgerOptions o = test::LedgerAt(dir.Sub("events"));
  // 0-versions: below every stored account, between two, above every one,
  // and ids that differ from a stored one only in the low or high byte.
  std::map<uint64_t, uint64_t> expected = {{1, 0}, {0x0100, 0}, {0x0200, 0}, {0x0201, 0}, {0x0300, 0},
                                           {0x0100000000000200, 0}, {UINT64_MAX - 1, 0}, {UINT64_MAX, 0}};
  const std::vector<uint64_t> stored = {0x0200, 0x0201, 0x0300, 0x0100000000000200, UINT64_MAX - 1};
  {
    auto l = OpenLedger(o);
    for (int round = 0; round < 3; ++round) {
      AppendFor(*l, stored, test::Name("a", static_cast<uint64_t>(round)));
      for (uint64_t a : stored) ++expected[a];
    }
    CheckStreams(*l, expected);  // memtable only
    REQUIRE(l->Close().ok());
  }
  auto l = OpenLedger(o);  // the close flushed everything to SSTs
  CheckStreams(*l, expected);
  AppendFor(*l, {0x0201, 0x0300}, "b");  // newest versions in the memtable, older ones in SSTs
  ++expected[0x0201];
  ++expected[0x0300];
  CheckStreams(*l, expected);
  REQUIRE(l->Close().ok());
}

TEST_CASE("ledger: request ids are found in memtable and SSTs, and absent ones are not", "[ledger]") {
  test::TempDir dir;
  const LedgerOptions o = test::LedgerAt(dir.Sub("events"));
  const std::string old_rid(64, 'a'), new_rid(64, 'b');
  {
    auto l = OpenLedger(o);
    AppendFor(*l, {7}, old_rid);
    REQUIRE(l->Close().ok());
  }
  auto l = OpenLedger(o);
  AppendFor(*l, {7}, new_rid);
  uint64_t seq = 0;
  CHECK(l->LookupRequest(old_rid + "/0", &seq).ok());  // in an SST
  CHECK(seq == 1);
  CHECK(l->LookupRequest(new_rid + "/0", &seq).ok());  // in the memtable
  CHECK(seq == 2);
  for (const std::string& absent : {std::string(64, 'c'), old_rid, old_rid + "/1", std::string()})
    CHECK(l->LookupRequest(absent, &seq).Is(Status::Code::kNotFound));
  REQUIRE(l->Close().ok());
}

}  // namespace
}  // namespace accountable
