// Ledger implementation, open and read half: the RocksDB event DB, its
// format check, and the reads any thread may make. The writer is in
// core/ledger_writer.cc; the shared class in core/ledger_impl.h.
#include "core/ledger.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "core/ledger_impl.h"
#include "core/merkle.h"
#include "events/assert.h"

namespace accountable {
namespace ledger_internal {
namespace {

// One LRU cache for the data blocks of every column family, instead of
// RocksDB's 8 MiB per column family: the bound is the same order (7 x 8),
// and the hot column family (idempotency, accounts) may use all of it.
// docs/performance.md, "Point lookups".
constexpr size_t kBlockCacheBytes = 64u << 20;
// Memtable bloom filter size as a share of the write buffer (64 MiB): 1.3 MiB
// per idempotency memtable, about 20 bits per key at ~130 bytes a row.
constexpr double kMemtableBloomRatio = 0.02;

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

}  // namespace

int64_t LedgerImpl::NowMs() const {
  if (opt_.clock_ms) return opt_.clock_ms();
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

rocksdb::Options LedgerImpl::DbOptions() {
  rocksdb::Options dbo;
  dbo.create_if_missing = true;
  dbo.create_missing_column_families = true;
  dbo.IncreaseParallelism(2);
  dbo.keep_log_file_num = 2;  // info LOGs: a CLI run per command would pile them up
  // One writer already batches; RocksDB's own pipelining would only add locking.
  dbo.enable_pipelined_write = false;
  // A WAL replay or final flush writes SSTs of about the WAL's size and
  // preallocates a new WAL of up to this size; both must fit in the reserve.
  if (opt_.reserve_bytes > 0) dbo.max_total_wal_size = opt_.reserve_bytes / kReserveWalShare;
  if (opt_.faults) dbo.env = FaultEnv(opt_.faults.get());
  // Recovery after a failed write is the writer's Resume() (ResumeAfterError).
  dbo.listeners.push_back(std::make_shared<ManualRecovery>());
  dbo.max_bgerror_resume_count = 0;
  return dbo;
}

namespace {

// Column family i's options. docs/architecture.md, "Point lookups", has what
// each bought; every other option is RocksDB's default.
rocksdb::ColumnFamilyOptions CfOptions(const LedgerOptions& opt, size_t i,
                                       const std::shared_ptr<rocksdb::Cache>& block_cache) {
  rocksdb::ColumnFamilyOptions co;
  rocksdb::BlockBasedTableOptions t;
  // Whole-key SST filters (whole_key_filtering is RocksDB's default): a
  // lookup of an absent key skips every SST but ~1%.
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Index and filter blocks stay with the open table readers, outside the
  // cache (cache_index_and_filter_blocks = false): in the cache they cost
  // every lookup a cache probe (absent request id 561 -> 1,025 ns).
  t.block_cache = block_cache;
  co.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  if (i == kIdempotency) {
    // Every new command looks up a request id that is not there; the filter
    // answers that without a skiplist search (absent id 2,005 -> 837 ns).
    // Not on accounts or meta: the writer reads rows it just wrote (hits).
    // Not optimize_filters_for_hits: misses are the common case here.
    co.memtable_prefix_bloom_size_ratio = kMemtableBloomRatio;
    co.memtable_whole_key_filtering = true;
  }
  if (i == kActivity && opt.activity_merge) {
    co.merge_operator = std::make_shared<FnMergeOperator>(opt.activity_merge, opt.activity_partial_merge);
    // A month row gets one operand per active account event; past this
    // many in the memtable, RocksDB folds them into a full value on write.
    co.max_successive_merges = 64;
  }
  return co;
}

}  // namespace

Status LedgerImpl::OpenDb() {
  rocksdb::Options dbo = DbOptions();
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  const std::shared_ptr<rocksdb::Cache> block_cache = rocksdb::NewLRUCache(kBlockCacheBytes);
  for (size_t i = 0; i < kCount; ++i) cfs.emplace_back(kCfNames[i], CfOptions(opt_, i, block_cache));
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  rocksdb::DB* raw = nullptr;
  if (opt_.read_only && !std::filesystem::exists(std::filesystem::path(opt_.dir) / "CURRENT"))
    return Status::NotFound("no event DB at " + opt_.dir);
  // The WAL replay may need the reserved space; it is taken again below.
  if (!opt_.read_only) ReleaseReserve();
  rocksdb::Status s = opt_.read_only ? rocksdb::DB::OpenForReadOnly(dbo, opt_.dir, cfs, &hs, &raw)
                                     : rocksdb::DB::Open(dbo, opt_.dir, cfs, &hs, &raw);
  if (!s.ok()) return FromRocks(s, "event DB " + opt_.dir);
  if (!opt_.read_only) TakeReserve();
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
    std::string scratch;
    if (events::EventView::Parse(Aligned(FromSlice(it->value()), &scratch), &v).ok())
      last_recorded_ms_ = v.envelope()->recorded_at_ms();
  }
  if (!it->status().ok()) return FromRocks(it->status(), "event DB scan");
  recent_requests_.Reset(last_seq_.load());
  if (!opt_.read_only)
    writer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "acc-writer");  // for top -H, perf and the benchmarks' CPU figures
      WriterLoop();
    });
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
  closing_.store(true);
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (!db_) return Status::OK();
  // The flush below must not fail for want of the space we hold ourselves
  // (RocksDB aborts in Close after a failed WAL sync); Open takes it again.
  if (!opt_.read_only) ReleaseReserve();
  rocksdb::Status s = storage_error_.load() ? db_->Resume() : rocksdb::Status::OK();
  rocksdb::FlushOptions fo;
  std::vector<rocksdb::ColumnFamilyHandle*> all(handles_.begin(), handles_.end());
  if (s.ok() && !opt_.read_only) s = db_->Flush(fo, all);
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  rocksdb::Status cs = db_->Close();
  db_.reset();
  if (!s.ok()) return FromRocks(s, "event DB flush");
  return cs.ok() ? Status::OK() : FromRocks(cs, "event DB close");
}

bool LedgerImpl::Writable() const {
  return !opt_.read_only && !closing_.load() && !storage_error_.load();
}

std::string LedgerImpl::ReservePath() const { return (std::filesystem::path(opt_.dir) / kReserveFile).string(); }

void LedgerImpl::ReleaseReserve() {
  std::error_code ec;
  std::filesystem::remove(ReservePath(), ec);  // absent is fine
}

// Best effort: on a disk already too full the ledger still opens, without
// the reserve, and the next open tries again.
void LedgerImpl::TakeReserve() {
  if (opt_.reserve_bytes == 0) return;
  const std::string path = ReservePath();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  const bool ok = ::posix_fallocate(fd, 0, static_cast<off_t>(opt_.reserve_bytes)) == 0 && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) ReleaseReserve();
}

Status LedgerImpl::GetRaw(size_t h, std::string_view key, std::string* value) {
  return GetIn(db_.get(), handles_[h], rocksdb::ReadOptions(), key, value);
}

Status LedgerImpl::ReadRange(uint64_t from_seq, size_t limit, std::vector<Stored>* out) {
  return ReadRangeIn(db_.get(), handles_[kEvents], rocksdb::ReadOptions(), from_seq, limit, out);
}

Status LedgerImpl::ReadStream(uint64_t account_id, uint64_t from_version, size_t limit,
                              std::vector<Stored>* out) {
  return ReadStreamIn(db_.get(), handles_, rocksdb::ReadOptions(), account_id, from_version, limit, out);
}

Status LedgerImpl::Scan(Cf cf, std::string_view prefix,
                        const std::function<bool(std::string_view, std::string_view)>& fn) {
  return ScanFromIn(db_.get(), handles_[static_cast<size_t>(cf)], rocksdb::ReadOptions(), prefix, prefix, fn);
}

Status LedgerImpl::ScanFrom(Cf cf, std::string_view start,
                            const std::function<bool(std::string_view, std::string_view)>& fn) {
  return ScanFromIn(db_.get(), handles_[static_cast<size_t>(cf)], rocksdb::ReadOptions(), start, {}, fn);
}

Status LedgerImpl::ScanEvents(uint64_t from_seq, const std::function<bool(uint64_t, std::string_view)>& fn) {
  return ScanEventsIn(db_.get(), handles_[kEvents], rocksdb::ReadOptions(), from_seq, fn);
}

}  // namespace ledger_internal

Status Ledger::Root(uint64_t size, std::string* root) {
  return merkle::RootAt(merkle::LedgerNodes(*this), size, root);
}

Status Ledger::Open(const LedgerOptions& options, std::unique_ptr<Ledger>* out) {
  auto impl = std::make_unique<ledger_internal::LedgerImpl>(options);
  ACC_RETURN_IF_ERROR(impl->OpenDb());
  *out = std::move(impl);
  return Status::OK();
}

}  // namespace accountable
