// Reports: what the log says about accounts, read-only. The audit tool's
// `replay --until`, `export` and `disclosures` commands.
//
//   uint64_t until = 0;
//   Status s = SeqAtTime(ledger, time_ms, &until);       // projections/service/log_checks.h
//   Json state;
//   s = AccountAsOf(ledger, vault, 42, until, &state);   // vault may be nullptr
//   s = Disclosures(ledger, vault, 0, [](const Json& d) { print(d); }, &summary);
//
// PII appears only where a vault (with its KEK) is given and the account's
// key still exists; otherwise the report says "sealed" or "erased".
//
// Thread safety: stateless; may run beside a live writer (each report reads
// the log up to a seq fixed when it starts).
#pragma once

#include <cstdint>
#include <functional>

#include <nlohmann/json.hpp>

#include "core/ledger.h"
#include "core/vault.h"
#include "projections/service/log_checks.h"

namespace accountable::audit {

using Json = nlohmann::ordered_json;
using LineFn = std::function<void(const Json& line)>;

// One account as the events up to until_seq left it. NotFound if it did
// not exist yet at that point.
Status AccountAsOf(Ledger& ledger, Vault* vault, uint64_t account_id, uint64_t until_seq, Json* out);

// Every account that existed at until_seq, one line each in account id
// order, then counts by status in *summary. Memory stays O(one stream).
Status AllAccountsAsOf(Ledger& ledger, Vault* vault, uint64_t until_seq, const LineFn& line, Json* summary);

// DisclosureRecorded events (third-party transfers), of one account or of
// all (account_id 0), in seq order.
// Structured fields (recipient id and name, country, legal basis,
// safeguard) always; purpose and reference opened only with a vault while
// the account's key exists ("sealed" or "erased" otherwise).
Status Disclosures(Ledger& ledger, Vault* vault, uint64_t account_id, const LineFn& line, Json* summary);

}  // namespace accountable::audit
