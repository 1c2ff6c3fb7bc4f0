// The rebuild's scratch store (core/scratch_store.h): reads see every
// earlier write, pending merge operands included, before and after a Flush;
// merges folded once per Flush give the rows that folding one operand at a
// time gives; a bad operand comes back from Flush and leaves the row as it
// was; Scan sees flushed rows in key order.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/scratch_store.h"
#include "projections/fold/activity.h"
#include "tests/test_util.h"

namespace {

using namespace accountable;
using Code = Status::Code;

std::unique_ptr<ScratchStore> Open(const test::TempDir& dir) {
  std::unique_ptr<ScratchStore> s;
  REQUIRE(ScratchStore::Open({.dir = dir.Sub("scratch"), .activity_merge = MergeActivity}, &s).ok());
  return s;
}

std::vector<uint64_t> Ids(std::string_view row) {
  Roaring64Map b;
  REQUIRE(DecodeBitmap(row, &b));
  std::vector<uint64_t> out(b.cardinality());
  b.toUint64Array(out.data());
  return out;
}

std::map<std::string, std::string> All(ScratchStore& s, Cf cf) {
  std::map<std::string, std::string> out;
  std::string last;
  REQUIRE(s.Scan(cf, [&](std::string_view k, std::string_view v) {
    if (!out.empty()) CHECK(std::string(k) > last);
    last = std::string(k);
    out.emplace(k, v);
    return true;
  }).ok());
  return out;
}

}  // namespace

TEST_CASE("scratch: Get sees puts, deletes and pending merges", "[scratch]") {
  test::TempDir dir("acc-scratch");
  auto s = Open(dir);
  std::string v;
  CHECK(s->Get(Cf::kAccounts, "a", &v).code() == Code::kNotFound);
  s->Put(Cf::kAccounts, "a", "1");
  REQUIRE(s->Get(Cf::kAccounts, "a", &v).ok());
  CHECK(v == "1");
  CHECK(s->Get(Cf::kMeta, "a", &v).code() == Code::kNotFound);  // column families are apart
  s->Merge(Cf::kActivity, "m", AddOperand(5));
  s->Merge(Cf::kActivity, "m", AddOperand(9));
  REQUIRE(s->Get(Cf::kActivity, "m", &v).ok());  // folded on read
  CHECK(Ids(v) == std::vector<uint64_t>{5, 9});
  s->Merge(Cf::kActivity, "m", RemoveOperand(5));
  REQUIRE(s->Flush().ok());
  REQUIRE(s->Get(Cf::kActivity, "m", &v).ok());
  CHECK(Ids(v) == std::vector<uint64_t>{9});
  // A merge after a flush folds onto the stored row.
  s->Merge(Cf::kActivity, "m", AddOperand(1));
  REQUIRE(s->Flush().ok());
  CHECK(Ids(All(*s, Cf::kActivity).at("m")) == std::vector<uint64_t>{1, 9});
  s->Delete(Cf::kAccounts, "a");
  CHECK(s->Get(Cf::kAccounts, "a", &v).code() == Code::kNotFound);
  REQUIRE(s->Flush().ok());
  CHECK(s->Get(Cf::kAccounts, "a", &v).code() == Code::kNotFound);
  CHECK(All(*s, Cf::kAccounts).empty());
  // Merge onto a deleted row starts from nothing; a put replaces pending operands.
  s->Put(Cf::kActivity, "x", EncodeBitmap(Roaring64Map()));
  s->Delete(Cf::kActivity, "x");
  s->Merge(Cf::kActivity, "x", AddOperand(3));
  s->Merge(Cf::kActivity, "y", AddOperand(4));
  s->Put(Cf::kActivity, "y", EncodeBitmap(Roaring64Map()));
  REQUIRE(s->Flush().ok());
  auto rows = All(*s, Cf::kActivity);
  CHECK(Ids(rows.at("x")) == std::vector<uint64_t>{3});
  CHECK(Ids(rows.at("y")).empty());
}

TEST_CASE("scratch: a bad operand comes back from Flush and changes nothing", "[scratch]") {
  test::TempDir dir("acc-scratch-bad");
  auto s = Open(dir);
  s->Merge(Cf::kActivity, "m", AddOperand(1));
  REQUIRE(s->Flush().ok());
  s->Merge(Cf::kActivity, "m", "+not a bitmap");
  s->Merge(Cf::kActivity, "fresh", "junk");
  s->Put(Cf::kAccounts, "k", "v");
  CHECK(s->Flush().code() == Code::kCorruption);
  CHECK(s->Flush().ok());  // reported once
  auto rows = All(*s, Cf::kActivity);
  CHECK(rows.size() == 1);
  CHECK(Ids(rows.at("m")) == std::vector<uint64_t>{1});
  CHECK(All(*s, Cf::kAccounts).at("k") == "v");  // the other writes of the page landed
  // Found by a Get first: the same.
  std::string v;
  s->Merge(Cf::kActivity, "m", "-junk");
  REQUIRE(s->Get(Cf::kActivity, "m", &v).ok());
  CHECK(Ids(v) == std::vector<uint64_t>{1});
  CHECK(s->Flush().code() == Code::kCorruption);
}

TEST_CASE("scratch: flushing at any point gives the rows of a model", "[scratch]") {
  test::TempDir dir("acc-scratch-model");
  auto s = Open(dir);
  std::mt19937_64 rng(5);
  std::map<std::string, std::optional<std::string>> accounts;  // nullopt: deleted
  std::map<std::string, std::set<uint64_t>> activity;
  for (int i = 0; i < 20000; ++i) {
    const std::string key = test::Name("k", rng() % 300);
    const uint64_t id = rng() % 100;
    switch (rng() % 6) {
      case 0:
        s->Delete(Cf::kAccounts, key);
        accounts[key] = std::nullopt;
        break;
      case 1: {
        std::string v;
        Status st = s->Get(Cf::kAccounts, key, &v);
        auto it = accounts.find(key);
        if (it == accounts.end() || !it->second) {
          CHECK(st.code() == Code::kNotFound);
        } else {
          REQUIRE(st.ok());
          CHECK(v == *it->second);
        }
        break;
      }
      case 2:
        s->Merge(Cf::kActivity, key, RemoveOperand(id));
        activity[key].erase(id);
        break;
      default: {
        const std::string v = test::Name("v", rng());
        s->Put(Cf::kAccounts, key, v);
        accounts[key] = v;
        s->Merge(Cf::kActivity, key, AddOperand(id));
        activity[key].insert(id);
      }
    }
    if (rng() % 500 == 0) REQUIRE(s->Flush().ok());
  }
  REQUIRE(s->Flush().ok());
  std::map<std::string, std::string> want_accounts;
  for (auto& [k, v] : accounts)
    if (v) want_accounts.emplace(k, *v);
  CHECK(All(*s, Cf::kAccounts) == want_accounts);
  auto rows = All(*s, Cf::kActivity);
  CHECK(rows.size() == activity.size());
  for (auto& [k, ids] : activity) CHECK(Ids(rows.at(k)) == std::vector<uint64_t>(ids.begin(), ids.end()));
}

TEST_CASE("scratch: a directory that exists is refused and a store removes its own", "[scratch]") {
  test::TempDir dir("acc-scratch-dir");
  std::unique_ptr<ScratchStore> s;
  CHECK(ScratchStore::Open({.dir = dir.path().string(), .activity_merge = MergeActivity}, &s).code() ==
        Code::kInvalidArgument);
  const std::string sub = dir.Sub("scratch");
  REQUIRE(ScratchStore::Open({.dir = sub, .activity_merge = MergeActivity}, &s).ok());
  s->Put(Cf::kMeta, "k", "v");
  REQUIRE(s->Flush().ok());
  s.reset();
  CHECK_FALSE(std::filesystem::exists(sub));
}
