// ScratchStore: a throwaway RocksDB of the projection column families
// (accounts, activity, meta), for rebuilding every projection from the log
// beside the live ones (projections/fold/rebuild.h) without holding them in memory.
//
//   std::unique_ptr<ScratchStore> s;
//   Status st = ScratchStore::Open({.dir = tmp, .activity_merge = MergeActivity}, &s);
//   projector.Apply(event, *s);            // a GroupTx: reads see earlier writes
//   st = s->Flush();                       // after each page of events
//   st = s->Scan(Cf::kAccounts, [](std::string_view k, std::string_view v) { return true; });
//
// Writes collect in memory until Flush, which writes them unsynced and
// without a WAL: a crash loses only a rebuild that is started again. Merge
// operands collect per key and are folded once per Flush (activity_merge
// with all of them), or at a Get of that key, so the scratch DB stores plain
// values and a Get sees every earlier write. Rows stay cached after a Flush
// up to a fixed bound. The directory must not exist; it is removed on
// destruction.
//
// Thread safety: one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ledger.h"

namespace accountable {

struct ScratchOptions {
  std::string dir;
  // As LedgerOptions::activity_merge; gets every operand of a key since the
  // last fold at once.
  std::function<bool(const std::string* existing, const std::vector<std::string_view>& operands, std::string* out)>
      activity_merge;
};

class ScratchStore : public GroupTx {
 public:
  static Status Open(const ScratchOptions& options, std::unique_ptr<ScratchStore>* out);
  ~ScratchStore() override = default;

  // Writes everything collected since the last Flush; the first error of a
  // Put/Merge/Delete since then (an unmergeable operand) comes back here.
  virtual Status Flush() = 0;
  // Every flushed row of cf in key order; fn returns false to stop.
  virtual Status Scan(Cf cf, const std::function<bool(std::string_view, std::string_view)>& fn) = 0;
};

}  // namespace accountable
