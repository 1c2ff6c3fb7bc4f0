// ProofJson: tree heads and Merkle proofs as JSON in the shape of the
// published RFC 6962 vectors, the one form the server sends and the audit
// tool prints and checks (docs/audit.md, docs/protocol.md):
//   head:        {treeSize, root}            signed: + {timestamp_ms, signature}
//   inclusion:   {leafIdx, treeSize, root, leafHash, proof[]}
//   consistency: {size1, size2, root1, root2, proof[]}
// Hashes are base64 (standard alphabet, padded). What ProveInclusion makes,
// VerifyInclusion accepts, so one side's output feeds the other's check.
//
//   audit::Json j;
//   Status s = audit::ProveInclusion(ledger, seq, /*size=*/0, &j);   // 0: the whole log
//   s = audit::VerifyInclusion(nlohmann::json::parse(j.dump()));
//
// Thread safety: stateless; the ledger is thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/ledger.h"
#include "core/tree_head.h"

namespace accountable::audit {

using Json = nlohmann::ordered_json;

// Base64, standard alphabet, padded: the vectors' encoding of hashes.
std::string B64(std::string_view bin);
// Malformed base64 (or a non-string) decodes to "", which never verifies.
std::string Unb64(const nlohmann::json& v);

// InvalidArgument for a size beyond the log or a seq outside 1..size.
Status TreeHead(Ledger& ledger, uint64_t size, Json* out);            // size 0: the whole log
Status ProveInclusion(Ledger& ledger, uint64_t seq, uint64_t size, Json* out);
Status ProveConsistency(Ledger& ledger, uint64_t old_size, uint64_t new_size, Json* out);
// RFC 9162 checks of a proof document; Corruption when it does not verify,
// InvalidArgument when it is not a JSON object.
Status VerifyInclusion(const nlohmann::json& j);
Status VerifyConsistency(const nlohmann::json& j);

// The latest signed tree head the service stored (meta "sth/latest");
// NotFound before the first one. Not checked against any key here.
Status ReadLatestHead(Ledger& ledger, SignedTreeHead* out);
Json HeadJson(const SignedTreeHead& h);

}  // namespace accountable::audit
