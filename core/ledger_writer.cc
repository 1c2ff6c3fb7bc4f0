// Ledger implementation, write half: the single writer thread that takes
// queued batches, stamps seqs, runs the AppendHook, adds the Merkle leaves
// and commits each group with one synced WriteBatch.
#include <algorithm>
#include <chrono>
#include <future>

#include "core/ledger_impl.h"
#include "core/merkle.h"
#include "events/assert.h"

namespace accountable::ledger_internal {

Status WriterTx::Get(Cf cf, std::string_view key, std::string* value) {
  size_t h = static_cast<size_t>(cf);
  bool found = false;
  if (Lookup(h, std::string(key), value, &found))
    return found ? Status::OK() : Status::NotFound("no such row");
  if (cf == Cf::kMeta) return ledger_->GetMetaCached(key, value);
  if (cf != Cf::kAccounts) return ledger_->GetRaw(h, key, value);
  if (ledger_->account_cache_.Get(key, value)) return Status::OK();
  Status s = ledger_->GetRaw(h, key, value);
  if (s.ok()) ledger_->account_cache_.Put(key, *value);  // committed: the writer is the only one that commits
  return s;
}

void WriterTx::Delete(Cf cf, std::string_view key) {
  size_t h = static_cast<size_t>(cf);
  wb_->Delete(ledger_->handle(h), ToSlice(key));
  Record(h, key, std::nullopt);
}

void WriterTx::Put(Cf cf, std::string_view key, std::string_view value) {
  PutRaw(static_cast<size_t>(cf), key, value);
}

void WriterTx::Merge(Cf cf, std::string_view key, std::string_view value) {
  // Merge operands are not folded into the overlay: no hook reads them back
  // within a group (bitmaps are only read by queries).
  wb_->Merge(ledger_->handle(static_cast<size_t>(cf)), ToSlice(key), ToSlice(value));
}

void WriterTx::PutBlind(size_t h, std::string_view key, std::string_view value) {
  wb_->Put(ledger_->handle(h), ToSlice(key), ToSlice(value));
}

void WriterTx::PutRaw(size_t h, std::string_view key, std::string_view value) {
  wb_->Put(ledger_->handle(h), ToSlice(key), ToSlice(value));
  Record(h, key, std::string(value));
}

void WriterTx::Record(size_t h, std::string_view key, Slot value) {
  Key k{h, std::string(key)};
  auto it = overlay_.find(k);
  undo_.emplace_back(k, it == overlay_.end() ? std::nullopt : std::optional<Slot>(std::move(it->second)));
  overlay_[std::move(k)] = std::move(value);
}

bool WriterTx::Lookup(size_t h, const std::string& key, std::string* value, bool* found) const {
  auto it = overlay_.find({h, key});
  if (it == overlay_.end()) return false;
  *found = it->second.has_value();
  if (*found) *value = *it->second;
  return true;
}

Status LedgerImpl::CheckBatch(const std::vector<Command>& batch) const {
  if (opt_.read_only) return Status::Refused("the ledger is open read-only");
  if (batch.empty()) return Status::InvalidArgument("empty batch");
  if (batch.size() > opt_.batch_commands_max || batch.size() > opt_.group_commands_max ||
      batch.size() > opt_.queue_commands_max)
    return Status::InvalidArgument("batch larger than " + std::to_string(opt_.batch_commands_max));
  for (const auto& c : batch) {
    events::EventView v;
    ACC_RETURN_IF_ERROR(events::EventView::Parse(c.envelope, &v));
    if (!v.envelope()->request_id() || v.envelope()->request_id()->size() == 0 ||
        v.envelope()->request_id()->size() > events::kRequestIdBytesMax)
      return Status::InvalidArgument("request id must be 1.." +
                                     std::to_string(events::kRequestIdBytesMax) + " bytes");
    if (c.expected_version && v.envelope()->account_id() == 0)
      return Status::InvalidArgument("expected version given for an event with no account");
    if (c.content_digest.size() > kContentDigestBytesMax)
      return Status::InvalidArgument("content digest longer than " + std::to_string(kContentDigestBytesMax) + " bytes");
  }
  return Status::OK();
}

Status LedgerImpl::Enqueue(std::unique_ptr<Pending>& p, bool wait_for_space) {
  const size_t n = p->batch.size();
  {
    std::unique_lock<std::mutex> l(mu_);
    auto fits = [&] { return stopping_ || queued_commands_ + n <= opt_.queue_commands_max; };
    if (wait_for_space) space_cv_.wait(l, fits);
    if (stopping_) return Status::IOError("ledger is closing");
    if (!fits()) return Status::Busy("the ledger's write queue is full; retry later");
    queued_commands_ += n;
    queue_.push_back(std::move(p));
  }
  queue_cv_.notify_one();
  return Status::OK();
}

Status LedgerImpl::Append(std::vector<Command> batch, std::vector<Appended>* out) {
  // Verification happens here, on the caller's thread, to keep it off the writer.
  ACC_RETURN_IF_ERROR(CheckBatch(batch));
  std::promise<Status> finished;
  std::future<Status> result = finished.get_future();
  auto p = std::make_unique<Pending>();
  p->batch = std::move(batch);
  p->done = [&finished, out](Status s, std::vector<Appended> r) {
    if (s.ok()) *out = std::move(r);
    finished.set_value(std::move(s));
  };
  ACC_RETURN_IF_ERROR(Enqueue(p, true));
  return result.get();
}

void LedgerImpl::AppendAsync(std::vector<Command> batch, AppendDone done) {
  ACC_ASSERT(done != nullptr, "an asynchronous append needs a completion");
  Status s = CheckBatch(batch);
  if (!s.ok()) return done(std::move(s), {});
  auto p = std::make_unique<Pending>();
  p->batch = std::move(batch);
  p->done = std::move(done);
  s = Enqueue(p, false);
  if (!s.ok()) p->done(std::move(s), {});  // still ours: Enqueue takes p only on success
}

void LedgerImpl::WriterLoop() {
  std::vector<std::unique_ptr<Pending>> group;
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      queue_cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and every queued command was written
      size_t n = 0;
      // A replicated group is written alone: it is a group already.
      while (!queue_.empty() && n + queue_.front()->batch.size() <= opt_.group_commands_max &&
             (group.empty() || (!group.front()->replicated && !queue_.front()->replicated))) {
        n += queue_.front()->batch.size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_commands_ -= n;
    }
    space_cv_.notify_all();
    const uint64_t last_before = last_seq_.load();
    if (group.front()->replicated) group.front()->status = WriteReplicated(*group.front()->replicated);
    else WriteGroup(group);
    // on_commit first: a caller answered after it finds the group's signed
    // tree head in place (Accounts signs there), so an auditor's head is
    // never behind an acknowledged write.
    if (opt_.on_commit && last_seq_.load() != last_before) opt_.on_commit(last_seq_.load());
    // In seq order, after the fsync (or the failure) of the whole group.
    for (auto& p : group) p->done(std::move(p->status), std::move(p->results));
    group.clear();
  }
}

void LedgerImpl::WriteGroup(std::vector<std::unique_ptr<Pending>>& group) {
  ACC_ASSERT(!group.empty(), "the writer wakes only for queued commands");
  if (Status rs = ResumeAfterError(); !rs.ok()) {
    for (auto& p : group) p->status = rs;  // fail fast: nothing was tried
    return;
  }
  rocksdb::WriteBatch wb;
  WriterTx tx(this, &wb);
  const uint64_t first_seq = last_seq_.load() + 1;
  uint64_t next_seq = first_seq;
  const int64_t now_ms = std::max(NowMs(), last_recorded_ms_);
  std::unordered_map<uint64_t, uint64_t> versions;  // this group's stream versions
  group_leaves_.clear();
  group_requests_.clear();
  for (auto& p : group) p->status = ApplyBatch(p.get(), tx, &next_seq, now_ms, &versions);
  ACC_ASSERT(!opt_.merkle_tree || group_leaves_.size() == next_seq - first_seq,
             "one Merkle leaf per newly assigned seq");
  // The tree rows go last, once the group's refusals are known: leaves of
  // seqs first_seq.. in one row, so a group of k events adds 1 + k/32 rows.
  tree_.AddLeaves(first_seq - 1, group_leaves_, [&](std::string_view key, std::string_view value) {
    wb.Put(handles_[kMerkle], ToSlice(key), ToSlice(value));
  });
  if (next_seq == first_seq && wb.Count() == 0) return;  // only refusals and duplicates
  if (opt_.sink) {
    // Published first: a crash before the local write leaves this copy
    // behind the log, never ahead of it (docs/replication.md).
    uint64_t log_seq = 0;
    if (Status ps = PublishGroup(wb, first_seq, next_seq - 1, &log_seq); !ps.ok()) {
      for (auto& p : group)
        if (p->status.ok()) p->status = ps;
      ForgetUnwritten();
      return;
    }
    // Not in the published batch: each copy records its own position.
    if (log_seq != 0) wb.Put(handles_[kMeta], kReplicaLogSeqRow, EncodeBE64(log_seq));
  }
  const auto write_start = std::chrono::steady_clock::now();
  rocksdb::Status s = db_->Write(SyncWrite(), &wb);
  if (opt_.stats) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - write_start);
    opt_.stats->fsync_us.Observe(static_cast<uint64_t>(us.count()));
  }
  if (!s.ok()) {
    if (opt_.stats) opt_.stats->storage_errors.fetch_add(1, std::memory_order_relaxed);
    Status err = FromRocks(s, "event DB write");
    disk_full_.store(err.Is(Status::Code::kDiskFull));
    storage_error_.store(true);
    for (auto& p : group)
      if (p->status.ok()) p->status = err;
    ForgetUnwritten();  // versions and tree nodes that never became durable
    return;
  }
  ACC_ASSERT(next_seq >= first_seq && last_seq_.load() == first_seq - 1,
             "only the writer advances last_seq, by exactly the group's new events");
  account_cache_.Apply(tx.Rows(kAccounts));
  for (const auto& row : tx.Rows(kMeta)) meta_cache_.Erase(row.first);  // refilled when read again
  ACC_ASSERT(group_requests_.size() == next_seq - first_seq, "one request id per newly assigned seq");
  for (size_t i = 0; i < group_requests_.size(); ++i) recent_requests_.Add(group_requests_[i], first_seq + i);
  last_seq_.store(next_seq - 1, std::memory_order_release);
  last_recorded_ms_ = now_ms;
  if (version_cache_.size() + versions.size() > kVersionCacheEntriesMax) version_cache_.clear();
  for (auto& [account, version] : versions) version_cache_[account] = version;
  if (opt_.stats) CountAppends(group, next_seq - first_seq);
}

void LedgerImpl::CountAppends(const std::vector<std::unique_ptr<Pending>>& group, uint64_t events) {
  if (events > 0) opt_.stats->group_events.Observe(events);
  for (const auto& p : group) {
    if (!p->status.ok()) continue;
    for (size_t i = 0; i < p->batch.size(); ++i) {
      if (p->results[i].duplicate) continue;
      const auto type = static_cast<size_t>(fb::GetEnvelope(p->batch[i].envelope.data())->payload_type());
      opt_.stats->appends_by_type[std::min(type, kPayloadTypesMax - 1)].fetch_add(1, std::memory_order_relaxed);
    }
  }
}

// RocksDB stops writes after a failed WAL write or flush (a "background
// error") until DB::Resume() succeeds; resuming here, on the next group,
// means freeing space is all it takes. While the disk is still full, Resume
// fails at once and the group gets DiskFull without a write.
Status LedgerImpl::ResumeAfterError() {
  if (!storage_error_.load()) return Status::OK();
  // A Resume() that fails for want of space can leave the DB unable to
  // resume later, so it is tried only once a write of this size succeeds.
  if (disk_full_.load() && !SpaceForResume()) return Status::DiskFull("event DB: no space left on device");
  rocksdb::Status s = db_->Resume();
  if (!s.ok()) {
    Status err = FromRocks(s, "event DB resume after a storage error");
    if (disk_full_.load() && !err.Is(Status::Code::kDiskFull))
      err = Status::DiskFull("event DB: no space left on device (" + err.message() + ")");
    return err;
  }
  storage_error_.store(false);
  disk_full_.store(false);
  return Status::OK();
}

bool LedgerImpl::SpaceForResume() {
  const std::string path = opt_.dir + "/SPACE-PROBE";
  rocksdb::Env* env = opt_.faults ? FaultEnv(opt_.faults.get()) : rocksdb::Env::Default();
  std::unique_ptr<rocksdb::WritableFile> f;
  rocksdb::Status s = env->NewWritableFile(path, &f, rocksdb::EnvOptions());
  if (s.ok()) s = f->Append(std::string(kSpaceProbeBytes, '\0'));
  if (s.ok()) s = f->Sync();
  if (f) static_cast<void>(f->Close());  // the probe's outcome is s; the file goes anyway
  static_cast<void>(env->DeleteFile(path));
  return s.ok();
}

Status LedgerImpl::ApplyBatch(Pending* p, WriterTx& tx, uint64_t* next_seq, int64_t now_ms,
                              std::unordered_map<uint64_t, uint64_t>* versions) {
  const uint64_t saved_seq = *next_seq;
  std::vector<std::pair<uint64_t, std::optional<uint64_t>>> version_undo;
  for (auto& c : p->batch) {
    uint64_t a = fb::GetEnvelope(c.envelope.data())->account_id();
    auto it = versions->find(a);
    version_undo.emplace_back(a, it == versions->end() ? std::nullopt
                                                       : std::optional<uint64_t>(it->second));
  }
  tx.SetSavePoint();
  const size_t saved_leaves = group_leaves_.size();
  const size_t saved_requests = group_requests_.size();
  p->results.resize(p->batch.size());
  for (size_t i = 0; i < p->batch.size(); ++i) {
    Status s = ApplyCommand(p->batch[i], tx, *next_seq, now_ms, versions, &p->results[i]);
    if (!s.ok()) {
      tx.RollbackToSavePoint();
      group_leaves_.resize(saved_leaves);
      group_requests_.resize(saved_requests);
      *next_seq = saved_seq;
      for (auto it = version_undo.rbegin(); it != version_undo.rend(); ++it) {
        if (it->second) (*versions)[it->first] = *it->second;
        else versions->erase(it->first);
      }
      p->results.clear();
      return s;
    }
    if (!p->results[i].duplicate) ++*next_seq;
  }
  tx.DropSavePoint();
  return Status::OK();
}

Status LedgerImpl::ApplyCommand(Command& c, WriterTx& tx, uint64_t seq, int64_t now_ms,
                                std::unordered_map<uint64_t, uint64_t>* versions, Appended* r) {
  auto* env = fb::GetMutableEnvelope(c.envelope.data());
  const std::string rid = env->request_id()->str();
  std::string prior;
  Status ps = LookupForWriter(c, rid, tx, &prior);
  if (ps.ok()) {
    if (prior.size() < 8) return Status::Corruption("idempotency row is too short");
    if (std::string_view(prior).substr(8) != c.content_digest)
      return Status::RequestReused("request id was used before for a different request");
    r->seq = DecodeBE64(prior);
    r->duplicate = true;
    return Status::OK();
  }
  if (!ps.Is(Status::Code::kNotFound)) return ps;

  const uint64_t account = env->account_id();
  uint64_t version = 0;
  if (account != 0) {
    auto it = versions->find(account);
    uint64_t current = it != versions->end() ? it->second : StreamVersion(account);
    if (c.expected_version && *c.expected_version != current)
      return Status::Conflict("account " + std::to_string(account) + " is at version " +
                              std::to_string(current) + ", expected " +
                              std::to_string(*c.expected_version));
    version = current + 1;
  }
  // Not an assert: in a release build an envelope without the fields would
  // be stored unstamped (seq 0). Refuse the batch instead.
  if (!events::PatchSequence(&c.envelope, seq, now_ms))
    return Status::InvalidArgument("envelope has no seq/recorded_at fields to stamp "
                                   "(not made by events::EnvelopeBuilder)");
  if (opt_.hook) {
    // Verified in Append() on the caller's thread; patching scalars in place
    // does not change the buffer's structure.
    ACC_RETURN_IF_ERROR(opt_.hook->Apply(events::EventView::FromVerified(c.envelope), tx));
  }
  if (opt_.merkle_tree) group_leaves_.push_back(merkle::LeafDigest(c.envelope));
  group_requests_.push_back(RecentRequests::Hash(rid));
  const std::string seq_key = EncodeBE64(seq);
  tx.PutBlind(kEvents, seq_key, c.envelope);
  tx.PutRaw(kIdempotency, rid, seq_key + c.content_digest);
  if (account != 0) {
    tx.PutBlind(kStreams, StreamKey(account, version), seq_key);
    (*versions)[account] = version;
  }
  ACC_ASSERT(seq >= 1 && (account == 0 || version >= 1), "seqs and stream versions are 1-based");
  r->seq = seq;
  r->version = version;
  r->duplicate = false;
  return Status::OK();
}

Status LedgerImpl::LookupForWriter(const Command& c, const std::string& rid, WriterTx& tx, std::string* prior) {
  bool found = false;
  if (tx.Lookup(kIdempotency, rid, prior, &found)) return Status::OK();  // earlier in this group
  if (c.fresh_request_id || (c.absent_through_seq != 0 && recent_requests_.Covers(c.absent_through_seq) &&
                             !recent_requests_.MayContain(RecentRequests::Hash(rid))))
    return Status::NotFound("new request id");
  if (opt_.stats) opt_.stats->request_id_reads.fetch_add(1, std::memory_order_relaxed);
  return GetRaw(kIdempotency, rid, prior);
}

Status LedgerImpl::Root(uint64_t size, std::string* root) {
  // Only the writer thread may touch tree_, and only its last size is
  // certain to be complete there (the group was written before on_commit).
  if (opt_.merkle_tree && size != 0 && std::this_thread::get_id() == writer_.get_id() && size == LastSeq()) {
    Digest d;
    if (tree_.Root(size, &d)) {
      root->assign(View(d));
      return Status::OK();
    }
  }
  return Ledger::Root(size, root);
}

Status LedgerImpl::GetMetaCached(std::string_view key, std::string* value) {
  if (meta_cache_.Get(key, value)) return Status::OK();
  std::lock_guard<std::mutex> l(meta_fill_mu_);
  Status s = GetRaw(kMeta, key, value);
  if (s.ok()) meta_cache_.Put(key, *value);
  return s;
}

uint64_t LedgerImpl::StreamVersion(uint64_t account_id) {
  // Only the writer thread may use the cache; others read the DB.
  if (std::this_thread::get_id() == writer_.get_id()) {
    auto it = version_cache_.find(account_id);
    if (it != version_cache_.end()) return it->second;
    uint64_t v = StreamVersionFromDb(account_id);
    if (version_cache_.size() < kVersionCacheEntriesMax) version_cache_[account_id] = v;
    return v;
  }
  return StreamVersionFromDb(account_id);
}

uint64_t LedgerImpl::StreamVersionFromDb(uint64_t account_id) {
  return StreamVersionIn(db_.get(), handles_[kStreams], rocksdb::ReadOptions(), account_id);
}

}  // namespace accountable::ledger_internal
