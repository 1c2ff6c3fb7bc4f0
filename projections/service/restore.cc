// Restore: a verified backup copied into a data directory, every erasure of
// the erasure list applied again, proven by byte scan, and only then moved
// where the server opens it (backup.h).
#include <sys/stat.h>

#include <chrono>
#include <filesystem>

#include "core/byte_scan.h"
#include "core/merkle.h"
#include "core/signing_keyring.h"
#include "projections/service/accounts.h"
#include "projections/service/backup.h"
#include "projections/service/erasure_list.h"

namespace accountable {
namespace {

namespace fs = std::filesystem;
using backup_internal::CopyTree;

constexpr std::string_view kStaging = "restore.tmp";

struct Paths {
  std::string data, keys, data_keys, marker, staging;
};

// Refused before anything is written; then the marker, so that from here on
// a crash leaves a directory Accounts::Open refuses.
Status PrepareTarget(const Paths& p) {
  std::error_code ec;
  const bool resumed = fs::exists(p.marker, ec);
  if (!resumed && (fs::exists(p.data + "/events", ec) || fs::exists(p.data + "/vault", ec)))
    return Status::Refused("restore: " + p.data + " already holds a ledger; restore into a directory without events/ and vault/");
  if (p.keys != p.data_keys && fs::exists(p.data_keys, ec))
    return Status::Refused("restore: " + p.data_keys + " exists; restore with those keys (no --keys) or into another directory");
  fs::create_directories(p.data, ec);
  if (ec) return Status::IOError("restore: cannot create " + p.data);
  ::chmod(p.data.c_str(), 0700);
  ACC_RETURN_IF_ERROR(WriteFileAtomically(p.marker, "a restore is running or was interrupted; run it again\n", 0600));
  // A restore the crash interrupted left these; everything in them came from it.
  for (const std::string& d : {p.staging, p.data + "/events", p.data + "/vault"}) {
    fs::remove_all(d, ec);
    if (ec) return Status::IOError("restore: cannot remove " + d);
  }
  return Status::OK();
}

// Sorts the listed accounts by what the copy holds; keys of those it still
// holds, raw and wrapped, become needles for the final scan.
Status Classify(Accounts& a, const ErasureListDoc& list, RestoreReport* out,
                std::vector<SweepReport::Erasure>* todo, std::vector<uint64_t>* absent, std::vector<std::string>* needles) {
  for (const auto& [id, e] : list.entries) {
    AccountState st;
    Status rs = ReadAccount(a.ledger(), id, &st);
    Status ks = a.vault().AccountKeyNeedles(id, needles);
    if (!ks.ok() && !ks.Is(Status::Code::kNotFound)) return ks;
    if (rs.Is(Status::Code::kNotFound)) {
      absent->push_back(id);  // registered after the backup; an orphan key may still be there
    } else if (!rs.ok()) {
      return rs;
    } else if (st.status == AccountStatus::kErased) {
      ++out->already_erased;
      if (ks.ok()) return Status::Corruption("restore: erased account " + std::to_string(id) + " still has its key");
    } else {
      todo->push_back({id, "admin", 0});
    }
  }
  return Status::OK();
}

Status Reapply(const Paths& p, const BackupManifest& m, const ErasureListDoc& list, RestoreReport* out) {
  AccountsOptions ao;
  ao.data_dir = p.staging;
  ao.key_dir = p.keys;
  ao.erasure_list = false;  // the real list is the operator's; this copy must not overwrite it
  std::unique_ptr<Accounts> a;
  ACC_RETURN_IF_ERROR(Accounts::Open(ao, &a));  // finishes erasures pending in the copy
  std::string root;
  if (a->ledger().LastSeq() < m.head.size ||
      !merkle::RootAt(merkle::LedgerNodes(a->ledger()), m.head.size, &root).ok() || root != m.head.root)
    return Status::Corruption("restore: the copied log does not match the tree head signed in the manifest");
  std::vector<SweepReport::Erasure> todo;
  std::vector<uint64_t> absent;
  std::vector<std::string> needles;
  struct Wipe {
    std::vector<std::string>* v;
    ~Wipe() {
      for (auto& s : *v) crypto::Wipe(&s);
    }
  } wipe{&needles};
  ACC_RETURN_IF_ERROR(Classify(*a, list, out, &todo, &absent, &needles));
  if (!todo.empty()) {
    SweepReport r;
    ACC_RETURN_IF_ERROR(a->Erase(todo, &r));
    if (r.erased.size() != todo.size() || !r.verified) return Status::Corruption("restore: an erasure did not complete");
    out->reapplied = r.erased.size();
  }
  out->absent = absent.size();
  if (!absent.empty()) {
    Vault::ShredReport sr;
    ACC_RETURN_IF_ERROR(a->vault().Shred({absent, {}, {}}, &sr));
  }
  for (const auto& [id, e] : list.entries) {
    crypto::Key32 k;
    if (!a->vault().GetAccountKey(id, &k).Is(Status::Code::kNotFound))
      return Status::Corruption("restore: account " + std::to_string(id) + " still has a key");
  }
  out->last_seq = a->ledger().LastSeq();
  ACC_RETURN_IF_ERROR(a->Close());
  a.reset();
  // Every file of the restored copy, both stores, once nothing writes to it.
  ScanReport scan;
  ACC_RETURN_IF_ERROR(ScanDirectory(p.staging, needles, &scan));
  out->files_scanned = scan.files_scanned;
  out->bytes_scanned = scan.bytes_scanned;
  out->hits = scan.hits;
  if (scan.hits) return Status::Corruption("restore: " + std::to_string(scan.hits) + " copies of erased keys are still on disk");
  return Status::OK();
}

// The stores into place, then the marker goes: the only step after which the
// server opens the directory.
Status MoveIntoPlace(const Paths& p, RestoreReport* out) {
  if (p.keys != p.data_keys) ACC_RETURN_IF_ERROR(CopyTree(p.keys, p.data_keys, &out->files, &out->bytes));
  std::error_code ec;
  for (const char* sub : {"/events", "/vault"}) {
    fs::rename(p.staging + sub, p.data + sub, ec);
    if (ec) return Status::IOError("restore: cannot move " + p.staging + sub + " into place");
  }
  fs::remove_all(p.staging, ec);
  ACC_RETURN_IF_ERROR(SyncDirectory(p.data));
  if (!fs::remove(p.marker, ec) || ec) return Status::IOError("restore: cannot remove " + p.marker);
  return SyncDirectory(p.data);
}

}  // namespace

Status RestoreBackup(const RestoreOptions& o, RestoreReport* out) {
  const auto t0 = std::chrono::steady_clock::now();
  *out = RestoreReport();
  if (o.backup_dir.empty() || o.data_dir.empty())
    return Status::InvalidArgument("restore: a backup directory and --data are required");
  if (o.erasure_list_path.empty())
    return Status::InvalidArgument("restore: the erasure list is required (--erasure-list FILE): without it "
                                   "anyone erased since the backup would come back");
  Paths p;
  p.data = o.data_dir;
  p.data_keys = o.data_dir + "/keys";
  p.keys = o.keys_dir.empty() ? p.data_keys : o.keys_dir;
  p.marker = o.data_dir + "/" + std::string(kRestoreMarker);
  p.staging = o.data_dir + "/" + std::string(kStaging);
  std::error_code ec;
  if (!fs::exists(p.keys + "/signing", ec) || !fs::exists(p.keys + "/kek", ec))
    return Status::InvalidArgument("restore: no keys in " + p.keys + " (give the directory `backup --keys` wrote with --keys)");
  SigningKey key;
  ACC_RETURN_IF_ERROR(LoadOrCreateSigningKey(p.keys + "/signing", &key));  // it exists: loaded, never made
  std::vector<std::string> trusted;
  ACC_RETURN_IF_ERROR(TrustedPublicKeys(p.keys, key.public_key, &trusted));
  ErasureListDoc list;
  Status ls = ReadErasureList(o.erasure_list_path, trusted, &list);
  if (ls.Is(Status::Code::kNotFound)) return Status::InvalidArgument("restore: " + ls.message());
  ACC_RETURN_IF_ERROR(ls);
  out->listed = list.entries.size();
  BackupManifest m;
  ACC_RETURN_IF_ERROR(VerifyBackup(o.backup_dir, trusted, &m));
  out->backup_seq = m.head.size;
  ACC_RETURN_IF_ERROR(PrepareTarget(p));
  for (const char* sub : {"/events", "/vault"})
    ACC_RETURN_IF_ERROR(CopyTree(o.backup_dir + sub, p.staging + sub, &out->files, &out->bytes));
  ACC_RETURN_IF_ERROR(Reapply(p, m, list, out));
  ACC_RETURN_IF_ERROR(MoveIntoPlace(p, out));
  out->elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  return Status::OK();
}

}  // namespace accountable
