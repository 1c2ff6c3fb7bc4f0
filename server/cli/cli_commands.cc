// Shared CLI plumbing and the account commands: register, show, log.
#include "server/cli/cli_commands.h"

#include <iostream>

#include "core/crypto.h"
#include "events/vocabulary.h"
#include "projections/service/describe.h"

namespace accountable::cli {
namespace {

using Json = nlohmann::ordered_json;

// Cap on one `log` call; paging with --from covers the rest.
constexpr size_t kLogLimitMax = 100000;

struct RegisterFlags {
  std::string nickname, email, gender, birthdate, ip, user_agent, company, accept_policy, request_id;
  bool password_stdin = false;
};

int RunRegister(const Globals& g, const RegisterFlags& f) {
  Registration r{f.nickname, f.email, "", f.gender, f.birthdate, f.ip,
                 f.user_agent, f.company, f.accept_policy, f.request_id};
  crypto::ScopedWipe wipe(&r.password);
  Status s = ReadPassword(f.password_stdin, &r.password);
  if (!s.ok()) return Fail(g, s);
  std::unique_ptr<Backend> b;
  s = OpenBackend(g, &b);
  if (!s.ok()) return Fail(g, s);
  RegisterResult out;
  s = b->Register(r, &out);
  if (!s.ok()) return Fail(g, s);
  if (g.json)
    Print(g, {{"ok", true}, {"account_id", out.account_id}, {"seq", out.seq}, {"duplicate", out.duplicate}});
  else
    std::cout << out.account_id << "\n";
  return 0;
}

int RunShow(const Globals& g, uint64_t id) {
  std::unique_ptr<Backend> b;
  Status s = OpenBackend(g, &b);
  if (!s.ok()) return Fail(g, s);
  Json account;
  s = b->Show(id, &account);
  if (!s.ok()) return Fail(g, s);
  Print(g, account);
  return 0;
}

struct LogFlags {
  uint64_t from = 1;
  size_t limit = 1000;
  std::optional<uint64_t> account;
};

int RunLog(const Globals& g, const LogFlags& f) {
  std::unique_ptr<Backend> b;
  Status s = OpenBackend(g, &b);
  if (!s.ok()) return Fail(g, s);
  std::vector<Ledger::Stored> events;
  s = b->Log(f.from, f.limit, f.account, &events);
  if (!s.ok()) return Fail(g, s);
  for (auto& st : events) {
    events::EventView v;
    s = events::EventView::Parse(st.envelope, &v);
    if (!s.ok()) return Fail(g, Status::Corruption("event " + std::to_string(st.seq) + ": " + s.message()));
    Print(g, DescribeEvent(v));
  }
  return 0;
}

}  // namespace

int ExitCode(const Status& s) {
  using C = Status::Code;
  switch (s.code()) {
    case C::kOk: return 0;
    case C::kInvalidArgument: return 2;
    case C::kRefused:
    case C::kConflict:
    case C::kRequestReused: return 3;
    case C::kNotFound: return 4;
    case C::kAuthFailed: return 5;
    case C::kShredded:
    case C::kCorruption:
    case C::kBusy:
    case C::kNotWriter:
    case C::kIOError: return 6;
    case C::kDiskFull: return 7;
  }
  return 6;
}

int Fail(const Globals& g, const Status& s) {
  if (g.json) {
    std::cout << Json{{"ok", false}, {"error", Status::CodeName(s.code())}, {"message", s.message()}}.dump(
                     -1, ' ', false, Json::error_handler_t::replace)
              << "\n";
  } else {
    std::cerr << "error: " << s.ToString() << "\n";
  }
  return ExitCode(s);
}

int PrintUsageError(const Globals& g, const std::string& message) {
  return Fail(g, Status::InvalidArgument(message));
}

void Print(const Globals& g, const Json& j) {
  // Invalid UTF-8 (say, in a raw argument) is replaced, never a crash.
  std::cout << (g.json ? j.dump(-1, ' ', false, Json::error_handler_t::replace) : RenderLine(j)) << "\n";
}

Status OpenAccounts(const Globals& g, std::unique_ptr<Accounts>* out) {
  AccountsOptions o;
  o.data_dir = g.data_dir;
  o.key_dir = g.key_dir;
  o.erasure_list_path = g.erasure_list;
  o.password_cost.ops = g.argon2_ops;
  o.password_cost.mem_bytes = g.argon2_mem_mib * 1024 * 1024;
  o.grace_period_ms = static_cast<int64_t>(g.grace_days * 24 * 3600 * 1000);
  o.retention_months = g.retention_months;
  o.access_log_days = g.access_log_days;
  return Accounts::Open(o, out);
}

Status ParseTimeFlag(const std::string& flag, const std::string& text, int64_t* out_ms) {
  auto parsed_ms = events::ParseTime(text);
  if (!parsed_ms) return Status::InvalidArgument(flag + ": not a time (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)");
  *out_ms = *parsed_ms;
  return Status::OK();
}

Status ReadPassword(bool password_stdin, std::string* out) {
  // Never from argv: every user sees argv in ps, and shells keep it in history.
  if (!password_stdin) return Status::InvalidArgument("password: required, pass it with --password-stdin");
  if (!std::getline(std::cin, *out)) return Status::InvalidArgument("password: stdin was empty");
  if (!out->empty() && out->back() == '\r') out->pop_back();
  return Status::OK();
}

void AttachAccountCommands(CLI::App& app, Globals& g, Selected* selected) {
  auto rf = std::make_shared<RegisterFlags>();
  auto* reg = app.add_subcommand("register", "register an account; prints its id");
  reg->add_option("--nickname", rf->nickname)->required();
  reg->add_option("--email", rf->email)->required();
  reg->add_flag("--password-stdin", rf->password_stdin, "read the password from the first line of stdin");
  reg->add_option("--gender", rf->gender, "female | male | diverse | unspecified")->required();
  reg->add_option("--birthdate", rf->birthdate, "YYYY-MM-DD")->required();
  reg->add_option("--ip", rf->ip)->required();
  reg->add_option("--user-agent", rf->user_agent);
  reg->add_option("--company", rf->company);
  reg->add_option("--accept-policy", rf->accept_policy, "the policy version accepted");
  reg->add_option("--request-id", rf->request_id, "idempotency key (random if omitted)");
  reg->callback([&g, selected, rf] { *selected = [&g, rf] { return RunRegister(g, *rf); }; });

  auto id = std::make_shared<uint64_t>(0);
  auto* show = app.add_subcommand("show", "account state and its decrypted personal data");
  show->add_option("ACCOUNT_ID", *id)->check(kDecimal)->required();
  show->callback([&g, selected, id] { *selected = [&g, id] { return RunShow(g, *id); }; });

  auto lf = std::make_shared<LogFlags>();
  auto* log = app.add_subcommand("log", "events, one per line; PII only as sealed byte counts");
  log->add_option("--from", lf->from, "first seq (or stream version with --account)")->check(kDecimal);
  log->add_option("--limit", lf->limit)->check(kDecimal)->check(InRange(size_t{1}, kLogLimitMax));
  log->add_option("--account", lf->account)->check(kDecimal);
  log->callback([&g, selected, lf] { *selected = [&g, lf] { return RunLog(g, *lf); }; });
}

}  // namespace accountable::cli
