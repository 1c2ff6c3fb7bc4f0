// Projector: the AppendHook that keeps projections in step with the log.
//
// Runs on the ledger's writer thread for every event, before it is written:
// checks the rules that depend on current state (they must be checked here,
// in seq order, or two racing commands could both pass), folds the event
// into the account row, the policy rows, the activity bitmaps and the sweep
// indexes, all in the same WriteBatch as the event. Row formats:
// docs/architecture.md.
//
//   Projector projector;
//   LedgerOptions lo{.dir = ..., .hook = &projector};
//
// Thread safety: used by the single writer thread only. It holds no state
// between events, only buffers reused from one event to the next, so one
// Projector serves one writer (one Ledger, or one replay) at a time.
#pragma once

#include <optional>
#include <string>

#include "core/ledger.h"
#include "projections/fold/account_state.h"

namespace accountable {

// Keys in Cf::kMeta written by the projector.
inline constexpr std::string_view kMetaPolicyCurrent = "policy/current";
inline constexpr std::string_view kMetaPolicyPrefix = "policy/v/";        // + version -> policy::Row
inline constexpr std::string_view kMetaMaxAccountId = "accounts/max_id";  // BE64
// Account ids are 1..2^53-1, so that a JSON client (IEEE doubles) holds every
// id exactly; registrations and imports outside the range are refused.
inline constexpr uint64_t kAccountIdMax = (uint64_t{1} << 53) - 1;
// + BE64 deadline_ms + BE64 account: accounts waiting for their grace period to end.
inline constexpr std::string_view kMetaDeletionPrefix = "deletion/";
// + BE64 account: erased, but ErasureVerified not yet appended (finish at open).
inline constexpr std::string_view kMetaErasurePendingPrefix = "erasure/pending/";
// + node name: a copy of the replicated ledger announced itself (ReplicaJoined); value BE64 seq.
inline constexpr std::string_view kMetaReplicaPrefix = "replica/node/";

// Recipient registry (RecipientRegistered): + BE64 id -> 2-byte country || name.
inline constexpr std::string_view kMetaRecipientPrefix = "recipient/id/";
// + name folded to ASCII lower case -> BE64 id (names are unique that way).
inline constexpr std::string_view kMetaRecipientNamePrefix = "recipient/name/";
inline constexpr std::string_view kMetaRecipientCount = "recipient/count";  // BE64
inline constexpr size_t kRecipientNameBytesMax = 128;
inline constexpr size_t kRecipientsMax = 4096;

std::string AccountKey(uint64_t account_id);
std::string RecipientNameKey(std::string_view name);
std::string DeletionKey(int64_t deadline_ms, uint64_t account_id);

// The state-dependent rules for one account event, as a pure function so
// that import can check a whole file before appending any of it.
// `current_policy` is the latest published version; `named_effective_at_ms`
// is the effective date of the version the event names (a registration's or
// a consent's policy_version), nullopt if that version was never published.
Status CheckAccountRules(const AccountState& state, const events::EventView& e,
                         const std::string& current_policy, std::optional<int64_t> named_effective_at_ms);

// A recipient's name and country (RecipientRegistered): checked by the
// command, and again here, since an imported or replayed event skips the command.
Status CheckRecipient(const std::string& name, const std::string& country);

class Projector final : public AppendHook {
 public:
  Status Apply(const events::EventView& event, GroupTx& tx) override;

 private:
  Status ApplyAccountEvent(const events::EventView& event, GroupTx& tx);
  Status ApplyPolicy(const events::EventView& event, GroupTx& tx);
  Status ApplyRecipient(const events::EventView& event, GroupTx& tx);
  Status ApplyReplicaJoined(const events::EventView& event, GroupTx& tx);
  std::string_view MonthKeyOf(int64_t ms);  // MonthKey(ms), cached for its month

  // Per-event scratch, kept for its capacity (no meaning between events).
  std::string row_;
  std::string current_;
  std::string policy_row_;
  AccountState state_;
  // The activity row key of the last month seen, valid for [first, end).
  std::string month_key_;
  int64_t month_first_ms_ = 0;
  int64_t month_end_ms_ = 0;  // empty range: nothing cached yet
};

// Reads an account row; NotFound if the account never existed (or id 0),
// InvalidArgument for an id above kAccountIdMax.
Status ReadAccount(Ledger& ledger, uint64_t account_id, AccountState* out);

}  // namespace accountable
