// Backup and restore of a data directory that never bring an erased person
// back (docs/operations.md, "Backup and restore").
//
// A backup is DEST/events and DEST/vault (RocksDB checkpoints, taken while
// the service runs) and DEST/MANIFEST.accountable: the log's size and a
// signed tree head at the copy, and the size and SHA-256 of every file,
// signed with the ledger's key. Secrets are not in it: the KEK, the request
// secret and the signing key go only to a separate directory when asked.
//
//   BackupReport b;
//   Status s = accounts->Backup({.dest = "/backup/2026-12-01"}, &b);
//   RestoreReport r;
//   s = RestoreBackup({.backup_dir = "/backup/2026-12-01", .data_dir = "data",
//                      .erasure_list_path = "/srv/erasures/erasure-list"}, &r);
//
// Restore refuses without a verifying erasure list and a verifying backup,
// erases again (in the restored copy, with its own AccountErased and
// ErasureVerified events) every listed account the copy still holds, proves
// by byte scan that none of their keys is left in any restored file, and only
// then moves the stores into place. Until it has, DATA/RESTORE-IN-PROGRESS
// exists and Accounts::Open refuses the directory.
//
// Thread safety: Accounts::Backup may run beside any other Accounts call;
// RestoreBackup works on a directory no process has open.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto.h"
#include "core/tree_head.h"
#include "events/status.h"

namespace accountable {

// In DATA while a restore runs (Accounts::Open refuses such a directory).
inline constexpr std::string_view kRestoreMarker = "RESTORE-IN-PROGRESS";
inline constexpr std::string_view kBackupManifest = "MANIFEST.accountable";
// Files in one backup, at most (a manifest is read whole).
inline constexpr size_t kBackupFilesMax = 1u << 20;

struct BackupOptions {
  std::string dest;       // must not exist; its parent must. Written as dest.partial, renamed when complete
  // Optional: copies of the key directory's files (the KEK among them), for
  // the operator to store apart from the backups. Must not exist, nor lie inside dest.
  std::string keys_dest;
};

struct BackupReport {
  uint64_t log_seq = 0;                      // events in the copy
  std::string root;                          // its tree root (32 bytes), signed in the manifest
  uint64_t files = 0, bytes = 0;
  bool keys_written = false;
  int64_t elapsed_ms = 0;
};

struct BackupFile {
  std::string path;                          // relative to the backup, e.g. events/000012.sst
  uint64_t size = 0;
  std::string sha256;                        // 32 bytes
};

struct BackupManifest {
  std::string public_key;                    // 32 bytes; the manifest is signed with its secret half
  int64_t created_at_ms = 0;
  SignedTreeHead head;                       // the events copy: its size and root
  std::vector<BackupFile> files;             // sorted by path
};

std::string EncodeManifest(const BackupManifest& m, const SigningKey& key);
// Corruption unless the manifest verifies under one of public_keys (the
// current key and the keyring's, TrustedPublicKeys) and every file it lists
// is there with its size and SHA-256, and no other file is.
Status VerifyBackup(const std::string& dir, const std::vector<std::string>& public_keys, BackupManifest* out);

struct RestoreOptions {
  std::string backup_dir;
  std::string data_dir;                      // must hold no events/ or vault/ (keys/ is fine)
  std::string erasure_list_path;             // required
  std::string keys_dir;                      // the keys to restore with; default data_dir/keys
};

struct RestoreReport {
  uint64_t backup_seq = 0;                   // events in the backup
  uint64_t last_seq = 0;                     // events in the restored log
  uint64_t files = 0, bytes = 0;             // copied
  size_t listed = 0;                         // erasures in the list
  size_t already_erased = 0;                 // of those, erased in the backup too
  size_t reapplied = 0;                      // erased again by the restore
  size_t absent = 0;                         // accounts the backup never had
  uint64_t files_scanned = 0, bytes_scanned = 0, hits = 0;  // the final byte scan (hits must be 0)
  int64_t elapsed_ms = 0;
};

Status RestoreBackup(const RestoreOptions& o, RestoreReport* out);

// Shared by backup.cc and restore.cc.
namespace backup_internal {
Status HashFile(const std::string& path, uint64_t* size, std::string* sha256);
// Copies every regular file under from into to (created 0700), file modes 0600, each fsynced.
Status CopyTree(const std::string& from, const std::string& to, uint64_t* files, uint64_t* bytes);
}  // namespace backup_internal

}  // namespace accountable
