// The CLI's commands, one small Attach function per theme so that main()
// and each command stay short. Output shapes are a contract for scripts:
// see README.md ("CLI tour") and docs/compliance.md.
//
// Exit codes (stable):
//   0 success · 2 invalid input or usage · 3 refused by a rule, a version
//   conflict or a request id reused with a different content · 4 not found · 5 failed authentication · 6 storage error
//   (I/O, corruption, data directory busy, shredded data)
//   `health` alone: 1 not ready or unreachable (docs/operations.md)
//
// Thread safety: single-threaded, one command per process.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "events/status.h"
#include "projections/service/accounts.h"
#include "server/cli/cli_backend.h"
#include "server/client/tls.h"

namespace accountable::cli {

struct Globals {
  std::string server;                        // HOST:PORT: remote mode
  std::string token_file;                    // remote mode: first word is the token
  ClientTlsOptions tls;                      // remote mode over TLS
  std::string data_dir = "data";
  std::string key_dir;
  std::string erasure_list;                  // embedded: where erasures are listed (AccountsOptions)
  bool json = false;
  unsigned long long argon2_ops = 2;
  size_t argon2_mem_mib = 64;
  double grace_days = 3;
  int retention_months = 36;
  int access_log_days = 30;
};

// Numbers on the command line are plain decimal: CLI11 alone would take
// 0x1, 010 (octal) and -1 (wrapping to 2^64-1) and pick the wrong account.
inline const CLI::Validator kDecimal(
    [](std::string& s) -> std::string {
      uint64_t v = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || ec != std::errc() ||
          end != s.data() + s.size())
        return "must be a decimal number below 2^64";
      return "";
    },
    "DECIMAL");

// CLI::Range and CLI::IsMember quote the rejected value, which may be personal
// data (a name typed after --by, a shifted argument): these say only what is
// allowed.
template <typename T>
CLI::Validator InRange(T min, T max) {
  std::ostringstream allowed;
  allowed << "must be a number in the range " << min << " to " << max;
  return CLI::Validator(
      [min, max, message = allowed.str()](std::string& s) -> std::string {
        T v{};
        if (!CLI::detail::lexical_cast(s, v) || v < min || v > max) return message;
        return "";
      },
      "RANGE");
}

inline CLI::Validator OneOf(std::vector<std::string> names) {
  std::string allowed = "must be one of:";
  for (const auto& n : names) allowed += " " + n;
  return CLI::Validator(
      [names = std::move(names), allowed](std::string& s) -> std::string {
        return std::find(names.begin(), names.end(), s) == names.end() ? allowed : "";
      },
      "NAME");
}

// The chosen command, run after parsing succeeded.
using Selected = std::function<int()>;

int ExitCode(const Status& s);
// Prints an error in the chosen format; returns its exit code.
int Fail(const Globals& g, const Status& s);
int PrintUsageError(const Globals& g, const std::string& message);
void Print(const Globals& g, const nlohmann::ordered_json& j);
Status OpenAccounts(const Globals& g, std::unique_ptr<Accounts>* out);
// Parses an RFC 3339 UTC time for flags such as --as-of.
Status ParseTimeFlag(const std::string& flag, const std::string& text, int64_t* out_ms);
// Reads the password from the first line of stdin (only with --password-stdin).
Status ReadPassword(bool password_stdin, std::string* out);

void AttachAccountCommands(CLI::App& app, Globals& g, Selected* selected);    // register show log
void AttachLifecycleCommands(CLI::App& app, Globals& g, Selected* selected);  // login consent update deletion change-password touch
void AttachComplianceCommands(CLI::App& app, Globals& g, Selected* selected); // export disclose access policy sweep inactive notice-sent import
void AttachTokenCommands(CLI::App& app, Globals& g, Selected* selected);      // token add|list|revoke (server/cli/cli_tokens.cc)
void AttachKeyCommands(CLI::App& app, Globals& g, Selected* selected);        // rotate-kek rotate-signing-key
void AttachBackupCommands(CLI::App& app, Globals& g, Selected* selected);     // backup restore
// `health`: exit 0 when accountabled's /readyz answers 200, else 1 (cli_health.cc).
void AttachHealthCommand(CLI::App& app, Globals& g, Selected* selected);

}  // namespace accountable::cli
