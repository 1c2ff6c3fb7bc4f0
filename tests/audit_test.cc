// Tamper tests: the auditor's Merkle checks catch a rewritten envelope and a
// rewritten history against a saved tree head, on a copy of a data directory.
#include <rocksdb/db.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <filesystem>

#include "core/merkle.h"
#include "projections/service/accounts.h"
#include "projections/fold/activity.h"
#include "projections/service/log_checks.h"
#include "test_util.h"
#include "tests/raw_events.h"

using namespace accountable;

namespace {

void MakeLedger(const std::string& data, int accounts) {
  AccountsOptions o;
  o.data_dir = data;
  o.password_cost = {1, 8u << 20};
  std::unique_ptr<Accounts> a;
  REQUIRE(Accounts::Open(o, &a).ok());
  for (int i = 0; i < accounts; ++i) {
    Registration r{test::Name("nick", uint64_t(i)), test::Name("a", uint64_t(i)) + "@example.org", "password-123", "female",
                   "1990-01-01", "192.0.2.1", "", "", "1.01"};
    RegisterResult out;
    REQUIRE(a->Register(r, &out).ok());
  }
  REQUIRE(a->Close().ok());
}

std::unique_ptr<Ledger> OpenReadOnly(const std::string& data) {
  LedgerOptions o;
  o.dir = data + "/events";
  o.read_only = true;
  o.activity_merge = MergeActivity;
  std::unique_ptr<Ledger> l;
  REQUIRE(Ledger::Open(o, &l).ok());
  return l;
}

}  // namespace

TEST_CASE("audit: a flipped byte in one stored envelope is named by verify", "[audit][tamper]") {
  test::TempDir dir("acc-audit");
  MakeLedger(dir.Sub("data"), 5);
  {
    auto l = OpenReadOnly(dir.Sub("data"));
    audit::Json j;
    REQUIRE(audit::VerifyTree(*l, &j).ok());
    CHECK(j["events"] == 6);
  }
  std::filesystem::copy(dir.Sub("data"), dir.Sub("copy"), std::filesystem::copy_options::recursive);
  test::FlipEnvelopeBit(dir.Sub("copy") + "/events", 4);
  auto l = OpenReadOnly(dir.Sub("copy"));
  audit::Json j;
  Status s = audit::VerifyTree(*l, &j);
  REQUIRE(s.Is(Status::Code::kCorruption));
  CHECK(s.message().find("seq 4") != std::string::npos);
}

TEST_CASE("audit: a rewritten history fails consistency with a saved tree head", "[audit][tamper]") {
  test::TempDir dir("acc-audit");
  MakeLedger(dir.Sub("data"), 4);
  audit::Json saved;
  {
    auto l = OpenReadOnly(dir.Sub("data"));
    REQUIRE(audit::TreeHead(*l, 0, &saved).ok());
  }
  // The honest log grows; consistency from the saved head holds.
  MakeLedger(dir.Sub("data"), 0);
  std::filesystem::copy(dir.Sub("data"), dir.Sub("copy"), std::filesystem::copy_options::recursive);
  {
    auto l = OpenReadOnly(dir.Sub("data"));
    audit::Json proof;
    REQUIRE(audit::ProveConsistency(*l, saved["treeSize"].get<uint64_t>(), l->LastSeq(), &proof).ok());
    CHECK(proof["root1"] == saved["root"]);
    CHECK(audit::VerifyConsistency(proof).ok());
  }
  // Drop the last event of the copy and append a different one in its place.
  const uint64_t last = saved["treeSize"].get<uint64_t>();
  test::EditEvents(dir.Sub("copy") + "/events", [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h) {
    REQUIRE(db->Delete(rocksdb::WriteOptions(), h, EncodeBE64(last)).ok());
  });
  {
    LedgerOptions o = test::LedgerAt(dir.Sub("copy") + "/events");
    o.activity_merge = MergeActivity;
    std::unique_ptr<Ledger> l;
    REQUIRE(Ledger::Open(o, &l).ok());
    std::vector<Ledger::Appended> out;
    REQUIRE(l->Append({test::Consent(1, "forged")}, &out).ok());
    REQUIRE(out[0].seq == last);
  }
  auto l = OpenReadOnly(dir.Sub("copy"));
  audit::Json proof;
  REQUIRE(audit::ProveConsistency(*l, last, l->LastSeq(), &proof).ok());
  proof["root1"] = saved["root"];  // what the auditor holds, not what the forger says
  CHECK(audit::VerifyConsistency(proof).Is(Status::Code::kCorruption));
}

TEST_CASE("audit: the signed tree head verifies, a forged one does not", "[audit][tamper]") {
  test::TempDir dir("acc-audit");
  MakeLedger(dir.Sub("data"), 3);
  std::string pk;
  {
    AccountsOptions o;
    o.data_dir = dir.Sub("data");
    o.password_cost = {1, 8u << 20};
    std::unique_ptr<Accounts> a;
    REQUIRE(Accounts::Open(o, &a).ok());
    pk = a->public_key();
    SignedTreeHead h;
    REQUIRE(a->SignTreeHead(&h).ok());
    CHECK(h.size == a->ledger().LastSeq());
    CHECK(VerifyHead(pk, h).ok());
    SignedTreeHead forged = h;
    forged.size -= 1;  // claim a shorter log under the same signature
    CHECK(VerifyHead(pk, forged).Is(Status::Code::kCorruption));
    // A head signed by someone else's key, stored where auditors look.
    SigningKey other;
    REQUIRE(LoadOrCreateSigningKey(dir.Sub("other-key"), &other).ok());
    REQUIRE(a->ledger().PutMeta(kMetaLatestHead, EncodeHead(Sign(other, h.size, h.root, h.timestamp_ms))).ok());
    REQUIRE(a->ledger().Close().ok());
  }
  auto l = OpenReadOnly(dir.Sub("data"));
  audit::Json j;
  CHECK(audit::VerifySignedHead(*l, pk, &j).Is(Status::Code::kCorruption));
}

TEST_CASE("audit: heads are signed per group commit, or per interval with a catch-up", "[audit][sth]") {
  test::TempDir dir("acc-audit");
  auto now = std::make_shared<std::atomic<int64_t>>(test::kTestTimeMs);
  AccountsOptions o;
  o.data_dir = dir.Sub("data");
  o.password_cost = {1, 8u << 20};
  o.clock_ms = [now] { return now->load(); };
  o.sign_interval_ms = 60'000;
  std::unique_ptr<Accounts> a;
  REQUIRE(Accounts::Open(o, &a).ok());
  auto latest = [&] {
    std::string bytes;
    REQUIRE(a->ledger().Get(Cf::kMeta, kMetaLatestHead, &bytes).ok());
    SignedTreeHead h;
    REQUIRE(DecodeHead(bytes, &h).ok());
    CHECK(VerifyHead(a->public_key(), h).ok());
    return h;
  };
  const uint64_t opened = latest().size;
  CHECK(opened == a->ledger().LastSeq());  // Open signs the log as it found it
  Receipt r;
  RegisterResult reg;
  REQUIRE(a->Register({"nick", "interval@example.org", "password-123", "female", "1990-01-01", "192.0.2.1", "", "",
                       "1.01"}, &reg).ok());
  bool give = true;
  auto consent = [&] {  // alternates, so every call is a change that appends
    Status s = give ? a->GiveConsent(reg.account_id, fb::Purpose::Surveys, {}, &r)
                    : a->WithdrawConsent(reg.account_id, fb::Purpose::Surveys, {}, &r);
    give = !give;
    REQUIRE(s.ok());
  };
  consent();
  CHECK(latest().size == opened);  // within the interval: no new head from the commit path
  bool signed_now = false;
  REQUIRE(a->SignTreeHeadIfBehind(&signed_now).ok());
  CHECK(signed_now);
  CHECK(latest().size == a->ledger().LastSeq());
  REQUIRE(a->SignTreeHeadIfBehind(&signed_now).ok());
  CHECK_FALSE(signed_now);  // nothing new, nothing signed
  now->fetch_add(60'000);
  consent();
  CHECK(latest().size == a->ledger().LastSeq());  // the interval passed: the commit signs
  CHECK(latest().timestamp_ms == now->load());
}

TEST_CASE("audit: reopening a signed log writes no new head; a stale or foreign head is replaced", "[audit][sth]") {
  test::TempDir dir("acc-audit");
  MakeLedger(dir.Sub("data"), 2);
  auto now = std::make_shared<std::atomic<int64_t>>(test::kTestTimeMs);
  AccountsOptions o;
  o.data_dir = dir.Sub("data");
  o.password_cost = {1, 8u << 20};
  o.clock_ms = [now] { return now->load(); };
  auto stored = [&](Accounts& a) {
    std::string bytes;
    REQUIRE(a.ledger().Get(Cf::kMeta, kMetaLatestHead, &bytes).ok());
    return bytes;
  };
  std::string first;
  {
    std::unique_ptr<Accounts> a;
    REQUIRE(Accounts::Open(o, &a).ok());  // MakeLedger's head was signed at wall-clock time: kept
    first = stored(*a);
  }
  now->fetch_add(3'600'000);
  {
    std::unique_ptr<Accounts> a;
    REQUIRE(Accounts::Open(o, &a).ok());
    CHECK(stored(*a) == first);  // show/log-style opens write nothing
    SigningKey other;
    REQUIRE(LoadOrCreateSigningKey(dir.Sub("other-key"), &other).ok());
    SignedTreeHead h;
    REQUIRE(DecodeHead(first, &h).ok());
    REQUIRE(a->ledger().PutMeta(kMetaLatestHead, EncodeHead(Sign(other, h.size, h.root, h.timestamp_ms))).ok());
  }
  std::unique_ptr<Accounts> a;
  REQUIRE(Accounts::Open(o, &a).ok());
  SignedTreeHead h;
  REQUIRE(DecodeHead(stored(*a), &h).ok());
  CHECK(VerifyHead(a->public_key(), h).ok());  // a head by another key is not adopted
  CHECK(h.timestamp_ms == now->load());
}
