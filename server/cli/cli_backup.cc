// CLI commands for operators: backup (embedded or --server) and restore
// (embedded only, offline). docs/operations.md, "Backup and restore".
#include "core/crypto.h"
#include "projections/service/backup.h"
#include "server/cli/cli_commands.h"
#include "server/client/client.h"

namespace accountable::cli {
namespace {

using Json = nlohmann::ordered_json;

struct BackupFlags {
  std::string dest, keys_dest;
};

struct RestoreFlags {
  std::string backup, data, erasure_list, keys;
};

// Remote: the server writes the backup on its own machine.
Status RemoteBackup(const Globals& g, const BackupFlags& f, Json* out) {
  if (g.token_file.empty()) return Status::InvalidArgument("--server needs --token-file");
  std::string token;
  ACC_RETURN_IF_ERROR(crypto::ReadTokenFile(g.token_file, &token));
  std::unique_ptr<Client> c;
  Status s = Client::Connect(g.server, token, &c);
  crypto::Wipe(&token);
  ACC_RETURN_IF_ERROR(s);
  Client::Reply rep;
  ACC_RETURN_IF_ERROR(c->Call(wire::Body::Backup, [&](auto& fbb) {
    return wire::CreateBackupDirect(fbb, f.dest.c_str(), f.keys_dest.empty() ? nullptr : f.keys_dest.c_str()).Union();
  }, &rep));
  ACC_RETURN_IF_ERROR(rep.status);
  *out = Json::parse(rep.json, nullptr, false);
  if (out->is_discarded() || !out->is_object()) return Status::Corruption("server sent malformed JSON");
  return Status::OK();
}

int RunBackup(const Globals& g, const BackupFlags& f) {
  Json j;
  if (!g.server.empty()) {
    Status s = RemoteBackup(g, f, &j);
    if (!s.ok()) return Fail(g, s);
  } else {
    std::unique_ptr<Accounts> a;
    Status s = OpenAccounts(g, &a);
    BackupReport r;
    if (s.ok()) s = a->Backup({f.dest, f.keys_dest}, &r);
    if (s.ok()) s = a->Close();
    if (!s.ok()) return Fail(g, s);
    j = Json{{"dest", f.dest}, {"log_seq", r.log_seq}, {"root", crypto::ToHex(r.root)}, {"files", r.files},
             {"bytes", r.bytes}, {"keys_written", r.keys_written}, {"elapsed_ms", r.elapsed_ms}};
  }
  Json line{{"ok", true}};
  line.update(j);
  Print(g, line);
  return 0;
}

int RunRestore(const Globals& g, const RestoreFlags& f) {
  if (!g.server.empty()) return Fail(g, Status::InvalidArgument("restore runs offline, in embedded mode (no --server)"));
  RestoreOptions o{f.backup, f.data.empty() ? g.data_dir : f.data, f.erasure_list.empty() ? g.erasure_list : f.erasure_list,
                   f.keys};
  RestoreReport r;
  Status s = RestoreBackup(o, &r);
  if (!s.ok()) return Fail(g, s);
  Print(g, Json{{"ok", true}, {"data", o.data_dir}, {"backup_seq", r.backup_seq}, {"last_seq", r.last_seq},
                {"files", r.files}, {"bytes", r.bytes}, {"erasures_listed", r.listed},
                {"already_erased", r.already_erased}, {"erased_again", r.reapplied}, {"absent", r.absent},
                {"files_scanned", r.files_scanned}, {"bytes_scanned", r.bytes_scanned}, {"hits", r.hits},
                {"elapsed_ms", r.elapsed_ms}});
  return 0;
}

}  // namespace

void AttachBackupCommands(CLI::App& app, Globals& g, Selected* selected) {
  auto bf = std::make_shared<BackupFlags>();
  auto* backup = app.add_subcommand("backup", "online backup of the event DB and the vault into DEST (no keys)");
  backup->add_option("DEST", bf->dest, "new directory (on the server's machine with --server: absolute)")->required();
  backup->add_option("--keys", bf->keys_dest, "also copy the key directory (KEK included) here; store it apart");
  backup->callback([&g, selected, bf] { *selected = [&g, bf] { return RunBackup(g, *bf); }; });

  auto rf = std::make_shared<RestoreFlags>();
  auto* restore = app.add_subcommand("restore", "restore a backup into --data, erasing again everyone the erasure list names");
  restore->add_option("BACKUP", rf->backup, "a directory `backup` wrote")->required();
  restore->add_option("--data", rf->data, "the data directory to restore into (default: the global --data)");
  restore->add_option("--erasure-list", rf->erasure_list, "the server's signed erasure list (required)");
  restore->add_option("--keys", rf->keys, "the key directory `backup --keys` wrote (default DATA/keys)");
  restore->callback([&g, selected, rf] { *selected = [&g, rf] { return RunRestore(g, *rf); }; });
}

}  // namespace accountable::cli
