// ScratchStore: see scratch_store.h.
#include "core/scratch_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <algorithm>
#include "events/assert.h"
#include <filesystem>
#include <unordered_map>

#include "core/rocks_util.h"

namespace accountable {
namespace {

constexpr size_t kCfCount = 3;  // accounts, activity, meta: the Cf values below kMerkle
// Clean rows kept after a Flush, per column family: enough for the accounts
// a page of events touches, small enough (~100 bytes a row) not to matter.
constexpr size_t kCachedRowsMax = 1 << 16;
const char* const kCfNames[kCfCount] = {"accounts", "activity", "meta"};

class ScratchImpl final : public ScratchStore {
 public:
  ~ScratchImpl() override {
    if (db_) {
      for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
      db_->Close();
      db_.reset();
    }
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  Status OpenDb(const ScratchOptions& o) {
    if (std::filesystem::exists(o.dir)) return Status::InvalidArgument("scratch directory " + o.dir + " already exists");
    merge_ = o.activity_merge;
    rocksdb::Options dbo;
    dbo.create_if_missing = true;
    dbo.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
    for (const char* n : kCfNames) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> hs;
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(dbo, o.dir, cfs, &hs, &raw);
    if (!s.ok()) return FromRocks(s, "scratch " + o.dir);
    dir_ = o.dir;  // ours now: removed with the store
    db_.reset(raw);
    db_->DestroyColumnFamilyHandle(hs[0]);
    handles_.assign(hs.begin() + 1, hs.end());
    return Status::OK();
  }

  Status Get(Cf cf, std::string_view key, std::string* value) override {
    const size_t i = Index(cf);
    auto it = rows_[i].find(key);
    if (it == rows_[i].end()) {
      std::string v;
      rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), handles_[i], ToSlice(key), &v);
      if (!rs.ok() && !rs.IsNotFound()) return FromRocks(rs, "scratch row");
      // Kept clean: the projector reads a row, then writes it back.
      it = rows_[i].emplace(std::string(key), Row{}).first;
      it->second.state = rs.ok() ? Row::kValue : Row::kDeleted;
      it->second.value = std::move(v);
    }
    Row& row = it->second;
    if (!row.operand_ends.empty()) {
      if (Status s = Fold(i, key, row); !s.ok()) Fail(std::move(s));
      if (row.state == Row::kUnknown) {  // nothing folded and nothing known: read through
        rows_[i].erase(it);
        return Get(cf, key, value);
      }
    }
    if (row.state != Row::kValue) return Status::NotFound("no such row");
    value->assign(row.value);
    return Status::OK();
  }
  void Put(Cf cf, std::string_view key, std::string_view value) override {
    Row& row = Touch(cf, key);
    row.state = Row::kValue;
    row.value.assign(value);
    row.ClearOperands();
  }
  void Delete(Cf cf, std::string_view key) override {
    Row& row = Touch(cf, key);
    row.state = Row::kDeleted;
    row.value.clear();
    row.ClearOperands();
  }
  void Merge(Cf cf, std::string_view key, std::string_view operand) override {
    Row& row = Touch(cf, key);
    row.operands.append(operand);
    row.operand_ends.push_back(row.operands.size());
  }

  Status Flush() override {
    rocksdb::WriteBatch batch;
    for (size_t i = 0; i < kCfCount; ++i) {
      dirty_.clear();
      for (auto it = rows_[i].begin(); it != rows_[i].end();) {
        Row& row = it->second;
        if (!row.operand_ends.empty())
          if (Status s = Fold(i, it->first, row); !s.ok()) Fail(std::move(s));
        if (row.state == Row::kUnknown) {  // its only operands failed: nothing to write or keep
          it = rows_[i].erase(it);
          continue;
        }
        if (row.dirty) dirty_.push_back(&*it);
        row.dirty = false;
        ++it;
      }
      // In key order: the memtable inserts then walk forward instead of
      // searching the skiplist from the top for every row.
      std::sort(dirty_.begin(), dirty_.end(), [](auto* a, auto* b) { return a->first < b->first; });
      for (auto* kv : dirty_) {
        if (kv->second.state == Row::kValue) batch.Put(handles_[i], kv->first, kv->second.value);
        else batch.Delete(handles_[i], kv->first);
      }
    }
    rocksdb::WriteOptions wo;
    wo.disableWAL = true;  // disposable: nothing to recover
    ACC_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), "scratch write"));
    // Clean rows stay as a read cache (an account's next event reads its row
    // again) up to a bound, so memory stays O(one page), not O(all rows).
    for (auto& rows : rows_)
      if (rows.size() > kCachedRowsMax) rows.clear();
    Status s = first_error_;
    first_error_ = Status::OK();
    return s;
  }

  Status Scan(Cf cf, const std::function<bool(std::string_view, std::string_view)>& fn) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[Index(cf)]));
    for (it->SeekToFirst(); it->Valid(); it->Next())
      if (!fn(FromSlice(it->key()), FromSlice(it->value()))) break;
    return FromRocks(it->status(), "scratch scan");
  }

 private:
  // One row as this store knows it: a value, a deletion, or neither (only
  // merge operands so far, on top of whatever the DB holds).
  struct Row {
    enum State : uint8_t { kUnknown, kValue, kDeleted };
    State state = kUnknown;
    bool dirty = false;                  // written since the last Flush
    std::string value;
    // Operands since the value, concatenated: one fold per Flush (or Get)
    // instead of a decode and encode of the whole bitmap per operand.
    std::string operands;
    std::vector<size_t> operand_ends;
    void ClearOperands() {
      operands.clear();
      operand_ends.clear();
    }
  };
  // Heterogeneous lookup: a string_view key finds its row without a copy.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view k) const { return std::hash<std::string_view>()(k); }
  };
  using Rows = std::unordered_map<std::string, Row, KeyHash, std::equal_to<>>;

  static size_t Index(Cf cf) {
    ACC_ASSERT(static_cast<size_t>(cf) < kCfCount, "projections never touch the Merkle tree");
    return static_cast<size_t>(cf);
  }
  void Fail(Status s) {
    if (first_error_.ok()) first_error_ = std::move(s);
  }
  Row& Touch(Cf cf, std::string_view key) {
    const size_t i = Index(cf);
    auto it = rows_[i].find(key);
    if (it == rows_[i].end()) it = rows_[i].emplace(std::string(key), Row{}).first;
    it->second.dirty = true;
    return it->second;
  }

  // Folds row's operands onto its value (or the DB's, if it has none of its
  // own). On failure the operands are dropped and the row is left as it was,
  // as if they had never been written; the error comes back from Flush.
  Status Fold(size_t i, std::string_view key, Row& row) {
    std::string stored;
    const std::string* existing = nullptr;
    Status s;
    if (row.state == Row::kValue) {
      existing = &row.value;
    } else if (row.state == Row::kUnknown) {
      rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), handles_[i], ToSlice(key), &stored);
      if (rs.ok()) existing = &stored;
      else if (!rs.IsNotFound()) s = FromRocks(rs, "scratch row");
    }
    views_.clear();
    size_t begin = 0;
    for (size_t end : row.operand_ends) {
      views_.emplace_back(row.operands.data() + begin, end - begin);
      begin = end;
    }
    std::string out;
    if (s.ok() && (!merge_ || !merge_(existing, views_, &out)))
      s = Status::Corruption("an activity operand does not merge");
    row.ClearOperands();
    if (!s.ok()) return s;
    row.state = Row::kValue;
    row.value = std::move(out);
    return Status::OK();
  }

  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  decltype(ScratchOptions::activity_merge) merge_;
  Rows rows_[kCfCount];
  std::vector<std::string_view> views_;  // Fold's operand list, kept for its capacity
  std::vector<Rows::value_type*> dirty_;  // Flush's rows to write, kept for its capacity
  Status first_error_;
};

}  // namespace

Status ScratchStore::Open(const ScratchOptions& options, std::unique_ptr<ScratchStore>* out) {
  auto impl = std::make_unique<ScratchImpl>();
  ACC_RETURN_IF_ERROR(impl->OpenDb(options));
  *out = std::move(impl);
  return Status::OK();
}

}  // namespace accountable
