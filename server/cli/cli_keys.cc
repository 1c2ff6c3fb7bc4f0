// Key rotation commands: rotate-kek and rotate-signing-key. Both run on an
// offline data directory (embedded mode): the server holds the RocksDB locks,
// so a rotation beside a running accountabled is refused as busy.
// Operations: docs/operations.md ("Key rotation").
#include <chrono>

#include "core/kek_rotation.h"
#include "core/signing_keyring.h"
#include "server/cli/cli_commands.h"

namespace accountable::cli {
namespace {

using Json = nlohmann::ordered_json;

Status Offline(const Globals& g, const char* command) {
  if (g.server.empty()) return Status::OK();
  return Status::InvalidArgument(std::string(command) + " runs on the data directory only: stop accountabled, "
                                 "then run it without --server (docs/operations.md, \"Key rotation\")");
}

// The Busy of an open data directory, said in terms of what to do.
Status Explain(Status s) {
  if (!s.Is(Status::Code::kBusy)) return s;
  return Status::Busy("the data directory is in use (is accountabled running?): key rotation runs offline, "
                      "stop the server first");
}

// Opens the data directory, runs fn, closes it and reports the first error.
Status WithAccounts(const Globals& g, const std::function<Status(Accounts&)>& fn) {
  std::unique_ptr<Accounts> a;
  ACC_RETURN_IF_ERROR(Explain(OpenAccounts(g, &a)));
  Status s = fn(*a);
  Status cs = a->Close();
  return s.ok() ? cs : s;
}

int RunRotateKek(const Globals& g) {
  if (Status s = Offline(g, "rotate-kek"); !s.ok()) return Fail(g, s);
  Receipt receipt;
  KekRotationReport r;
  Status s = RotateKek({.data_dir = g.data_dir, .key_dir = g.key_dir}, [&](const KekRotationReport& so_far) {
    return WithAccounts(g, [&](Accounts& a) {
      const auto& w = so_far.rewrap;
      return a.RecordKekRotated({so_far.old_kek_id, so_far.new_kek_id, w.rewrapped, w.files_scanned,
                                 w.bytes_scanned, w.hits}, &receipt);
    });
  }, &r);
  if (!s.ok()) return Fail(g, Explain(s));
  Print(g, Json{{"ok", true}, {"event", "kek_rotated"}, {"seq", receipt.seq}, {"duplicate", receipt.duplicate},
                {"old_kek_id", r.old_kek_id}, {"new_kek_id", r.new_kek_id}, {"resumed", r.resumed},
                {"rewrapped", r.rewrap.rewrapped}, {"already_rewrapped", r.rewrap.already_next},
                {"batches", r.rewrap.batches}, {"compaction_passes", r.rewrap.compaction_passes},
                {"files_scanned", r.scan.files_scanned}, {"bytes_scanned", r.scan.bytes_scanned},
                {"hits", r.scan.hits}});
  return 0;
}

int64_t WallClockMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int RunRotateSigningKey(const Globals& g) {
  if (Status s = Offline(g, "rotate-signing-key"); !s.ok()) return Fail(g, s);
  const std::string key_dir = g.key_dir.empty() ? g.data_dir + "/keys" : g.key_dir;
  // Refused before signing.next is written if the server has the directory open.
  Status s = WithAccounts(g, [](Accounts&) { return Status::OK(); });
  SigningRotationReport r;
  bool duplicate = false;
  if (s.ok())
    s = RotateSigningKey(key_dir, WallClockMs(), [&](const SigningRotationReport& so_far, uint64_t* seq) {
      return WithAccounts(g, [&](Accounts& a) {
        Receipt receipt;
        ACC_RETURN_IF_ERROR(a.RecordSigningKeyRotated({so_far.old_key_id, so_far.new_key_id, so_far.old_public_key,
                                                       so_far.new_public_key, so_far.valid_from_ms}, &receipt));
        *seq = receipt.seq;
        duplicate = receipt.duplicate;
        return Status::OK();
      });
    }, &r);
  // Opening again signs the head of the log with the new key.
  if (s.ok()) s = WithAccounts(g, [](Accounts&) { return Status::OK(); });
  if (!s.ok()) return Fail(g, Explain(s));
  Print(g, Json{{"ok", true}, {"event", "signing_key_rotated"}, {"seq", r.from_size}, {"duplicate", duplicate},
                {"old_key_id", r.old_key_id}, {"new_key_id", r.new_key_id},
                {"new_public_key", crypto::ToHex(r.new_public_key)}, {"resumed", r.resumed},
                {"keyring", KeyringPath(key_dir)}});
  return 0;
}

}  // namespace

void AttachKeyCommands(CLI::App& app, Globals& g, Selected* selected) {
  auto* kek = app.add_subcommand("rotate-kek", "offline: rewrap every vault key under a new KEK, shred the old one");
  kek->callback([&g, selected] { *selected = [&g] { return RunRotateKek(g); }; });
  auto* sig = app.add_subcommand("rotate-signing-key",
                                 "offline: new tree-head signing key; the old public key stays in signing.keyring");
  sig->callback([&g, selected] { *selected = [&g] { return RunRotateSigningKey(g); }; });
}

}  // namespace accountable::cli
