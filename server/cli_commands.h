// The CLI's commands, separated from main() so that each stays small.
// Output contract (scripts rely on it): docs/cli.md in README's tour.
//
// Exit codes (stable):
//   0 success · 2 invalid input or usage · 3 refused by a rule or a version
//   conflict · 4 not found · 5 failed authentication · 6 storage error
//   (I/O, corruption, data directory busy, shredded data)
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "events/status.h"

namespace accountable::cli {

struct Globals {
  std::string data_dir = "data";
  std::string key_dir;
  bool json = false;
  unsigned long long argon2_ops = 2;
  size_t argon2_mem_mib = 64;
};

int ExitCode(const Status& s);
// Prints a usage error in the chosen format; returns exit code 2.
int PrintUsageError(const Globals& g, const std::string& message);

class Commands {
 public:
  explicit Commands(Globals& g) : g_(g) {}
  void Attach(CLI::App& app);
  int Run();

 private:
  int RunRegister();
  int RunShow();
  int RunLog();

  Globals& g_;
  std::function<int()> selected_;
  struct {
    std::string nickname, email, gender, birthdate, ip, user_agent, company, accept_policy, request_id;
    bool password_stdin = false;
  } reg_;
  uint64_t account_id_ = 0;
  uint64_t log_from_ = 1;
  size_t log_limit_ = 1000;
  std::optional<uint64_t> log_account_;
};

}  // namespace accountable::cli
