// FaultFs (core/fault_fs.h): a rocksdb::FileSystemWrapper over the default
// file system that counts appends, syncs and renames, fails the chosen ones,
// and remembers each written file's size at its last sync for DropUnsynced.
#include "core/fault_fs.h"

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <random>

#include "core/rocks_util.h"

namespace accountable {
namespace fault_internal {

struct FileSizes {
  uint64_t written_bytes = 0;
  uint64_t synced_bytes = 0;
};

class FaultFileSystem;

struct FaultState {
  std::mutex mu;
  bool no_space = false;
  unsigned ops_mask = 0;            // kinds that may fail
  uint64_t fail_at = UINT64_MAX;    // op index that fails
  uint32_t one_in = 0;              // random failures when > 0
  bool sticky = false;
  bool dead = false;                // a sticky failure happened
  uint64_t ops = 0;
  uint64_t failures = 0;
  std::mt19937_64 rng;
  std::map<std::string, FileSizes> files;  // written through us, by path
  std::shared_ptr<rocksdb::FileSystem> fs;
  std::unique_ptr<rocksdb::Env> env;

  // Counts one operation of kind op and says how it should fail, if at all.
  rocksdb::IOStatus Check(unsigned op) {
    std::lock_guard<std::mutex> l(mu);
    if (no_space && op != FaultFs::kRename) return rocksdb::IOStatus::NoSpace("injected: no space left on device");
    const uint64_t index = ops++;
    if (!(ops_mask & op)) return rocksdb::IOStatus::OK();
    bool fail = dead || index == fail_at;
    if (!fail && one_in > 0) fail = rng() % one_in == 0;
    if (!fail) return rocksdb::IOStatus::OK();
    ++failures;
    if (sticky) dead = true;
    return rocksdb::IOStatus::IOError("injected storage fault");
  }
  void Wrote(const std::string& path, uint64_t size_bytes, bool synced) {
    std::lock_guard<std::mutex> l(mu);
    FileSizes& f = files[path];
    f.written_bytes = size_bytes;
    if (synced) f.synced_bytes = size_bytes;
  }
};

namespace {

class FaultFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultFile(std::unique_ptr<rocksdb::FSWritableFile> f, FaultState* state, std::string path, uint64_t size_bytes)
      : FSWritableFileOwnerWrapper(std::move(f)), state_(state), path_(std::move(path)), size_bytes_(size_bytes) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = state_->Check(FaultFs::kWrite);
    if (s.ok()) s = target()->Append(data, o, dbg);
    if (s.ok()) Grew(data.size());
    return s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo&, rocksdb::IODebugContext* dbg) override {
    return Append(data, o, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& o,
                                     rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = state_->Check(FaultFs::kWrite);
    if (s.ok()) s = target()->PositionedAppend(data, offset, o, dbg);
    if (s.ok()) Grew(offset + data.size() > size_bytes_ ? offset + data.size() - size_bytes_ : 0);
    return s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& o,
                                     const rocksdb::DataVerificationInfo&, rocksdb::IODebugContext* dbg) override {
    return PositionedAppend(data, offset, o, dbg);
  }
  rocksdb::IOStatus Truncate(uint64_t size_bytes, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->Truncate(size_bytes, o, dbg);
    if (s.ok()) {
      size_bytes_ = size_bytes;
      state_->Wrote(path_, size_bytes_, false);
    }
    return s;
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    return Synced(target()->Sync(o, dbg));
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    return Synced(target()->Fsync(o, dbg));
  }
  rocksdb::IOStatus RangeSync(uint64_t, uint64_t, const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    // A partial sync would make the synced size ambiguous; RocksDB treats
    // RangeSync as a hint, and the full Sync that follows does the work.
    return rocksdb::IOStatus::OK();
  }

 private:
  void Grew(uint64_t bytes) {
    size_bytes_ += bytes;
    state_->Wrote(path_, size_bytes_, false);
  }
  rocksdb::IOStatus Synced(rocksdb::IOStatus done) {
    // Checked after the real sync fails or not: a fault here loses nothing
    // more than a real failed fsync would (the bytes may or may not be there).
    rocksdb::IOStatus s = state_->Check(FaultFs::kSync);
    if (!done.ok()) return done;
    if (s.ok()) state_->Wrote(path_, size_bytes_, true);
    return s;
  }

  FaultState* state_;
  std::string path_;
  uint64_t size_bytes_;
};

}  // namespace

class FaultFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultFileSystem(FaultState* state)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), state_(state) {}
  const char* Name() const override { return "accountable.FaultFs"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& fo,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = state_->Check(FaultFs::kWrite);
    std::unique_ptr<rocksdb::FSWritableFile> file;
    if (s.ok()) s = target()->NewWritableFile(f, fo, &file, dbg);
    if (!s.ok()) return s;
    state_->Wrote(f, 0, false);
    *r = std::make_unique<FaultFile>(std::move(file), state_, f, 0);
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& fo,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s = target()->ReopenWritableFile(f, fo, &file, dbg);
    if (!s.ok()) return s;
    std::error_code ec;
    const uint64_t size_bytes = std::filesystem::file_size(f, ec);
    state_->Wrote(f, ec ? 0 : size_bytes, true);
    *r = std::make_unique<FaultFile>(std::move(file), state_, f, ec ? 0 : size_bytes);
    return s;
  }
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& dst, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = state_->Check(FaultFs::kRename);
    if (s.ok()) s = target()->RenameFile(src, dst, o, dbg);
    if (!s.ok()) return s;
    std::lock_guard<std::mutex> l(state_->mu);
    auto it = state_->files.find(src);
    if (it != state_->files.end()) {
      state_->files[dst] = it->second;
      state_->files.erase(it);
    } else {
      state_->files.erase(dst);
    }
    return s;
  }
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->DeleteFile(f, o, dbg);
    if (s.ok()) {
      std::lock_guard<std::mutex> l(state_->mu);
      state_->files.erase(f);
    }
    return s;
  }

 private:
  FaultState* state_;
};

}  // namespace fault_internal

FaultFs::FaultFs() : state_(std::make_shared<fault_internal::FaultState>()) {
  state_->fs = std::make_shared<fault_internal::FaultFileSystem>(state_.get());
  state_->env = rocksdb::NewCompositeEnv(state_->fs);
}

FaultFs::~FaultFs() = default;

void FaultFs::SetNoSpace(bool on) {
  std::lock_guard<std::mutex> l(state_->mu);
  state_->no_space = on;
}

void FaultFs::FailAt(uint64_t op_index, unsigned ops, bool sticky) {
  std::lock_guard<std::mutex> l(state_->mu);
  state_->fail_at = op_index;
  state_->ops_mask = ops;
  state_->sticky = sticky;
}

void FaultFs::FailRandom(uint64_t seed, uint32_t one_in, unsigned ops, bool sticky) {
  std::lock_guard<std::mutex> l(state_->mu);
  state_->rng.seed(seed);
  state_->one_in = one_in;
  state_->ops_mask = ops;
  state_->sticky = sticky;
}

void FaultFs::Clear() {
  std::lock_guard<std::mutex> l(state_->mu);
  state_->no_space = false;
  state_->ops_mask = 0;
  state_->fail_at = UINT64_MAX;
  state_->one_in = 0;
  state_->sticky = false;
  state_->dead = false;
  state_->ops = 0;
  state_->failures = 0;
}

uint64_t FaultFs::ops() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->ops;
}

uint64_t FaultFs::failures() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->failures;
}

Status FaultFs::DropUnsynced() {
  std::lock_guard<std::mutex> l(state_->mu);
  for (const auto& [path, sizes] : state_->files) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) || sizes.synced_bytes >= sizes.written_bytes) continue;
    std::filesystem::resize_file(path, sizes.synced_bytes, ec);
    if (ec) return Status::IOError("cannot cut a file back to its synced size");
  }
  state_->files.clear();
  return Status::OK();
}

rocksdb::Env* FaultEnv(const FaultFs* faults) { return faults ? faults->state()->env.get() : nullptr; }

}  // namespace accountable
