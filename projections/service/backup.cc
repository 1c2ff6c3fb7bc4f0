// Backup: both stores checkpointed while the service runs, a signed
// manifest, and the checks a restore starts with.
#include "projections/service/backup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>

#include "core/merkle.h"
#include "core/sha256.h"
#include "projections/fold/activity.h"
#include "projections/service/accounts.h"
#include "projections/service/erasure_list.h"

namespace accountable {

namespace fs = std::filesystem;
using textdoc::Field;
using textdoc::Lines;
using textdoc::ParseU64;

namespace {

constexpr std::string_view kManifestFormat = "accountable-backup v1";
constexpr size_t kManifestBytesMax = 256u << 20;
constexpr size_t kCopyChunkBytes = 1u << 20;

bool Inside(const fs::path& path, const fs::path& dir) {
  const std::string p = fs::weakly_canonical(path).string() + "/", d = fs::weakly_canonical(dir).string() + "/";
  return p.compare(0, d.size(), d) == 0;
}

// Refused before anything is written: an existing target (never
// overwritten), a missing parent, keys inside the backup or the data.
Status CheckTargets(const BackupOptions& o, const std::string& data_dir) {
  if (o.dest.empty()) return Status::InvalidArgument("backup: a destination directory is required");
  std::error_code ec;
  for (const std::string& p : {o.dest, o.dest + ".partial", o.keys_dest}) {
    if (!p.empty() && fs::exists(p, ec))
      return Status::Refused("backup: " + p + " already exists; choose a new directory");
  }
  const fs::path parent = fs::absolute(o.dest).parent_path();
  if (!fs::is_directory(parent, ec)) return Status::InvalidArgument("backup: " + parent.string() + " is not a directory");
  if (Inside(o.dest, data_dir)) return Status::InvalidArgument("backup: the destination lies inside the data directory");
  if (!o.keys_dest.empty() && Inside(o.keys_dest, o.dest))
    return Status::InvalidArgument("backup: the keys must not be stored inside the backup (that is what keeps it unreadable)");
  return Status::OK();
}

// Size and root of the copied log, read from the copy itself.
Status CopiedHead(const std::string& events_dir, uint64_t* size, std::string* root) {
  LedgerOptions lo;
  lo.dir = events_dir;
  lo.read_only = true;
  lo.activity_merge = MergeActivity;
  lo.activity_partial_merge = PartialMergeActivity;
  std::unique_ptr<Ledger> copy;
  ACC_RETURN_IF_ERROR(Ledger::Open(lo, &copy));
  *size = copy->LastSeq();
  ACC_RETURN_IF_ERROR(merkle::RootAt(merkle::LedgerNodes(*copy), *size, root));
  return copy->Close();
}

Status ListFiles(const std::string& dir, std::vector<BackupFile>* out) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_directory()) continue;
    if (!it->is_regular_file()) return Status::Corruption("backup: " + it->path().string() + " is not a regular file");
    if (out->size() >= kBackupFilesMax) return Status::InvalidArgument("backup: more than " + std::to_string(kBackupFilesMax) + " files");
    out->push_back({fs::relative(it->path(), dir).string(), 0, {}});
  }
  if (ec) return Status::IOError("backup: cannot list " + dir);
  std::sort(out->begin(), out->end(), [](const BackupFile& a, const BackupFile& b) { return a.path < b.path; });
  return Status::OK();
}

Status CopyFile(const std::string& from, const std::string& to, uint64_t* bytes) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Status::IOError("cannot open " + from + ": " + std::strerror(errno));
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) {
    ::close(in);
    return Status::IOError("cannot create " + to + ": " + std::strerror(errno));
  }
  std::string buf(kCopyChunkBytes, '\0');
  ssize_t n = 0;
  bool ok = true;
  while (ok && (n = ::read(in, buf.data(), buf.size())) > 0) {
    ok = ::write(out, buf.data(), static_cast<size_t>(n)) == n;
    *bytes += static_cast<uint64_t>(n);
  }
  ok = ok && n == 0 && ::fsync(out) == 0;
  ::close(in);
  ::close(out);
  return ok ? Status::OK() : Status::IOError("cannot copy " + from + " to " + to);
}

}  // namespace

namespace backup_internal {

Status HashFile(const std::string& path, uint64_t* size, std::string* sha256) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Corruption("backup file " + path + " is missing or unreadable");
  Sha256 h;
  std::string buf(kCopyChunkBytes, '\0');
  ssize_t n = 0;
  *size = 0;
  while ((n = ::read(fd, buf.data(), buf.size())) > 0) {
    h.Update(buf.data(), static_cast<size_t>(n));
    *size += static_cast<uint64_t>(n);
  }
  ::close(fd);
  if (n < 0) return Status::IOError("cannot read " + path);
  *sha256 = std::string(View(h.Final()));
  return Status::OK();
}

Status CopyTree(const std::string& from, const std::string& to, uint64_t* files, uint64_t* bytes) {
  std::vector<BackupFile> list;
  ACC_RETURN_IF_ERROR(ListFiles(from, &list));
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return Status::IOError("cannot create " + to);
  ::chmod(to.c_str(), 0700);
  for (const BackupFile& f : list) {
    const fs::path target = fs::path(to) / f.path;
    fs::create_directories(target.parent_path(), ec);
    if (ec) return Status::IOError("cannot create " + target.parent_path().string());
    ACC_RETURN_IF_ERROR(CopyFile((fs::path(from) / f.path).string(), target.string(), bytes));
    ++*files;
  }
  return SyncDirectory(to);
}

}  // namespace backup_internal

std::string EncodeManifest(const BackupManifest& m, const SigningKey& key) {
  std::string body(kManifestFormat);
  body += "\npublic_key " + crypto::ToHex(m.public_key) + "\ncreated_at_ms " + std::to_string(m.created_at_ms) +
          "\nhead_size " + std::to_string(m.head.size) + "\nhead_root " + crypto::ToHex(m.head.root) +
          "\nhead_timestamp_ms " + std::to_string(m.head.timestamp_ms) + "\nhead_signature " +
          crypto::ToHex(m.head.signature) + "\n";
  for (const BackupFile& f : m.files)
    body += "file " + std::to_string(f.size) + " " + crypto::ToHex(f.sha256) + " " + f.path + "\n";
  return body + "signature " + crypto::ToHex(SignDetached(key, body)) + "\n";
}

namespace {

Status ParseManifestHeader(const std::vector<std::string_view>& lines, BackupManifest* m) {
  const auto bad = [](const char* what) { return Status::Corruption(std::string("backup manifest: ") + what); };
  std::string_view v;
  uint64_t n = 0;
  if (lines.size() < 9 || lines[0] != kManifestFormat) return bad("not an accountable-backup v1 manifest");
  if (!Field(lines[1], "public_key", &v) || !crypto::FromHex(v, 32, &m->public_key)) return bad("no public_key");
  if (!Field(lines[2], "created_at_ms", &v) || !ParseU64(v, &n)) return bad("no created_at_ms");
  m->created_at_ms = static_cast<int64_t>(n);
  if (!Field(lines[3], "head_size", &v) || !ParseU64(v, &m->head.size)) return bad("no head_size");
  if (!Field(lines[4], "head_root", &v) || !crypto::FromHex(v, 32, &m->head.root)) return bad("no head_root");
  if (!Field(lines[5], "head_timestamp_ms", &v) || !ParseU64(v, &n)) return bad("no head_timestamp_ms");
  m->head.timestamp_ms = static_cast<int64_t>(n);
  if (!Field(lines[6], "head_signature", &v) || !crypto::FromHex(v, 64, &m->head.signature)) return bad("no head_signature");
  return Status::OK();
}

Status ParseManifestFiles(const std::vector<std::string_view>& lines, BackupManifest* m) {
  for (size_t i = 7; i + 1 < lines.size(); ++i) {
    std::string_view v;
    BackupFile f;
    const size_t a = Field(lines[i], "file", &v) ? v.find(' ') : std::string_view::npos;
    const size_t b = a == std::string_view::npos ? a : v.find(' ', a + 1);
    if (b == std::string_view::npos || !ParseU64(v.substr(0, a), &f.size) ||
        !crypto::FromHex(v.substr(a + 1, b - a - 1), 32, &f.sha256))
      return Status::Corruption("backup manifest: line " + std::to_string(i + 1) + " is not a file line");
    f.path = std::string(v.substr(b + 1));
    // Only plain names below events/ and vault/: a manifest never points outside the backup.
    if (f.path.find("..") != std::string::npos || (f.path.rfind("events/", 0) != 0 && f.path.rfind("vault/", 0) != 0))
      return Status::Corruption("backup manifest: a file outside events/ and vault/");
    if (m->files.size() >= kBackupFilesMax) return Status::Corruption("backup manifest: too many files");
    m->files.push_back(std::move(f));
  }
  return Status::OK();
}

}  // namespace

Status VerifyBackup(const std::string& dir, const std::vector<std::string>& public_keys, BackupManifest* out) {
  const std::string path = (fs::path(dir) / kBackupManifest).string();
  std::error_code ec;
  const uint64_t size = fs::exists(path, ec) ? fs::file_size(path, ec) : 0;
  if (size == 0 || ec) return Status::Corruption("backup " + dir + " has no manifest (" + std::string(kBackupManifest) + ")");
  if (size > kManifestBytesMax) return Status::Corruption("backup manifest is too large");
  std::string text(size, '\0');
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const bool read = fd >= 0 && ::read(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (fd >= 0) ::close(fd);
  if (!read) return Status::IOError("cannot read the backup manifest " + path);
  const std::vector<std::string_view> lines = Lines(text);
  BackupManifest m;
  ACC_RETURN_IF_ERROR(ParseManifestHeader(lines, &m));
  std::string_view v;
  std::string sig;
  if (!Field(lines.back(), "signature", &v) || !crypto::FromHex(v, 64, &sig) || text.back() != '\n')
    return Status::Corruption("backup manifest: no signature line");
  if (std::find(public_keys.begin(), public_keys.end(), m.public_key) == public_keys.end())
    return Status::Corruption("backup manifest: signed by a key that is neither this ledger's nor in its keyring");
  const std::string& public_key = m.public_key;
  ACC_RETURN_IF_ERROR(VerifyDetached(public_key, std::string_view(text).substr(0, text.size() - lines.back().size() - 1), sig));
  ACC_RETURN_IF_ERROR(VerifyHead(public_key, m.head));
  ACC_RETURN_IF_ERROR(ParseManifestFiles(lines, &m));
  std::vector<BackupFile> present;
  for (const char* sub : {"events", "vault"}) {
    std::vector<BackupFile> part;
    if (!fs::is_directory(fs::path(dir) / sub, ec)) return Status::Corruption("backup " + dir + " has no " + sub + "/");
    ACC_RETURN_IF_ERROR(ListFiles((fs::path(dir) / sub).string(), &part));
    for (auto& f : part) present.push_back({std::string(sub) + "/" + f.path, 0, {}});
  }
  std::map<std::string, const BackupFile*> listed;
  for (const BackupFile& f : m.files) listed[f.path] = &f;
  for (const BackupFile& f : present)
    if (!listed.count(f.path)) return Status::Corruption("backup file " + f.path + " is not in the manifest");
  for (const BackupFile& f : m.files) {
    uint64_t got_size = 0;
    std::string got_sha;
    ACC_RETURN_IF_ERROR(backup_internal::HashFile((fs::path(dir) / f.path).string(), &got_size, &got_sha));
    if (got_size != f.size || got_sha != f.sha256)
      return Status::Corruption("backup file " + f.path + " does not match its checksum in the manifest");
  }
  *out = std::move(m);
  return Status::OK();
}

Status Accounts::Backup(const BackupOptions& o, BackupReport* out) {
  const auto t0 = std::chrono::steady_clock::now();
  *out = BackupReport();
  ACC_RETURN_IF_ERROR(CheckTargets(o, opt_.data_dir));
  const std::string partial = o.dest + ".partial";
  std::error_code ec;
  fs::create_directory(partial, ec);
  if (ec) return Status::IOError("backup: cannot create " + partial);
  ::chmod(partial.c_str(), 0700);
  {
    // No erasure between the two copies: every AccountErased in the events
    // copy has its key gone from the vault copy or pending (finished at
    // restore), and no key is missing for an account the events copy has
    // live. Events first: a registration writes its key before its event,
    // so each registration in the events copy has its key in the later vault copy.
    std::lock_guard<std::mutex> l(sweep_mu_);
    ACC_RETURN_IF_ERROR(ledger_->Checkpoint(partial + "/events"));
    ACC_RETURN_IF_ERROR(vault_->Checkpoint(partial + "/vault"));
  }
  BackupManifest m;
  m.public_key = signing_key_.public_key;
  m.created_at_ms = NowMs();
  std::string root;
  ACC_RETURN_IF_ERROR(CopiedHead(partial + "/events", &out->log_seq, &root));
  m.head = Sign(signing_key_, out->log_seq, root, m.created_at_ms);
  ACC_RETURN_IF_ERROR(ListFiles(partial, &m.files));
  for (BackupFile& f : m.files) {
    ACC_RETURN_IF_ERROR(backup_internal::HashFile((fs::path(partial) / f.path).string(), &f.size, &f.sha256));
    out->bytes += f.size;
  }
  out->files = m.files.size();
  out->root = root;
  ACC_RETURN_IF_ERROR(WriteFileAtomically((fs::path(partial) / kBackupManifest).string(), EncodeManifest(m, signing_key_), 0600));
  for (const char* sub : {"/events", "/vault"}) ACC_RETURN_IF_ERROR(SyncDirectory(partial + sub));
  fs::rename(partial, o.dest, ec);
  if (ec) return Status::IOError("backup: cannot rename " + partial + " to " + o.dest);
  ACC_RETURN_IF_ERROR(SyncDirectory(fs::absolute(o.dest).parent_path().string()));
  if (!o.keys_dest.empty()) {
    uint64_t files = 0, bytes = 0;
    ACC_RETURN_IF_ERROR(backup_internal::CopyTree(opt_.key_dir.empty() ? opt_.data_dir + "/keys" : opt_.key_dir,
                                                  o.keys_dest, &files, &bytes));
    out->keys_written = true;
  }
  out->elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  return Status::OK();
}

}  // namespace accountable
