// ScratchStore: see scratch_store.h.
#include "core/scratch_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <cassert>
#include <filesystem>

#include "core/rocks_util.h"

namespace accountable {
namespace {

constexpr size_t kCfCount = 3;  // accounts, activity, meta: the Cf values below kMerkle
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
    auto& m = pending_[Index(cf)];
    if (auto it = m.find(std::string(key)); it != m.end()) {
      if (!it->second) return Status::NotFound("no such row");
      *value = *it->second;
      return Status::OK();
    }
    return FromRocks(db_->Get(rocksdb::ReadOptions(), handles_[Index(cf)], ToSlice(key), value), "scratch row");
  }
  void Put(Cf cf, std::string_view key, std::string_view value) override {
    pending_[Index(cf)][std::string(key)] = std::string(value);
  }
  void Delete(Cf cf, std::string_view key) override { pending_[Index(cf)][std::string(key)] = std::nullopt; }
  void Merge(Cf cf, std::string_view key, std::string_view operand) override {
    std::string existing, out;
    Status s = Get(cf, key, &existing);
    if (!s.ok() && !s.Is(Status::Code::kNotFound)) return Fail(s);
    if (!merge_ || !merge_(s.ok() ? &existing : nullptr, {operand}, &out))
      return Fail(Status::Corruption("an activity operand does not merge"));
    pending_[Index(cf)][std::string(key)] = std::move(out);
  }

  Status Flush() override {
    rocksdb::WriteBatch batch;
    for (size_t i = 0; i < kCfCount; ++i) {
      for (auto& [k, v] : pending_[i]) {
        if (v) batch.Put(handles_[i], k, *v);
        else batch.Delete(handles_[i], k);
      }
      pending_[i].clear();
    }
    rocksdb::WriteOptions wo;
    wo.disableWAL = true;  // disposable: nothing to recover
    ACC_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), "scratch write"));
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
  static size_t Index(Cf cf) {
    assert(static_cast<size_t>(cf) < kCfCount && "projections never touch the Merkle tree");
    return static_cast<size_t>(cf);
  }
  void Fail(Status s) {
    if (first_error_.ok()) first_error_ = std::move(s);
  }

  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  decltype(ScratchOptions::activity_merge) merge_;
  std::map<std::string, std::optional<std::string>> pending_[kCfCount];  // nullopt: deleted
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
