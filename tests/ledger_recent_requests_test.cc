// The writer's idempotency check without a RocksDB read
// (Ledger::Command::absent_through_seq, fresh_request_id): a command whose
// caller found its request id absent as of some seq is checked against the
// events after that seq in memory, and against RocksDB once they are no
// longer all in the window. Whatever path answers, a duplicate is a
// duplicate and a reused id is refused; LedgerStats::request_id_reads shows
// which path answered.
#include <catch2/catch.hpp>

#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "core/ledger.h"
#include "core/stats.h"
#include "tests/ledger_fixture.h"
#include "tests/test_util.h"
#include "tests/writer_gate.h"

namespace accountable {
namespace {

using test::AppendOne;
using test::OpenLedger;

constexpr size_t kWindow = 4;

// The command a caller sends after LookupRequest found rid absent at `through`.
Ledger::Command Checked(const std::string& rid, uint64_t through) {
  Ledger::Command c = test::Consent(7, rid);
  c.absent_through_seq = through;
  return c;
}

uint64_t Reads(const LedgerStats& st) { return st.request_id_reads.load(); }

struct Fixture {
  test::TempDir dir;
  LedgerStats stats;
  std::unique_ptr<Ledger> l;
  explicit Fixture(size_t window) {
    LedgerOptions o = test::LedgerAt(dir.Sub("events"));
    o.recent_request_ids_max = window;
    o.stats = &stats;
    l = OpenLedger(o);
    AppendOne(*l, test::Consent(7, "first"));  // seq 1: a caller's lookup sees a ledger of 1 event or more
  }
};

TEST_CASE("ledger: an id appended after the caller's lookup is a duplicate, answered from memory", "[ledger]") {
  Fixture f(kWindow);
  const uint64_t through = f.l->LastSeq();
  uint64_t seq = 0;
  REQUIRE(f.l->LookupRequest("r", &seq).Is(Status::Code::kNotFound));
  const Ledger::Appended first = AppendOne(*f.l, Checked("r", through));  // the first send
  CHECK_FALSE(first.duplicate);
  const uint64_t reads = Reads(f.stats);
  // A resend checked before the first landed: only the window can know.
  const Ledger::Appended again = AppendOne(*f.l, Checked("r", through));
  CHECK(again.duplicate);
  CHECK(again.seq == first.seq);
  // The window said "maybe": the stored digest decides, from RocksDB.
  CHECK(Reads(f.stats) == reads + 1);
  Ledger::Command other = Checked("r", through);
  other.content_digest = "other content";
  std::vector<Ledger::Appended> out;
  CHECK(f.l->Append({std::move(other)}, &out).Is(Status::Code::kRequestReused));
  // A new id, checked now: appended without any read.
  const uint64_t before_new = Reads(f.stats);
  CHECK_FALSE(AppendOne(*f.l, Checked("new", f.l->LastSeq())).duplicate);
  CHECK(Reads(f.stats) == before_new);
  CHECK(f.l->LastSeq() == 3);
  REQUIRE(f.l->Close().ok());
}

TEST_CASE("ledger: a lookup older than the window is checked in RocksDB", "[ledger]") {
  Fixture f(kWindow);
  const uint64_t through = f.l->LastSeq();
  const Ledger::Appended first = AppendOne(*f.l, test::Consent(7, "q"));
  for (size_t i = 0; i <= kWindow; ++i) AppendOne(*f.l, test::Consent(7, test::Name("fill", i)));
  const uint64_t reads = Reads(f.stats);
  const Ledger::Appended again = AppendOne(*f.l, Checked("q", through));  // "q" has left the window
  CHECK(again.duplicate);
  CHECK(again.seq == first.seq);
  CHECK(Reads(f.stats) == reads + 1);
  // An absent id checked that long ago is read too, and appended.
  CHECK_FALSE(AppendOne(*f.l, Checked("absent", through)).duplicate);
  CHECK(Reads(f.stats) == reads + 2);
  REQUIRE(f.l->Close().ok());
}

TEST_CASE("ledger: the window covers a lookup exactly until the event after it is evicted", "[ledger]") {
  Fixture f(kWindow);  // seq 1 is in the window
  const uint64_t through = f.l->LastSeq();
  for (size_t i = 0; i < kWindow; ++i) AppendOne(*f.l, test::Consent(7, test::Name("fill", i)));
  // Seq 1 was evicted; every event after `through` is still in the window.
  const uint64_t reads = Reads(f.stats);
  CHECK_FALSE(AppendOne(*f.l, Checked("absent 1", through)).duplicate);
  CHECK(Reads(f.stats) == reads);
  // That append evicted seq 2, the first event after `through`.
  CHECK_FALSE(AppendOne(*f.l, Checked("absent 2", through)).duplicate);
  CHECK(Reads(f.stats) == reads + 1);
  REQUIRE(f.l->Close().ok());
}

TEST_CASE("ledger: without a window, or without a lookup, every id is read", "[ledger]") {
  for (size_t window : {size_t{0}, kWindow}) {
    INFO("window " << window);
    Fixture f(window);
    const uint64_t through = f.l->LastSeq();
    const Ledger::Appended first = AppendOne(*f.l, test::Consent(7, "r"));
    const uint64_t reads = Reads(f.stats);
    CHECK(AppendOne(*f.l, Checked("r", through)).seq == first.seq);
    CHECK(AppendOne(*f.l, Checked("r", 0)).duplicate);  // 0: the caller did not look
    CHECK(Reads(f.stats) == reads + 2);
    Ledger::Command fresh = test::Consent(7, "drawn at random");
    fresh.fresh_request_id = true;
    CHECK_FALSE(AppendOne(*f.l, std::move(fresh)).duplicate);
    CHECK(Reads(f.stats) == reads + 2);
    REQUIRE(f.l->Close().ok());
  }
}

// Queues batch without waiting; the future holds its outcome.
std::future<std::pair<Status, std::vector<Ledger::Appended>>> Queue(Ledger& l, std::vector<Ledger::Command> batch) {
  auto done = std::make_shared<std::promise<std::pair<Status, std::vector<Ledger::Appended>>>>();
  auto f = done->get_future();
  l.AppendAsync(std::move(batch), [done](Status s, std::vector<Ledger::Appended> r) {
    done->set_value({std::move(s), std::move(r)});
  });
  return f;
}

TEST_CASE("ledger: a batch refused inside a group leaves none of its ids in the window", "[ledger]") {
  test::TempDir dir;
  LedgerStats stats;
  auto gate = std::make_shared<test::WriterGate>();
  LedgerOptions o = test::LedgerAt(dir.Sub("events"));
  o.recent_request_ids_max = 64;
  o.stats = &stats;
  o.on_commit = gate->Hook();
  auto l = OpenLedger(o);
  test::WriterGate::OpenOnExit guard{gate.get()};
  AppendOne(*l, test::Consent(7, "first"));
  const uint64_t through = l->LastSeq();
  gate->Arm();
  auto held = Queue(*l, {test::Consent(7, "hold")});
  REQUIRE(gate->WaitStopped());  // the next three batches queue behind it: one group
  auto p = Queue(*l, {test::Consent(7, "p")});
  auto r = Queue(*l, {test::Consent(7, "r1"), test::Consent(7, "r2", 999)});  // r2's version conflicts
  auto q = Queue(*l, {test::Consent(7, "q")});
  gate->Open();
  REQUIRE(held.get().first.ok());
  const auto [ps, pr] = p.get();
  const auto [rs, rr] = r.get();
  const auto [qs, qr] = q.get();
  REQUIRE(ps.ok());
  CHECK(rs.Is(Status::Code::kConflict));
  REQUIRE(qs.ok());
  CHECK(qr[0].seq == pr[0].seq + 1);  // the refused batch took no seq
  const uint64_t reads = Reads(stats);
  CHECK(AppendOne(*l, Checked("q", through)).seq == qr[0].seq);  // in the window at its own seq
  CHECK(AppendOne(*l, Checked("p", through)).seq == pr[0].seq);
  CHECK(Reads(stats) == reads + 2);
  CHECK_FALSE(AppendOne(*l, Checked("r1", through)).duplicate);  // refused, so never in the window
  CHECK(Reads(stats) == reads + 2);
  REQUIRE(l->Close().ok());
}

TEST_CASE("ledger: the window starts empty after a reopen", "[ledger]") {
  test::TempDir dir;
  LedgerStats stats;
  LedgerOptions o = test::LedgerAt(dir.Sub("events"));
  o.recent_request_ids_max = kWindow;
  o.stats = &stats;
  uint64_t through = 0, first_seq = 0;
  {
    auto l = OpenLedger(o);
    AppendOne(*l, test::Consent(7, "first"));
    through = l->LastSeq();
    first_seq = AppendOne(*l, test::Consent(7, "r")).seq;
    REQUIRE(l->Close().ok());
  }
  auto l = OpenLedger(o);
  const uint64_t reads = Reads(stats);
  const Ledger::Appended again = AppendOne(*l, Checked("r", through));  // before the reopen: RocksDB
  CHECK(again.duplicate);
  CHECK(again.seq == first_seq);
  CHECK(Reads(stats) == reads + 1);
  REQUIRE(l->Close().ok());
}

}  // namespace
}  // namespace accountable
