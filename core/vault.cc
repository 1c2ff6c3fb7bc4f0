// Vault implementation. Options follow docs/architecture.md: no WAL archive,
// no recycled logs, no blob files, so a deleted key has no hidden copy.
#include "core/vault.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/debug.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>

#include "core/byte_scan.h"
#include "core/coding.h"
#include "core/crash_point.h"
#include "core/rocks_util.h"
#include "core/vault_impl.h"

namespace accountable {
namespace vault_internal {

Status ReadKeyFile(const std::string& path, crypto::Key32* key) {
  std::string bytes;
  // One byte more than a key, so that a long file reads as the wrong size.
  Status s = crypto::ReadSecretFile(path, crypto::kKeyBytes + 1, &bytes);
  if (s.Is(Status::Code::kNotFound)) return Status::IOError("key file " + path + " is missing or unreadable");
  ACC_RETURN_IF_ERROR(s);
  const bool exact = bytes.size() == crypto::kKeyBytes;
  if (exact) std::memcpy(key->data(), bytes.data(), crypto::kKeyBytes);
  crypto::Wipe(&bytes);
  if (!exact) return Status::Corruption("key file " + path + " is not exactly 32 bytes");
  return Status::OK();
}

Status WriteKeyFile(const std::string& path, const crypto::Key32& key) {
  std::error_code ec;
  const auto key_dir = std::filesystem::path(path).parent_path();
  std::filesystem::create_directories(key_dir, ec);
  if (ec) return Status::IOError("cannot create key directory for " + path);
  // Nobody else may even list the key directory.
  std::filesystem::permissions(key_dir, std::filesystem::perms::owner_all, ec);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot create key file " + path + ": " + std::strerror(errno));
  bool ok = ::write(fd, key.data(), crypto::kKeyBytes) == static_cast<ssize_t>(crypto::kKeyBytes) &&
            ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::OK() : Status::IOError("cannot write key file " + path);
}

std::string DayRow(uint32_t day) {
  std::string s(4, '\0');
  for (int i = 3; i >= 0; --i, day >>= 8) s[i] = static_cast<char>(day & 0xff);
  return s;
}

// Reads the KEK (creating it with a new vault) and, during a rotation, the next one.
Status LoadKeks(const VaultOptions& o, bool fresh, crypto::Key32* kek, crypto::Key32* next, bool* has_next) {
  const bool have_key = std::filesystem::exists(o.kek_path);
  Status ks = have_key ? ReadKeyFile(o.kek_path, kek) : Status::OK();
  if (o.read_only && fresh) return Status::NotFound("no vault in " + o.dir);
  if (!have_key && !fresh)
    return Status::IOError("vault " + o.dir + " exists but its key file " + o.kek_path +
                           " is missing; refusing to create a new KEK");
  if (!have_key) {
    *kek = crypto::RandomKey();
    ACC_RETURN_IF_ERROR(WriteKeyFile(o.kek_path, *kek));
  } else if (!ks.ok()) {
    return ks;
  }
  *has_next = !fresh && std::filesystem::exists(NextKekPath(o.kek_path));
  return *has_next ? ReadKeyFile(NextKekPath(o.kek_path), next) : Status::OK();
}

Status VaultImpl::OpenDb(const VaultOptions& o) {
  dir_ = o.dir;
  const bool fresh = !std::filesystem::exists(std::filesystem::path(o.dir) / "CURRENT");
  ACC_RETURN_IF_ERROR(LoadKeks(o, fresh, &kek_, &next_kek_, &has_next_));
  // They live as long as the vault: a page of their own, read-only (the
  // next KEK only while a rotation is under way; the index key once loaded).
  kek_.MakeReadOnly();
  if (has_next_) next_kek_.MakeReadOnly();

  rocksdb::Options dbo;
  dbo.create_if_missing = true;
  dbo.create_missing_column_families = true;
  // Every one of these could keep a copy of a deleted key alive
  // (docs/architecture.md, "Why two RocksDB instances").
  dbo.WAL_ttl_seconds = 0;
  dbo.WAL_size_limit_MB = 0;
  dbo.recycle_log_file_num = 0;
  dbo.keep_log_file_num = 2;
  // Caps the WAL preallocation (1.1x the write buffer, 70 MiB by default,
  // for a vault of kilobytes): on a nearly full disk a restart needs it.
  dbo.max_total_wal_size = kWalBytesMax;
  if (o.faults) dbo.env = FaultEnv(o.faults.get());
  // Recovery after a failed write is WriteSync's Resume() (rocks_util.h).
  dbo.listeners.push_back(std::make_shared<ManualRecovery>());
  dbo.max_bgerror_resume_count = 0;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  rocksdb::ColumnFamilyOptions co;
  // Uncompressed, so the byte scan of the erasure proof sees every stored
  // byte as written (the vault is tiny; compression would buy nothing).
  co.compression = rocksdb::kNoCompression;
  co.bottommost_compression = rocksdb::kNoCompression;
  for (const char* n : kCfNames) cfs.emplace_back(n, co);
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  rocksdb::DB* raw = nullptr;
  read_only_ = o.read_only;
  sink_ = o.sink;
  rocksdb::Status s = o.read_only ? rocksdb::DB::OpenForReadOnly(dbo, o.dir, cfs, &hs, &raw)
                                  : rocksdb::DB::Open(dbo, o.dir, cfs, &hs, &raw);
  if (!s.ok()) return FromRocks(s, "vault " + o.dir);
  db_.reset(raw);
  db_->DestroyColumnFamilyHandle(hs[0]);
  handles_.assign(hs.begin() + 1, hs.end());

  std::string check;
  Status cs = Get(kMeta, kCheckKey, &check);
  if (cs.Is(Status::Code::kNotFound) && !o.read_only) {
    ACC_RETURN_IF_ERROR(LoadIndexKey());
    std::string box = crypto::Seal(WrapKek(), kCheckPlain, kCheckKey);
    s = db_->Put(SyncWrite(), handles_[kMeta], ToSlice(kCheckKey), box);
    return FromRocks(s, "vault check value");
  }
  ACC_RETURN_IF_ERROR(cs);
  std::string plain;
  if (!OpenWrapped(check, kCheckKey, &plain).ok() || plain != kCheckPlain)
    return Status::Corruption("the KEK in " + o.kek_path + (has_next_ ? " (or .next)" : "") +
                              " does not belong to vault " + o.dir);
  return LoadIndexKey();
}

// Derived from the KEK until the first rotation stores it wrapped: the row
// hashes must not change when the KEK does.
Status VaultImpl::LoadIndexKey() {
  std::string wrapped, plain;
  Status s = Get(kMeta, kIndexKeyRow, &wrapped);
  if (s.Is(Status::Code::kNotFound)) {
    plain = crypto::KeyedHash(kek_, "index-key", "");
  } else {
    ACC_RETURN_IF_ERROR(s);
    ACC_RETURN_IF_ERROR(OpenWrapped(wrapped, kIndexKeyRow, &plain));
  }
  const bool exact = plain.size() == crypto::kKeyBytes;
  if (exact) std::memcpy(index_key_.data(), plain.data(), crypto::kKeyBytes);
  crypto::Wipe(&plain);
  if (!exact) return Status::Corruption("vault index key has the wrong size");
  index_key_.MakeReadOnly();
  return Status::OK();
}

Status VaultImpl::OpenWrapped(std::string_view wrapped, std::string_view ad, std::string* plain) const {
  Status s = crypto::Open(kek_, wrapped, ad, plain);
  if (!s.ok() && has_next_) s = crypto::Open(next_kek_, wrapped, ad, plain);
  return s;
}

Status VaultImpl::Close() {
  if (!db_) return Status::OK();
  // Flushing leaves no WAL to replay, so a closed vault is only SST files.
  rocksdb::FlushOptions fo;
  // After a failed write the flush fails too unless Resume clears the error;
  // either way a close that leaves the error behind must say so.
  rocksdb::Status fs = write_failed_.load() ? db_->Resume() : rocksdb::Status::OK();
  if (fs.ok()) fs = db_->Flush(fo, handles_);
  if (!write_failed_.load()) fs = rocksdb::Status::OK();  // as before: a healthy vault's flush is best effort
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  rocksdb::Status s = db_->Close();
  db_.reset();
  if (!fs.ok()) return FromRocks(fs, "vault flush after a storage error");
  return FromRocks(s, "vault close");
}

Status VaultImpl::Get(size_t h, std::string_view key, std::string* value) {
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[h], ToSlice(key), value);
  if (s.IsNotFound()) return Status::NotFound("no such vault row");
  return FromRocks(s, "vault read");
}

Status VaultImpl::CreateAccountKey(uint64_t account_id, crypto::Key32* dek) {
  ACC_RETURN_IF_ERROR(Writable());
  const std::string row = DekRow(account_id);
  {
    // Check-then-create is atomic per row; the synced write happens outside
    // the lock so that concurrent registrations share RocksDB's group commit.
    std::lock_guard<std::mutex> l(create_mu_);
    std::string existing;
    Status gs = Get(kDeks, row, &existing);
    if (gs.ok() || creating_.count(row))
      return Status::Refused("account " + std::to_string(account_id) + " already has a key");
    if (!gs.Is(Status::Code::kNotFound)) return gs;
    creating_.insert(row);
  }
  *dek = crypto::RandomKey();
  // The row key is the AD: a wrapped DEK copied to another row will not unwrap.
  std::string wrapped = crypto::Seal(WrapKek(), dek->view(), row);
  rocksdb::WriteBatch wb;
  wb.Put(handles_[kDeks], row, wrapped);
  Status ws = WriteSync(&wb);
  std::lock_guard<std::mutex> l(create_mu_);
  creating_.erase(row);
  return ws;
}

Status VaultImpl::GetAccountKey(uint64_t account_id, crypto::Key32* dek) {
  return Unwrap(kDeks, DekRow(account_id), dek);
}

Status VaultImpl::Unwrap(size_t cf, const std::string& row, crypto::Key32* key) {
  std::string wrapped, plain;
  ACC_RETURN_IF_ERROR(Get(cf, row, &wrapped));
  ACC_RETURN_IF_ERROR(OpenWrapped(wrapped, row, &plain));
  if (plain.size() != crypto::kKeyBytes) return Status::Corruption("wrapped key has wrong size");
  std::memcpy(key->data(), plain.data(), crypto::kKeyBytes);
  std::fill(plain.begin(), plain.end(), '\0');  // do not leave the key in freed heap
  return Status::OK();
}

Status VaultImpl::GetOrCreateDayKey(uint32_t day, crypto::Key32* key) {
  const std::string row = DayRow(day);
  Status s = Unwrap(kEpochKeys, row, key);
  if (!s.Is(Status::Code::kNotFound)) return s;
  ACC_RETURN_IF_ERROR(Writable());
  std::lock_guard<std::mutex> l(create_mu_);
  s = Unwrap(kEpochKeys, row, key);  // another thread may have won the race
  if (!s.Is(Status::Code::kNotFound)) return s;
  *key = crypto::RandomKey();
  std::string wrapped = crypto::Seal(WrapKek(), key->view(), row);
  rocksdb::WriteBatch wb;
  wb.Put(handles_[kEpochKeys], row, wrapped);
  return WriteSync(&wb);
}

Status VaultImpl::GetDayKey(uint32_t day, crypto::Key32* key) {
  return Unwrap(kEpochKeys, DayRow(day), key);
}

Status VaultImpl::ListDays(std::vector<uint32_t>* days) {
  std::lock_guard<std::mutex> l(shred_mu_);
  days->clear();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kEpochKeys]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 4) return Status::Corruption("day-key row with a malformed key");
    uint32_t d = 0;
    for (size_t i = 0; i < 4; ++i) d = (d << 8) | static_cast<uint8_t>(it->key()[i]);
    days->push_back(d);
  }
  return FromRocks(it->status(), "vault scan");
}

Status VaultImpl::LookupEmail(std::string_view email, uint64_t* account_id) {
  std::string v;
  ACC_RETURN_IF_ERROR(Get(kBlind, BlindRow(email), &v));
  if (v.size() != 8) return Status::Corruption("blind index row has wrong size");
  *account_id = DecodeBE64(v);
  return Status::OK();
}

Status VaultImpl::PutEmail(std::string_view email, uint64_t account_id) {
  ACC_RETURN_IF_ERROR(Writable());
  // Callers serialize writes per email (Accounts' reservation), so no lock here.
  const std::string row = BlindRow(email);
  std::string existing;
  Status gs = Get(kBlind, row, &existing);
  if (!gs.ok() && !gs.Is(Status::Code::kNotFound)) return gs;
  rocksdb::WriteBatch wb;
  // Rows are erased with SingleDelete, which requires each Put to be the
  // only one since the last delete: replace a stale row with delete + put.
  if (gs.ok()) wb.SingleDelete(handles_[kBlind], row);
  wb.Put(handles_[kBlind], row, EncodeBE64(account_id));
  return WriteSync(&wb);
}

Status VaultImpl::DeleteEmail(std::string_view email) {
  ACC_RETURN_IF_ERROR(Writable());
  rocksdb::WriteBatch wb;
  wb.SingleDelete(handles_[kBlind], BlindRow(email));
  return WriteSync(&wb);
}

// Passes of flush + compaction before a remaining copy is reported, not retried:
// RocksDB 7.8 can trivially move a file instead of rewriting it once.
constexpr uint32_t kCompactionPassesMax = 3;

Status VaultImpl::Shred(const ShredRequest& req, ShredReport* report) {
  ACC_RETURN_IF_ERROR(Writable());
  std::lock_guard<std::mutex> l(shred_mu_);
  *report = ShredReport();
  std::vector<Row> rows;
  std::vector<std::string> needles;  // raw keys among them: wiped on every path out
  crypto::ScopedWipeAll wipe(&needles);
  auto collect = [&](size_t cf, std::string row) {
    std::string wrapped;
    crypto::Key32 key;
    if (Get(cf, row, &wrapped).ok() && Unwrap(cf, row, &key).ok()) {
      needles.push_back(wrapped);
      needles.emplace_back(key.view());
      ++report->keys_known;
    }
    rows.push_back({cf, std::move(row)});
  };
  for (uint64_t a : req.accounts) collect(kDeks, DekRow(a));
  for (uint32_t d : req.days) collect(kEpochKeys, DayRow(d));
  for (const auto& [email, id] : req.emails) rows.push_back({kBlind, BlindRow(email), EncodeBE64(id)});
  rocksdb::WriteBatch wb;
  for (const Row& r : rows) {
    std::string v;
    // SingleDelete of an absent key is harmless but pointless; skip it.
    if (Get(r.cf, r.key, &v).ok() && (r.only_value.empty() || v == r.only_value))
      wb.SingleDelete(handles_[r.cf], r.key);
  }
  if (wb.Count() > 0) ACC_RETURN_IF_ERROR(WriteSync(&wb, true));
  CrashPoint("erase:after_delete");
  return CompactAndVerify(rows, needles, report);
}

Status VaultImpl::CompactAndVerify(const std::vector<Row>& rows, const std::vector<std::string>& needles,
                                   ShredReport* report) {
  Status vs;
  for (uint32_t pass = 1; pass <= kCompactionPassesMax; ++pass) {
    ACC_RETURN_IF_ERROR(CompactAll());
    CrashPoint("erase:after_compaction");
    report->compaction_passes = pass;
    vs = Verify(rows, needles, report);
    if (vs.ok() || !vs.Is(Status::Code::kCorruption)) break;
  }
  return vs;
}

// After a failed write RocksDB refuses writes until DB::Resume() succeeds;
// trying it before the next write means freeing space is all it takes.
Status VaultImpl::WriteSync(rocksdb::WriteBatch* wb, bool shred) {
  if (!sink_) return WriteLocal(wb);
  std::lock_guard<std::mutex> l(publish_mu_);
  ReplicatedGroup g;
  g.kind = ReplicatedGroup::Kind::kVault;
  g.shred = shred;
  g.batch = wb->Data();  // wrapped keys and keyed row hashes only
  uint64_t log_seq = 0;
  ACC_RETURN_IF_ERROR(sink_->PublishAt(g, &log_seq));
  if (log_seq != 0) wb->Put(handles_[kMeta], kReplicaLogSeqRow, EncodeBE64(log_seq));
  return WriteLocal(wb);
}

Status VaultImpl::WriteLocal(rocksdb::WriteBatch* wb) {
  if (write_failed_.load()) {
    ACC_RETURN_IF_ERROR(FromRocks(db_->Resume(), "vault resume after a storage error"));
    write_failed_.store(false);
  }
  rocksdb::Status s = db_->Write(SyncWrite(), wb);
  if (!s.ok()) write_failed_.store(true);
  return FromRocks(s, "vault write");
}

Status VaultImpl::CompactAll() {
  rocksdb::FlushOptions fo;
  fo.wait = true;
  ACC_RETURN_IF_ERROR(FromRocks(db_->Flush(fo, handles_), "vault flush"));
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  co.exclusive_manual_compaction = true;
  // Null bounds on purpose: explicit bounds are printed into the info LOG.
  for (auto* h : handles_)
    ACC_RETURN_IF_ERROR(FromRocks(db_->CompactRange(co, h, nullptr, nullptr), "vault compaction"));
  return Status::OK();
}

Status VaultImpl::Verify(const std::vector<Row>& rows, const std::vector<std::string>& needles,
                         ShredReport* r) {
  r->versions_left = 0;
  for (const Row& row : rows) {
    std::vector<rocksdb::KeyVersion> versions;
    ACC_RETURN_IF_ERROR(FromRocks(
        rocksdb::GetAllKeyVersions(db_.get(), handles_[row.cf], row.key, row.key, 16, &versions),
        "vault key versions"));
    for (const auto& v : versions)
      if (row.only_value.empty() || v.value == row.only_value) ++r->versions_left;
  }
  ScanReport scan;
  ACC_RETURN_IF_ERROR(ScanDirectory(dir_, needles, &scan));
  r->files_scanned = scan.files_scanned;
  r->bytes_scanned = scan.bytes_scanned;
  r->hits = scan.hits;
  if (r->hits || r->versions_left)
    return Status::Corruption("vault still holds " + std::to_string(r->hits) + " copies and " +
                              std::to_string(r->versions_left) + " versions of shredded keys");
  return Status::OK();
}

}  // namespace vault_internal

Status Vault::Open(const VaultOptions& options, std::unique_ptr<Vault>* out) {
  ACC_RETURN_IF_ERROR(crypto::InitCrypto());
  auto impl = std::make_unique<vault_internal::VaultImpl>();
  ACC_RETURN_IF_ERROR(impl->OpenDb(options));
  *out = std::move(impl);
  return Status::OK();
}

std::string AccountAd(uint64_t account_id, fb::Payload type, std::string_view request_id) {
  std::string ad = EncodeBE64(account_id);
  ad.push_back(static_cast<char>(type));
  ad.append(request_id);
  return ad;
}

std::string SealForAccount(const crypto::Key32& dek, uint64_t account_id, fb::Payload type,
                           std::string_view request_id, std::string_view plaintext) {
  return crypto::SealPadded(dek, plaintext, AccountAd(account_id, type, request_id));
}

Status OpenForAccount(Vault& vault, uint64_t account_id, fb::Payload type,
                      std::string_view request_id, std::string_view box, std::string* plaintext) {
  crypto::Key32 dek;
  Status ks = vault.GetAccountKey(account_id, &dek);
  if (ks.Is(Status::Code::kNotFound))
    return Status::Shredded("the key of account " + std::to_string(account_id) + " was destroyed");
  ACC_RETURN_IF_ERROR(ks);
  return crypto::OpenPadded(dek, box, AccountAd(account_id, type, request_id), plaintext);
}

Status LoadOrCreateKeyFile(const std::string& path, bool may_create, crypto::Key32* key) {
  ACC_RETURN_IF_ERROR(crypto::InitCrypto());
  if (std::filesystem::exists(path)) return vault_internal::ReadKeyFile(path, key);
  if (!may_create) return Status::IOError("key file " + path + " is missing; refusing to create a new one");
  *key = crypto::RandomKey();
  return vault_internal::WriteKeyFile(path, *key);
}

std::string KekId(const crypto::Key32& kek) {
  return crypto::ToHex(crypto::KeyedHash(kek, "kek-id", "").substr(0, 8));
}

Status vault_internal::VaultImpl::AccountKeyNeedles(uint64_t account_id, std::vector<std::string>* needles) {
  std::string wrapped;
  crypto::Key32 key;
  ACC_RETURN_IF_ERROR(Get(vault_internal::kDeks, DekRow(account_id), &wrapped));
  ACC_RETURN_IF_ERROR(Unwrap(vault_internal::kDeks, DekRow(account_id), &key));
  needles->push_back(std::move(wrapped));
  needles->emplace_back(key.view());
  return Status::OK();
}

Status vault_internal::VaultImpl::Checkpoint(const std::string& dir) {
  // Not during a shred: its flush and compactions would race the copy for nothing.
  std::lock_guard<std::mutex> l(shred_mu_);
  return CheckpointDb(db_.get(), dir, "vault checkpoint");
}

}  // namespace accountable
