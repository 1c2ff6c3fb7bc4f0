// VaultImpl: the vault's implementation class, shared by core/vault.cc (the
// store) and core/vault_rotate.cc (KEK rotation, core/kek_rotation.h). Not a
// public header: everything else goes through core/vault.h.
//
//   auto impl = std::make_unique<vault_internal::VaultImpl>();
//   Status s = impl->OpenDb(options);
//
// Thread safety: as Vault (all methods thread-safe); RewrapAll expects no
// other writer (an offline vault: the CLI holds the RocksDB lock).
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/coding.h"
#include "core/crypto.h"
#include "core/vault.h"

namespace accountable::vault_internal {

enum Handle : size_t { kMeta, kDeks, kBlind, kEpochKeys, kCount };
inline const char* const kCfNames[kCount] = {"meta", "deks", "blind", "epoch_keys"};
inline constexpr std::string_view kCheckKey = "kek_check";
inline constexpr std::string_view kCheckPlain = "accountable vault KEK check v1";
// The index key wrapped under the KEK; absent until the first rotation
// (until then the index key is derived from the KEK itself).
inline constexpr std::string_view kIndexKeyRow = "index_key";
inline constexpr uint64_t kWalBytesMax = 4u << 20;  // see OpenDb

Status ReadKeyFile(const std::string& path, crypto::Key32* key);
Status WriteKeyFile(const std::string& path, const crypto::Key32& key);
std::string DayRow(uint32_t day);

class VaultImpl final : public Vault {
 public:
  // As the ledger: owners who care call Close() first and check it.
  ~VaultImpl() override { static_cast<void>(Close()); }
  Status OpenDb(const VaultOptions& o);
  Status CreateAccountKey(uint64_t account_id, crypto::Key32* dek) override;
  Status GetAccountKey(uint64_t account_id, crypto::Key32* dek) override;
  Status LookupEmail(std::string_view email, uint64_t* account_id) override;
  Status PutEmail(std::string_view email, uint64_t account_id) override;
  Status DeleteEmail(std::string_view email) override;
  Status GetOrCreateDayKey(uint32_t day, crypto::Key32* key) override;
  Status GetDayKey(uint32_t day, crypto::Key32* key) override;
  Status ListDays(std::vector<uint32_t>* days) override;
  Status Shred(const ShredRequest& request, ShredReport* report) override;
  Status ApplyReplicated(const ReplicatedGroup& g, ShredReport* shred) override;  // core/vault_replica.cc
  Status ReplicaLogSeq(uint64_t* log_seq) override;
  Status RewrapAll(RewrapReport* report) override;  // core/vault_rotate.cc
  Status AccountKeyNeedles(uint64_t account_id, std::vector<std::string>* needles) override;
  Status Checkpoint(const std::string& dir) override;
  Status Close() override;

 private:
  struct Row {
    size_t cf;
    std::string key;
    std::string only_value;  // if set: only versions with this value count as ours
  };
  Status Unwrap(size_t cf, const std::string& row, crypto::Key32* key);
  // Opens a value wrapped under either KEK (the next one during a rotation).
  Status OpenWrapped(std::string_view wrapped, std::string_view ad, std::string* plain) const;
  // The KEK new values are wrapped under: the next one once a rotation began.
  const crypto::Key32& WrapKek() const { return has_next_ ? next_kek_ : kek_; }
  Status LoadIndexKey();
  Status CompactAll();
  Status Verify(const std::vector<Row>& rows, const std::vector<std::string>& needles, ShredReport* r);
  // vault_rotate.cc: one cf's values still under the old KEK, rewrapped in synced batches.
  Status RewrapColumn(size_t cf, RewrapReport* r);
  Status OldVersionsLeft(uint64_t* count);
  std::string DekRow(uint64_t account_id) const {
    return crypto::KeyedHash(index_key_, "dek", EncodeBE64(account_id));
  }
  std::string BlindRow(std::string_view email) const {
    return crypto::KeyedHash(index_key_, "email", email);
  }
  Status Get(size_t h, std::string_view key, std::string* value);

  crypto::Key32 kek_;
  crypto::Key32 next_kek_;   // KEK_PATH.next while a rotation is under way
  bool has_next_ = false;
  crypto::Key32 index_key_;  // keys the row hashes; rows need no shredding
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  bool read_only_ = false;
  std::atomic<bool> write_failed_{false};  // a write failed; Resume() before the next
  // Publishes wb to sink_ (if set) first, then writes it with sync.
  Status WriteSync(rocksdb::WriteBatch* wb, bool shred = false);
  Status WriteLocal(rocksdb::WriteBatch* wb);
  // Compaction passes until Verify finds no trace of rows/needles.
  Status CompactAndVerify(const std::vector<Row>& rows, const std::vector<std::string>& needles, ShredReport* r);
  GroupSink* sink_ = nullptr;
  // With a sink: one vault write at a time from publish to local write, so
  // the log position each records only grows.
  std::mutex publish_mu_;
  Status Writable() const {
    return read_only_ ? Status::Refused("the vault was opened read-only") : Status::OK();
  }
  std::mutex create_mu_;     // makes "create if absent" atomic
  std::set<std::string> creating_;  // DEK rows being written, under create_mu_
  // Shred needs no iterator or snapshot open on the vault while it flushes,
  // compacts and verifies; ListDays (the only iterator) takes this too.
  std::mutex shred_mu_;
  std::string dir_;
};

}  // namespace accountable::vault_internal
