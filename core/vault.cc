// Vault implementation. Options follow docs/architecture.md: no WAL archive,
// no recycled logs, no blob files, so a deleted key has no hidden copy.
#include "core/vault.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "core/coding.h"
#include "core/rocks_util.h"

namespace accountable {
namespace {

enum Handle : size_t { kMeta, kDeks, kBlind, kEpochKeys, kCount };
const char* const kCfNames[kCount] = {"meta", "deks", "blind", "epoch_keys"};
constexpr std::string_view kCheckKey = "kek_check";
constexpr std::string_view kCheckPlain = "accountable vault KEK check v1";

Status ReadKeyFile(const std::string& path, crypto::Key32* key) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound("key file " + path + " missing");
  ssize_t n = ::read(fd, key->data(), crypto::kKeyBytes);
  char extra;
  ssize_t more = ::read(fd, &extra, 1);
  ::close(fd);
  if (n != static_cast<ssize_t>(crypto::kKeyBytes) || more != 0)
    return Status::Corruption("key file " + path + " is not exactly 32 bytes");
  return Status::OK();
}

Status WriteKeyFile(const std::string& path, const crypto::Key32& key) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return Status::IOError("cannot create key directory for " + path);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot create key file " + path + ": " + std::strerror(errno));
  bool ok = ::write(fd, key.data(), crypto::kKeyBytes) == static_cast<ssize_t>(crypto::kKeyBytes) &&
            ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::OK() : Status::IOError("cannot write key file " + path);
}

class VaultImpl final : public Vault {
 public:
  ~VaultImpl() override { Close(); }
  Status OpenDb(const VaultOptions& o);
  Status CreateAccountKey(uint64_t account_id, crypto::Key32* dek) override;
  Status GetAccountKey(uint64_t account_id, crypto::Key32* dek) override;
  Status LookupEmail(std::string_view email, uint64_t* account_id) override;
  Status PutEmail(std::string_view email, uint64_t account_id) override;
  Status DeleteEmail(std::string_view email) override;
  Status Close() override;

 private:
  std::string DekRow(uint64_t account_id) const {
    return crypto::KeyedHash(index_key_, "dek", EncodeBE64(account_id));
  }
  std::string BlindRow(std::string_view email) const {
    return crypto::KeyedHash(index_key_, "email", email);
  }
  Status Get(size_t h, std::string_view key, std::string* value);

  crypto::Key32 kek_;
  crypto::Key32 index_key_;  // keys the row hashes; derived, because rows need no shredding
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::mutex create_mu_;     // makes "create if absent" atomic
};

Status VaultImpl::OpenDb(const VaultOptions& o) {
  const bool fresh = !std::filesystem::exists(std::filesystem::path(o.dir) / "CURRENT");
  Status ks = ReadKeyFile(o.kek_path, &kek_);
  if (ks.Is(Status::Code::kNotFound) && fresh) {
    kek_ = crypto::RandomKey();
    ACC_RETURN_IF_ERROR(WriteKeyFile(o.kek_path, kek_));
  } else if (!ks.ok()) {
    return ks;
  }
  std::string seed = crypto::KeyedHash(kek_, "index-key", "");
  std::memcpy(index_key_.data(), seed.data(), crypto::kKeyBytes);

  rocksdb::Options dbo;
  dbo.create_if_missing = true;
  dbo.create_missing_column_families = true;
  // Every one of these could keep a copy of a deleted key alive (DESIGN §6).
  dbo.WAL_ttl_seconds = 0;
  dbo.WAL_size_limit_MB = 0;
  dbo.recycle_log_file_num = 0;
  dbo.keep_log_file_num = 2;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  for (const char* n : kCfNames) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(dbo, o.dir, cfs, &hs, &raw);
  if (!s.ok()) return FromRocks(s, "vault " + o.dir);
  db_.reset(raw);
  db_->DestroyColumnFamilyHandle(hs[0]);
  handles_.assign(hs.begin() + 1, hs.end());

  std::string check;
  Status cs = Get(kMeta, kCheckKey, &check);
  if (cs.Is(Status::Code::kNotFound)) {
    std::string box = crypto::Seal(kek_, kCheckPlain, kCheckKey);
    s = db_->Put(SyncWrite(), handles_[kMeta], ToSlice(kCheckKey), box);
    return FromRocks(s, "vault check value");
  }
  ACC_RETURN_IF_ERROR(cs);
  std::string plain;
  if (!crypto::Open(kek_, check, kCheckKey, &plain).ok() || plain != kCheckPlain)
    return Status::Corruption("the KEK in " + o.kek_path + " does not belong to vault " + o.dir);
  return Status::OK();
}

Status VaultImpl::Close() {
  if (!db_) return Status::OK();
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  rocksdb::Status s = db_->Close();
  db_.reset();
  return FromRocks(s, "vault close");
}

Status VaultImpl::Get(size_t h, std::string_view key, std::string* value) {
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[h], ToSlice(key), value);
  if (s.IsNotFound()) return Status::NotFound("no such vault row");
  return FromRocks(s, "vault read");
}

Status VaultImpl::CreateAccountKey(uint64_t account_id, crypto::Key32* dek) {
  const std::string row = DekRow(account_id);
  std::lock_guard<std::mutex> l(create_mu_);
  std::string existing;
  Status gs = Get(kDeks, row, &existing);
  if (gs.ok()) return Status::Refused("account " + std::to_string(account_id) + " already has a key");
  if (!gs.Is(Status::Code::kNotFound)) return gs;
  *dek = crypto::RandomKey();
  // The row key is the AD: a wrapped DEK copied to another row will not unwrap.
  std::string wrapped = crypto::Seal(kek_, dek->view(), row);
  return FromRocks(db_->Put(SyncWrite(), handles_[kDeks], row, wrapped), "vault write");
}

Status VaultImpl::GetAccountKey(uint64_t account_id, crypto::Key32* dek) {
  const std::string row = DekRow(account_id);
  std::string wrapped, plain;
  ACC_RETURN_IF_ERROR(Get(kDeks, row, &wrapped));
  ACC_RETURN_IF_ERROR(crypto::Open(kek_, wrapped, row, &plain));
  if (plain.size() != crypto::kKeyBytes) return Status::Corruption("wrapped key has wrong size");
  std::memcpy(dek->data(), plain.data(), crypto::kKeyBytes);
  std::fill(plain.begin(), plain.end(), '\0');  // do not leave the DEK in freed heap
  return Status::OK();
}

Status VaultImpl::LookupEmail(std::string_view email, uint64_t* account_id) {
  std::string v;
  ACC_RETURN_IF_ERROR(Get(kBlind, BlindRow(email), &v));
  if (v.size() != 8) return Status::Corruption("blind index row has wrong size");
  *account_id = DecodeBE64(v);
  return Status::OK();
}

Status VaultImpl::PutEmail(std::string_view email, uint64_t account_id) {
  const std::string row = BlindRow(email);
  std::lock_guard<std::mutex> l(create_mu_);
  std::string existing;
  Status gs = Get(kBlind, row, &existing);
  if (!gs.ok() && !gs.Is(Status::Code::kNotFound)) return gs;
  rocksdb::WriteBatch wb;
  // Rows are erased with SingleDelete, which requires each Put to be the
  // only one since the last delete: replace a stale row with delete + put.
  if (gs.ok()) wb.SingleDelete(handles_[kBlind], row);
  wb.Put(handles_[kBlind], row, EncodeBE64(account_id));
  return FromRocks(db_->Write(SyncWrite(), &wb), "vault write");
}

Status VaultImpl::DeleteEmail(std::string_view email) {
  return FromRocks(db_->SingleDelete(SyncWrite(), handles_[kBlind], BlindRow(email)),
                   "vault write");
}

}  // namespace

Status Vault::Open(const VaultOptions& options, std::unique_ptr<Vault>* out) {
  ACC_RETURN_IF_ERROR(crypto::InitCrypto());
  auto impl = std::make_unique<VaultImpl>();
  ACC_RETURN_IF_ERROR(impl->OpenDb(options));
  *out = std::move(impl);
  return Status::OK();
}

std::string AccountAd(uint64_t account_id, fb::Payload type, std::string_view request_id) {
  std::string ad = EncodeBE64(account_id);
  ad.push_back(static_cast<char>(type));
  ad.append(request_id);
  return ad;
}

std::string SealForAccount(const crypto::Key32& dek, uint64_t account_id, fb::Payload type,
                           std::string_view request_id, std::string_view plaintext) {
  return crypto::Seal(dek, plaintext, AccountAd(account_id, type, request_id));
}

Status OpenForAccount(Vault& vault, uint64_t account_id, fb::Payload type,
                      std::string_view request_id, std::string_view box, std::string* plaintext) {
  crypto::Key32 dek;
  Status ks = vault.GetAccountKey(account_id, &dek);
  if (ks.Is(Status::Code::kNotFound))
    return Status::Shredded("the key of account " + std::to_string(account_id) + " was destroyed");
  ACC_RETURN_IF_ERROR(ks);
  return crypto::Open(dek, box, AccountAd(account_id, type, request_id), plaintext);
}

std::string NormalizeEmail(std::string_view email) {
  size_t b = 0, e = email.size();
  while (b < e && std::isspace(static_cast<unsigned char>(email[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(email[e - 1]))) --e;
  std::string out(email.substr(b, e - b));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace accountable
