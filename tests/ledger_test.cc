// Ledger: append and read, idempotency, expected versions, batch atomicity,
// group commit under many threads, the directory lock, and hook refusals.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/coding.h"
#include "core/ledger.h"
#include "tests/ledger_fixture.h"
#include "tests/test_util.h"

namespace accountable {
namespace {

using Batch = std::vector<Ledger::Command>;

using test::AppendOne;
using test::OpenLedger;

events::EventView ParseStored(const Ledger::Stored& st) {
  events::EventView v;
  REQUIRE(events::EventView::Parse(st.envelope, &v).ok());
  CHECK(v.envelope()->seq() == st.seq);
  return v;
}

bool Missing(Ledger& l, const std::string& rid) {
  uint64_t seq = 0;
  return l.LookupRequest(rid, &seq).Is(Status::Code::kNotFound);
}

// Test hook: counts applied events in Cf::kMeta "count" through the group's
// own reads, records "rid/<request id>" in Cf::kAccounts, logs the group
// time of every call, refuses request ids starting with "refuse" (after
// writing), and can hold the writer on a request id "gate".
class TestHook final : public AppendHook {
 public:
  Status Apply(const events::EventView& e, GroupTx& tx) override {
    const std::string rid = e.envelope()->request_id()->str();
    Log(rid, e.envelope()->recorded_at_ms());
    if (rid == "gate") WaitGate();
    std::string v;
    Status gs = tx.Get(Cf::kMeta, "count", &v);
    if (!gs.ok() && !gs.Is(Status::Code::kNotFound)) return gs;
    tx.Put(Cf::kMeta, "count", EncodeBE64(gs.ok() ? DecodeBE64(v) + 1 : 1));
    tx.Put(Cf::kAccounts, "rid/" + rid, EncodeBE64(e.envelope()->seq()));
    if (rid.starts_with("refuse")) return Status::Refused("test hook refuses " + rid);
    return Status::OK();
  }

  void CloseGate() { std::lock_guard<std::mutex> l(mu_); gate_open_ = false; entered_ = false; }
  void OpenGate() { std::lock_guard<std::mutex> l(mu_); gate_open_ = true; cv_.notify_all(); }
  void WaitEntered() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return entered_; });
  }
  int64_t GroupTime(const std::string& rid) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = times_.find(rid);
    return it == times_.end() ? -1 : it->second;
  }

 private:
  void Log(const std::string& rid, int64_t t) { std::lock_guard<std::mutex> l(mu_); times_[rid] = t; }
  void WaitGate() {
    std::unique_lock<std::mutex> l(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(l, [&] { return gate_open_; });
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool gate_open_ = true, entered_ = false;
  std::map<std::string, int64_t> times_;
};

uint64_t HookCount(Ledger& l) {
  std::string v;
  REQUIRE(l.Get(Cf::kMeta, "count", &v).ok());
  return DecodeBE64(v);
}

struct Outcome {
  Status status;
  std::vector<Ledger::Appended> results;
};

// Holds the writer inside the hook, queues every batch from its own thread,
// waits settle_ms for them to queue, then releases the writer. Whatever the
// grouping turns out to be, each batch's outcome must be the same. (Catch2
// assertions are not thread-safe: threads only record, the caller checks.)
std::vector<Outcome> AppendBehindGate(Ledger& l, TestHook& hook, std::vector<Batch> batches,
                                      int settle_ms) {
  hook.CloseGate();
  Status gate_status;
  std::thread gate([&] {
    std::vector<Ledger::Appended> res;
    gate_status = l.Append({test::Consent(999, "gate")}, &res);
  });
  hook.WaitEntered();
  std::vector<Outcome> out(batches.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < batches.size(); ++i)
    threads.emplace_back([&, i] { out[i].status = l.Append(std::move(batches[i]), &out[i].results); });
  std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms));
  hook.OpenGate();
  gate.join();
  for (auto& t : threads) t.join();
  CHECK(gate_status.ok());
  return out;
}

TEST_CASE("ledger: a new ledger is empty", "[ledger]") {
  test::TempDir dir;
  auto l = OpenLedger(test::LedgerAt(dir.Sub("events")));
  CHECK(l->LastSeq() == 0);
  std::vector<Ledger::Stored> got;
  REQUIRE(l->ReadRange(1, 10, &got).ok());
  CHECK(got.empty());
  REQUIRE(l->ReadStream(1, 1, 10, &got).ok());
  CHECK(got.empty());
  CHECK(l->StreamVersion(1) == 0);
  CHECK(Missing(*l, "nothing"));
}

TEST_CASE("ledger: append assigns seqs and versions and reads them back", "[ledger]") {
  test::TempDir dir;
  auto l = OpenLedger(test::LedgerAt(dir.Sub("events")));
  auto a = AppendOne(*l, test::Consent(7, "r1"));
  auto b = AppendOne(*l, test::Consent(8, "r2"));
  auto c = AppendOne(*l, {test::AccessRequestedEnvelope(7, "r3"), std::nullopt});
  auto d = AppendOne(*l, {test::AccessRequestedEnvelope(0, "r4"), std::nullopt});
  CHECK(a.seq == 1);
  CHECK(b.seq == 2);
  CHECK(c.seq == 3);
  CHECK(d.seq == 4);
  CHECK(a.version == 1);
  CHECK(b.version == 1);
  CHECK(c.version == 2);
  CHECK(d.version == 0);
  CHECK_FALSE(a.duplicate);
  CHECK_FALSE(b.duplicate);
  CHECK_FALSE(c.duplicate);
  CHECK_FALSE(d.duplicate);
  CHECK(l->LastSeq() == 4);
  CHECK(l->StreamVersion(7) == 2);
  CHECK(l->StreamVersion(8) == 1);

  std::vector<Ledger::Stored> all;
  REQUIRE(l->ReadRange(1, 100, &all).ok());
  REQUIRE(all.size() == 4);
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].seq == i + 1);
    auto v = ParseStored(all[i]);
    CHECK(v.envelope()->request_id()->str() == test::Name("r", i + 1));
    CHECK(v.envelope()->recorded_at_ms() > test::kTestTimeMs);
    CHECK(v.envelope()->occurred_at_ms() == test::kTestTimeMs);
  }
  std::vector<Ledger::Stored> page;
  REQUIRE(l->ReadRange(2, 2, &page).ok());
  REQUIRE(page.size() == 2);
  CHECK(page[0].seq == 2);
  CHECK(page[1].seq == 3);
  REQUIRE(l->ReadRange(5, 10, &page).ok());
  CHECK(page.empty());
  REQUIRE(l->ReadRange(1, 0, &page).ok());
  CHECK(page.empty());

  std::vector<Ledger::Stored> stream;
  REQUIRE(l->ReadStream(7, 1, 100, &stream).ok());
  REQUIRE(stream.size() == 2);
  CHECK(stream[0].seq == 1);
  CHECK(stream[1].seq == 3);
  CHECK(ParseStored(stream[1]).type() == fb::Payload::AccessRequested);
  REQUIRE(l->ReadStream(7, 2, 100, &stream).ok());
  REQUIRE(stream.size() == 1);
  CHECK(stream[0].seq == 3);
  REQUIRE(l->ReadStream(7, 1, 1, &stream).ok());
  CHECK(stream.size() == 1);
  REQUIRE(l->ReadStream(9, 1, 100, &stream).ok());
  CHECK(stream.empty());
  uint64_t seq = 0;
  REQUIRE(l->LookupRequest("r3", &seq).ok());
  CHECK(seq == 3);
}

TEST_CASE("ledger: invalid commands are refused before anything is appended", "[ledger]") {
  test::TempDir dir;
  LedgerOptions o = test::LedgerAt(dir.Sub("events"));
  o.batch_commands_max = 4;
  auto l = OpenLedger(o);
  std::vector<Ledger::Appended> out;
  auto append = [&](Batch b) { return l->Append(std::move(b), &out).code(); };
  CHECK(append({}) == Status::Code::kInvalidArgument);
  CHECK(append({{"not a flatbuffer", std::nullopt}}) == Status::Code::kCorruption);
  CHECK(append({test::Consent(1, "")}) == Status::Code::kInvalidArgument);
  CHECK(append({test::Consent(1, std::string(events::kRequestIdBytesMax + 1, 'r'))}) ==
        Status::Code::kInvalidArgument);
  CHECK(append({{test::AccessRequestedEnvelope(0, "no-account"), 0}}) ==
        Status::Code::kInvalidArgument);
  CHECK(append(Batch(5, test::Consent(1, "big"))) == Status::Code::kInvalidArgument);
  // A valid command next to an invalid one is not appended either.
  CHECK(append({test::Consent(1, "fine"), {"junk", std::nullopt}}) == Status::Code::kCorruption);
  CHECK(l->LastSeq() == 0);
  CHECK(Missing(*l, "fine"));
  CHECK(AppendOne(*l, test::Consent(1, std::string(events::kRequestIdBytesMax, 'r'))).seq == 1);
}

TEST_CASE("ledger: an envelope without sequence fields is refused", "[ledger]") {
  // Not made by EnvelopeBuilder: seq and recorded_at are absent, so the
  // writer cannot stamp them; storing it would record seq 0.
  flatbuffers::FlatBufferBuilder fbb;
  auto payload = fb::CreateAccessRequested(fbb, fb::AccessChannel::Admin);
  auto env = fb::CreateEnvelope(fbb, 0, 5, test::kTestTimeMs, 0, fb::Actor::Admin,
                                fbb.CreateString("raw"), fbb.CreateString("1.01"),
                                fb::Payload::AccessRequested, payload.Union());
  fb::FinishEnvelopeBuffer(fbb, env);
  std::string raw(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());

  test::TempDir dir;
  auto l = OpenLedger(test::LedgerAt(dir.Sub("events")));
  std::vector<Ledger::Appended> out;
  Status s = l->Append({{raw, std::nullopt}}, &out);
  CHECK(s.Is(Status::Code::kInvalidArgument));
  CHECK(l->LastSeq() == 0);
  CHECK(Missing(*l, "raw"));
}

TEST_CASE("ledger: a repeated request id returns the original seq", "[ledger][idempotency]") {
  test::TempDir dir;
  const std::string path = dir.Sub("events");
  {
    auto l = OpenLedger(test::LedgerAt(path));
    auto first = AppendOne(*l, test::Consent(5, "same", 0));
    AppendOne(*l, test::Consent(6, "other"));
    // A retry with the same expected version is a duplicate, not a conflict.
    auto again = AppendOne(*l, test::Consent(5, "same", 0));
    CHECK(again.duplicate);
    CHECK(again.seq == first.seq);
    // A different event under the same request id is not appended either.
    auto changed = AppendOne(*l, {test::AccessRequestedEnvelope(9, "same"), std::nullopt});
    CHECK(changed.duplicate);
    CHECK(changed.seq == first.seq);
    CHECK(l->LastSeq() == 2);
    CHECK(l->StreamVersion(5) == 1);
    CHECK(l->StreamVersion(9) == 0);
    REQUIRE(l->Close().ok());
  }
  auto l = OpenLedger(test::LedgerAt(path));
  auto after = AppendOne(*l, test::Consent(5, "same", 0));
  CHECK(after.duplicate);
  CHECK(after.seq == 1);
  CHECK(l->LastSeq() == 2);
  std::vector<Ledger::Stored> stored;
  REQUIRE(l->ReadRange(1, 1, &stored).ok());
  REQUIRE(stored.size() == 1);
  CHECK(ParseStored(stored[0]).type() == fb::Payload::ConsentGiven);
}

TEST_CASE("ledger: a request id repeated inside one batch is appended once", "[ledger][idempotency]") {
  test::TempDir dir;
  auto l = OpenLedger(test::LedgerAt(dir.Sub("events")));
  std::vector<Ledger::Appended> out;
  REQUIRE(l->Append({test::Consent(3, "x"), test::Consent(3, "y"), test::Consent(3, "x")}, &out).ok());
  REQUIRE(out.size() == 3);
  CHECK(out[0].seq == 1);
  CHECK_FALSE(out[0].duplicate);
  CHECK(out[1].seq == 2);
  CHECK_FALSE(out[1].duplicate);
  CHECK(out[2].seq == 1);
  CHECK(out[2].duplicate);
  CHECK(l->LastSeq() == 2);
  CHECK(l->StreamVersion(3) == 2);
}

TEST_CASE("ledger: state survives close and reopen", "[ledger]") {
  test::TempDir dir;
  const std::string path = dir.Sub("events");
  std::vector<Ledger::Stored> before;
  {
    auto l = OpenLedger(test::LedgerAt(path));
    for (int i = 0; i < 10; ++i) AppendOne(*l, test::Consent(1 + i % 3, test::Name("r", i)));
    REQUIRE(l->ReadRange(1, 100, &before).ok());
    REQUIRE(l->Close().ok());
    CHECK(l->Close().ok());  // idempotent
    std::vector<Ledger::Appended> out;
    CHECK(l->Append({test::Consent(1, "late")}, &out).Is(Status::Code::kIOError));
  }
  auto l = OpenLedger(test::LedgerAt(path));
  CHECK(l->LastSeq() == 10);
  CHECK(l->StreamVersion(1) == 4);
  CHECK(l->StreamVersion(2) == 3);
  CHECK(l->StreamVersion(3) == 3);
  std::vector<Ledger::Stored> after;
  REQUIRE(l->ReadRange(1, 100, &after).ok());
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i].seq == before[i].seq);
    CHECK(after[i].envelope == before[i].envelope);
  }
  auto next = AppendOne(*l, test::Consent(1, "next", 4));
  CHECK(next.seq == 11);
  CHECK(next.version == 5);
}

TEST_CASE("ledger: recorded_at never goes back, even when the clock does, across a reopen", "[ledger][time]") {
  test::TempDir dir;
  const std::string path = dir.Sub("events");
  auto clock = std::make_shared<std::atomic<int64_t>>(test::kTestTimeMs);
  auto at = [&](Ledger& l, uint64_t seq) {
    std::vector<Ledger::Stored> one;
    REQUIRE(l.ReadRange(seq, 1, &one).ok());
    events::EventView v;
    REQUIRE(events::EventView::Parse(one.at(0).envelope, &v).ok());
    return v.envelope()->recorded_at_ms();
  };
  LedgerOptions o = test::LedgerAt(path);
  o.clock_ms = [clock] { return clock->load(); };
  {
    auto l = OpenLedger(o);
    AppendOne(*l, test::Consent(1, "t1"));
    clock->fetch_sub(60'000);  // NTP steps the clock back a minute
    AppendOne(*l, test::Consent(1, "t2"));
    CHECK(at(*l, 2) == test::kTestTimeMs);
    REQUIRE(l->Close().ok());
  }
  auto l = OpenLedger(o);
  AppendOne(*l, test::Consent(1, "t3"));
  CHECK(at(*l, 3) == test::kTestTimeMs);
  clock->store(test::kTestTimeMs + 5);
  AppendOne(*l, test::Consent(1, "t4"));
  CHECK(at(*l, 4) == test::kTestTimeMs + 5);  // and follows the clock again once it is ahead
}

TEST_CASE("ledger: expected versions are enforced", "[ledger][version]") {
  test::TempDir dir;
  auto l = OpenLedger(test::LedgerAt(dir.Sub("events")));
  CHECK(AppendOne(*l, test::Consent(1, "a", 0)).version == 1);
  CHECK(AppendOne(*l, test::Consent(1, "b", 1)).version == 2);
  std::vector<Ledger::Appended> out;
  for (uint64_t wrong : {0, 1, 3, 100}) {
    Status s = l->Append({test::Consent(1, test::Name("c", wrong), wrong)}, &out);
    CHECK(s.Is(Status::Code::kConflict));
    CHECK(s.message().find("version 2") != std::string::npos);
    CHECK(Missing(*l, test::Name("c", wrong)));
  }
  CHECK(l->LastSeq() == 2);
  CHECK(l->StreamVersion(1) == 2);
  CHECK(AppendOne(*l, test::Consent(1, "c", 2)).version == 3);
  CHECK(AppendOne(*l, test::Consent(2, "d", 0)).version == 1);
}

TEST_CASE("ledger: a batch is all or nothing", "[ledger][version]") {
  test::TempDir dir;
  TestHook hook;
  auto l = OpenLedger(test::LedgerAt(dir.Sub("events"), &hook));
  AppendOne(*l, test::Consent(3, "pre", 0));
  std::vector<Ledger::Appended> out;
  // Versions chain inside a batch: the second command sees the first.
  Status s = l->Append({test::Consent(1, "p", 0), test::Consent(2, "q"), test::Consent(3, "z", 0)}, &out);
  CHECK(s.Is(Status::Code::kConflict));
  CHECK(out.empty());
  CHECK(l->LastSeq() == 1);
  CHECK(l->StreamVersion(1) == 0);
  CHECK(l->StreamVersion(2) == 0);
  CHECK(Missing(*l, "p"));
  CHECK(Missing(*l, "q"));
  CHECK(Missing(*l, "z"));
  std::string row;
  CHECK(l->Get(Cf::kAccounts, "rid/p", &row).Is(Status::Code::kNotFound));
  CHECK(HookCount(*l) == 1);

  REQUIRE(l->Append({test::Consent(1, "p", 0), test::Consent(1, "p2", 1), test::Consent(2, "q")}, &out).ok());
  REQUIRE(out.size() == 3);
  CHECK(out[0].seq == 2);
  CHECK(out[1].seq == 3);
  CHECK(out[2].seq == 4);
  CHECK(out[0].version == 1);
  CHECK(out[1].version == 2);
  CHECK(out[2].version == 1);
  CHECK(l->Append({test::Consent(4, "r", 0), test::Consent(4, "s", 0)}, &out).Is(Status::Code::kConflict));
  CHECK(l->StreamVersion(4) == 0);
  CHECK(HookCount(*l) == l->LastSeq());
}

// One attempt of the grouped-conflict scenario; returns whether every batch
// landed in the same group (only then does it prove group isolation).
bool ConflictInGroup(int settle_ms) {
  test::TempDir dir;
  TestHook hook;
  auto l = OpenLedger(test::LedgerAt(dir.Sub("events"), &hook));
  AppendOne(*l, test::Consent(1, "v1"));
  AppendOne(*l, test::Consent(1, "v2"));
  std::vector<Batch> batches;
  batches.push_back({test::Consent(2, "a1")});
  batches.push_back({test::Consent(3, "b1"), test::Consent(1, "b2", 5)});
  batches.push_back({test::Consent(1, "c1", 2)});
  batches.push_back({test::Consent(4, "d1"), test::Consent(4, "d2", 1)});
  auto out = AppendBehindGate(*l, hook, std::move(batches), settle_ms);
  CHECK(out[0].status.ok());
  CHECK(out[1].status.Is(Status::Code::kConflict));
  CHECK(out[2].status.ok());
  CHECK(out[3].status.ok());
  CHECK(Missing(*l, "b1"));
  CHECK(Missing(*l, "b2"));
  CHECK(l->StreamVersion(3) == 0);
  CHECK(l->StreamVersion(1) == 3);
  CHECK(l->StreamVersion(4) == 2);
  CHECK(l->LastSeq() == 7);  // 2 + gate + a1 + c1 + d1 + d2
  std::string row;
  CHECK(l->Get(Cf::kAccounts, "rid/b1", &row).Is(Status::Code::kNotFound));
  CHECK(HookCount(*l) == l->LastSeq());
  std::set<uint64_t> seqs;
  for (size_t i : {0, 2, 3})
    for (auto& r : out[i].results) seqs.insert(r.seq);
  CHECK(seqs == std::set<uint64_t>{4, 5, 6, 7});
  const int64_t t = hook.GroupTime("a1");
  return t == hook.GroupTime("b1") && t == hook.GroupTime("c1") && t == hook.GroupTime("d1");
}

TEST_CASE("ledger: a conflict refuses only its own batch within a group", "[ledger][version]") {
  bool grouped = false;
  for (int settle_ms = 20; !grouped && settle_ms <= 1280; settle_ms *= 2) grouped = ConflictInGroup(settle_ms);
  CHECK(grouped);
}

bool RefusalInGroup(int settle_ms) {
  test::TempDir dir;
  TestHook hook;
  auto l = OpenLedger(test::LedgerAt(dir.Sub("events"), &hook));
  std::vector<Batch> batches;
  batches.push_back({test::Consent(2, "a")});
  batches.push_back({test::Consent(3, "r-ok"), test::Consent(3, "refuse-1")});
  batches.push_back({test::Consent(3, "c")});
  auto out = AppendBehindGate(*l, hook, std::move(batches), settle_ms);
  CHECK(out[0].status.ok());
  CHECK(out[1].status.Is(Status::Code::kRefused));
  CHECK(out[1].status.message() == "test hook refuses refuse-1");
  REQUIRE(out[2].status.ok());
  CHECK(out[2].results[0].version == 1);  // r-ok's version was rolled back too
  CHECK(l->LastSeq() == 3);               // gate, a, c
  CHECK(l->StreamVersion(3) == 1);
  CHECK(Missing(*l, "r-ok"));
  CHECK(Missing(*l, "refuse-1"));
  std::string row;
  CHECK(l->Get(Cf::kAccounts, "rid/r-ok", &row).Is(Status::Code::kNotFound));
  CHECK(l->Get(Cf::kAccounts, "rid/refuse-1", &row).Is(Status::Code::kNotFound));
  REQUIRE(l->Get(Cf::kAccounts, "rid/c", &row).ok());
  CHECK(DecodeBE64(row) == out[2].results[0].seq);
  CHECK(HookCount(*l) == 3);
  std::vector<Ledger::Stored> stream;
  REQUIRE(l->ReadStream(3, 1, 10, &stream).ok());
  REQUIRE(stream.size() == 1);
  CHECK(ParseStored(stream[0]).envelope()->request_id()->str() == "c");
  const int64_t t = hook.GroupTime("a");
  return t == hook.GroupTime("refuse-1") && t == hook.GroupTime("c");
}

TEST_CASE("ledger: a hook refusal rolls back only that batch", "[ledger][hook]") {
  bool grouped = false;
  for (int settle_ms = 20; !grouped && settle_ms <= 1280; settle_ms *= 2) grouped = RefusalInGroup(settle_ms);
  CHECK(grouped);
}

struct ThreadResult {
  uint64_t account;
  std::string rid;
  Status status;
  Ledger::Appended appended;
};

std::vector<ThreadResult> AppendFromThreads(Ledger& l, int threads, int per_thread) {
  std::vector<std::vector<ThreadResult>> per(threads);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&l, &per, t, per_thread] {
      for (int i = 0; i < per_thread; ++i) {
        const uint64_t account = i % 10 == 9 ? 0 : 1 + (t + i) % 5;
        const std::string rid = test::Name(test::Name("t", t) + "-", i);
        std::vector<Ledger::Appended> out;
        Status s = l.Append({account ? test::Consent(account, rid)
                                     : Ledger::Command{test::AccessRequestedEnvelope(0, rid), {}}},
                            &out);
        per[t].push_back({account, rid, s, out.empty() ? Ledger::Appended{} : out[0]});
      }
    });
  }
  for (auto& t : ts) t.join();
  std::vector<ThreadResult> all;
  for (auto& p : per) all.insert(all.end(), p.begin(), p.end());
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.appended.seq < b.appended.seq; });
  return all;
}

TEST_CASE("ledger: group commit from many threads keeps seqs and versions contiguous", "[ledger][group]") {
  test::TempDir dir;
  auto l = OpenLedger(test::LedgerAt(dir.Sub("events")));
  const auto all = AppendFromThreads(*l, 16, 200);
  const uint64_t n = all.size();
  REQUIRE(n == 3200);
  std::map<uint64_t, std::vector<uint64_t>> versions, stream_seqs;
  for (uint64_t i = 0; i < n; ++i) {
    INFO(all[i].rid << ": " << all[i].status.ToString());
    REQUIRE(all[i].status.ok());
    REQUIRE(all[i].appended.seq == i + 1);  // sorted: distinct and gap-free
    CHECK_FALSE(all[i].appended.duplicate);
    versions[all[i].account].push_back(all[i].appended.version);
    stream_seqs[all[i].account].push_back(all[i].appended.seq);
  }
  CHECK(l->LastSeq() == n);
  for (auto& [account, vs] : versions) {
    if (account == 0) continue;
    // In seq order, an account's versions are exactly 1..count.
    for (size_t i = 0; i < vs.size(); ++i) REQUIRE(vs[i] == i + 1);
    CHECK(l->StreamVersion(account) == vs.size());
    std::vector<Ledger::Stored> stream;
    REQUIRE(l->ReadStream(account, 1, n, &stream).ok());
    REQUIRE(stream.size() == vs.size());
    for (size_t i = 0; i < stream.size(); ++i) CHECK(stream[i].seq == stream_seqs[account][i]);
  }
  std::vector<Ledger::Stored> events;
  REQUIRE(l->ReadRange(1, n + 10, &events).ok());
  REQUIRE(events.size() == n);
  std::set<int64_t> group_times;
  for (uint64_t i = 0; i < n; ++i) {
    REQUIRE(events[i].seq == i + 1);
    auto v = ParseStored(events[i]);
    CHECK(v.envelope()->request_id()->str() == all[i].rid);
    CHECK(v.envelope()->account_id() == all[i].account);
    group_times.insert(v.envelope()->recorded_at_ms());
  }
  CHECK(group_times.size() < n);  // some groups held more than one command
}

TEST_CASE("ledger: a directory open in this process is busy", "[ledger][lock]") {
  test::TempDir dir;
  const std::string path = dir.Sub("events");
  auto first = OpenLedger(test::LedgerAt(path));
  AppendOne(*first, test::Consent(1, "r"));
  std::unique_ptr<Ledger> second;
  Status s = Ledger::Open(test::LedgerAt(path), &second);
  CHECK(s.Is(Status::Code::kBusy));
  CHECK(s.message().find(path) != std::string::npos);
  CHECK(s.message().find("already open") != std::string::npos);
  CHECK(second == nullptr);
  CHECK(first->LastSeq() == 1);  // the first one is unaffected
  AppendOne(*first, test::Consent(1, "r2"));
  first.reset();
  auto third = OpenLedger(test::LedgerAt(path));
  CHECK(third->LastSeq() == 2);
}

TEST_CASE("ledger: a directory open in another process is busy", "[ledger][lock]") {
  test::TempDir dir;
  const std::string path = dir.Sub("events");
  uint64_t printed_max = 0;
  {
    test::Child child({ACCOUNTABLE_APPEND_CHILD, path});
    test::LineReader reader(child.stdout_fd());
    std::vector<std::string> lines;
    for (int i = 0; i < 600 && lines.empty(); ++i) REQUIRE(reader.Poll(100, &lines));
    REQUIRE_FALSE(lines.empty());  // the child holds the ledger open
    std::unique_ptr<Ledger> l;
    Status s = Ledger::Open(test::LedgerAt(path), &l);
    CHECK(s.Is(Status::Code::kBusy));
    CHECK(s.message().find("already open") != std::string::npos);
    child.Kill();
    child.Wait();
    reader.Drain(&lines);
    for (auto& line : lines) printed_max = std::max<uint64_t>(printed_max, std::stoull(line));
  }
  auto l = OpenLedger(test::LedgerAt(path));  // the lock died with the process
  CHECK(l->LastSeq() >= printed_max);
}

}  // namespace
}  // namespace accountable
