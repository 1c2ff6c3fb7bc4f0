// An Accounts service over a temp data dir with cheap Argon2id and a clock
// the test moves, plus the "refused and appended nothing" check. Used by the
// suites of issue 9 (consent_deletion_test.cc, forum_test.cc).
//
//   test::AccountsFixture f;                       // clock at kTestTimeMs
//   uint64_t id = f.Register("ann@example.org");
//   f.Advance(24 * 3600 * 1000);
//   test::ExpectRefused(f, Status::Code::kRefused, "deletion due", [&] { ... });
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

#include "projections/accounts.h"
#include "tests/test_util.h"

namespace accountable::test {

inline constexpr const char* kFixturePassword = "correct horse battery";
inline constexpr int64_t kDayMs = 24LL * 3600 * 1000;

inline Registration Reg(const std::string& email) {
  return Registration{"Nick", email, kFixturePassword, "female", "1990-04-01", "192.0.2.10", "ua/1.0", "Example Ltd",
                      "1.01"};
}

inline Context AdminCtx(const std::string& reason = "") { return Context{fb::Actor::Admin, 0, "", reason}; }

class AccountsFixture {
 public:
  explicit AccountsFixture(const std::function<void(AccountsOptions&)>& tweak = {})
      : now_(std::make_shared<std::atomic<int64_t>>(kTestTimeMs)) {
    AccountsOptions o;
    o.data_dir = dir_.Sub("data");
    o.password_cost = {1, 8u << 20};
    o.clock_ms = [n = now_] { return n->load(); };
    if (tweak) tweak(o);
    Status s = Accounts::Open(o, &a_);
    INFO(s.ToString());
    REQUIRE(s.ok());
  }
  Accounts& a() { return *a_; }
  int64_t now() const { return now_->load(); }
  void Advance(int64_t ms) { now_->fetch_add(ms); }
  void SetNow(int64_t ms) { now_->store(ms); }
  uint64_t LastSeq() { return a_->ledger().LastSeq(); }
  std::string DataDir() const { return dir_.Sub("data"); }

  uint64_t Register(const Registration& r) {
    RegisterResult out;
    Status s = a_->Register(r, &out);
    INFO(s.ToString());
    REQUIRE(s.ok());
    return out.account_id;
  }
  uint64_t Register(const std::string& email) { return Register(Reg(email)); }
  // Imported history: registered at `at_ms` on the old system.
  uint64_t RegisterAt(const std::string& email, int64_t at_ms) {
    Registration r = Reg(email);
    r.actor = fb::Actor::Import;
    r.occurred_at_ms = at_ms;
    return Register(r);
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
  // The payload types of the account's stream, in order.
  std::vector<fb::Payload> Types(uint64_t id) {
    std::vector<Ledger::Stored> page;
    REQUIRE(a_->ledger().ReadStream(id, 1, 100000, &page).ok());
    std::vector<fb::Payload> out;
    for (auto& st : page) {
      events::EventView v;
      REQUIRE(events::EventView::Parse(st.envelope, &v).ok());
      out.push_back(v.type());
    }
    return out;
  }

 private:
  TempDir dir_{"acc-issue9"};
  std::shared_ptr<std::atomic<int64_t>> now_;
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
