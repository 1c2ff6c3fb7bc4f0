// accountable: the command-line tool. Embedded mode opens the data directory
// in this process; every command prints one line (or one JSON object per
// line with --json). Exit codes are part of the interface: cli_commands.h.
#include <CLI/CLI.hpp>

#include "core/no_core_dumps.h"
#include "server/cli/cli_commands.h"
#include "server/client/tls_flags.h"

int main(int argc, char** argv) {
  using namespace accountable::cli;
  // Best effort and silent: stdout and stderr are the command's interface.
  (void)accountable::DisableCoreDumps();
  CLI::App app{"accountable: event-sourced account ledger (embedded mode)"};
  app.set_help_all_flag("--help-all");
  app.require_subcommand(1);
  Globals g;
  app.add_option("--data", g.data_dir, "data directory (embedded mode)")->capture_default_str();
  app.add_option("--server", g.server, "HOST:PORT of accountabled (remote mode)");
  app.add_option("--token-file", g.token_file,
                 "remote mode: file whose first word is the token; `token` commands: the server's token file");
  accountable::AddClientTlsFlags(app, g.tls);
  app.add_option("--key-dir", g.key_dir, "key directory (default DATA/keys)");
  app.add_option("--erasure-list", g.erasure_list, "signed erasure list kept current (default DATA/erasures/erasure-list)");
  app.add_flag("--json", g.json, "one JSON object per line");
  app.add_option("--argon2-ops", g.argon2_ops, "Argon2id opslimit")->check(InRange(1, 10));
  app.add_option("--argon2-mem-mib", g.argon2_mem_mib, "Argon2id memlimit in MiB")->check(InRange(8, 1024));
  app.add_option("--grace-days", g.grace_days, "deletion grace period")->check(InRange(0.0, 365.0))->capture_default_str();
  app.add_option("--retention-months", g.retention_months, "inactivity before erasure")->check(InRange(1, 1200))->capture_default_str();
  app.add_option("--access-log-days", g.access_log_days, "access-log day keys kept")->check(InRange(1, 3650))->capture_default_str();

  Selected selected;
  AttachAccountCommands(app, g, &selected);
  AttachLifecycleCommands(app, g, &selected);
  AttachComplianceCommands(app, g, &selected);
  AttachTokenCommands(app, g, &selected);
  AttachKeyCommands(app, g, &selected);
  AttachBackupCommands(app, g, &selected);
  AttachHealthCommand(app, g, &selected);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError&) {
    // CLI11 would quote the stray arguments, and they may be personal data.
    return PrintUsageError(g, "unexpected arguments (not repeated here: they may hold personal data); see --help");
  } catch (const CLI::ConversionError&) {
    // Its message quotes the value too.
    return PrintUsageError(g, "an option's value has the wrong type (not repeated here: it may hold personal data); "
                              "see --help");
  } catch (const CLI::ParseError& e) {
    return PrintUsageError(g, e.what());
  }
  return selected ? selected() : PrintUsageError(g, "no command given");
}
