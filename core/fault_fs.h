// FaultFs: a file system for tests that fails storage operations on demand
// and simulates power loss, under a Ledger or a Vault.
//
//   auto faults = std::make_shared<FaultFs>();
//   LedgerOptions o{.dir = dir};
//   o.faults = faults;
//   faults->SetNoSpace(true);         // every write now fails with ENOSPC
//   faults->FailAt(12, FaultFs::kSync, /*sticky=*/true);
//   ...
//   ledger.reset();                   // the "crash" (writes keep failing)
//   faults->DropUnsynced();           // power loss: unsynced bytes are gone
//   faults->Clear();                  // a healthy disk for the reopen
//
// Writes (appends), syncs and renames are counted from construction or the
// last Clear(); a chosen or seeded-random one fails with an I/O error. The
// RocksDB type behind it stays in core/fault_fs.cc, so public headers do
// not include RocksDB.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>

#include "events/status.h"

namespace accountable {

namespace fault_internal {
struct FaultState;
}

class FaultFs {
 public:
  enum Op : unsigned { kWrite = 1, kSync = 2, kRename = 4, kAll = 7 };

  FaultFs();
  ~FaultFs();
  FaultFs(const FaultFs&) = delete;
  FaultFs& operator=(const FaultFs&) = delete;

  // While on, every write and sync fails with "no space left on device".
  void SetNoSpace(bool on);
  // The op_index-th counted operation of a kind in ops (0-based, counted from
  // the last Clear) fails. sticky: so does every counted operation after it,
  // as on a disk that died.
  void FailAt(uint64_t op_index, unsigned ops, bool sticky);
  // Each counted operation of a kind in ops fails with probability
  // 1/one_in, from a generator seeded with seed.
  void FailRandom(uint64_t seed, uint32_t one_in, unsigned ops, bool sticky);
  // No more failures; the operation count restarts at 0.
  void Clear();
  uint64_t ops() const;       // counted operations since the last Clear
  uint64_t failures() const;  // injected failures since the last Clear
  // Power loss: every file written through this FaultFs is cut back to the
  // size it had at its last sync (0 if never synced).
  Status DropUnsynced();

  // For core/: the rocksdb::FileSystem (fault_fs.cc).
  std::shared_ptr<fault_internal::FaultState> state() const { return state_; }

 private:
  std::shared_ptr<fault_internal::FaultState> state_;
};

}  // namespace accountable
