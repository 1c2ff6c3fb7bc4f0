// History: read-only views of one account's event stream, shared by the
// lifecycle service (Accounts), which holds the vault open for writing, and
// the audit tool, which opens a copy read-only and may have no vault at all.
//
//   Pii p;
//   Status s = ReadPiiAsOf(ledger, vault, 42, /*until_seq=*/1000, &p);  // Shredded once erased
//   nlohmann::ordered_json doc;
//   s = ExportDocument(ledger, &vault, 42, now_ms, &doc);  // vault may be nullptr
//
// Thread safety: stateless; Ledger and Vault are thread-safe.
#pragma once

#include <cstdint>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/ledger.h"
#include "core/vault.h"
#include "projections/service/accounts.h"

namespace accountable {

inline constexpr uint64_t kWholeLog = std::numeric_limits<uint64_t>::max();

// The profile as the events up to and including until_seq left it
// (Registered, then every ProfileUpdated). Shredded once the key is gone.
Status ReadPiiAsOf(Ledger& ledger, Vault& vault, uint64_t account_id, uint64_t until_seq, Pii* out);

// Folds the sealed profile of a Registered or ProfileUpdated event onto out
// (other events leave it as it is), so a caller walking a stream for other
// reasons gets the profile in the same pass. Shredded once the key is gone.
Status FoldProfilePii(Vault& vault, const events::EventView& v, Pii* out);

// The decrypted PII of one event as JSON; null when the event seals none,
// {"error": "shredded"} (or another code name) when it cannot be opened.
nlohmann::ordered_json DescribeEventPii(Vault& vault, const events::EventView& v);

// The access-request (DSAR) document: the account, every event of its
// stream with its PII opened where the vault still can, and its disclosures.
// Without a vault, PII is reported as sealed. Appends nothing.
Status ExportDocument(Ledger& ledger, Vault* vault, uint64_t account_id, int64_t now_ms,
                      nlohmann::ordered_json* doc);

// The sealed box of an event; empty when it seals nothing.
std::string_view SealedBox(const events::EventView& v);

// Calls fn for every event of the account's stream with seq <= until_seq,
// in order; fn returns false to stop early.
Status ForEachStreamEvent(Ledger& ledger, uint64_t account_id, uint64_t until_seq,
                          const std::function<bool(const events::EventView&)>& fn);

}  // namespace accountable
