// The Ledger's read paths with explicit ReadOptions, and SnapshotLedger:
// the read-only view Ledger::Snapshot returns (a RocksDB snapshot).
#include <rocksdb/db.h>

#include "core/ledger_impl.h"

namespace accountable::ledger_internal {

Status GetIn(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const rocksdb::ReadOptions& ro, std::string_view key,
             std::string* value) {
  rocksdb::Status s = db->Get(ro, cf, ToSlice(key), value);
  if (s.IsNotFound()) return Status::NotFound("no such row");
  return s.ok() ? Status::OK() : FromRocks(s, "event DB read");
}

Status ReadRangeIn(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events, const rocksdb::ReadOptions& ro,
                   uint64_t from_seq, size_t limit, std::vector<Ledger::Stored>* out) {
  out->clear();
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, events));
  for (it->Seek(EncodeBE64(from_seq)); it->Valid() && out->size() < limit; it->Next())
    out->push_back({DecodeBE64(FromSlice(it->key())), it->value().ToString()});
  return it->status().ok() ? Status::OK() : FromRocks(it->status(), "event DB scan");
}

Status ReadStreamIn(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& handles,
                    const rocksdb::ReadOptions& ro, uint64_t account_id, uint64_t from_version, size_t limit,
                    std::vector<Ledger::Stored>* out) {
  out->clear();
  std::string prefix = EncodeBE64(account_id);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, handles[kStreams]));
  std::vector<std::string> keys;
  for (it->Seek(StreamKey(account_id, from_version)); it->Valid() && keys.size() < limit; it->Next()) {
    if (!it->key().starts_with(prefix)) break;
    keys.push_back(it->value().ToString());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "stream scan");
  for (auto& k : keys) {
    Ledger::Stored st{DecodeBE64(k), {}};
    ACC_RETURN_IF_ERROR(GetIn(db, handles[kEvents], ro, k, &st.envelope));
    out->push_back(std::move(st));
  }
  return Status::OK();
}

// From the first key >= start, while keys start with prefix (empty: all).
Status ScanFromIn(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const rocksdb::ReadOptions& ro,
                  std::string_view start, std::string_view prefix,
                  const std::function<bool(std::string_view, std::string_view)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
  // An empty prefix has no data pointer: memcmp on it is undefined, so it is not compared.
  for (it->Seek(ToSlice(start)); it->Valid(); it->Next()) {
    if (!prefix.empty() && !it->key().starts_with(ToSlice(prefix))) break;
    if (!fn(FromSlice(it->key()), FromSlice(it->value()))) break;
  }
  return it->status().ok() ? Status::OK() : FromRocks(it->status(), "event DB scan");
}

Status ScanEventsIn(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events, rocksdb::ReadOptions ro, uint64_t from_seq,
                    const std::function<bool(uint64_t, std::string_view)>& fn) {
  ro.readahead_size = kScanReadaheadBytes;
  ro.fill_cache = false;  // one pass over the whole log would only evict hot blocks
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, events));
  // A slice of a RocksDB block need not start 8-byte aligned, and FlatBuffers
  // reads 8-byte fields in place: a misaligned value is copied here (Aligned).
  std::string scratch;
  for (it->Seek(EncodeBE64(from_seq)); it->Valid(); it->Next())
    if (!fn(DecodeBE64(FromSlice(it->key())), Aligned(FromSlice(it->value()), &scratch))) break;
  return it->status().ok() ? Status::OK() : FromRocks(it->status(), "event DB scan");
}

uint64_t StreamVersionIn(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* streams, const rocksdb::ReadOptions& ro,
                         uint64_t account_id) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, streams));
  std::string upper = StreamKey(account_id, UINT64_MAX);
  it->SeekForPrev(upper);
  if (!it->Valid()) return 0;
  std::string_view k = FromSlice(it->key());
  if (k.size() != 16 || DecodeBE64(k) != account_id) return 0;
  return DecodeBE64(k.substr(8));
}

namespace {

Status ReadOnlyView() { return Status::Refused("a ledger snapshot is read-only"); }

class SnapshotLedger final : public Ledger {
 public:
  SnapshotLedger(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles)
      : db_(db), handles_(std::move(handles)), snap_(db->GetSnapshot()) {
    ro_.snapshot = snap_;
    // The newest event in the snapshot: what LastSeq() means through it.
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro_, handles_[kEvents]));
    it->SeekToLast();
    if (it->Valid()) last_seq_ = DecodeBE64(FromSlice(it->key()));
    status_ = it->status().ok() ? Status::OK() : FromRocks(it->status(), "event DB snapshot");
  }
  ~SnapshotLedger() override { db_->ReleaseSnapshot(snap_); }
  Status status() const { return status_; }

  Status Append(std::vector<Command>, std::vector<Appended>*) override { return ReadOnlyView(); }
  void AppendAsync(std::vector<Command>, AppendDone done) override { done(ReadOnlyView(), {}); }
  Status ReadRange(uint64_t from_seq, size_t limit, std::vector<Stored>* out) override {
    return ReadRangeIn(db_, handles_[kEvents], ro_, from_seq, limit, out);
  }
  Status ReadStream(uint64_t account_id, uint64_t from_version, size_t limit, std::vector<Stored>* out) override {
    return ReadStreamIn(db_, handles_, ro_, account_id, from_version, limit, out);
  }
  Status Get(Cf cf, std::string_view key, std::string* value) override {
    return GetIn(db_, handles_[static_cast<size_t>(cf)], ro_, key, value);
  }
  Status Scan(Cf cf, std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& fn) override {
    return ScanFromIn(db_, handles_[static_cast<size_t>(cf)], ro_, prefix, prefix, fn);
  }
  Status ScanFrom(Cf cf, std::string_view start,
                  const std::function<bool(std::string_view, std::string_view)>& fn) override {
    return ScanFromIn(db_, handles_[static_cast<size_t>(cf)], ro_, start, {}, fn);
  }
  Status ScanEvents(uint64_t from_seq, const std::function<bool(uint64_t, std::string_view)>& fn) override {
    return ScanEventsIn(db_, handles_[kEvents], ro_, from_seq, fn);
  }
  Status PutMeta(std::string_view, std::string_view) override { return ReadOnlyView(); }
  Status ApplyReplicated(const ReplicatedGroup&) override { return ReadOnlyView(); }
  Status LookupRequest(std::string_view request_id, uint64_t* seq, std::string* content_digest) override {
    std::string v;
    ACC_RETURN_IF_ERROR(GetIn(db_, handles_[kIdempotency], ro_, request_id, &v));
    if (v.size() < 8) return Status::Corruption("idempotency row is too short");
    *seq = DecodeBE64(v);
    if (content_digest) content_digest->assign(v, 8);
    return Status::OK();
  }
  uint64_t LastSeq() const override { return last_seq_; }
  bool Writable() const override { return false; }
  uint64_t StreamVersion(uint64_t account_id) override {
    return StreamVersionIn(db_, handles_[kStreams], ro_, account_id);
  }
  Status Snapshot(std::unique_ptr<Ledger>*) override { return Status::Refused("a snapshot of a snapshot"); }
  Status Checkpoint(const std::string&) override { return ReadOnlyView(); }
  Status Close() override { return Status::OK(); }

 private:
  rocksdb::DB* db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  const rocksdb::Snapshot* snap_;
  rocksdb::ReadOptions ro_;
  uint64_t last_seq_ = 0;
  Status status_;
};

}  // namespace

Status LedgerImpl::Snapshot(std::unique_ptr<Ledger>* out) {
  if (!db_ || closing_.load()) return Status::Refused("the ledger is closing");
  auto snap = std::make_unique<SnapshotLedger>(db_.get(), handles_);
  ACC_RETURN_IF_ERROR(snap->status());
  *out = std::move(snap);
  return Status::OK();
}

}  // namespace accountable::ledger_internal
