// Vault: the physically erasable key store (DATA/vault, its own RocksDB).
//
// Holds per-account data keys (DEKs) wrapped under the KEK, the email blind
// index, and the day keys of access logs. Nothing else. It is a separate
// RocksDB instance so that destroying a key never waits on, or leaves a copy
// in, the event DB's WAL and SSTs. Layout: docs/architecture.md ("Vault").
//
//   std::unique_ptr<Vault> vault;
//   Status s = Vault::Open({.dir = "data/vault", .kek_path = "data/keys/kek"}, &vault);
//   crypto::Key32 dek;
//   s = vault->CreateAccountKey(42, &dek);        // random, wrapped, synced
//   std::string box = vault->SealForAccount(dek, 42, fb::Payload::Registered, rid, pii);
//
// Row keys are keyed BLAKE2b hashes, so the vault does not even list which
// account ids or emails it holds without the KEK.
//
// Thread safety: all methods are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto.h"
#include "core/fault_fs.h"
#include "core/replication.h"
#include "events/event.h"
#include "events/status.h"

namespace accountable {

struct VaultOptions {
  std::string dir;        // e.g. DATA/vault
  std::string kek_path;   // e.g. DATA/keys/kek; created 0600 with a new vault only
  // Auditors and compliance staff read a live vault beside the server (no
  // lock taken): nothing is created or written, every write is Refused, and
  // a missing vault or KEK is NotFound / IOError instead of made.
  bool read_only = false;
  // Tests only: storage faults injected under the vault (core/fault_fs.h).
  std::shared_ptr<FaultFs> faults;
  // Optional, not owned, must outlive the Vault: every synced write batch is
  // published here (kind kVault) before it is written locally; a failed
  // publish fails the write (core/replication.h). KEK rotation
  // (RewrapAll) is refused while a sink is set.
  GroupSink* sink = nullptr;
};

class Vault {
 public:
  // Creates the vault and the KEK file on first use. A KEK that does not
  // match the vault's check value -> Corruption, before any key is touched.
  // A missing KEK for an existing vault -> IOError (never silently replaced).
  // KEK_PATH.next (an interrupted rotation) is read too: values open under
  // either KEK, new ones are wrapped under the next (RewrapAll finishes).
  static Status Open(const VaultOptions& options, std::unique_ptr<Vault>* out);
  virtual ~Vault() = default;

  // A new random DEK for the account, stored wrapped with sync.
  // Refused if the account already has one.
  virtual Status CreateAccountKey(uint64_t account_id, crypto::Key32* dek) = 0;
  // NotFound when the account has no key (never created, or shredded).
  virtual Status GetAccountKey(uint64_t account_id, crypto::Key32* dek) = 0;
  // The account key as it could sit in a file: wrapped (as stored) and raw,
  // appended to needles for a byte scan (restore's proof). Callers wipe them.
  virtual Status AccountKeyNeedles(uint64_t account_id, std::vector<std::string>* needles) = 0;

  // Blind index over canonical emails (projections/validate/validate.h, CanonicalEmail).
  virtual Status LookupEmail(std::string_view normalized_email, uint64_t* account_id) = 0;
  // Callers must not write the same email from two threads at once.
  virtual Status PutEmail(std::string_view normalized_email, uint64_t account_id) = 0;
  virtual Status DeleteEmail(std::string_view normalized_email) = 0;

  // Day keys seal automatically collected access logs (day = yyyymmdd UTC).
  virtual Status GetOrCreateDayKey(uint32_t day, crypto::Key32* key) = 0;
  // NotFound when the day never had a key or its key was shredded.
  virtual Status GetDayKey(uint32_t day, crypto::Key32* key) = 0;
  virtual Status ListDays(std::vector<uint32_t>* days) = 0;

  struct ShredRequest {
    std::vector<uint64_t> accounts;      // DEK rows to destroy
    // Blind-index rows to destroy: normalized email and the account it must
    // still name (a row re-registered by someone else meanwhile is left alone).
    std::vector<std::pair<std::string, uint64_t>> emails;
    std::vector<uint32_t> days;          // day-key rows to destroy
  };
  struct ShredReport {
    uint64_t files_scanned = 0;
    uint64_t bytes_scanned = 0;
    uint64_t hits = 0;                   // key bytes still found in vault files
    uint64_t versions_left = 0;          // row versions GetAllKeyVersions still sees
    uint32_t compaction_passes = 0;
    uint64_t keys_known = 0;             // rows whose key bytes were read before deletion
  };
  // Destroys the rows and proves it (docs/architecture.md, "Erasure", steps
  // 3-5): SingleDelete with sync, flush, forced bottommost compaction, then
  // GetAllKeyVersions and a byte scan of every vault file for each key, raw
  // and wrapped. Compaction is retried while anything is found; Corruption if
  // it still is after the last pass (the report says what was found). Rows already gone are fine:
  // a crashed erasure is finished by running it again.
  virtual Status Shred(const ShredRequest& request, ShredReport* report) = 0;
  // A follower's write: a kVault group another copy's vault published,
  // written exactly as it was. A shred group is then finished as Shred
  // finishes: compaction, then the deleted keys are verified gone from
  // every file of this vault (Corruption if not); *shred (if given) gets
  // the compaction and scan figures, set only for a shred group.
  virtual Status ApplyReplicated(const ReplicatedGroup& g, ShredReport* shred = nullptr) = 0;
  // g.log_seq of the last replicated group written here (kReplicaLogSeqRow); 0 if none.
  virtual Status ReplicaLogSeq(uint64_t* log_seq) = 0;

  // KEK rotation, step 2 (core/kek_rotation.h): with KEK_PATH.next present
  // at Open, rewraps every wrapped value still under the old KEK (DEKs, day
  // keys, the index key, the check value) in synced batches, then compacts
  // until no version under the old KEK is left and no old wrapped value is
  // found by the byte scan of the vault files. Refused without a next KEK.
  // Rerunning after a crash rewraps what is left; each value opens under
  // exactly one of the two KEKs all along.
  struct RewrapReport {
    uint64_t rewrapped = 0;              // values moved to the next KEK by this call
    uint64_t already_next = 0;           // values found under the next KEK already
    uint32_t batches = 0;
    uint32_t compaction_passes = 0;
    uint64_t old_versions_left = 0;      // RocksDB versions still under the old KEK (must be 0)
    uint64_t files_scanned = 0, bytes_scanned = 0, hits = 0;
    // Old wrapped values this call replaced, at most kOldWrappedKept, for
    // the data-directory scan after the KEK file is replaced.
    std::vector<std::string> old_wrapped;
  };
  static constexpr size_t kOldWrappedKept = 4096;
  virtual Status RewrapAll(RewrapReport* report) = 0;
  // An online, consistent copy of the vault in dir (must not exist), as
  // Ledger::Checkpoint. It holds every key the vault holds now: whoever keeps
  // it must re-apply later erasures before using it (docs/operations.md,
  // "Backup and restore").
  virtual Status Checkpoint(const std::string& dir) = 0;

  virtual Status Close() = 0;
};

// Associated data for an account's sealed payload: binds the ciphertext to
// the account, the event type and the request, so a box moved to another
// event fails to open.
std::string AccountAd(uint64_t account_id, fb::Payload type, std::string_view request_id);

// Seal / open an account PII table. Open returns Shredded when the vault has
// no key for the account, Corruption when the box fails authentication.
std::string SealForAccount(const crypto::Key32& dek, uint64_t account_id, fb::Payload type,
                           std::string_view request_id, std::string_view plaintext);
Status OpenForAccount(Vault& vault, uint64_t account_id, fb::Payload type,
                      std::string_view request_id, std::string_view box, std::string* plaintext);

// A 32-byte secret in its own file (0600, in a 0700 directory), read if it
// exists, else created when may_create (a fresh data directory) and IOError
// otherwise: a lost secret is never silently replaced.
Status LoadOrCreateKeyFile(const std::string& path, bool may_create, crypto::Key32* key);

// The file a rotation writes the next KEK to before it replaces KEK_PATH.
inline std::string NextKekPath(const std::string& kek_path) { return kek_path + ".next"; }
// A public name for a KEK: 16 hex digits of a BLAKE2b keyed by it. Says
// which key wrapped what (events, errors) without revealing anything of it.
std::string KekId(const crypto::Key32& kek);

}  // namespace accountable
