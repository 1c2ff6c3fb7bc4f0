// FuzzEnv: the one Accounts service a fuzz harness runs commands against,
// opened once per process on a fresh temp dir (removed at exit), with a
// clock fixed at kFuzzTimeMs and the cheapest Argon2id, so that one input
// takes milliseconds.
// The seed generator (make_seeds.cc) builds the same state, so the account
// ids its frames and import lines name exist in every harness process.
//
//   Accounts& a = fuzz::Env().accounts();        // kept for the whole process
//   uint64_t ann = fuzz::Env().ann;              // a registered account
//
// Thread safety: Env() is thread-safe (a function-local static); libFuzzer
// runs one input at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "projections/service/accounts.h"
#include "tests/test_util.h"

namespace accountable::fuzz {

// 2026-01-01T00:00:00Z: after every date in the seeds, so they stay valid.
inline constexpr int64_t kFuzzTimeMs = 1'767'225'600'000;
inline constexpr const char* kFuzzPassword = "correct horse battery";
inline constexpr int64_t kDayMs = 24LL * 3600 * 1000;

class FuzzEnv {
 public:
  FuzzEnv() : dir_("accountable-fuzz"), now_(std::make_shared<std::atomic<int64_t>>(kFuzzTimeMs)) {
    AccountsOptions o;
    o.data_dir = dir_.Sub("data");
    o.password_cost = {1, 8192};  // libsodium's minimum: one Argon2id costs microseconds, not the input
    o.clock_ms = [n = now_] { return n->load(); };
    Check(Accounts::Open(o, &accounts_), "open");
    ann = Register("ann@example.org", "AnnNick");
    bob = Register("bob@example.org", "BobNick");
    Receipt r;
    Check(accounts_->RegisterRecipient("Acme Analytics Inc", "US", {fb::Actor::Admin}, &r), "recipient");
    Check(accounts_->GiveConsent(ann, fb::Purpose::ThirdPartyForwarding, {}, &r), "consent");
  }
  ~FuzzEnv() {
    if (accounts_) (void)accounts_->Close();
  }
  FuzzEnv(const FuzzEnv&) = delete;
  FuzzEnv& operator=(const FuzzEnv&) = delete;

  Accounts& accounts() { return *accounts_; }
  std::string DataDir() const { return dir_.Sub("data"); }
  // Only the seed generator moves the clock (to let a grace period pass).
  void Advance(int64_t ms) { now_->fetch_add(ms); }
  int64_t NowMs() const { return now_->load(); }

  uint64_t ann = 0, bob = 0;

 private:
  // Setup failing is the harness's bug, not a finding: say so and stop.
  static void Check(const Status& s, const char* what) {
    if (s.ok()) return;
    std::fprintf(stderr, "fuzz env: %s: %s\n", what, s.ToString().c_str());
    std::abort();
  }
  uint64_t Register(const char* email, const char* nick) {
    Registration r{nick, email, kFuzzPassword, "female", "1990-04-01", "192.0.2.10", "ua/1.0", "Example Ltd", "1.01"};
    RegisterResult out;
    Check(accounts_->Register(r, &out), "register");
    return out.account_id;
  }

  test::TempDir dir_;
  std::shared_ptr<std::atomic<int64_t>> now_;
  std::unique_ptr<Accounts> accounts_;
};

// Destroyed at exit, after libFuzzer's last input: the temp dir goes with it.
inline FuzzEnv& Env() {
  static FuzzEnv env;
  return env;
}

}  // namespace accountable::fuzz
