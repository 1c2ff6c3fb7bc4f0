// Proofs: the auditor's Merkle operations on a (read-only) ledger, in the
// JSON shape of the published RFC 6962 vectors (docs/audit.md):
//   inclusion:   {leafIdx, treeSize, root, leafHash, proof[]}
//   consistency: {size1, size2, root1, root2, proof[]}
// Hashes are base64 (standard alphabet, padded). What prove-* prints, the
// verify-* commands accept, so one tool's output feeds the other.
//
// Thread safety: stateless; the ledger is thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "core/ledger.h"

namespace accountable::audit {

using Json = nlohmann::ordered_json;

// Base64, standard alphabet, padded: the vectors' encoding of hashes.
std::string B64(std::string_view bin);
// Malformed base64 (or a non-string) decodes to "", which never verifies.
std::string Unb64(const nlohmann::json& v);

Status TreeHead(Ledger& ledger, uint64_t size, Json* out);            // size 0: the whole log
Status ProveInclusion(Ledger& ledger, uint64_t seq, uint64_t size, Json* out);
Status ProveConsistency(Ledger& ledger, uint64_t old_size, uint64_t new_size, Json* out);
Status VerifyInclusion(const nlohmann::json& j);
Status VerifyConsistency(const nlohmann::json& j);
// Recomputes every leaf from its envelope and checks it against the stored
// tree, then the root of the whole log; Corruption names the first bad seq.
Status VerifyTree(Ledger& ledger, Json* out);
// Checks the latest signed tree head (meta "sth/latest") against the public
// key (32 bytes) and against the root recomputed at its size.
Status VerifySignedHead(Ledger& ledger, const std::string& public_key, Json* out);

}  // namespace accountable::audit
