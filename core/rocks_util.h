// Internal to core/: conversions between RocksDB and Accountable types.
#pragma once

#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/status.h>
#include <rocksdb/utilities/checkpoint.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "events/status.h"

namespace accountable {

class FaultFs;
// The Env over a FaultFs (core/fault_fs.cc) for DBOptions::env; nullptr
// (RocksDB's default) when faults is nullptr. Lives as long as the FaultFs.
rocksdb::Env* FaultEnv(const FaultFs* faults);

inline rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
inline std::string_view FromSlice(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

// FlatBuffers reads 8-byte fields in place, so stored envelopes must start
// 8-byte aligned before EventView::Parse. std::string storage always is
// (operator new, or the inline buffer of an 8-aligned object); a slice of a
// RocksDB block need not be. Returns bytes when aligned, else a copy held in
// *scratch.
inline std::string_view Aligned(std::string_view bytes, std::string* scratch) {
  if (reinterpret_cast<uintptr_t>(bytes.data()) % 8 == 0) return bytes;
  scratch->assign(bytes);
  return *scratch;
}

// Turns off RocksDB's own recovery from a background error: for ENOSPC it
// polls for free space every few seconds and makes DB::Resume() answer Busy
// meanwhile. The ledger's writer and the vault call Resume() themselves
// before their next write, which recovers as soon as space is back.
class ManualRecovery final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status, bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

inline rocksdb::WriteOptions SyncWrite() {
  rocksdb::WriteOptions w;
  w.sync = true;
  return w;
}

// Maps a RocksDB status to ours. A held LOCK file means another process has
// the directory open; say so plainly instead of echoing errno text.
inline Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::OK();
  if (s.IsNotFound()) return Status::NotFound(what + ": not found");
  // RocksDB reports a held LOCK file as an IOError naming the LOCK file.
  if (s.IsIOError() && s.ToString().find("/LOCK") != std::string::npos)
    return Status::Busy(what + " is already open (another process or another handle)");
  // ENOSPC has its own code: the client should free space, not retry blindly.
  if (s.IsNoSpace()) return Status::DiskFull(what + ": no space left on device");
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  return Status::IOError(what + ": " + s.ToString());
}

// RocksDB Checkpoint of db into dir (which must not exist), memtables
// flushed first (log_size_for_flush 0), so the copy needs little WAL replay.
inline Status CheckpointDb(rocksdb::DB* db, const std::string& dir, const std::string& what) {
  if (db == nullptr) return Status::Refused(what + ": the DB is closed");
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db, &raw);
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  if (s.ok()) s = cp->CreateCheckpoint(dir, 0);
  return FromRocks(s, what);
}

}  // namespace accountable
