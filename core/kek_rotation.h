// KekRotation: replaces the vault's KEK (DATA/keys/kek) and shreds the old
// one, safe to interrupt at any point (docs/operations.md, "Key rotation").
//
//   KekRotationReport r;
//   Status s = RotateKek({.data_dir = "data"}, [&](const KekRotationReport& so_far) {
//     return RecordTheEvent(so_far);    // the caller's ledger; idempotent
//   }, &r);
//
// Steps: (1) a new random KEK is written to KEK.next (0600, fsync, rename
// from a temporary name); (2) the vault, which reads both files, rewraps
// every wrapped value under it in synced batches, compacts and proves by
// RocksDB versions and a byte scan that no value under the old KEK is left
// (Vault::RewrapAll); (3) `record` runs (the kek_rotated event); (4) KEK.next
// is renamed over KEK and the directory synced; (5) every file under the data
// directory and the key directory is scanned for the old KEK and the old
// wrapped values. A rerun after a crash in (1)-(4) finds KEK.next and goes on
// from (2): nothing is redone that was finished, and `record` must treat a
// second call for the same key ids as done. A crash after (4) has left only
// the new KEK; a rerun then starts a new rotation.
//
// Thread safety: one rotation per data directory at a time, with nothing else
// holding the vault open (its RocksDB lock refuses a second opener: Busy).
#pragma once

#include <functional>
#include <string>

#include "core/byte_scan.h"
#include "core/vault.h"
#include "events/status.h"

namespace accountable {

struct KekRotationOptions {
  std::string data_dir = "data";
  std::string key_dir;  // default data_dir/keys
};

struct KekRotationReport {
  std::string old_kek_id, new_kek_id;  // KekId: names, never key bytes
  bool resumed = false;                // KEK.next was there: an interrupted rotation went on
  Vault::RewrapReport rewrap;
  ScanReport scan;                     // step 5: hits must be 0
};

using RecordKekRotation = std::function<Status(const KekRotationReport&)>;

Status RotateKek(const KekRotationOptions& options, const RecordKekRotation& record, KekRotationReport* out);

}  // namespace accountable
