// An Accounts service over a temp data dir with cheap Argon2id and a clock
// the test moves, plus the "refused and appended nothing" check. Shared by
// the in-process service suites (lifecycle, consent_deletion, forum,
// free_text, identity, policy, import).
//
//   test::AccountsFixture f;                       // clock at kTestTimeMs
//   uint64_t id = f.Register("ann@example.org");
//   f.Advance(24 * 3600 * 1000);
//   test::ExpectRefused(f, Status::Code::kRefused, "deletion due", [&] { ... });
//
//   test::AccountsFixture w(test::WallClock);      // the service reads real time
//
// Uses Catch2 (REQUIRE), so only the test binary includes it.
// Thread safety: the clock is atomic; the rest is for the test's thread.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "projections/service/accounts.h"
#include "tests/test_util.h"

namespace accountable::test {

inline constexpr const char* kFixturePassword = "correct horse battery";
inline constexpr int64_t kDayMs = 24LL * 3600 * 1000;

inline Registration Reg(const std::string& email, const std::string& nick = "Nick",
                        const std::string& policy = "1.01") {
  return Registration{nick, email, kFixturePassword, "female", "1990-04-01", "192.0.2.10", "ua/1.0", "Example Ltd",
                      policy};
}

inline Context AdminCtx(const std::string& reason = "") { return Context{fb::Actor::Admin, 0, "", reason}; }

// The payload types of an account's stream, in order.
inline std::vector<fb::Payload> Types(Ledger& ledger, uint64_t id) {
  std::vector<Ledger::Stored> page;
  REQUIRE(ledger.ReadStream(id, 1, 100000, &page).ok());
  std::vector<fb::Payload> out;
  for (auto& st : page) {
    events::EventView v;
    REQUIRE(events::EventView::Parse(st.envelope, &v).ok());
    out.push_back(v.type());
  }
  return out;
}

// A tweak for AccountsFixture: the service reads the wall clock, for tests
// whose meaning depends on real time (e.g. policies effective "now" between
// fixed dates of 2026). now_ms()/Advance()/SetNow() then move only the
// fixture's own counter, which the service ignores.
inline void WallClock(AccountsOptions& o) { o.clock_ms = nullptr; }

// Accounts on DATA with the wall clock and a cheap Argon2id cost: for tests
// that reopen a data directory the CLI or a server also used.
inline std::unique_ptr<Accounts> OpenCheap(const std::string& data) {
  AccountsOptions o;
  o.data_dir = data;
  o.password_cost = {1, 8u << 20};
  std::unique_ptr<Accounts> a;
  Status s = Accounts::Open(o, &a);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return a;
}

class AccountsFixture {
 public:
  explicit AccountsFixture(const std::function<void(AccountsOptions&)>& tweak = {})
      : now_(std::make_shared<std::atomic<int64_t>>(kTestTimeMs)) {
    opts_.data_dir = dir_.Sub("data");
    opts_.password_cost = {1, 8u << 20};
    opts_.clock_ms = [n = now_] { return n->load(); };
    if (tweak) tweak(opts_);
    Open();
  }
  Accounts& a() { return *a_; }
  int64_t now_ms() const { return now_->load(); }
  void Advance(int64_t ms) { now_->fetch_add(ms); }
  void SetNow(int64_t ms) { now_->store(ms); }
  uint64_t LastSeq() { return a_->ledger().LastSeq(); }
  std::string DataDir() const { return dir_.Sub("data"); }
  // Closes the service (a() is invalid until Reopen()); Reopen() opens the
  // same data dir with the same options and clock.
  void Close() { a_.reset(); }
  void Reopen() {
    Close();
    Open();
  }

  uint64_t Register(const Registration& r) {
    uint64_t id = 0;
    Status s = TryRegister(r, &id);
    INFO(s.ToString());
    REQUIRE(s.ok());
    return id;
  }
  uint64_t Register(const std::string& email) { return Register(Reg(email)); }
  // Imported history: registered at `at_ms` on the old system.
  uint64_t RegisterAt(const std::string& email, int64_t at_ms) {
    Registration r = Reg(email);
    r.actor = fb::Actor::Import;
    r.occurred_at_ms = at_ms;
    return Register(r);
  }
  // Register without requiring success: for refusals.
  Status TryRegister(const Registration& r, uint64_t* id = nullptr) {
    RegisterResult out;
    Status s = a_->Register(r, &out);
    if (id) *id = out.account_id;
    return s;
  }
  AccountState State(uint64_t id) {
    AccountState st;
    REQUIRE(ReadAccount(a_->ledger(), id, &st).ok());
    return st;
  }
  Status Login(uint64_t id, const std::string& password = kFixturePassword) {
    LoginResult ignored;
    LoginRequest r{"", id, password, "203.0.113.5", "login-agent/2"};
    return a_->Login(r, &ignored);
  }
  // By e-mail or id (exactly one of them, or the service refuses).
  Status Login(const std::string& email, uint64_t id, const std::string& password = kFixturePassword,
               LoginResult* out = nullptr) {
    LoginResult ignored;
    LoginRequest r{email, id, password, "203.0.113.5", "login-agent/2"};
    return a_->Login(r, out ? out : &ignored);
  }
  // The payload types of the account's stream, in order.
  std::vector<fb::Payload> Types(uint64_t id) { return test::Types(a_->ledger(), id); }
  // The envelope at `seq`, kept in *keep, which the view points into.
  events::EventView Event(uint64_t seq, std::string* keep) {
    std::vector<Ledger::Stored> one;
    REQUIRE(a_->ledger().ReadRange(seq, 1, &one).ok());
    REQUIRE(one.size() == 1);
    *keep = one[0].envelope;
    events::EventView v;
    REQUIRE(events::EventView::Parse(*keep, &v).ok());
    return v;
  }

 private:
  void Open() {
    Status s = Accounts::Open(opts_, &a_);
    INFO(s.ToString());
    REQUIRE(s.ok());
  }

  TempDir dir_{"acc-fixture"};
  std::shared_ptr<std::atomic<int64_t>> now_;
  AccountsOptions opts_;
  std::unique_ptr<Accounts> a_;
};

// The command fails with `code`, says `fragment`, and appends nothing.
inline void ExpectRefused(AccountsFixture& f, Status::Code code, const std::string& fragment,
                          const std::function<Status()>& fn) {
  const uint64_t before = f.LastSeq();
  Status s = fn();
  INFO("status: " << s.ToString() << " (want fragment '" << fragment << "')");
  CHECK(s.code() == code);
  CHECK(s.message().find(fragment) != std::string::npos);
  CHECK(f.LastSeq() == before);
}

}  // namespace accountable::test
