// Rebuild: replay the whole log through the Projector into memory and
// compare the result with the projections the ledger stored incrementally.
//
//   RebuildReport r;
//   Status s = RebuildCheck(ledger, &r);     // Corruption names the first difference
//
// The replay runs the very same Projector code against an in-memory GroupTx,
// so the check is that the fold is deterministic and that nothing wrote the
// projection column families except the projector.
//
// Thread safety: reads only; may run beside a live writer, but then rows
// written after the replay's last seq will show up as differences.
#pragma once

#include <cstdint>
#include <string>

#include "core/ledger.h"

namespace accountable {

struct RebuildReport {
  uint64_t events = 0;
  uint64_t accounts = 0;
  uint64_t activity_rows = 0;
  uint64_t meta_rows = 0;
  std::string first_difference;  // empty when identical
};

Status RebuildCheck(Ledger& ledger, RebuildReport* out);

}  // namespace accountable
