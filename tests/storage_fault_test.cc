// Storage faults under the ledger and the vault, injected by core/fault_fs.h:
// a full disk that is freed again while the ledger stays open, and write,
// sync and rename failures followed by a power loss (unsynced bytes
// dropped), each followed by a reopen that must find everything that was
// acknowledged, a verifying Merkle tree, projections equal to a rebuild and
// no erased key back in the vault.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/fault_fs.h"
#include "core/ledger.h"
#include "projections/fold/projector.h"
#include "projections/fold/rebuild.h"
#include "projections/service/log_checks.h"
#include "tests/accounts_fixture.h"
#include "tests/test_util.h"

namespace accountable {
namespace {

using Code = Status::Code;
using Clock = std::chrono::steady_clock;

Status AppendOne(Ledger& ledger, uint64_t account, const std::string& request_id, uint64_t* seq) {
  std::vector<Ledger::Command> batch;
  batch.push_back(test::Consent(account, request_id));
  std::vector<Ledger::Appended> out;
  Status s = ledger.Append(std::move(batch), &out);
  if (s.ok()) *seq = out.at(0).seq;
  return s;
}

// Every acked seq holds the event of the request id it was acked for.
void ExpectAcked(Ledger& ledger, const std::vector<std::pair<uint64_t, std::string>>& acked) {
  for (const auto& [seq, request_id] : acked) {
    uint64_t stored_seq = 0;
    INFO("seq " << seq);
    REQUIRE(ledger.LookupRequest(request_id, &stored_seq).ok());
    CHECK(stored_seq == seq);
    std::vector<Ledger::Stored> one;
    REQUIRE(ledger.ReadRange(seq, 1, &one).ok());
    REQUIRE(one.size() == 1);
    CHECK(one[0].seq == seq);
  }
}

// A 1 MiB reserve: the test cares that it is taken and released, not its size.
LedgerOptions FaultyLedgerAt(const std::string& dir, std::shared_ptr<FaultFs> faults) {
  LedgerOptions o = test::LedgerAt(dir);
  o.faults = std::move(faults);
  o.reserve_bytes = 1u << 20;
  return o;
}

void ExpectTreeVerifies(Ledger& ledger) {
  audit::Json j;
  Status s = audit::VerifyTree(ledger, &j);
  INFO(s.ToString());
  CHECK(s.ok());
}

TEST_CASE("storage faults: a full disk refuses writes with disk_full, keeps reads, and resumes without a reopen",
          "[faults][disk_full]") {
  test::TempDir dir("acc-diskfull");
  auto faults = std::make_shared<FaultFs>();
  const LedgerOptions o = FaultyLedgerAt(dir.Sub("events"), faults);
  std::unique_ptr<Ledger> ledger;
  REQUIRE(Ledger::Open(o, &ledger).ok());
  CHECK(std::filesystem::file_size(dir.Sub("events") + "/RESERVE") == (1u << 20));
  std::vector<std::pair<uint64_t, std::string>> acked;
  for (int i = 0; i < 5; ++i) {
    uint64_t seq = 0;
    REQUIRE(AppendOne(*ledger, 7, "before-" + std::to_string(i), &seq).ok());
    acked.emplace_back(seq, "before-" + std::to_string(i));
  }
  faults->SetNoSpace(true);
  for (int i = 0; i < 3; ++i) {
    uint64_t seq = 0;
    const auto start = Clock::now();
    Status s = AppendOne(*ledger, 7, "during-" + std::to_string(i), &seq);
    INFO(s.ToString());
    CHECK(s.Is(Code::kDiskFull));
    CHECK(Clock::now() - start < std::chrono::seconds(2));  // fails fast, no retry loop
  }
  std::vector<Ledger::Stored> page;
  REQUIRE(ledger->ReadRange(1, 100, &page).ok());  // reads keep working
  CHECK(page.size() == acked.size());
  CHECK(ledger->LastSeq() == acked.size());
  faults->SetNoSpace(false);
  // The same request ids again: none of them was appended, so none is a duplicate.
  for (int i = 0; i < 3; ++i) {
    uint64_t seq = 0;
    Status s = AppendOne(*ledger, 7, "during-" + std::to_string(i), &seq);
    INFO(s.ToString());
    REQUIRE(s.ok());
    acked.emplace_back(seq, "during-" + std::to_string(i));
  }
  CHECK(ledger->LastSeq() == acked.size());
  ExpectAcked(*ledger, acked);
  ExpectTreeVerifies(*ledger);
  REQUIRE(ledger->Close().ok());
  ledger.reset();
  REQUIRE(Ledger::Open(o, &ledger).ok());
  ExpectAcked(*ledger, acked);
  ExpectTreeVerifies(*ledger);
}

TEST_CASE("storage faults: a full disk during shutdown is reported, and the restart finishes", "[faults][disk_full]") {
  test::TempDir dir("acc-diskfull-close");
  auto faults = std::make_shared<FaultFs>();
  const LedgerOptions o = FaultyLedgerAt(dir.Sub("events"), faults);
  std::unique_ptr<Ledger> ledger;
  REQUIRE(Ledger::Open(o, &ledger).ok());
  uint64_t seq = 0;
  REQUIRE(AppendOne(*ledger, 9, "kept", &seq).ok());
  faults->SetNoSpace(true);
  CHECK(AppendOne(*ledger, 9, "refused", &seq).Is(Code::kDiskFull));
  Status closed = ledger->Close();
  INFO(closed.ToString());
  CHECK(closed.Is(Code::kDiskFull));  // not "ok": the caller must say so
  CHECK(!std::filesystem::exists(dir.Sub("events") + "/RESERVE"));  // given up for the flush
  ledger.reset();
  faults->SetNoSpace(false);
  REQUIRE(Ledger::Open(o, &ledger).ok());
  ExpectAcked(*ledger, {{1, "kept"}});
  CHECK(ledger->LastSeq() == 1);
  CHECK(std::filesystem::exists(dir.Sub("events") + "/RESERVE"));  // taken again
}

TEST_CASE("storage faults: the service answers disk_full for a registration and resumes once freed",
          "[faults][disk_full]") {
  auto faults = std::make_shared<FaultFs>();
  test::AccountsFixture f([&](AccountsOptions& o) { o.faults = faults; });
  const uint64_t ann = f.Register("ann@example.org");
  faults->SetNoSpace(true);
  uint64_t id = 0;
  Status s = f.TryRegister(test::Reg("bob@example.org"), &id);
  INFO(s.ToString());
  CHECK(s.Is(Code::kDiskFull));
  CHECK(f.State(ann).account_id == ann);  // reads work
  faults->SetNoSpace(false);
  const uint64_t bob = f.Register("bob@example.org");
  CHECK(f.State(bob).account_id == bob);
  ExpectTreeVerifies(f.a().ledger());
  RebuildReport r;
  Status rs = RebuildCheck(f.a().ledger(), &r);
  INFO(rs.ToString() << " " << r.first_difference);
  CHECK(rs.ok());
}


// ---- Injected faults and power loss -------------------------------------

constexpr const char* kPassword = "correct horse battery";

AccountsOptions ServiceAt(const std::string& data, std::shared_ptr<FaultFs> faults) {
  AccountsOptions o;
  o.data_dir = data;
  o.password_cost = {1, 8u << 20};
  o.clock_ms = [] { return test::kTestTimeMs; };
  o.faults = std::move(faults);
  o.reserve_bytes = 1u << 20;  // 64 MiB preallocated and synced twice per point would dominate the run
  return o;
}

struct Acked {
  std::vector<uint64_t> accounts;  // registrations acknowledged
  uint64_t seq_max = 0;            // highest seq acknowledged
};

// A data dir with one kept and one erased account, made without faults;
// each injection point starts from a copy of it.
uint64_t MakeBase(const std::string& data, Acked* acked) {
  std::unique_ptr<Accounts> a;
  REQUIRE(Accounts::Open(ServiceAt(data, nullptr), &a).ok());
  RegisterResult kept, erased;
  REQUIRE(a->Register(test::Reg("kept@example.org"), &kept).ok());
  REQUIRE(a->Register(test::Reg("erased@example.org"), &erased).ok());
  SweepReport rep;
  REQUIRE(a->Erase({{erased.account_id, "admin", 0}}, &rep).ok());
  REQUIRE(rep.verified);
  acked->accounts.push_back(kept.account_id);
  acked->seq_max = a->ledger().LastSeq();
  REQUIRE(a->Close().ok());
  // Not copied 40 times: each open takes the reserve again.
  std::filesystem::remove(data + "/events/RESERVE");
  return erased.account_id;
}

// Registrations and logins until `count` were tried; records what was acknowledged.
void Workload(Accounts& a, int count, const std::string& tag, Acked* acked) {
  for (int i = 0; i < count; ++i) {
    RegisterResult r;
    if (a.Register(test::Reg(tag + std::to_string(i) + "@example.org"), &r).ok()) {
      acked->accounts.push_back(r.account_id);
      acked->seq_max = std::max(acked->seq_max, r.seq);
      LoginResult lr;
      LoginRequest req{"", r.account_id, kPassword, "203.0.113.5", "agent/1"};
      if (a.Login(req, &lr).ok()) acked->seq_max = std::max(acked->seq_max, a.ledger().LastSeq());
    }
  }
}

// After the power loss and a reopen on a healthy disk.
void ExpectRecovered(const std::string& data, const std::shared_ptr<FaultFs>& faults, const Acked& acked,
                     uint64_t erased_id) {
  std::unique_ptr<Accounts> a;
  Status os = Accounts::Open(ServiceAt(data, faults), &a);  // the vault opens too
  INFO(os.ToString());
  REQUIRE(os.ok());
  CHECK(a->ledger().LastSeq() >= acked.seq_max);
  for (uint64_t id : acked.accounts) {
    AccountState st;
    INFO("account " << id);
    CHECK(ReadAccount(a->ledger(), id, &st).ok());
    crypto::Key32 k;
    CHECK(a->vault().GetAccountKey(id, &k).ok());
  }
  ExpectTreeVerifies(a->ledger());
  RebuildReport r;
  Status rs = RebuildCheck(a->ledger(), &r);
  INFO(rs.ToString() << " " << r.first_difference);
  CHECK(rs.ok());
  crypto::Key32 k;
  CHECK(a->vault().GetAccountKey(erased_id, &k).Is(Code::kNotFound));  // no erased key came back
  uint64_t found = 0;
  CHECK(a->vault().LookupEmail("erased@example.org", &found).Is(Code::kNotFound));
  REQUIRE(a->Close().ok());
}

// One run: a fresh copy of base, faults armed by arm(), the workload, a
// "crash" (the service dropped while faults persist), power loss, reopen.
// Returns the number of faults injected.
uint64_t RunOnce(const std::string& base, const std::string& data, const std::function<void(FaultFs&)>& arm,
                 Acked acked, uint64_t erased_id, uint64_t* ops) {
  std::filesystem::copy(base, data, std::filesystem::copy_options::recursive);
  auto faults = std::make_shared<FaultFs>();
  arm(*faults);
  {
    std::unique_ptr<Accounts> a;
    if (Accounts::Open(ServiceAt(data, faults), &a).ok()) {
      Workload(*a, 2, "w", &acked);
      static_cast<void>(a->Close());  // may fail: the disk is failing
    }
  }
  if (ops) *ops = faults->ops();
  const uint64_t injected = faults->failures();
  REQUIRE(faults->DropUnsynced().ok());
  faults->Clear();
  ExpectRecovered(data, faults, acked, erased_id);
  std::filesystem::remove_all(data);
  return injected;
}

TEST_CASE("storage faults: a failed write, sync or rename, then power loss, loses nothing acknowledged",
          "[faults][power_loss]") {
  test::TempDir dir("acc-faults");
  const std::string base = dir.Sub("base");
  Acked acked;
  const uint64_t erased_id = MakeBase(base, &acked);
  uint64_t ops_total = 0;
  RunOnce(base, dir.Sub("clean"), [](FaultFs&) {}, acked, erased_id, &ops_total);
  REQUIRE(ops_total > 20);
  constexpr uint64_t kPoints = 30;
  uint64_t injected = 0;
  const unsigned kinds[] = {FaultFs::kAll, FaultFs::kWrite, FaultFs::kSync, FaultFs::kRename};
  for (uint64_t p = 0; p < kPoints; ++p) {
    const uint64_t at = p * ops_total / kPoints;
    const unsigned ops = kinds[p % 4];
    INFO("fault at op " << at << " of " << ops_total << ", kinds " << ops);
    injected += RunOnce(base, dir.Sub(std::to_string(p) + "-point"), [&](FaultFs& f) { f.FailAt(at, ops, true); },
                        acked, erased_id, nullptr);
  }
  CHECK(injected >= kPoints / 2);  // the faults did fire (a point past a kind's last op fires none)
}

TEST_CASE("storage faults: seeded random transient faults, then power loss, lose nothing acknowledged",
          "[faults][power_loss]") {
  test::TempDir dir("acc-faults-random");
  const std::string base = dir.Sub("base");
  Acked acked;
  const uint64_t erased_id = MakeBase(base, &acked);
  uint64_t injected = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    INFO("seed " << seed);
    injected += RunOnce(base, dir.Sub(std::to_string(seed) + "-seed"),
                        [&](FaultFs& f) { f.FailRandom(seed, 25, FaultFs::kAll, false); }, acked, erased_id, nullptr);
  }
  CHECK(injected >= 6);
}

}  // namespace
}  // namespace accountable
