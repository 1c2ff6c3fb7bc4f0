// Vault::ApplyReplicated (core/vault.h): a follower writes the vault
// batches the writer's vault published, and finishes an erasure's batch as
// Shred does, so no copy keeps a shredded key. docs/replication.md.
#include <rocksdb/write_batch.h>

#include "core/crash_point.h"
#include "core/rocks_util.h"
#include "core/vault_impl.h"

namespace accountable::vault_internal {

namespace {

// The rows a batch SingleDeletes, by column family id.
class DeletedRows : public rocksdb::WriteBatch::Handler {
 public:
  std::vector<std::pair<uint32_t, std::string>> rows;
  rocksdb::Status PutCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override { return {}; }
  rocksdb::Status DeleteCF(uint32_t id, const rocksdb::Slice& key) override { return SingleDeleteCF(id, key); }
  rocksdb::Status SingleDeleteCF(uint32_t id, const rocksdb::Slice& key) override {
    if (rows.size() >= kRowsMax) return rocksdb::Status::InvalidArgument("too many deletes");
    rows.emplace_back(id, key.ToString());
    return {};
  }
  rocksdb::Status MergeCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override { return {}; }
  static constexpr size_t kRowsMax = 1u << 16;
};

}  // namespace

Status VaultImpl::ApplyReplicated(const ReplicatedGroup& g) {
  ACC_RETURN_IF_ERROR(Writable());
  if (g.kind != ReplicatedGroup::Kind::kVault) return Status::InvalidArgument("not a vault group");
  if (g.batch.size() < kWriteBatchHeaderBytes) return Status::InvalidArgument("replicated vault batch too short");
  if (g.log_seq != 0) {
    std::string at;
    Status gs = Get(kMeta, kReplicaLogSeqRow, &at);
    if (!gs.ok() && !gs.Is(Status::Code::kNotFound)) return gs;
    if (gs.ok() && at.size() == 8 && DecodeBE64(at) >= g.log_seq) return Status::OK();  // applied before a restart
  }
  rocksdb::WriteBatch wb(g.batch);
  // In the same synced write: a restarted follower skips exactly what it has.
  if (g.log_seq != 0) wb.Put(handles_[kMeta], kReplicaLogSeqRow, EncodeBE64(g.log_seq));
  if (!g.shred) return WriteLocal(&wb);
  DeletedRows deleted;
  ACC_RETURN_IF_ERROR(FromRocks(wb.Iterate(&deleted), "replicated vault batch"));
  std::lock_guard<std::mutex> l(shred_mu_);
  std::vector<Row> rows;
  std::vector<std::string> needles;  // raw keys among them: wiped on every path out
  crypto::ScopedWipeAll wipe(&needles);
  for (auto& [id, key] : deleted.rows) {
    size_t cf = kCount;
    for (size_t h = 0; h < kCount; ++h)
      if (handles_[h]->GetID() == id) cf = h;
    if (cf == kCount) return Status::InvalidArgument("replicated vault batch names an unknown column family");
    std::string wrapped;
    crypto::Key32 k;
    // Keys only: blind index rows hold no secret, and Verify counts their versions.
    if (cf != kBlind && Get(cf, key, &wrapped).ok() && Unwrap(cf, key, &k).ok()) {
      needles.push_back(wrapped);
      needles.emplace_back(k.view());
    }
    rows.push_back({cf, key, {}});
  }
  ACC_RETURN_IF_ERROR(WriteLocal(&wb));
  ShredReport report;
  return CompactAndVerify(rows, needles, &report);
}

}  // namespace accountable::vault_internal
