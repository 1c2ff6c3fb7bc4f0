// KEK rotation, the sequence around Vault::RewrapAll (core/kek_rotation.h).
#include "core/kek_rotation.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "core/crash_point.h"
#include "core/text_file.h"
#include "core/vault_impl.h"

namespace accountable {
namespace {

// Step 1: KEK.next, written whole under a temporary name and renamed, so a
// crash leaves either no next KEK or a complete one.
Status PrepareNextKek(const std::string& kek_path, crypto::Key32* next, bool* resumed) {
  const std::string next_path = NextKekPath(kek_path), tmp = next_path + ".tmp";
  *resumed = std::filesystem::exists(next_path);
  if (*resumed) return vault_internal::ReadKeyFile(next_path, next);
  std::error_code ec;
  std::filesystem::remove(tmp, ec);  // a crash in the middle of the write below
  *next = crypto::RandomKey();
  ACC_RETURN_IF_ERROR(vault_internal::WriteKeyFile(tmp, *next));
  if (std::rename(tmp.c_str(), next_path.c_str()) != 0) return Status::IOError("cannot rename " + tmp);
  ACC_RETURN_IF_ERROR(SyncDirectory(std::filesystem::path(kek_path).parent_path().string()));
  CrashPoint("rotate-kek:after_next_written");
  return Status::OK();
}

Status OpenVault(const std::string& data_dir, const std::string& kek_path, std::unique_ptr<Vault>* vault) {
  Status s = Vault::Open({.dir = data_dir + "/vault", .kek_path = kek_path}, vault);
  if (s.Is(Status::Code::kBusy))
    return Status::Busy("the vault is open in another process: stop accountabled (and any other "
                        "accountable command) before rotating the KEK");
  return s;
}

// With nothing rewrapped (r == nullptr) only proves that no one else has the vault open.
Status RewrapVault(const std::string& data_dir, const std::string& kek_path, Vault::RewrapReport* r) {
  std::unique_ptr<Vault> vault;
  ACC_RETURN_IF_ERROR(OpenVault(data_dir, kek_path, &vault));
  Status s = r ? vault->RewrapAll(r) : Status::OK();
  Status cs = vault->Close();
  return s.ok() ? cs : s;
}

// Step 5: the old KEK and the old wrapped values, in no file anywhere.
Status ScanForOld(const KekRotationOptions& o, const std::string& key_dir, const crypto::Key32& old_kek,
                  KekRotationReport* out) {
  std::vector<std::string> needles = out->rewrap.old_wrapped;
  needles.emplace_back(old_kek.view());
  std::vector<std::string> dirs = {o.data_dir};
  const auto rel = std::filesystem::relative(key_dir, o.data_dir);
  if (rel.empty() || rel.native().rfind("..", 0) == 0) dirs.push_back(key_dir);  // outside DATA
  out->scan = ScanReport();
  Status s;
  for (const auto& d : dirs) {
    ScanReport r;
    s = ScanDirectory(d, needles, &r);
    if (!s.ok()) break;
    out->scan.files_scanned += r.files_scanned;
    out->scan.bytes_scanned += r.bytes_scanned;
    out->scan.hits += r.hits;
    out->scan.hit_files.insert(out->scan.hit_files.end(), r.hit_files.begin(), r.hit_files.end());
  }
  crypto::Wipe(&needles.back());
  ACC_RETURN_IF_ERROR(s);
  if (out->scan.hits)
    return Status::Corruption("the old KEK or a value wrapped under it is still in " +
                              std::to_string(out->scan.hit_files.size()) + " files (first: " +
                              out->scan.hit_files.front() + ")");
  return Status::OK();
}

}  // namespace

Status RotateKek(const KekRotationOptions& o, const RecordKekRotation& record, KekRotationReport* out) {
  ACC_RETURN_IF_ERROR(crypto::InitCrypto());
  *out = KekRotationReport();
  const std::string key_dir = o.key_dir.empty() ? o.data_dir + "/keys" : o.key_dir;
  const std::string kek_path = key_dir + "/kek";
  if (!std::filesystem::exists(o.data_dir + "/vault/CURRENT") || !std::filesystem::exists(kek_path))
    return Status::NotFound("no vault with a KEK in " + o.data_dir + " (key directory " + key_dir + ")");
  crypto::Key32 old_kek, next;
  ACC_RETURN_IF_ERROR(vault_internal::ReadKeyFile(kek_path, &old_kek));
  // Before KEK.next exists: a running server would otherwise find it at its next start.
  ACC_RETURN_IF_ERROR(RewrapVault(o.data_dir, kek_path, nullptr));
  ACC_RETURN_IF_ERROR(PrepareNextKek(kek_path, &next, &out->resumed));
  out->old_kek_id = KekId(old_kek);
  out->new_kek_id = KekId(next);
  ACC_RETURN_IF_ERROR(RewrapVault(o.data_dir, kek_path, &out->rewrap));
  ACC_RETURN_IF_ERROR(record(*out));
  CrashPoint("rotate-kek:after_record");
  if (std::rename(NextKekPath(kek_path).c_str(), kek_path.c_str()) != 0)
    return Status::IOError("cannot rename " + NextKekPath(kek_path) + " over " + kek_path);
  ACC_RETURN_IF_ERROR(SyncDirectory(key_dir));
  CrashPoint("rotate-kek:after_rename");
  return ScanForOld(o, key_dir, old_kek, out);
}

}  // namespace accountable
