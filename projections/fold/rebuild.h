// Rebuild: replay the whole log through the Projector into a scratch
// RocksDB in a temporary directory (core/scratch_store.h) and compare every
// row with the projections the ledger stored incrementally.
//
//   RebuildReport r;
//   Status s = RebuildCheck(ledger, &r);     // Corruption names the first difference
//
// The replay runs the very same Projector code, so the check is that the fold
// is deterministic and that nothing wrote the projection column families
// except the projector. Memory stays O(one page of events), whatever the log's
// size; the scratch directory is removed afterwards.
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

// scratch_dir: must not exist; default a new directory under the system temp dir.
// page_events: events replayed between two writes to the scratch store;
// 0 = the default (65,536). Tests pass small pages to cross many of them.
Status RebuildCheck(Ledger& ledger, RebuildReport* out, const std::string& scratch_dir = "",
                    uint64_t page_events = 0);

}  // namespace accountable
