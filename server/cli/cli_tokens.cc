// `accountable token add|list|revoke`: edits the server's token file
// directly (server/daemon/token_file.h), whether or not accountabled runs;
// SIGHUP makes a running server load the change. Never opens the ledger.
#include <iostream>

#include "core/crypto.h"
#include "server/cli/cli_commands.h"
#include "server/daemon/token_file.h"

namespace accountable::cli {
namespace {

using Json = nlohmann::ordered_json;

std::string RoleText(wire::Role r) { return std::string(wire::RoleName(r)); }

// --token-file here names the server's token file, not a client's.
std::string TokenFilePath(const Globals& g) {
  if (!g.token_file.empty()) return g.token_file;
  return (g.key_dir.empty() ? g.data_dir + "/keys" : g.key_dir) + "/tokens";
}

Status CheckLocal(const Globals& g) {
  if (!g.server.empty())
    return Status::InvalidArgument("token commands edit the token file on this machine; drop --server");
  return Status::OK();
}

void NoteConverted(const std::string& path, size_t converted) {
  if (converted > 0)
    std::cerr << "converted " << converted << " plaintext tokens in " << path << " to digests\n";
}

int RunAdd(const Globals& g, const std::string& role_text, const std::string& name) {
  wire::Role role = wire::Role::None;
  Status s = CheckLocal(g);
  if (s.ok()) s = tokens::ParseRole(role_text, &role);
  const std::string path = TokenFilePath(g);
  std::string token;
  crypto::ScopedWipe wipe(&token);
  if (s.ok()) s = tokens::Add(path, role, name, &token);
  if (!s.ok()) return Fail(g, s);
  // The only place the token ever appears: stdout, once.
  if (g.json)
    Print(g, Json{{"ok", true}, {"name", name}, {"role", RoleText(role)}, {"token", token}});
  else
    std::cout << token << "\n";
  std::cout.flush();
  std::cerr << "added token " << name << " (" << RoleText(role) << ") to " << path
            << "; send SIGHUP to a running accountabled to load it\n";
  return 0;
}

int RunList(const Globals& g) {
  Status s = CheckLocal(g);
  const std::string path = TokenFilePath(g);
  std::vector<tokens::Entry> entries;
  size_t converted = 0;
  if (s.ok()) s = tokens::Load(path, &entries, &converted);
  if (!s.ok()) return Fail(g, s);
  NoteConverted(path, converted);
  for (const auto& e : entries) {  // names and roles only: never a digest
    if (g.json)
      Print(g, Json{{"name", e.name}, {"role", RoleText(e.role)}});
    else
      std::cout << e.name << " " << RoleText(e.role) << "\n";
  }
  return 0;
}

int RunRevoke(const Globals& g, const std::string& name) {
  Status s = CheckLocal(g);
  const std::string path = TokenFilePath(g);
  if (s.ok()) s = tokens::Revoke(path, name);
  if (!s.ok()) return Fail(g, s);
  Print(g, Json{{"ok", true}, {"revoked", name}});
  std::cerr << "send SIGHUP to a running accountabled to drop it (its open connections are refused next)\n";
  return 0;
}

}  // namespace

void AttachTokenCommands(CLI::App& app, Globals& g, Selected* selected) {
  auto* token = app.add_subcommand("token", "the server's token file (--token-file, default KEY_DIR/tokens)");
  token->require_subcommand(1);
  auto role = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto* add = token->add_subcommand("add", "new token: printed once on stdout, only its digest is kept");
  add->add_option("--role", *role, "writer | auditor | admin")->required();
  add->add_option("--name", *name, "unique label, 1-64 of A-Z a-z 0-9 . _ -")->required();
  add->callback([&g, selected, role, name] { *selected = [&g, role, name] { return RunAdd(g, *role, *name); }; });
  auto* list = token->add_subcommand("list", "names and roles (never a token or digest)");
  list->callback([&g, selected] { *selected = [&g] { return RunList(g); }; });
  auto* revoke = token->add_subcommand("revoke", "remove a token by name");
  revoke->add_option("name", *name, "the token's name")->required();
  revoke->callback([&g, selected, name] { *selected = [&g, name] { return RunRevoke(g, *name); }; });
}

}  // namespace accountable::cli
