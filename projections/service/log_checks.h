// LogChecks: whole-log reads the auditor and the server share. The full
// verify (every envelope re-hashed against the stored tree), the signed
// head check, and the seq at a point in time. The head and proof documents
// are in projections/service/proof_json.h, included here.
//
//   audit::Json j;
//   Status s = audit::VerifyTree(ledger, &j);                 // Corruption names the first bad seq
//   s = audit::VerifySignedHead(ledger, public_key, &j);      // j["signed_head"]
//   audit::LogVerifier v;                                     // the same verify, resumable:
//   s = v.Advance(ledger, ledger.LastSeq());                  // later calls check the new events only
//
// Thread safety: the functions are stateless and the ledger is thread-safe;
// a LogVerifier is owned by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

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

// The last seq whose recorded_at_ms is <= time_ms (0 if none). recorded_at
// never decreases along the log, so this is a binary search: O(log n) reads.
Status SeqAtTime(Ledger& ledger, int64_t time_ms, uint64_t* seq);

// VerifyTree in steps: Advance(ledger, n) checks events verified_seq()+1..n
// and every stored node they complete, and the root at n against the stored
// tree's. The log is append-only, so what was checked stays checked and a
// live server pays for the new events only. After a failure it stays failed
// (the first error is kept). Memory: O(log n) digests plus one page.
class LogVerifier {
 public:
  LogVerifier();
  ~LogVerifier();
  LogVerifier(const LogVerifier&) = delete;
  LogVerifier& operator=(const LogVerifier&) = delete;

  Status Advance(Ledger& ledger, uint64_t last_seq);
  uint64_t verified_seq() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace accountable::audit
