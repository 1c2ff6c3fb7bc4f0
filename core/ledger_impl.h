// Internal to core/ledger*.cc: the Ledger's implementation class, shared by
// the open/read half (ledger.cc) and the group-commit writer
// (ledger_writer.cc). Nothing outside core/ includes it; the contract is
// core/ledger.h.
//
// Thread safety: as core/ledger.h. Fields marked "writer thread only" are
// touched by WriterLoop's thread alone once Open returns; the queue is under mu_.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "core/ledger.h"
#include "core/recent_requests.h"
#include "core/rocks_util.h"
#include "core/tree_frontier.h"

namespace accountable::ledger_internal {

inline constexpr const char* kFormatKey = "format_version";
// 2: Merkle leaves in one run per group, nodes only at levels >= 6 (core/merkle.h).
// 4: request ids are HMACs, idempotency rows hold seq || content digest,
// sealed payloads are padded, disclosures and admin reasons are sealed.
inline constexpr const char* kFormatVersion = "4";
// A scan over the whole log reads ahead this much, not one block at a time.
inline constexpr size_t kScanReadaheadBytes = 4u << 20;
inline constexpr const char* kTreeOffKey = "merkle_tree";  // present only on benchmark ledgers without a tree
// The reserved space (LedgerOptions::reserve_bytes); RocksDB ignores files it did not name.
inline constexpr const char* kReserveFile = "RESERVE";
// The WAL (and so each WAL preallocation) is kept below reserve / this.
inline constexpr uint64_t kReserveWalShare = 4;
// After ENOSPC, Resume() waits until a probe file of this size can be written.
inline constexpr size_t kSpaceProbeBytes = 256u << 10;
// Bounded so a ledger with many millions of accounts does not grow without limit.
inline constexpr size_t kVersionCacheEntriesMax = 1 << 20;
// Account rows kept in memory (about 130 bytes each with the map's
// overhead, so at most ~33 MiB); a full cache is emptied and refills.
inline constexpr size_t kAccountCacheEntriesMax = 1 << 18;

// The committed rows of Cf::kAccounts that the writer has read or written:
// every command reads its account's row, on the caller's thread and again
// on the writer, and a memtable that holds a version of the row per event
// makes each RocksDB Get a long skiplist search. Only the writer fills it,
// after its group is durable (or on its own read of a committed row), so a
// reader never caches a value older than one already committed.
class RowCache {
 public:
  bool Get(std::string_view key, std::string* value) const {
    std::shared_lock<std::shared_mutex> l(mu_);
    auto it = rows_.find(key);
    if (it == rows_.end()) return false;
    *value = it->second;
    return true;
  }
  // Writer thread only.
  void Put(std::string_view key, std::string_view value) {
    std::unique_lock<std::shared_mutex> l(mu_);
    PutLocked(key, value);
  }
  void Erase(std::string_view key) {
    std::unique_lock<std::shared_mutex> l(mu_);
    rows_.erase(std::string(key));
  }
  // Writer thread only: applies a durable group's rows (nullopt: deleted).
  // Writer thread only: rows were written without passing through here.
  void Clear() {
    std::unique_lock<std::shared_mutex> l(mu_);
    rows_.clear();
  }
  template <typename Rows>
  void Apply(const Rows& rows) {
    std::unique_lock<std::shared_mutex> l(mu_);
    for (const auto& [key, value] : rows) {
      if (value) PutLocked(key, *value);
      else rows_.erase(std::string(key));
    }
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view k) const { return std::hash<std::string_view>()(k); }
  };
  void PutLocked(std::string_view key, std::string_view value) {
    if (rows_.size() >= kAccountCacheEntriesMax && rows_.find(key) == rows_.end()) rows_.clear();
    rows_.insert_or_assign(std::string(key), std::string(value));
  }
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::string, Hash, std::equal_to<>> rows_;  // guarded by mu_
};


// Column family order in handles_: the four projection CFs first, in Cf order.
enum Handle : size_t { kAccounts, kActivity, kMeta, kMerkle, kEvents, kStreams, kIdempotency, kCount };
inline const char* const kCfNames[kCount] = {"accounts", "activity", "meta", "merkle",
                                      "events",   "streams",  "idempotency"};

inline std::string StreamKey(uint64_t account, uint64_t version) {
  return EncodeBE64(account) + EncodeBE64(version);
}

// One caller's batch from queueing to its completion, owned by the queue
// and then by the writer.
struct Pending {
  std::vector<Ledger::Command> batch;
  std::vector<Ledger::Appended> results;
  Status status;
  Ledger::AppendDone done;
  const ReplicatedGroup* replicated = nullptr;  // ApplyReplicated: a group of its own
};

class LedgerImpl;

// GroupTx over one WriteBatch. Reads consult the group's own writes first,
// then the DB; a refused batch restores both to its save point.
class WriterTx final : public GroupTx {
 public:
  WriterTx(LedgerImpl* ledger, rocksdb::WriteBatch* wb) : ledger_(ledger), wb_(wb) {}
  Status Get(Cf cf, std::string_view key, std::string* value) override;
  void Put(Cf cf, std::string_view key, std::string_view value) override;
  void Merge(Cf cf, std::string_view key, std::string_view value) override;
  void Delete(Cf cf, std::string_view key) override;

  void PutRaw(size_t handle, std::string_view key, std::string_view value);
  // Into the WriteBatch only: for rows no command of the group reads back
  // (envelopes, tree nodes, streams), so the overlay does not copy them.
  void PutBlind(size_t handle, std::string_view key, std::string_view value);
  // True if the group wrote the key: *found says whether it still exists.
  bool Lookup(size_t handle, const std::string& key, std::string* value, bool* found) const;
  // The group's final rows of one column family (nullopt: deleted).
  std::vector<std::pair<std::string_view, const std::optional<std::string>&>> Rows(size_t handle) const {
    std::vector<std::pair<std::string_view, const std::optional<std::string>&>> rows;
    for (auto it = overlay_.lower_bound({handle, std::string()}); it != overlay_.end() && it->first.first == handle; ++it)
      rows.emplace_back(it->first.second, it->second);
    return rows;
  }
  // Save points are per caller batch; an undo log keeps them O(writes), not O(group).
  void SetSavePoint() {
    wb_->SetSavePoint();
    undo_.clear();
  }
  void RollbackToSavePoint() {
    wb_->RollbackToSavePoint();
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
      if (it->second) overlay_[it->first] = std::move(*it->second);
      else overlay_.erase(it->first);
    }
    undo_.clear();
  }
  void DropSavePoint() {
    wb_->PopSavePoint();
    undo_.clear();
  }

 private:
  LedgerImpl* ledger_;
  rocksdb::WriteBatch* wb_;
  // handle -> key -> value written by this group; undo_ rolls back one batch.
  using Key = std::pair<size_t, std::string>;
  using Slot = std::optional<std::string>;  // nullopt: deleted in this group
  std::map<Key, Slot> overlay_;
  std::vector<std::pair<Key, std::optional<Slot>>> undo_;
  void Record(size_t h, std::string_view key, Slot value);
};

// The read paths of a Ledger on one DB, with the ReadOptions given (a
// snapshot's, or the default): LedgerImpl and SnapshotLedger both use them.
Status ReadRangeIn(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events, const rocksdb::ReadOptions& ro,
                   uint64_t from_seq, size_t limit, std::vector<Ledger::Stored>* out);
Status ReadStreamIn(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& handles,
                    const rocksdb::ReadOptions& ro, uint64_t account_id, uint64_t from_version, size_t limit,
                    std::vector<Ledger::Stored>* out);
Status GetIn(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const rocksdb::ReadOptions& ro, std::string_view key,
             std::string* value);
Status ScanFromIn(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const rocksdb::ReadOptions& ro,
                  std::string_view start, std::string_view prefix,
                  const std::function<bool(std::string_view, std::string_view)>& fn);
Status ScanEventsIn(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events, rocksdb::ReadOptions ro, uint64_t from_seq,
                    const std::function<bool(uint64_t, std::string_view)>& fn);
uint64_t StreamVersionIn(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* streams, const rocksdb::ReadOptions& ro,
                         uint64_t account_id);

class LedgerImpl final : public Ledger {
 public:
  explicit LedgerImpl(const LedgerOptions& o) : opt_(o), recent_requests_(o.recent_request_ids_max) {}
  // A destructor has no caller to report to; owners who care call Close()
  // first and check it (Accounts::Close does).
  ~LedgerImpl() override { static_cast<void>(Close()); }

  Status OpenDb();
  Status Append(std::vector<Command> batch, std::vector<Appended>* out) override;
  void AppendAsync(std::vector<Command> batch, AppendDone done) override;
  Status ReadRange(uint64_t from_seq, size_t limit, std::vector<Stored>* out) override;
  Status ReadStream(uint64_t account_id, uint64_t from_version, size_t limit,
                    std::vector<Stored>* out) override;
  Status Get(Cf cf, std::string_view key, std::string* value) override {
    if (cf == Cf::kAccounts && account_cache_.Get(key, value)) return Status::OK();
    return GetRaw(static_cast<size_t>(cf), key, value);
  }
  Status Scan(Cf cf, std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& fn) override;
  Status ScanFrom(Cf cf, std::string_view start,
                  const std::function<bool(std::string_view, std::string_view)>& fn) override;
  Status ScanEvents(uint64_t from_seq, const std::function<bool(uint64_t, std::string_view)>& fn) override;
  Status PutMeta(std::string_view key, std::string_view value) override {
    if (opt_.read_only) return Status::Refused("the ledger is open read-only");
    Status s = FromRocks(db_->Put(rocksdb::WriteOptions(), handles_[kMeta], ToSlice(key), ToSlice(value)),
                         "event DB write");
    // After the write: a writer filling the cache under meta_fill_mu_ reads either value, and is erased after.
    std::lock_guard<std::mutex> l(meta_fill_mu_);
    meta_cache_.Erase(key);
    return s;
  }
  Status LookupRequest(std::string_view request_id, uint64_t* seq, std::string* content_digest) override {
    std::string v;
    ACC_RETURN_IF_ERROR(GetRaw(kIdempotency, request_id, &v));
    if (v.size() < 8) return Status::Corruption("idempotency row is too short");
    *seq = DecodeBE64(v);
    if (content_digest) content_digest->assign(v, 8);
    return Status::OK();
  }
  uint64_t LastSeq() const override { return last_seq_.load(std::memory_order_acquire); }
  Status Root(uint64_t size, std::string* root) override;
  bool Writable() const override;
  uint64_t StreamVersion(uint64_t account_id) override;
  Status Checkpoint(const std::string& dir) override { return CheckpointDb(db_.get(), dir, "event DB checkpoint"); }
  Status ApplyReplicated(const ReplicatedGroup& g) override;  // core/ledger_replica.cc
  Status Snapshot(std::unique_ptr<Ledger>* out) override;
  Status Close() override;

  Status GetRaw(size_t handle, std::string_view key, std::string* value);
  // Writer thread: a committed Cf::kMeta row, from meta_cache_ when it has it.
  Status GetMetaCached(std::string_view key, std::string* value);
  rocksdb::ColumnFamilyHandle* handle(size_t h) { return handles_[h]; }

 private:
  // Checks a batch on the caller's thread, so the writer only orders it.
  Status CheckBatch(const std::vector<Command>& batch) const;
  // Moves p into the queue; when the queue is full, waits for space or
  // answers Busy. On an error p is left with the caller.
  Status Enqueue(std::unique_ptr<Pending>& p, bool wait_for_space);
  void WriterLoop();
  void WriteGroup(std::vector<std::unique_ptr<Pending>>& group);
  // Writer thread, sink set: publishes the group about to be written.
  Status PublishGroup(const rocksdb::WriteBatch& wb, uint64_t first_seq, uint64_t last_seq, uint64_t* log_seq);
  // Writer thread: ApplyReplicated's write and root check.
  Status WriteReplicated(const ReplicatedGroup& g);
  // Writer thread: empty the writer's own caches after a write they did not
  // follow (one that failed, or a replicated group); they refill from the DB.
  void ForgetUnwritten() {
    version_cache_.clear();
    tree_.Reset();
    recent_requests_.Reset(last_seq_.load());
  }
  // Writer thread: the idempotency check of a command's request id, in
  // the group, the recent window or RocksDB. NotFound if the id is new.
  Status LookupForWriter(const Command& c, const std::string& rid, WriterTx& tx, std::string* prior);
  Status ApplyBatch(Pending* p, WriterTx& tx, uint64_t* next_seq, int64_t now_ms,
                    std::unordered_map<uint64_t, uint64_t>* versions);
  Status ApplyCommand(Command& c, WriterTx& tx, uint64_t seq, int64_t now_ms,
                      std::unordered_map<uint64_t, uint64_t>* versions, Appended* r);
  uint64_t StreamVersionFromDb(uint64_t account_id);
  Status CheckTreeMode();
  rocksdb::Options DbOptions();
  std::string ReservePath() const;
  void ReleaseReserve();
  void TakeReserve();
  // Writer thread: after a failed write, DB::Resume() before the next group.
  Status ResumeAfterError();
  // Writer thread, stats set: a durable group's events by type and its size.
  void CountAppends(const std::vector<std::unique_ptr<Pending>>& group, uint64_t events);
  bool SpaceForResume();  // writes and syncs kSpaceProbeBytes beside the DB
  int64_t NowMs() const;

  LedgerOptions opt_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::atomic<uint64_t> last_seq_{0};
  // A write failed and RocksDB has not been resumed since; disk_full_ says
  // whether it was for want of space.
  std::atomic<bool> storage_error_{false};
  std::atomic<bool> disk_full_{false};
  std::atomic<bool> closing_{false};  // Close() began: stopping_ for readers without mu_
  // recorded_at never decreases along the log, even if the wall clock steps
  // back, so "as of time T" is a prefix an auditor can binary-search.
  int64_t last_recorded_ms_ = 0;  // writer thread only, after Open

  std::mutex mu_;
  std::condition_variable queue_cv_;   // writer waits for work
  std::condition_variable space_cv_;   // producers wait for queue space
  std::deque<std::unique_ptr<Pending>> queue_;
  size_t queued_commands_ = 0;
  bool stopping_ = false;
  std::thread writer_;
  // Writer-thread only: committed stream versions.
  std::unordered_map<uint64_t, uint64_t> version_cache_;
  RowCache account_cache_;  // filled by the writer, read by all
  // Committed Cf::kMeta rows the writer's hooks read (the policy in force, for
  // every consent), filled and read by the writer; PutMeta, on any thread,
  // erases its key. meta_fill_mu_ orders a fill's read before that erase.
  RowCache meta_cache_;
  std::mutex meta_fill_mu_;
  // Writer-thread only: Command::absent_through_seq's window, and the id
  // hashes of the group being written, added to it once the group is durable.
  RecentRequests recent_requests_;
  std::vector<uint64_t> group_requests_;
  friend class WriterTx;
  // Writer-thread only: the tree's running edge (core/tree_frontier.h), and
  // the leaf hashes of the group being written, stored as one row at its end.
  TreeFrontier tree_{this};
  std::vector<Digest> group_leaves_;
};

}  // namespace accountable::ledger_internal
