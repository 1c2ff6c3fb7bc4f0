// Backup over the wire (docs/protocol.md, "Backup (30)"): the server holds
// both DBs' locks, so an online backup has to be taken by the server itself.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "events/fields.h"
#include "projections/service/backup.h"
#include "server/daemon/dispatch_internal.h"

namespace accountable::dispatch_internal {
namespace {

// An absolute path strictly below root once normalized (no "..", no escape
// through a symlink that already exists).
bool Below(const std::string& path, const std::string& root) {
  namespace fs = std::filesystem;
  if (path.empty() || path[0] != '/' || path.find("/../") != std::string::npos ||
      (path.size() >= 3 && path.compare(path.size() - 3, 3, "/..") == 0))
    return false;
  std::error_code ec;
  const std::string p = fs::weakly_canonical(path, ec).string(), r = fs::weakly_canonical(root, ec).string() + "/";
  return !ec && p.size() > r.size() && p.compare(0, r.size(), r) == 0;
}

}  // namespace

std::string HandleBackup(Accounts& a, const wire::Request* r) {
  const uint64_t corr = r->correlation_id();
  auto* b = r->body_as_Backup();
  BackupOptions o{events::StringOrEmpty(b->dest()), events::StringOrEmpty(b->keys_dest())};
  if (a.backup_root().empty())
    return wire::ResponseFrame(corr, Status::Refused("backup: the server was started without --backup-root"));
  // The server's working directory means nothing to a client; and nothing
  // is written outside the directory the operator set aside.
  if (!Below(o.dest, a.backup_root()) || (!o.keys_dest.empty() && !Below(o.keys_dest, a.backup_root())))
    return wire::ResponseFrame(corr, Status::InvalidArgument("backup: dest (and keys_dest) must be absolute paths below --backup-root"));
  BackupReport rep;
  Status s = a.Backup(o, &rep);
  wire::ResponseFields f;
  if (s.ok())
    f.json = nlohmann::ordered_json{{"dest", o.dest},
                                    {"log_seq", rep.log_seq},
                                    {"root", crypto::ToHex(rep.root)},
                                    {"files", rep.files},
                                    {"bytes", rep.bytes},
                                    {"keys_written", rep.keys_written},
                                    {"elapsed_ms", rep.elapsed_ms}}
                 .dump();
  return wire::ResponseFrame(corr, s, f);
}

}  // namespace accountable::dispatch_internal
