// Proofs: the auditor's whole-log checks on a (read-only) ledger. The
// head and proof documents they share with the server are in
// projections/service/proof_json.h, included here.
//
//   audit::Json j;
//   Status s = audit::VerifyTree(ledger, &j);                 // Corruption names the first bad seq
//   s = audit::VerifySignedHead(ledger, public_key, &j);      // j["signed_head"]
//
// Thread safety: stateless; the ledger is thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "core/ledger.h"
#include "projections/service/proof_json.h"

namespace accountable::audit {

// Recomputes every leaf from its envelope and checks it and every stored
// node against the stored tree, then the root of the whole log; Corruption
// names the first bad seq (or node).
Status VerifyTree(Ledger& ledger, Json* out);
// Checks the latest signed tree head (meta "sth/latest") against the public
// key (32 bytes) and against the root recomputed at its size.
Status VerifySignedHead(Ledger& ledger, const std::string& public_key, Json* out);

}  // namespace accountable::audit
