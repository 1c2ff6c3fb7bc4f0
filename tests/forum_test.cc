// Issue 9, item 6: what the forum needs to honour the policy day to day.
// change-password (old password required for the holder, admin reset),
// touch (at most one ActivityRecorded per account and UTC day), retention due
// dates (inactive --within, sweep --dry-run) and retention notices. Every
// error path shows its error and that nothing was appended.
#include <catch2/catch.hpp>

#include <limits>
#include <random>
#include <thread>

#include "events/vocabulary.h"
#include "projections/fold/activity.h"
#include "projections/service/describe.h"
#include "tests/accounts_fixture.h"

namespace {

using namespace accountable;
using Code = Status::Code;
using test::kDayMs;

constexpr const char* kNewPassword = "a brand new secret";

using test::CountOf;

}  // namespace

TEST_CASE("forum: the holder changes the password with the old one", "[issue9][password]") {
  test::AccountsFixture f;
  uint64_t id = f.Register("pw@example.org");
  f.Advance(kDayMs);
  Receipt r;
  test::ExpectRefused(f, Code::kAuthFailed, "wrong password",
                      [&] { return f.a().ChangePassword(id, {"not my password", kNewPassword}, {}, &r); });
  test::ExpectRefused(f, Code::kInvalidArgument, "password",
                      [&] { return f.a().ChangePassword(id, {test::kFixturePassword, "short"}, {}, &r); });
  test::ExpectRefused(f, Code::kNotFound, "does not exist",
                      [&] { return f.a().ChangePassword(999, {test::kFixturePassword, kNewPassword}, {}, &r); });
  test::ExpectRefused(f, Code::kInvalidArgument, "old password",
                      [&] { return f.a().ChangePassword(id, {"", kNewPassword}, {}, &r); });
  REQUIRE(f.a().ChangePassword(id, {test::kFixturePassword, kNewPassword}, {}, &r).ok());
  CHECK(f.State(id).credential_seq == r.seq);
  CHECK(f.State(id).last_active_at_ms == f.now_ms());  // the holder's own act counts as activity
  CHECK(f.Login(id).code() == Code::kAuthFailed);
  CHECK(f.Login(id, kNewPassword).ok());
  // The sealed credential is the only copy: the event says nothing readable.
  std::vector<Ledger::Stored> ev;
  REQUIRE(f.a().ledger().ReadRange(r.seq, 1, &ev).ok());
  CHECK(ev[0].envelope.find(kNewPassword) == std::string::npos);
}

TEST_CASE("forum: a retried password change gets its first receipt, not wrong password", "[password][retry]") {
  test::AccountsFixture f;
  uint64_t id = f.Register("pw-retry@example.org");
  Context ctx;
  ctx.request_id = "change-1";
  Receipt first, again;
  REQUIRE(f.a().ChangePassword(id, {test::kFixturePassword, kNewPassword}, ctx, &first).ok());
  CHECK_FALSE(first.duplicate);
  const uint64_t last_seq = f.a().ledger().LastSeq();
  REQUIRE(f.a().ChangePassword(id, {test::kFixturePassword, kNewPassword}, ctx, &again).ok());
  CHECK(again.duplicate);
  CHECK(again.seq == first.seq);
  CHECK(f.a().ledger().LastSeq() == last_seq);
  test::ExpectRefused(f, Code::kRequestReused, "different request", [&] {
    return f.a().ChangePassword(id, {kNewPassword, "yet another secret"}, ctx, &again);
  });
  CHECK(f.Login(id, kNewPassword).ok());
}

TEST_CASE("forum: an admin resets a password without the old one; it is not holder activity", "[issue9][password]") {
  test::AccountsFixture f;
  uint64_t id = f.Register("reset@example.org");
  const int64_t registered = f.now_ms();
  f.Advance(kDayMs);
  Receipt r;
  REQUIRE(f.a().ChangePassword(id, {"", kNewPassword}, test::AdminCtx(), &r).ok());
  CHECK(f.State(id).last_active_at_ms == registered);
  CHECK(f.Login(id, kNewPassword).ok());
  Context system{fb::Actor::System};
  test::ExpectRefused(f, Code::kInvalidArgument, "only the holder or an admin",
                      [&] { return f.a().ChangePassword(id, {"", kNewPassword}, system, &r); });
}

TEST_CASE("forum: change-password is refused for pending and erased accounts", "[issue9][password]") {
  test::AccountsFixture f;
  uint64_t id = f.Register("pw-pending@example.org");
  Receipt r;
  REQUIRE(f.a().RequestDeletion(id, {}, &r).ok());
  test::ExpectRefused(f, Code::kRefused, "cancel it first",
                      [&] { return f.a().ChangePassword(id, {test::kFixturePassword, kNewPassword}, {}, &r); });
  f.Advance(f.a().grace_period_ms());
  SweepReport rep;
  REQUIRE(f.a().Sweep({}, &rep).ok());
  test::ExpectRefused(f, Code::kRefused, "was erased",
                      [&] { return f.a().ChangePassword(id, {"", kNewPassword}, test::AdminCtx(), &r); });
}

TEST_CASE("forum: touch records one activity per account and UTC day", "[issue9][touch]") {
  test::AccountsFixture f;
  f.SetNow(*events::ParseTime("2024-03-10T08:00:00Z"));
  uint64_t id = f.Register("touch@example.org");  // registration is the day's activity
  Receipt r;
  REQUIRE(f.a().Touch(id, {}, &r).ok());
  CHECK(r.seq == 0);
  f.SetNow(*events::ParseTime("2024-03-11T00:00:00Z"));
  REQUIRE(f.a().Touch(id, {}, &r).ok());
  REQUIRE(r.seq != 0);
  CHECK(f.State(id).last_active_at_ms == f.now_ms());
  f.SetNow(*events::ParseTime("2024-03-11T23:59:59Z"));
  const uint64_t before = f.LastSeq();
  REQUIRE(f.a().Touch(id, {}, &r).ok());
  CHECK(r.seq == 0);
  CHECK(f.LastSeq() == before);
  CHECK(CountOf(f.Types(id), fb::Payload::ActivityRecorded) == 1);
  std::vector<Ledger::Stored> ev;
  REQUIRE(f.a().ledger().ReadStream(id, 2, 1, &ev).ok());
  events::EventView v;
  REQUIRE(events::EventView::Parse(ev[0].envelope, &v).ok());
  REQUIRE(v.type() == fb::Payload::ActivityRecorded);
  CHECK(v.envelope()->payload_as_ActivityRecorded()->day() == 20240311u);
  CHECK(v.envelope()->actor() == fb::Actor::Holder);
  test::ExpectRefused(f, Code::kNotFound, "does not exist", [&] { return f.a().Touch(4242, {}, &r); });
  // The projector checks a crafted event too: its day must be its time's.
  f.SetNow(*events::ParseTime("2024-03-12T10:00:00Z"));
  test::ExpectRefused(f, Code::kInvalidArgument, "day does not match", [&] {
    events::EnvelopeBuilder b;
    auto p = fb::CreateActivityRecorded(b.fbb(), 20240311);
    std::vector<Ledger::Command> batch(1);
    batch[0].envelope = b.Finish({id, f.now_ms(), fb::Actor::Holder, "crafted-day", "1.01"},
                                 fb::Payload::ActivityRecorded, p.Union());
    std::vector<Ledger::Appended> res;
    return f.a().ledger().Append(std::move(batch), &res);
  });
}

TEST_CASE("forum: racing touches of one day append one event", "[issue9][touch]") {
  test::AccountsFixture f;
  uint64_t id = f.Register("race@example.org");
  f.Advance(kDayMs);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      Receipt r;
      if (!f.a().Touch(id, {}, &r).ok()) failures.fetch_add(1);
    });
  for (auto& t : threads) t.join();
  CHECK(failures.load() == 0);
  CHECK(CountOf(f.Types(id), fb::Payload::ActivityRecorded) == 1);
}

TEST_CASE("forum: an account in daily use through one long session is never erased", "[issue9][touch][retention]") {
  test::AccountsFixture f;
  const int64_t start_ms = f.now_ms();
  uint64_t used = f.Register("used@example.org");
  uint64_t idle = f.Register("idle@example.org");
  REQUIRE(f.Login(used).ok());  // one login, then only touches for four years
  Receipt r;
  for (int day = 1; day <= 4 * 365; day += 7) {
    f.SetNow(start_ms + day * kDayMs);
    REQUIRE(f.a().Touch(used, {}, &r).ok());
  }
  SweepReport rep;
  REQUIRE(f.a().Sweep({}, &rep).ok());
  REQUIRE(rep.erased.size() == 1);
  CHECK(rep.erased[0].account_id == idle);
  CHECK(f.State(used).status == AccountStatus::kActive);
  Receipt erased_touch;
  test::ExpectRefused(f, Code::kRefused, "was erased", [&] { return f.a().Touch(idle, {}, &erased_touch); });
}

TEST_CASE("forum: RetentionDueAt is the first instant the sweep erases", "[issue9][retention]") {
  std::mt19937_64 rng(9);
  std::uniform_int_distribution<int64_t> when(*events::ParseTime("1999-01-01"), *events::ParseTime("2060-01-01"));
  std::vector<int64_t> edges = {*events::ParseTime("2024-01-31T12:00:00Z"), *events::ParseTime("2024-02-29T23:59:59.999Z"),
                                *events::ParseTime("2023-12-31T23:59:59.999Z"), *events::ParseTime("2024-03-31T00:00:00Z"),
                                *events::ParseTime("2024-05-01T00:00:00Z") - 1};
  for (int i = 0; i < 2000; ++i) edges.push_back(when(rng));
  for (int64_t last : edges)
    for (int months : {1, 6, 12, 36, 37}) {
      const int64_t due = RetentionDueAt(last, months);
      INFO("last=" << events::FormatTime(last) << " months=" << months << " due=" << events::FormatTime(due));
      REQUIRE(MonthsBefore(due, months) > last);
      REQUIRE(MonthsBefore(due - 1, months) <= last);
    }
}

TEST_CASE("forum: retention due dates for inactive --within and sweep --dry-run", "[issue9][retention]") {
  test::AccountsFixture f;
  const int64_t now_ms = f.now_ms();
  uint64_t soon = f.RegisterAt("soon@example.org", MonthsBefore(now_ms, 36) + 5 * kDayMs);
  uint64_t later = f.RegisterAt("later@example.org", MonthsBefore(now_ms, 36) + 60 * kDayMs);
  uint64_t overdue = f.RegisterAt("overdue@example.org", MonthsBefore(now_ms, 37));
  uint64_t pending = f.RegisterAt("pending@example.org", MonthsBefore(now_ms, 36) + kDayMs);
  Receipt r;
  REQUIRE(f.a().RequestDeletion(pending, {}, &r).ok());  // erased by its deadline, not by retention
  std::vector<RetentionCandidate> due;
  bool truncated = true;
  REQUIRE(f.a().RetentionDue(now_ms + 30 * kDayMs, 36, &due, &truncated).ok());
  CHECK_FALSE(truncated);
  REQUIRE(due.size() == 2);
  CHECK(due[0].account_id == overdue);
  CHECK(due[1].account_id == soon);
  CHECK(due[1].due_at_ms == RetentionDueAt(f.State(soon).last_active_at_ms, 36));
  CHECK(due[1].due_at_ms > now_ms);
  CHECK(due[1].due_at_ms <= now_ms + 30 * kDayMs);
  REQUIRE(f.a().RetentionDue(now_ms + 90 * kDayMs, 36, &due, &truncated).ok());
  CHECK(due.size() == 3);
  CHECK(due[2].account_id == later);

  // The dry run says when each becomes due, and the sweep agrees to the millisecond.
  const int64_t soon_due = RetentionDueAt(f.State(soon).last_active_at_ms, 36);
  SweepReport dry;
  REQUIRE(f.a().Sweep({soon_due - 1, true}, &dry).ok());
  REQUIRE(dry.erased.size() == 2);  // overdue, and the pending deletion past its deadline
  for (const auto& e : dry.erased)
    if (e.account_id == overdue) CHECK(e.due_at_ms == RetentionDueAt(f.State(overdue).last_active_at_ms, 36));
  REQUIRE(f.a().Sweep({soon_due, true}, &dry).ok());
  bool listed = false;
  for (const auto& e : dry.erased)
    if (e.account_id == soon) listed = e.due_at_ms == soon_due && e.reason == "retention_inactive";
  CHECK(listed);
}

TEST_CASE("forum: a retention notice records the due date it warned of", "[issue9][retention]") {
  test::AccountsFixture f;
  uint64_t id = f.RegisterAt("notice@example.org", MonthsBefore(f.now_ms(), 36) + 10 * kDayMs);
  Receipt r;
  Context system{fb::Actor::System};
  REQUIRE(f.a().RecordRetentionNotice(id, system, &r).ok());
  std::vector<Ledger::Stored> ev;
  REQUIRE(f.a().ledger().ReadRange(r.seq, 1, &ev).ok());
  events::EventView v;
  REQUIRE(events::EventView::Parse(ev[0].envelope, &v).ok());
  REQUIRE(v.type() == fb::Payload::RetentionNoticeSent);
  CHECK(v.envelope()->payload_as_RetentionNoticeSent()->due_at_ms() ==
        RetentionDueAt(f.State(id).last_active_at_ms, 36));
  CHECK(f.State(id).last_active_at_ms < f.now_ms() - kDayMs);  // a notice is not the holder's activity
  test::ExpectRefused(f, Code::kNotFound, "does not exist", [&] { return f.a().RecordRetentionNotice(77, system, &r); });
  SweepReport rep;
  f.Advance(11 * kDayMs);
  REQUIRE(f.a().Sweep({}, &rep).ok());
  REQUIRE(f.State(id).status == AccountStatus::kErased);
  test::ExpectRefused(f, Code::kRefused, "was erased", [&] { return f.a().RecordRetentionNotice(id, system, &r); });
}

TEST_CASE("forum: as_of outside 1970..9999 is refused, never overflowed", "[issue11][retention]") {
  test::AccountsFixture f;
  const uint64_t id = f.RegisterAt("edge@example.org", f.now_ms());
  const int64_t extremes[] = {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(), -1,
                              kAsOfMsMax + 1};
  for (int64_t as_of_ms : extremes) {
    INFO("as_of_ms=" << as_of_ms);
    std::vector<uint64_t> ids;
    Status s = f.a().Inactive(as_of_ms, 1200, &ids);
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.ToString().find("as_of") != std::string::npos);
    std::vector<RetentionCandidate> due;
    bool truncated = false;
    CHECK(f.a().RetentionDue(as_of_ms, 1, &due, &truncated).code() == Code::kInvalidArgument);
    SweepReport rep;
    CHECK(f.a().Sweep({as_of_ms, true}, &rep).code() == Code::kInvalidArgument);
    CHECK(rep.erased.empty());
  }
  // The last instant allowed still answers, and nothing was lost on the way.
  SweepReport rep;
  REQUIRE(f.a().Sweep({kAsOfMsMax, true}, &rep).ok());
  REQUIRE(rep.erased.size() == 1);
  CHECK(rep.erased[0].account_id == id);
  CHECK(f.State(id).status == AccountStatus::kActive);  // a dry run erases nothing
}
