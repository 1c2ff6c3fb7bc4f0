// Ledger implementation: RocksDB event DB plus the single group-commit writer.
#include "core/ledger.h"

#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "events/assert.h"
#include "core/merkle.h"
#include "core/rocks_util.h"
#include "core/tree_frontier.h"

namespace accountable {

namespace {

constexpr const char* kFormatKey = "format_version";
// 2: Merkle leaves in one run per group, nodes only at levels >= 6 (core/merkle.h).
// 4: request ids are HMACs, idempotency rows hold seq || content digest,
// sealed payloads are padded, disclosures and admin reasons are sealed.
constexpr const char* kFormatVersion = "4";
// A scan over the whole log reads ahead this much, not one block at a time.
constexpr size_t kScanReadaheadBytes = 4u << 20;
constexpr const char* kTreeOffKey = "merkle_tree";  // present only on benchmark ledgers without a tree
// Bounded so a ledger with many millions of accounts does not grow without limit.
constexpr size_t kVersionCacheEntriesMax = 1 << 20;

// Column family order in handles_: the four projection CFs first, in Cf order.
enum Handle : size_t { kAccounts, kActivity, kMeta, kMerkle, kEvents, kStreams, kIdempotency, kCount };
const char* const kCfNames[kCount] = {"accounts", "activity", "meta", "merkle",
                                      "events",   "streams",  "idempotency"};

std::string StreamKey(uint64_t account, uint64_t version) {
  return EncodeBE64(account) + EncodeBE64(version);
}

// Adapts LedgerOptions::activity_merge to RocksDB, so projections never see RocksDB types.
class FnMergeOperator final : public rocksdb::MergeOperator {
 public:
  FnMergeOperator(decltype(LedgerOptions::activity_merge) fn, decltype(LedgerOptions::activity_partial_merge) partial)
      : fn_(std::move(fn)), partial_(std::move(partial)) {}
  bool PartialMergeMulti(const rocksdb::Slice&, const std::deque<rocksdb::Slice>& operands, std::string* out,
                         rocksdb::Logger*) const override {
    if (!partial_) return false;
    std::vector<std::string_view> ops;
    ops.reserve(operands.size());
    for (const auto& o : operands) ops.push_back(FromSlice(o));
    return partial_(ops, out);
  }
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    std::string existing;
    if (in.existing_value) existing.assign(in.existing_value->data(), in.existing_value->size());
    std::vector<std::string_view> ops;
    ops.reserve(in.operand_list.size());
    for (const auto& o : in.operand_list) ops.push_back(FromSlice(o));
    return fn_(in.existing_value ? &existing : nullptr, ops, &out->new_value);
  }
  const char* Name() const override { return "accountable.activity.v1"; }

 private:
  decltype(LedgerOptions::activity_merge) fn_;
  decltype(LedgerOptions::activity_partial_merge) partial_;
};

struct Pending {
  std::vector<Ledger::Command> batch;
  std::vector<Ledger::Appended> results;
  Status status;
  bool done = false;
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

class LedgerImpl final : public Ledger {
 public:
  explicit LedgerImpl(const LedgerOptions& o) : opt_(o) {}
  // A destructor has no caller to report to; owners who care call Close()
  // first and check it (Accounts::Close does).
  ~LedgerImpl() override { static_cast<void>(Close()); }

  Status OpenDb();
  Status Append(std::vector<Command> batch, std::vector<Appended>* out) override;
  Status ReadRange(uint64_t from_seq, size_t limit, std::vector<Stored>* out) override;
  Status ReadStream(uint64_t account_id, uint64_t from_version, size_t limit,
                    std::vector<Stored>* out) override;
  Status Get(Cf cf, std::string_view key, std::string* value) override {
    return GetRaw(static_cast<size_t>(cf), key, value);
  }
  Status Scan(Cf cf, std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& fn) override;
  Status ScanFrom(Cf cf, std::string_view start,
                  const std::function<bool(std::string_view, std::string_view)>& fn) override;
  Status ScanEvents(uint64_t from_seq, const std::function<bool(uint64_t, std::string_view)>& fn) override;
  Status PutMeta(std::string_view key, std::string_view value) override {
    if (opt_.read_only) return Status::Refused("the ledger is open read-only");
    return FromRocks(db_->Put(rocksdb::WriteOptions(), handles_[kMeta], ToSlice(key), ToSlice(value)), "event DB write");
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
  uint64_t StreamVersion(uint64_t account_id) override;
  Status Close() override;

  Status GetRaw(size_t handle, std::string_view key, std::string* value);
  rocksdb::ColumnFamilyHandle* handle(size_t h) { return handles_[h]; }

 private:
  void WriterLoop();
  void WriteGroup(std::vector<Pending*>& group);
  Status ApplyBatch(Pending* p, WriterTx& tx, uint64_t* next_seq, int64_t now_ms,
                    std::unordered_map<uint64_t, uint64_t>* versions);
  Status ApplyCommand(Command& c, WriterTx& tx, uint64_t seq, int64_t now_ms,
                      std::unordered_map<uint64_t, uint64_t>* versions, Appended* r);
  uint64_t StreamVersionFromDb(uint64_t account_id);
  Status CheckTreeMode();
  int64_t NowMs() const;

  LedgerOptions opt_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::atomic<uint64_t> last_seq_{0};
  // recorded_at never decreases along the log, even if the wall clock steps
  // back, so "as of time T" is a prefix an auditor can binary-search.
  int64_t last_recorded_ms_ = 0;  // writer thread only, after Open

  std::mutex mu_;
  std::condition_variable queue_cv_;   // writer waits for work
  std::condition_variable space_cv_;   // producers wait for queue space
  std::condition_variable done_cv_;    // producers wait for their fsync
  std::deque<Pending*> queue_;
  size_t queued_commands_ = 0;
  bool stopping_ = false;
  std::thread writer_;
  // Writer-thread only: committed stream versions.
  std::unordered_map<uint64_t, uint64_t> version_cache_;
  // Writer-thread only: the tree's running edge (core/tree_frontier.h), and
  // the leaf hashes of the group being written, stored as one row at its end.
  TreeFrontier tree_{this};
  std::vector<Digest> group_leaves_;
};

Status WriterTx::Get(Cf cf, std::string_view key, std::string* value) {
  size_t h = static_cast<size_t>(cf);
  bool found = false;
  if (Lookup(h, std::string(key), value, &found))
    return found ? Status::OK() : Status::NotFound("no such row");
  return ledger_->GetRaw(h, key, value);
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

int64_t LedgerImpl::NowMs() const {
  if (opt_.clock_ms) return opt_.clock_ms();
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

Status LedgerImpl::OpenDb() {
  rocksdb::Options dbo;
  dbo.create_if_missing = true;
  dbo.create_missing_column_families = true;
  dbo.IncreaseParallelism(2);
  dbo.keep_log_file_num = 2;  // info LOGs: a CLI run per command would pile them up
  // One writer already batches; RocksDB's own pipelining would only add locking.
  dbo.enable_pipelined_write = false;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  for (size_t i = 0; i < kCount; ++i) {
    rocksdb::ColumnFamilyOptions co;
    rocksdb::BlockBasedTableOptions t;
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    co.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    if (i == kActivity && opt_.activity_merge) {
      co.merge_operator = std::make_shared<FnMergeOperator>(opt_.activity_merge, opt_.activity_partial_merge);
      // A month row gets one operand per active account event; past this
      // many in the memtable, RocksDB folds them into a full value on write.
      co.max_successive_merges = 64;
    }
    cfs.emplace_back(kCfNames[i], co);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  rocksdb::DB* raw = nullptr;
  if (opt_.read_only && !std::filesystem::exists(std::filesystem::path(opt_.dir) / "CURRENT"))
    return Status::NotFound("no event DB at " + opt_.dir);
  rocksdb::Status s = opt_.read_only ? rocksdb::DB::OpenForReadOnly(dbo, opt_.dir, cfs, &hs, &raw)
                                     : rocksdb::DB::Open(dbo, opt_.dir, cfs, &hs, &raw);
  if (!s.ok()) return FromRocks(s, "event DB " + opt_.dir);
  db_.reset(raw);
  db_->DestroyColumnFamilyHandle(hs[0]);
  handles_.assign(hs.begin() + 1, hs.end());

  std::string fmt;
  Status fs = GetRaw(kMeta, kFormatKey, &fmt);
  if (fs.Is(Status::Code::kNotFound) && opt_.read_only) {
    return Status::Corruption("event DB " + opt_.dir + " has no format version");
  } else if (fs.Is(Status::Code::kNotFound)) {
    rocksdb::WriteBatch wb;
    wb.Put(handles_[kMeta], kFormatKey, kFormatVersion);
    if (!opt_.merkle_tree) wb.Put(handles_[kMeta], kTreeOffKey, "off");
    s = db_->Write(SyncWrite(), &wb);
    if (!s.ok()) return FromRocks(s, "event DB format");
  } else if (!fs.ok()) {
    return fs;
  } else if (fmt != kFormatVersion) {
    return Status::Corruption("event DB " + opt_.dir + " has format version " + fmt + "; this build reads only " +
                              kFormatVersion + " (no migration: recreate the ledger)");
  } else if (!opt_.read_only) {
    ACC_RETURN_IF_ERROR(CheckTreeMode());
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kEvents]));
  it->SeekToLast();
  if (it->Valid()) {
    last_seq_ = DecodeBE64(FromSlice(it->key()));
    events::EventView v;
    if (events::EventView::Parse(FromSlice(it->value()), &v).ok()) last_recorded_ms_ = v.envelope()->recorded_at_ms();
  }
  if (!it->status().ok()) return FromRocks(it->status(), "event DB scan");
  if (!opt_.read_only) writer_ = std::thread([this] { WriterLoop(); });
  return Status::OK();
}

// Appending with a different tree mode than the ledger was created with
// would leave a gap in the tree (or add a partial one): refuse both ways.
Status LedgerImpl::CheckTreeMode() {
  std::string mode;
  Status s = GetRaw(kMeta, kTreeOffKey, &mode);
  if (!s.ok() && !s.Is(Status::Code::kNotFound)) return s;
  const bool written_without = s.ok();
  if (written_without && opt_.merkle_tree)
    return Status::InvalidArgument("event DB " + opt_.dir + " was written without its Merkle tree (a benchmark ledger)");
  if (!written_without && !opt_.merkle_tree)
    return Status::InvalidArgument("event DB " + opt_.dir + " has a Merkle tree; it cannot be appended to without one");
  return Status::OK();
}

Status LedgerImpl::Close() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_ && !writer_.joinable()) return Status::OK();
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (!db_) return Status::OK();
  rocksdb::FlushOptions fo;
  std::vector<rocksdb::ColumnFamilyHandle*> all(handles_.begin(), handles_.end());
  rocksdb::Status s = opt_.read_only ? rocksdb::Status::OK() : db_->Flush(fo, all);
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  rocksdb::Status cs = db_->Close();
  db_.reset();
  if (!s.ok()) return FromRocks(s, "event DB flush");
  return cs.ok() ? Status::OK() : FromRocks(cs, "event DB close");
}

Status LedgerImpl::Append(std::vector<Command> batch, std::vector<Appended>* out) {
  if (opt_.read_only) return Status::Refused("the ledger is open read-only");
  if (batch.empty()) return Status::InvalidArgument("empty batch");
  if (batch.size() > opt_.batch_commands_max || batch.size() > opt_.group_commands_max ||
      batch.size() > opt_.queue_commands_max)
    return Status::InvalidArgument("batch larger than " + std::to_string(opt_.batch_commands_max));
  // Verification happens here, on the caller's thread, to keep it off the writer.
  for (auto& c : batch) {
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
  Pending p;
  p.batch = std::move(batch);
  std::unique_lock<std::mutex> l(mu_);
  space_cv_.wait(l, [&] {
    return stopping_ || queued_commands_ + p.batch.size() <= opt_.queue_commands_max;
  });
  if (stopping_) return Status::IOError("ledger is closing");
  queued_commands_ += p.batch.size();
  queue_.push_back(&p);
  queue_cv_.notify_one();
  done_cv_.wait(l, [&] { return p.done; });
  if (p.status.ok()) *out = std::move(p.results);
  return p.status;
}

void LedgerImpl::WriterLoop() {
  std::vector<Pending*> group;
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      queue_cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and every queued command was written
      size_t n = 0;
      while (!queue_.empty() && n + queue_.front()->batch.size() <= opt_.group_commands_max) {
        n += queue_.front()->batch.size();
        group.push_back(queue_.front());
        queue_.pop_front();
      }
      queued_commands_ -= n;
    }
    space_cv_.notify_all();
    WriteGroup(group);
    {
      std::lock_guard<std::mutex> l(mu_);
      for (Pending* p : group) p->done = true;
    }
    done_cv_.notify_all();
    group.clear();
  }
}

void LedgerImpl::WriteGroup(std::vector<Pending*>& group) {
  ACC_ASSERT(!group.empty(), "the writer wakes only for queued commands");
  rocksdb::WriteBatch wb;
  WriterTx tx(this, &wb);
  const uint64_t first_seq = last_seq_.load() + 1;
  uint64_t next_seq = first_seq;
  const int64_t now_ms = std::max(NowMs(), last_recorded_ms_);
  std::unordered_map<uint64_t, uint64_t> versions;  // this group's stream versions
  group_leaves_.clear();
  for (Pending* p : group) p->status = ApplyBatch(p, tx, &next_seq, now_ms, &versions);
  ACC_ASSERT(!opt_.merkle_tree || group_leaves_.size() == next_seq - first_seq,
             "one Merkle leaf per newly assigned seq");
  // The tree rows go last, once the group's refusals are known: leaves of
  // seqs first_seq.. in one row, so a group of k events adds 1 + k/32 rows.
  tree_.AddLeaves(first_seq - 1, group_leaves_, [&](std::string_view key, std::string_view value) {
    wb.Put(handles_[kMerkle], ToSlice(key), ToSlice(value));
  });
  if (next_seq == first_seq && wb.Count() == 0) return;  // only refusals and duplicates
  rocksdb::Status s = db_->Write(SyncWrite(), &wb);
  if (!s.ok()) {
    Status err = FromRocks(s, "event DB write");
    for (Pending* p : group)
      if (p->status.ok()) p->status = err;
    version_cache_.clear();  // may hold versions that never became durable
    tree_.Reset();  // may hold nodes that never became durable
    return;
  }
  ACC_ASSERT(next_seq >= first_seq && last_seq_.load() == first_seq - 1,
             "only the writer advances last_seq, by exactly the group's new events");
  last_seq_.store(next_seq - 1, std::memory_order_release);
  last_recorded_ms_ = now_ms;
  if (opt_.on_commit && next_seq != first_seq) opt_.on_commit(next_seq - 1);
  if (version_cache_.size() + versions.size() > kVersionCacheEntriesMax) version_cache_.clear();
  for (auto& [account, version] : versions) version_cache_[account] = version;
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
  p->results.resize(p->batch.size());
  for (size_t i = 0; i < p->batch.size(); ++i) {
    Status s = ApplyCommand(p->batch[i], tx, *next_seq, now_ms, versions, &p->results[i]);
    if (!s.ok()) {
      tx.RollbackToSavePoint();
      group_leaves_.resize(saved_leaves);
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
  bool found = false;
  Status ps = tx.Lookup(kIdempotency, rid, &prior, &found) ? Status::OK()
                                                          : GetRaw(kIdempotency, rid, &prior);
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
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kStreams]));
  std::string upper = StreamKey(account_id, UINT64_MAX);
  it->SeekForPrev(upper);
  if (!it->Valid()) return 0;
  std::string_view k = FromSlice(it->key());
  if (k.size() != 16 || DecodeBE64(k) != account_id) return 0;
  return DecodeBE64(k.substr(8));
}

Status LedgerImpl::GetRaw(size_t h, std::string_view key, std::string* value) {
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[h], ToSlice(key), value);
  if (s.IsNotFound()) return Status::NotFound("no such row");
  return s.ok() ? Status::OK() : FromRocks(s, "event DB read");
}

Status LedgerImpl::ReadRange(uint64_t from_seq, size_t limit, std::vector<Stored>* out) {
  out->clear();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kEvents]));
  for (it->Seek(EncodeBE64(from_seq)); it->Valid() && out->size() < limit; it->Next())
    out->push_back({DecodeBE64(FromSlice(it->key())), it->value().ToString()});
  return it->status().ok() ? Status::OK() : FromRocks(it->status(), "event DB scan");
}

Status LedgerImpl::ReadStream(uint64_t account_id, uint64_t from_version, size_t limit,
                              std::vector<Stored>* out) {
  out->clear();
  std::string prefix = EncodeBE64(account_id);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kStreams]));
  std::vector<std::string> keys;
  for (it->Seek(StreamKey(account_id, from_version)); it->Valid() && keys.size() < limit; it->Next()) {
    if (!it->key().starts_with(prefix)) break;
    keys.push_back(it->value().ToString());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "stream scan");
  for (auto& k : keys) {
    Stored st{DecodeBE64(k), {}};
    ACC_RETURN_IF_ERROR(GetRaw(kEvents, k, &st.envelope));
    out->push_back(std::move(st));
  }
  return Status::OK();
}

Status LedgerImpl::Scan(Cf cf, std::string_view prefix,
                        const std::function<bool(std::string_view, std::string_view)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[static_cast<size_t>(cf)]));
  for (it->Seek(ToSlice(prefix)); it->Valid() && it->key().starts_with(ToSlice(prefix)); it->Next())
    if (!fn(FromSlice(it->key()), FromSlice(it->value()))) break;
  return it->status().ok() ? Status::OK() : FromRocks(it->status(), "event DB scan");
}

Status LedgerImpl::ScanFrom(Cf cf, std::string_view start,
                            const std::function<bool(std::string_view, std::string_view)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[static_cast<size_t>(cf)]));
  for (it->Seek(ToSlice(start)); it->Valid(); it->Next())
    if (!fn(FromSlice(it->key()), FromSlice(it->value()))) break;
  return it->status().ok() ? Status::OK() : FromRocks(it->status(), "event DB scan");
}

Status LedgerImpl::ScanEvents(uint64_t from_seq, const std::function<bool(uint64_t, std::string_view)>& fn) {
  rocksdb::ReadOptions ro;
  ro.readahead_size = kScanReadaheadBytes;
  ro.fill_cache = false;  // one pass over the whole log would only evict hot blocks
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_[kEvents]));
  for (it->Seek(EncodeBE64(from_seq)); it->Valid(); it->Next())
    if (!fn(DecodeBE64(FromSlice(it->key())), FromSlice(it->value()))) break;
  return it->status().ok() ? Status::OK() : FromRocks(it->status(), "event DB scan");
}

}  // namespace

Status Ledger::Open(const LedgerOptions& options, std::unique_ptr<Ledger>* out) {
  auto impl = std::make_unique<LedgerImpl>(options);
  ACC_RETURN_IF_ERROR(impl->OpenDb());
  *out = std::move(impl);
  return Status::OK();
}

}  // namespace accountable
