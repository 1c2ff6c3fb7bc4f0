// KEK rotation inside the vault: Vault::RewrapAll (core/vault.h). The whole
// sequence, from writing the next KEK to shredding the old one, is
// core/kek_rotation.h; crash safety is argued in docs/operations.md ("Key
// rotation"): every value opens under exactly one of the two KEKs, because
// each is replaced by a synced batch that removes the old and puts the new.
#include <rocksdb/utilities/debug.h>

#include "core/byte_scan.h"
#include "core/crash_point.h"
#include "core/rocks_util.h"
#include "core/vault_impl.h"

namespace accountable::vault_internal {
namespace {

// Small batches keep each synced write short; a crash loses at most one.
constexpr size_t kRewrapBatchRows = 64;
constexpr uint32_t kRewrapPassesMax = 3;  // as Shred: compaction passes before a copy is reported
constexpr size_t kVersionsPageMax = 4096;

}  // namespace

Status VaultImpl::RewrapAll(RewrapReport* r) {
  ACC_RETURN_IF_ERROR(Writable());
  if (!has_next_) return Status::Refused("no rotation under way: the next KEK file is missing");
  if (sink_) return Status::Refused("KEK rotation of a replicated vault is not supported yet (docs/replication.md)");
  std::lock_guard<std::mutex> l(shred_mu_);
  *r = RewrapReport();
  // The index key first: once stored, the row hashes no longer depend on
  // which KEK is in the key file.
  ACC_RETURN_IF_ERROR(RewrapColumn(kMeta, r));
  CrashPoint("rotate-kek:after_meta");
  ACC_RETURN_IF_ERROR(RewrapColumn(kDeks, r));
  ACC_RETURN_IF_ERROR(RewrapColumn(kEpochKeys, r));
  CrashPoint("rotate-kek:after_rewrap");
  Status vs;
  for (uint32_t pass = 1; pass <= kRewrapPassesMax; ++pass) {
    ACC_RETURN_IF_ERROR(CompactAll());
    r->compaction_passes = pass;
    ACC_RETURN_IF_ERROR(OldVersionsLeft(&r->old_versions_left));
    ScanReport scan;
    ACC_RETURN_IF_ERROR(ScanDirectory(dir_, r->old_wrapped, &scan));
    r->files_scanned = scan.files_scanned;
    r->bytes_scanned = scan.bytes_scanned;
    r->hits = scan.hits;
    if (r->hits == 0 && r->old_versions_left == 0) return Status::OK();
    vs = Status::Corruption("the vault still holds " + std::to_string(r->old_versions_left) +
                            " versions and " + std::to_string(r->hits) + " copies of values under the old KEK");
  }
  return vs;
}

Status VaultImpl::RewrapColumn(size_t cf, RewrapReport* r) {
  rocksdb::WriteBatch wb;
  auto write = [&]() -> Status {
    if (wb.Count() == 0) return Status::OK();
    ACC_RETURN_IF_ERROR(WriteSync(&wb));
    wb.Clear();
    ++r->batches;
    if (FaultPoint("rotate-kek:batch")) ::kill(::getpid(), SIGKILL);  // tests: "rotate-kek:batch@N"
    return Status::OK();
  };
  if (cf == kMeta) {
    std::string stored;
    Status s = Get(kMeta, kIndexKeyRow, &stored);
    if (s.Is(Status::Code::kNotFound)) {
      wb.Put(handles_[kMeta], ToSlice(kIndexKeyRow), crypto::Seal(next_kek_, index_key_.view(), kIndexKeyRow));
      ACC_RETURN_IF_ERROR(write());  // before any row can be under the next KEK alone
    } else {
      ACC_RETURN_IF_ERROR(s);
    }
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[cf]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string row(FromSlice(it->key())), old(FromSlice(it->value()));
    std::string plain;
    if (crypto::Open(next_kek_, old, row, &plain).ok()) {
      crypto::Wipe(&plain);
      ++r->already_next;
      continue;
    }
    if (!crypto::Open(kek_, old, row, &plain).ok())
      return Status::Corruption("a vault row opens under neither the old nor the next KEK");
    const std::string fresh = crypto::Seal(next_kek_, plain, row);
    crypto::Wipe(&plain);
    // SingleDelete pairs with the old Put, so a later shred's SingleDelete
    // finds exactly one Put (the meta rows are never shredded: plain Put).
    if (cf != kMeta) wb.SingleDelete(handles_[cf], ToSlice(row));
    wb.Put(handles_[cf], ToSlice(row), fresh);
    if (r->old_wrapped.size() < kOldWrappedKept) r->old_wrapped.push_back(old);
    ++r->rewrapped;
    if (static_cast<size_t>(wb.Count()) >= kRewrapBatchRows * 2) ACC_RETURN_IF_ERROR(write());
  }
  ACC_RETURN_IF_ERROR(FromRocks(it->status(), "vault scan"));
  it.reset();
  return write();
}

// Every stored version (GetAllKeyVersions: what compaction has not dropped
// yet) of the wrapped columns that still opens under the old KEK.
Status VaultImpl::OldVersionsLeft(uint64_t* count) {
  *count = 0;
  for (size_t cf : {kMeta, kDeks, kEpochKeys}) {
    std::string begin;
    for (;;) {
      std::vector<rocksdb::KeyVersion> versions;
      ACC_RETURN_IF_ERROR(FromRocks(
          rocksdb::GetAllKeyVersions(db_.get(), handles_[cf], begin, rocksdb::Slice(), kVersionsPageMax, &versions),
          "vault key versions"));
      std::string plain;
      for (const auto& v : versions)
        if (crypto::Open(kek_, v.value, v.user_key, &plain).ok()) {
          crypto::Wipe(&plain);
          ++*count;
        }
      if (versions.size() < kVersionsPageMax) break;
      // The next page starts at the last key again (it may count twice: a
      // count above 0 is all that matters); a page of one key would not end.
      if (versions.front().user_key == versions.back().user_key)
        return Status::Corruption("a vault row has more versions than a page holds");
      begin = versions.back().user_key;
    }
  }
  return Status::OK();
}

}  // namespace accountable::vault_internal
