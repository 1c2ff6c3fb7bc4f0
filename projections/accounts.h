// Accounts: the lifecycle service over one data directory.
//
// Opens DATA/events (Ledger) and DATA/vault (Vault) with the KEK from the key
// directory, and turns lifecycle commands into sealed, validated events.
// The CLI (embedded mode) and the server both go through this class, so a
// rule lives in exactly one place: input checks here, state-dependent rules
// in the Projector on the writer thread.
//
//   std::unique_ptr<Accounts> accounts;
//   Status s = Accounts::Open({.data_dir = "data"}, &accounts);
//   Registration r{.nickname = "ann", .email = "ann@example.org", ...};
//   RegisterResult out;
//   s = accounts->Register(r, &out);       // out.account_id
//
// Thread safety: all methods are thread-safe; Argon2id hashing and sealing
// run on the calling thread, so callers parallelize them for free.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "core/ledger.h"
#include "core/vault.h"
#include "projections/account_state.h"
#include "projections/projector.h"

namespace accountable {

// SHA-256 of docs/privacy-policy-1.01.txt, the policy a new ledger starts with.
inline constexpr std::string_view kPolicy101Sha256Hex =
    "66b2e74fd8d12eb962a8ccab15a0d4fc84decb48a2221413d6ac0f0a0e678560";

struct AccountsOptions {
  std::string data_dir = "data";
  std::string key_dir;                       // default: data_dir/keys
  crypto::PasswordCost password_cost;
  std::string initial_policy_version = "1.01";
  std::string initial_policy_sha256_hex = std::string(kPolicy101Sha256Hex);
  std::function<int64_t()> clock_ms;         // wall clock if empty
};

struct Registration {
  std::string nickname, email, password, gender, birthdate, ip, user_agent, company;
  std::string accept_policy;                 // must equal the current version
  std::string request_id;                    // random if empty
  fb::Actor actor = fb::Actor::Holder;
  int64_t occurred_at_ms = 0;                // now if 0
  uint64_t account_id = 0;                   // allocated if 0 (import gives one)
};

struct RegisterResult {
  uint64_t account_id = 0;
  uint64_t seq = 0;
  bool duplicate = false;                    // request id seen before
};

// Decrypted personal data, as currently held.
struct Pii {
  std::string nickname, email, gender, birthdate, company, ip, user_agent;
};

struct AccountView {
  AccountState state;
  uint64_t stream_version = 0;
  std::string display_name;                  // "Anonymous" once erased
  std::optional<Pii> pii;                    // empty once erased (shredded)
};

class Accounts {
 public:
  static Status Open(const AccountsOptions& options, std::unique_ptr<Accounts>* out);
  ~Accounts();

  Status Register(const Registration& r, RegisterResult* out);
  Status Show(uint64_t account_id, AccountView* out);
  std::string CurrentPolicyVersion();

  Ledger& ledger() { return *ledger_; }
  Vault& vault() { return *vault_; }
  int64_t NowMs() const;
  Status Close();

 private:
  Accounts() = default;
  Status PublishInitialPolicy();
  Status ReserveEmail(const std::string& normalized, uint64_t account_id);
  Status ValidateRegistration(const Registration& r);
  Status ReadPii(uint64_t account_id, Pii* out);

  AccountsOptions opt_;
  Projector projector_;
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<Ledger> ledger_;
  std::atomic<uint64_t> next_account_id_{1};
  std::mutex email_mu_;  // check-then-reserve of a blind-index row is atomic
};

std::string NewRequestId();

}  // namespace accountable
