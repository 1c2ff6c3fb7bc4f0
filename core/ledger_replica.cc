// Ledger implementation, replication half: publishing a group to the
// GroupSink before its local write (writer), and applying a group another
// writer published (follower). core/replication.h, docs/replication.md.
#include <rocksdb/write_batch.h>

#include <future>

#include "core/ledger_impl.h"
#include "core/merkle.h"
#include "events/assert.h"

namespace accountable::ledger_internal {

Status LedgerImpl::PublishGroup(const rocksdb::WriteBatch& wb, uint64_t first_seq, uint64_t last_seq,
                                uint64_t* log_seq) {
  ReplicatedGroup g;
  g.kind = ReplicatedGroup::Kind::kEvents;
  g.first_seq = first_seq;
  g.last_seq = last_seq;
  if (opt_.merkle_tree && last_seq >= first_seq) {
    Digest root;
    if (!tree_.Root(last_seq, &root))
      return Status::Corruption("the Merkle tree has a gap below seq " + std::to_string(last_seq) +
                                "; the group was not published");
    g.root.assign(View(root));
  }
  g.batch = wb.Data();
  if (g.batch.size() > kReplicatedGroupBytesMax)
    return Status::InvalidArgument("group of " + std::to_string(g.batch.size()) +
                                   " bytes is larger than the replicated log takes");
  Status s = opt_.sink->Publish(g);
  *log_seq = g.log_seq;
  return s;
}

Status LedgerImpl::ApplyReplicated(const ReplicatedGroup& g) {
  if (opt_.read_only) return Status::Refused("the ledger is open read-only");
  if (g.kind != ReplicatedGroup::Kind::kEvents) return Status::InvalidArgument("not an event group");
  std::promise<Status> finished;
  std::future<Status> result = finished.get_future();
  auto p = std::make_unique<Pending>();
  p->replicated = &g;
  p->done = [&finished](Status s, std::vector<Appended>) { finished.set_value(std::move(s)); };
  ACC_RETURN_IF_ERROR(Enqueue(p, true));
  return result.get();
}

Status LedgerImpl::WriteReplicated(const ReplicatedGroup& g) {
  const uint64_t last = last_seq_.load();
  if (g.first_seq != last + 1)
    return Status::InvalidArgument("replicated group " + std::to_string(g.first_seq) + ".." +
                                   std::to_string(g.last_seq) + " does not follow seq " + std::to_string(last));
  if (g.batch.size() < kWriteBatchHeaderBytes) return Status::InvalidArgument("replicated group: batch too short");
  ACC_RETURN_IF_ERROR(ResumeAfterError());
  rocksdb::WriteBatch wb(g.batch);
  // In the same synced write: a copy seeded from a checkpoint of this one
  // resumes the log right after it (docs/replication.md).
  if (g.log_seq != 0) wb.Put(handles_[kMeta], kReplicaLogSeqRow, EncodeBE64(g.log_seq));
  rocksdb::Status s = db_->Write(SyncWrite(), &wb);
  if (!s.ok()) {
    storage_error_.store(true);
    return FromRocks(s, "event DB write of a replicated group");
  }
  // The batch bypassed the caches: drop them, the DB is the truth now.
  account_cache_.Clear();
  meta_cache_.Clear();
  last_seq_.store(g.last_seq, std::memory_order_release);
  ForgetUnwritten();  // after the store: the request id window starts at g.last_seq
  if (!opt_.merkle_tree) return Status::OK();
  std::string root;
  ACC_RETURN_IF_ERROR(merkle::RootAt(merkle::LedgerNodes(*this), g.last_seq, &root));
  if (root != g.root)
    return Status::Corruption("replicated group " + std::to_string(g.first_seq) + ".." + std::to_string(g.last_seq) +
                              ": the Merkle root here differs from the writer's; this copy must be rebuilt");
  return Status::OK();
}

}  // namespace accountable::ledger_internal
