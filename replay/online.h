// Online audit: the offline auditor's commands (projections/service/log_checks.h) run against a
// live accountabled through a connected Client (auditor or admin token)
// instead of a data directory. The server is not trusted: OnlineVerify checks
// the signed head against the operator's public key and recomputes every leaf
// and the root from the envelopes the server serves. Proofs come back in the
// RFC 6962 vector shape, so they feed VerifyInclusion / VerifyConsistency and
// `accountable-audit verify-inclusion FILE` as they are.
//
//   std::unique_ptr<Client> c;
//   Status s = Client::Connect("127.0.0.1:7400", auditor_token, &c);
//   audit::Json j;
//   s = audit::OnlineVerify(*c, public_key, &j);    // {"events":N,"pages":P,"signed_head":{...}}
//   s = audit::OnlineProveInclusion(*c, 42, 0, &j);   // {"leafIdx":41,"treeSize":...}
//
// Errors: the server's Status as it sent it (Refused for a writer token,
// InvalidArgument for a bad seq or size); Corruption when the server's answer
// is malformed or does not verify, naming the first bad seq where there is one.
//
// Thread safety: as the Client: one thread at a time per Client.
#pragma once

#include <cstdint>
#include <string>

#include "projections/service/log_checks.h"
#include "server/client/client.h"

namespace accountable::audit {

// The latest signed head as the server states it, not yet checked against a
// key: {"treeSize", "root", "timestamp_ms", "signature"}, hashes in base64
// (the "signed_head" shape of VerifySignedHead).
Status OnlineTreeHead(Client& client, Json* out);
// tree_size / new_size 0: the latest signed head's size. The proof is checked
// against the root the server sent with it and the sizes asked for, which
// catches a malformed answer; checking that root against a signed head is the
// caller's step.
Status OnlineProveInclusion(Client& client, uint64_t seq, uint64_t tree_size, Json* out);
Status OnlineProveConsistency(Client& client, uint64_t old_size, uint64_t new_size, Json* out);
// Checks the signed head's Ed25519 signature against public_key (32 bytes),
// pages through the log with ReadLog, checks each envelope parses and carries
// its seq, and recomputes the root over seqs 1..head size in O(log n) memory.
// A root that differs from the signed one is traced to the first rewritten
// seq with consistency proofs (at most one more read of the log).
// out: {"events": head size, "pages": ReadLog calls, "signed_head": {...}}.
Status OnlineVerify(Client& client, const std::string& public_key, Json* out);

}  // namespace accountable::audit
