#include "server/cli_commands.h"

#include <iostream>
#include <memory>

#include "projections/accounts.h"
#include "projections/describe.h"

namespace accountable::cli {
namespace {

using Json = nlohmann::ordered_json;

// Cap on one `log` call; paging with --from covers the rest.
constexpr size_t kLogLimitMax = 100000;

int Fail(const Globals& g, const Status& s) {
  if (g.json) {
    std::cout << Json{{"ok", false},
                      {"error", Status::CodeName(s.code())},
                      {"message", s.message()}}.dump()
              << "\n";
  } else {
    std::cerr << "error: " << s.ToString() << "\n";
  }
  return ExitCode(s);
}

void Print(const Globals& g, const Json& j) {
  std::cout << (g.json ? j.dump() : RenderLine(j)) << "\n";
}

Status OpenAccounts(const Globals& g, std::unique_ptr<Accounts>* out) {
  AccountsOptions o;
  o.data_dir = g.data_dir;
  o.key_dir = g.key_dir;
  o.password_cost.ops = g.argon2_ops;
  o.password_cost.mem_bytes = g.argon2_mem_mib * 1024 * 1024;
  return Accounts::Open(o, out);
}

}  // namespace

int ExitCode(const Status& s) {
  using C = Status::Code;
  switch (s.code()) {
    case C::kOk: return 0;
    case C::kInvalidArgument: return 2;
    case C::kRefused:
    case C::kConflict: return 3;
    case C::kNotFound: return 4;
    case C::kAuthFailed: return 5;
    case C::kShredded:
    case C::kCorruption:
    case C::kBusy:
    case C::kIOError: return 6;
  }
  return 6;
}

int PrintUsageError(const Globals& g, const std::string& message) {
  return Fail(g, Status::InvalidArgument(message));
}

void Commands::Attach(CLI::App& app) {
  auto* reg = app.add_subcommand("register", "register an account; prints its id");
  reg->add_option("--nickname", reg_.nickname)->required();
  reg->add_option("--email", reg_.email)->required();
  reg->add_flag("--password-stdin", reg_.password_stdin, "read the password from the first line of stdin");
  reg->add_option("--gender", reg_.gender, "female | male | diverse | unspecified")->required();
  reg->add_option("--birthdate", reg_.birthdate, "YYYY-MM-DD")->required();
  reg->add_option("--ip", reg_.ip)->required();
  reg->add_option("--user-agent", reg_.user_agent);
  reg->add_option("--company", reg_.company);
  reg->add_option("--accept-policy", reg_.accept_policy, "the policy version accepted");
  reg->add_option("--request-id", reg_.request_id, "idempotency key (random if omitted)");
  reg->callback([this] { selected_ = [this] { return RunRegister(); }; });

  auto* show = app.add_subcommand("show", "account state and its decrypted personal data");
  show->add_option("ACCOUNT_ID", account_id_)->required();
  show->callback([this] { selected_ = [this] { return RunShow(); }; });

  auto* log = app.add_subcommand("log", "events, one per line; PII only as sealed byte counts");
  log->add_option("--from", log_from_, "first seq (or stream version with --account)");
  log->add_option("--limit", log_limit_)->check(CLI::Range(size_t{1}, kLogLimitMax));
  log->add_option("--account", log_account_);
  log->callback([this] { selected_ = [this] { return RunLog(); }; });
}

int Commands::Run() { return selected_ ? selected_() : PrintUsageError(g_, "no command"); }

int Commands::RunRegister() {
  Registration r{reg_.nickname, reg_.email, "", reg_.gender, reg_.birthdate, reg_.ip,
                 reg_.user_agent, reg_.company, reg_.accept_policy, reg_.request_id};
  if (!reg_.password_stdin)
    return Fail(g_, Status::InvalidArgument("password: required, pass it with --password-stdin"));
  if (!std::getline(std::cin, r.password))
    return Fail(g_, Status::InvalidArgument("password: stdin was empty"));
  if (!r.password.empty() && r.password.back() == '\r') r.password.pop_back();
  std::unique_ptr<Accounts> accounts;
  Status s = OpenAccounts(g_, &accounts);
  if (!s.ok()) return Fail(g_, s);
  RegisterResult out;
  s = accounts->Register(r, &out);
  std::fill(r.password.begin(), r.password.end(), '\0');
  if (!s.ok()) return Fail(g_, s);
  if (g_.json)
    Print(g_, {{"ok", true}, {"account_id", out.account_id}, {"seq", out.seq}, {"duplicate", out.duplicate}});
  else
    std::cout << out.account_id << "\n";
  return 0;
}

int Commands::RunShow() {
  std::unique_ptr<Accounts> accounts;
  Status s = OpenAccounts(g_, &accounts);
  if (!s.ok()) return Fail(g_, s);
  AccountView v;
  s = accounts->Show(account_id_, &v);
  if (!s.ok()) return Fail(g_, s);
  Print(g_, DescribeAccount(v));
  return 0;
}

int Commands::RunLog() {
  std::unique_ptr<Accounts> accounts;
  Status s = OpenAccounts(g_, &accounts);
  if (!s.ok()) return Fail(g_, s);
  std::vector<Ledger::Stored> events;
  s = log_account_ ? accounts->ledger().ReadStream(*log_account_, log_from_, log_limit_, &events)
                   : accounts->ledger().ReadRange(log_from_, log_limit_, &events);
  if (!s.ok()) return Fail(g_, s);
  for (auto& st : events) {
    events::EventView v;
    s = events::EventView::Parse(st.envelope, &v);
    if (!s.ok()) return Fail(g_, Status::Corruption("event " + std::to_string(st.seq) + ": " + s.message()));
    Print(g_, DescribeEvent(v));
  }
  return 0;
}

}  // namespace accountable::cli
