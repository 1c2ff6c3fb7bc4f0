// AccountState: the non-PII projection of one account, folded from its events.
//
//   AccountState st;                       // empty: the account does not exist
//   for (auto& e : stream) Apply(st, view(e));
//   if (st.status == AccountStatus::kActive) ...
//
// Apply is a pure, deterministic function of (state, event): replaying the
// log from nothing gives exactly the state the incremental path stored.
// Encoded form (kAccounts rows): see EncodeState; versioned by its first byte.
//
// Thread safety: plain values; no shared state.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "events/event.h"
#include "events/status.h"

namespace accountable {

enum class AccountStatus : uint8_t { kNone = 0, kActive = 1, kPendingDeletion = 2, kErased = 3 };
std::string_view StatusName(AccountStatus s);

inline constexpr size_t kPurposeCount = 6;

struct ConsentState {
  bool given = false;
  bool implicit = false;
  std::string policy_version;   // version it was given or withdrawn under
  int64_t changed_at_ms = 0;

  bool operator==(const ConsentState&) const = default;
};

struct AccountState {
  AccountStatus status = AccountStatus::kNone;
  uint64_t account_id = 0;
  int64_t registered_at_ms = 0;
  int64_t last_active_at_ms = 0;     // last event the holder caused
  std::string accepted_policy_version;
  int64_t deletion_deadline_ms = 0;  // while kPendingDeletion
  int64_t erased_at_ms = 0;
  std::string erasure_reason;        // user_request | retention_inactive | admin
  uint64_t erased_seq = 0;
  bool erasure_verified = false;
  uint64_t last_seq = 0;
  uint64_t credential_seq = 0;       // event holding the current credential (login reads only it)
  std::array<ConsentState, kPurposeCount> consents;

  bool operator==(const AccountState&) const = default;
};

// True for events the account holder caused (retention activity).
bool IsHolderActivity(const events::EventView& e);

// Who acted, whether live or imported, so that one rule covers both: an
// imported event keeps that it was imported (Import, ImportAdmin) and who
// acted on the old system (Import: the holder, ImportAdmin: an admin).
bool IsAdminActor(fb::Actor a);     // Admin or ImportAdmin
bool IsImportedActor(fb::Actor a);  // Import or ImportAdmin

// Folds one event of this account into the state.
void Apply(AccountState& state, const events::EventView& e);

// The kAccounts row: compact binary, first byte = version 2 (layout in
// account_state.cc and docs/architecture.md). The overload with `out`
// reuses its capacity (the writer encodes one row per event).
std::string EncodeState(const AccountState& s);
void EncodeState(const AccountState& s, std::string* out);
// Corruption for any other version, a truncated, malformed or oversized row,
// or trailing bytes; never reads past `bytes`. *out is unspecified on error
// (decoding reuses its strings' capacity).
Status DecodeState(std::string_view bytes, AccountState* out);

}  // namespace accountable
