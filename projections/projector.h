// Projector: the AppendHook that keeps projections in step with the log.
//
// Runs on the ledger's writer thread for every event, before it is written:
// checks the rules that depend on current state (they must be checked here,
// in seq order, or two racing commands could both pass), folds the event
// into the account row and the policy rows, and writes them in the same
// WriteBatch as the event. Row formats: docs/architecture.md.
//
//   Projector projector;
//   LedgerOptions lo{.dir = ..., .hook = &projector};
//
// Thread safety: used by the single writer thread only; stateless itself.
#pragma once

#include <string>

#include "core/ledger.h"
#include "projections/account_state.h"

namespace accountable {

// Keys in Cf::kMeta written by the projector.
inline constexpr std::string_view kMetaPolicyCurrent = "policy/current";
inline constexpr std::string_view kMetaPolicyPrefix = "policy/v/";  // + version -> sha256
inline constexpr std::string_view kMetaMaxAccountId = "accounts/max_id";  // BE64

std::string AccountKey(uint64_t account_id);

class Projector final : public AppendHook {
 public:
  Status Apply(const events::EventView& event, GroupTx& tx) override;

 private:
  Status ApplyAccountEvent(const events::EventView& event, GroupTx& tx);
  Status ApplyPolicy(const events::EventView& event, GroupTx& tx);
};

// Reads an account row; NotFound if the account never existed.
Status ReadAccount(Ledger& ledger, uint64_t account_id, AccountState* out);

}  // namespace accountable
