// Ledger::AppendAsync and the Accounts Done forms built on it: one
// completion per batch, after the fsync, on the writer thread, in seq
// order; refusals at once on the caller's thread; Busy on a full queue;
// Close answers everything queued.
#include <catch2/catch.hpp>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "core/ledger.h"
#include "tests/ledger_fixture.h"
#include "tests/accounts_fixture.h"
#include "tests/test_util.h"

namespace accountable {
namespace {

// What a completion saw, recorded under a mutex (Catch2 is not thread-safe).
struct Seen {
  Status status;
  uint64_t seq = 0;
  std::thread::id thread;
  uint64_t last_seq_then = 0;  // Ledger::LastSeq() inside the completion
};

class Recorder {
 public:
  Ledger::AppendDone Done(Ledger& l) {
    return [this, &l](Status s, std::vector<Ledger::Appended> r) {
      std::lock_guard<std::mutex> g(mu_);
      seen_.push_back({s, s.ok() ? r.at(0).seq : 0, std::this_thread::get_id(), l.LastSeq()});
      cv_.notify_all();
    };
  }
  std::vector<Seen> Wait(size_t n) {
    std::unique_lock<std::mutex> g(mu_);
    cv_.wait(g, [&] { return seen_.size() >= n; });
    return seen_;
  }
  size_t count() {
    std::lock_guard<std::mutex> g(mu_);
    return seen_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Seen> seen_;
};

// Holds the writer inside Apply of the request id "gate" until Open().
class GateHook final : public AppendHook {
 public:
  Status Apply(const events::EventView& e, GroupTx&) override {
    if (e.envelope()->request_id()->str() != "gate") return Status::OK();
    std::unique_lock<std::mutex> l(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(l, [&] { return open_; });
    return Status::OK();
  }
  void WaitEntered() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return entered_; });
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false, open_ = false;
};

// Not prefix + std::to_string(i): g++ 12 warns (-Wrestrict) on that falsely.
std::string Rid(std::string prefix, size_t i) {
  prefix += std::to_string(i);
  return prefix;
}

using test::OpenLedger;

TEST_CASE("ledger: AppendAsync answers once per batch, after the fsync, on the writer, in seq order", "[ledger]") {
  test::TempDir dir;
  auto l = OpenLedger(test::LedgerAt(dir.Sub("events")));
  Recorder rec;
  constexpr size_t kBatches = 200;
  for (size_t i = 0; i < kBatches; ++i) l->AppendAsync({test::Consent(1 + i % 7, Rid("a", i))}, rec.Done(*l));
  const std::vector<Seen> seen = rec.Wait(kBatches);
  REQUIRE(seen.size() == kBatches);
  for (size_t i = 0; i < seen.size(); ++i) {
    INFO(i << ": " << seen[i].status.ToString());
    REQUIRE(seen[i].status.ok());
    CHECK(seen[i].thread != std::this_thread::get_id());
    CHECK(seen[i].thread == seen[0].thread);
    CHECK(seen[i].last_seq_then >= seen[i].seq);  // durable and visible before its answer
    if (i > 0) CHECK(seen[i].seq > seen[i - 1].seq);
  }
  std::vector<Ledger::Stored> stored;
  REQUIRE(l->ReadRange(1, kBatches + 1, &stored).ok());
  CHECK(stored.size() == kBatches);
  REQUIRE(l->Close().ok());
  CHECK(rec.count() == kBatches);  // no second answer at close
}

TEST_CASE("ledger: AppendAsync refuses a bad batch at once, on the calling thread, appending nothing", "[ledger]") {
  test::TempDir dir;
  auto l = OpenLedger(test::LedgerAt(dir.Sub("events")));
  Recorder rec;
  l->AppendAsync({}, rec.Done(*l));
  Ledger::Command garbage{"not an envelope", std::nullopt};
  l->AppendAsync({garbage}, rec.Done(*l));
  // Both were answered before AppendAsync returned: no waiting.
  REQUIRE(rec.count() == 2);
  const std::vector<Seen> seen = rec.Wait(2);
  CHECK(seen[0].status.Is(Status::Code::kInvalidArgument));
  CHECK_FALSE(seen[1].status.ok());
  CHECK(seen[0].thread == std::this_thread::get_id());
  CHECK(seen[1].thread == std::this_thread::get_id());
  CHECK(l->LastSeq() == 0);
}

TEST_CASE("ledger: AppendAsync answers busy on a full queue, and the queued batches still land", "[ledger]") {
  test::TempDir dir;
  GateHook gate;
  LedgerOptions o = test::LedgerAt(dir.Sub("events"), &gate);
  o.queue_commands_max = 2;
  auto l = OpenLedger(o);
  Recorder rec;
  l->AppendAsync({test::Consent(1, "gate")}, rec.Done(*l));
  gate.WaitEntered();  // the writer holds the first batch; the queue is empty
  l->AppendAsync({test::Consent(1, "q1")}, rec.Done(*l));
  l->AppendAsync({test::Consent(1, "q2")}, rec.Done(*l));
  l->AppendAsync({test::Consent(1, "over")}, rec.Done(*l));
  REQUIRE(rec.count() == 1);  // the third one only, at once
  CHECK(rec.Wait(1)[0].status.Is(Status::Code::kBusy));
  gate.Open();
  const std::vector<Seen> seen = rec.Wait(4);
  for (size_t i = 1; i < 4; ++i) CHECK(seen[i].status.ok());
  CHECK(l->LastSeq() == 3);
  uint64_t seq = 0;
  CHECK(l->LookupRequest("over", &seq).Is(Status::Code::kNotFound));
}

TEST_CASE("ledger: Close answers every queued AppendAsync before it returns", "[ledger]") {
  test::TempDir dir;
  GateHook gate;
  auto l = OpenLedger(test::LedgerAt(dir.Sub("events"), &gate));
  Recorder rec;
  l->AppendAsync({test::Consent(1, "gate")}, rec.Done(*l));
  gate.WaitEntered();
  for (size_t i = 0; i < 10; ++i) l->AppendAsync({test::Consent(2, Rid("c", i))}, rec.Done(*l));
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    gate.Open();
  });
  REQUIRE(l->Close().ok());
  opener.join();
  CHECK(rec.count() == 11);
  for (const Seen& s : rec.Wait(11)) CHECK(s.status.ok());
  // After Close an append is refused, answered at once.
  l->AppendAsync({test::Consent(3, "late")}, rec.Done(*l));
  REQUIRE(rec.count() == 12);
  CHECK_FALSE(rec.Wait(12)[11].status.ok());
}

TEST_CASE("accounts: a Done form calls done once, or refuses without calling it", "[accounts]") {
  test::AccountsFixture f;
  Accounts* a = &f.a();
  RegisterResult reg;
  REQUIRE(a->Register(test::Reg("ann@example.org"), &reg).ok());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<Status, Receipt>> answers;
  auto done = [&](Status s, Receipt r) {
    std::lock_guard<std::mutex> l(mu);
    answers.emplace_back(std::move(s), r);
    cv.notify_all();
  };
  // A refusal on the caller's side: the status is returned, done never runs.
  Status refused = a->GiveConsent(reg.account_id + 100, fb::Purpose::Surveys, {}, ReceiptDone(done));
  CHECK(refused.Is(Status::Code::kNotFound));
  // A touch of a day already on record needs no append: answered at once.
  Status touched = a->Touch(reg.account_id, {}, ReceiptDone(done));
  REQUIRE(touched.ok());
  {
    std::lock_guard<std::mutex> g(mu);
    REQUIRE(answers.size() == 1);
    CHECK(answers[0].first.ok());
    CHECK(answers[0].second.seq == 0);
    answers.clear();
  }
  Status started = a->GiveConsent(reg.account_id, fb::Purpose::Surveys, {}, ReceiptDone(done));
  REQUIRE(started.ok());
  std::unique_lock<std::mutex> l(mu);
  cv.wait(l, [&] { return !answers.empty(); });
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].first.ok());
  CHECK(answers[0].second.seq > reg.seq);
  CHECK_FALSE(answers[0].second.duplicate);
}

}  // namespace
}  // namespace accountable
