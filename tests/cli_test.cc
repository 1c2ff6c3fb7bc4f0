// End-to-end tests of the real `accountable` binary (embedded mode): output
// shapes, exit codes (server/cli/cli_commands.h), one-line errors that never echo
// the rejected value, and "a refused command appends nothing".
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "projections/service/accounts.h"
#include "tests/test_util.h"

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr const char* kPassword = "correct horse battery";

class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/acc-cli-test-XXXXXX";
    char* p = ::mkdtemp(tmpl);
    REQUIRE(p != nullptr);
    path_ = p;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

using accountable::test::Exec;
using Outcome = accountable::test::ExecResult;

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool OneLine(const std::string& s) {
  return s.size() > 1 && s.back() == '\n' && s.find('\n') == s.size() - 1;
}

using accountable::test::Contains;

// A registration that passes every check; tests override one field at a time.
struct Reg {
  std::map<std::string, std::string> flags = {
      {"--nickname", "NickOk"},        {"--email", "ok@example.org"}, {"--gender", "female"},
      {"--birthdate", "1990-04-01"},   {"--ip", "192.0.2.10"},        {"--user-agent", "demo-browser/1.0"},
      {"--company", "Example Ltd"},    {"--accept-policy", "1.01"}};
  bool password_stdin = true;

  Reg& Set(const std::string& flag, const std::string& value) {
    flags[flag] = value;
    return *this;
  }
  Reg& Drop(const std::string& flag) {
    flags.erase(flag);
    return *this;
  }
  Reg& NoPasswordStdin() {
    password_stdin = false;
    return *this;
  }
  std::vector<std::string> Args() const {
    std::vector<std::string> a = {"register"};
    for (const auto& [k, v] : flags) {
      a.push_back(k);
      a.push_back(v);
    }
    if (password_stdin) a.push_back("--password-stdin");
    return a;
  }
};

// One fresh data directory plus the binary, with cheap Argon2id.
class Cli {
 public:
  Cli() : data_(dir_.path() + "/data") {}
  const std::string& data() const { return data_; }

  Outcome Run(const std::vector<std::string>& args, const std::string& input = "", bool json = false) const {
    std::vector<std::string> argv = {ACCOUNTABLE_CLI, "--data", data_, "--argon2-mem-mib", "8", "--argon2-ops", "1"};
    if (json) argv.push_back("--json");
    argv.insert(argv.end(), args.begin(), args.end());
    return Exec(argv, input, dir_.path());
  }
  Outcome Register(const Reg& r, bool json = false, const std::string& password = kPassword) const {
    return Run(r.Args(), password + "\n", json);
  }
  uint64_t RegisterOk(const Reg& r) const {
    Outcome o = Register(r);
    INFO(o.err);
    REQUIRE(o.code == 0);
    return std::stoull(o.out);
  }
  size_t LogLines() const {
    Outcome o = Run({"log"});
    INFO(o.err);
    REQUIRE(o.code == 0);
    return Lines(o.out).size();
  }
  // LogLines without assertions, for worker threads; -1 if `log` failed.
  long CountEvents() const {
    Outcome o = Run({"log"});
    return o.code == 0 ? static_cast<long>(Lines(o.out).size()) : -1;
  }

 private:
  ScratchDir dir_;
  std::string data_;
};

// The JSON error names that go with each exit code.
std::set<std::string> ErrorNames(int code) {
  switch (code) {
    case 2: return {"invalid_argument"};
    case 3: return {"refused", "conflict"};
    case 4: return {"not_found"};
    case 5: return {"auth_failed"};
    default: return {"shredded", "corruption", "busy", "io_error"};
  }
}

struct BadCase {
  std::string name;
  std::vector<std::string> args;
  std::string input;
  int code;
  std::string secret;  // must appear in no output; empty: nothing to hide
};

BadCase BadReg(std::string name, const Reg& r, int code, std::string secret, std::string password = kPassword) {
  return {std::move(name), r.Args(), password + "\n", code, std::move(secret)};
}

void CheckTextError(const BadCase& c, const Outcome& o) {
  CHECK(o.code == c.code);
  CHECK(o.out.empty());
  CHECK(OneLine(o.err));
  CHECK(o.err.rfind("error: ", 0) == 0);
  if (!c.secret.empty()) CHECK_FALSE(Contains(o.err, c.secret));
}

void CheckJsonError(const BadCase& c, const Outcome& o) {
  CHECK(o.code == c.code);
  CHECK(o.err.empty());
  Json j = Json::parse(o.out, nullptr, false);
  CHECK(OneLine(o.out));
  CHECK(j.is_object());
  if (!j.is_object()) return;
  CHECK(j.value("ok", true) == false);
  CHECK(ErrorNames(c.code).count(j.value("error", "")) == 1);
  if (!c.secret.empty()) CHECK_FALSE(Contains(o.out, c.secret));
}

// What one rejected case produced. Workers fill these and the main thread
// asserts, because Catch2 assertions are not thread-safe.
struct CaseRun {
  Outcome text, json;
  long before = -1, after = -1;  // `log` line counts around the case
};

constexpr size_t kWorkers = 4;

// Each process mostly waits on fsync and thread start-up, so the cases run on
// kWorkers threads, each over its own data directory seeded with `seed`.
std::vector<CaseRun> RunCases(const std::vector<BadCase>& cases, const Reg& seed) {
  const size_t workers = std::min(kWorkers, cases.size());
  std::vector<std::unique_ptr<Cli>> clis;
  for (size_t w = 0; w < workers; ++w) clis.push_back(std::make_unique<Cli>());
  std::vector<CaseRun> runs(cases.size());
  std::vector<Outcome> seeds(workers);
  std::vector<std::thread> threads;
  for (size_t w = 0; w < workers; ++w)
    threads.emplace_back([&, w] {
      const Cli& cli = *clis[w];
      seeds[w] = cli.Register(seed);
      long count = cli.CountEvents();
      for (size_t i = w; i < cases.size(); i += workers) {
        runs[i].before = count;
        runs[i].text = cli.Run(cases[i].args, cases[i].input);
        runs[i].json = cli.Run(cases[i].args, cases[i].input, true);
        runs[i].after = count = cli.CountEvents();
      }
    });
  for (auto& t : threads) t.join();
  for (const Outcome& o : seeds) {
    INFO("seed registration: " << o.err);
    REQUIRE(o.code == 0);
  }
  return runs;
}

// Every case fails with its exit code and a one-line error, in text and JSON
// mode, without echoing its secret, and the log does not grow.
void ExpectRejected(const std::vector<BadCase>& cases, const Reg& seed = Reg{}) {
  std::vector<CaseRun> runs = RunCases(cases, seed);
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("case: " << cases[i].name);
    CheckTextError(cases[i], runs[i].text);
    CheckJsonError(cases[i], runs[i].json);
    CHECK(runs[i].before >= 2);  // the policy and the seed account
    CHECK(runs[i].after == runs[i].before);
  }
}

std::string Repeat(char c, size_t n) { return std::string(n, c); }

std::string DateFromToday(int offset_days) {
  using namespace std::chrono;
  year_month_day ymd{floor<days>(system_clock::now()) + days{offset_days}};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", int(ymd.year()), unsigned(ymd.month()), unsigned(ymd.day()));
  return buf;
}

}  // namespace

TEST_CASE("cli: register prints the new account id and exits 0", "[cli]") {
  Cli cli;
  Outcome a = cli.Register(Reg{});
  CHECK(a.code == 0);
  CHECK(a.out == "1\n");
  CHECK(a.err.empty());
  Outcome b = cli.Register(Reg{}.Set("--email", "second@example.org"));
  CHECK(b.code == 0);
  CHECK(b.out == "2\n");
}

TEST_CASE("cli: --json register prints ok, account_id, seq and duplicate", "[cli]") {
  Cli cli;
  Reg r = Reg{}.Set("--request-id", "req-json-1");
  Outcome o = cli.Register(r, true);
  REQUIRE(o.code == 0);
  REQUIRE(OneLine(o.out));
  Json j = Json::parse(o.out);
  CHECK(j["ok"] == true);
  CHECK(j["account_id"] == 1);
  CHECK(j["seq"] == 2);  // seq 1 is the initial policy publication
  CHECK(j["duplicate"] == false);

  SECTION("a repeated request id returns the first result and appends nothing") {
    const size_t before = cli.LogLines();
    Json again = Json::parse(cli.Register(r, true).out);
    CHECK(again["ok"] == true);
    CHECK(again["account_id"] == 1);
    CHECK(again["seq"] == 2);
    CHECK(again["duplicate"] == true);
    CHECK(cli.LogLines() == before);
  }
}

TEST_CASE("cli: show prints account state with the decrypted personal data", "[cli]") {
  Cli cli;
  Reg r = Reg{}
              .Set("--nickname", "NickShow7q")
              .Set("--email", "Show.Mail7q@example.org")
              .Set("--gender", "diverse")
              .Set("--birthdate", "1977-07-17")
              .Set("--ip", "2001:db8::77")
              .Set("--user-agent", "AgentShow7q/2.0")
              .Set("--company", "CompanyShow7q");
  const uint64_t id = cli.RegisterOk(r);

  Outcome text = cli.Run({"show", std::to_string(id)});
  REQUIRE(text.code == 0);
  CHECK(OneLine(text.out));
  CHECK(text.out.rfind("account_id=" + std::to_string(id) + " ", 0) == 0);
  CHECK(Contains(text.out, " status=active "));
  CHECK(Contains(text.out, " display_name=NickShow7q "));
  CHECK(Contains(text.out, " last_active_at=20"));
  for (const auto& [flag, value] : r.flags)
    if (flag != "--accept-policy") CHECK(Contains(text.out, value));

  Outcome json = cli.Run({"show", std::to_string(id)}, "", true);
  REQUIRE(json.code == 0);
  REQUIRE(OneLine(json.out));
  Json j = Json::parse(json.out);
  CHECK(j["account_id"] == id);
  CHECK(j["status"] == "active");
  CHECK(j["display_name"] == "NickShow7q");
  CHECK(j["accepted_policy"] == "1.01");
  CHECK(j["last_active_at"].get<std::string>().size() == 24);  // 2026-11-29T05:36:27.000Z
  CHECK(j["last_active_at"] == j["registered_at"]);
  CHECK(j["consents"]["privacy_policy"]["given"] == true);
  const Json& pii = j["pii"];
  CHECK(pii["nickname"] == "NickShow7q");
  CHECK(pii["email"] == "Show.Mail7q@example.org");
  CHECK(pii["gender"] == "diverse");
  CHECK(pii["birthdate"] == "1977-07-17");
  CHECK(pii["ip"] == "2001:db8::77");
  CHECK(pii["user_agent"] == "AgentShow7q/2.0");
  CHECK(pii["company"] == "CompanyShow7q");
  CHECK_FALSE(Contains(json.out, kPassword));
}

TEST_CASE("cli: values at the limits are accepted and round-trip", "[cli]") {
  Cli cli;
  const std::string nick64 = Repeat('n', 61) + "\xc3\xab";  // 63 bytes, ends in a 2-byte code point
  Reg longest = Reg{}.Set("--nickname", nick64 + "x").Set("--company", Repeat('c', 128))
                    .Set("--user-agent", Repeat('u', 512)).Set("--birthdate", "1900-01-01")
                    .Set("--email", Repeat('l', 64) + "@example.org");
  Reg unicode = Reg{}.Set("--nickname", "Zo\xc3\xab \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80")
                    .Set("--email", "zoe@example.org").Set("--birthdate", DateFromToday(0));
  for (const Reg* r : {&longest, &unicode}) {
    const uint64_t id = cli.RegisterOk(*r);
    Outcome o = cli.Run({"show", std::to_string(id)}, "", true);
    REQUIRE(o.code == 0);
    Json pii = Json::parse(o.out)["pii"];
    CHECK(pii["nickname"] == r->flags.at("--nickname"));
    CHECK(pii["company"] == r->flags.at("--company"));
    CHECK(pii["user_agent"] == r->flags.at("--user-agent"));
    CHECK(pii["birthdate"] == r->flags.at("--birthdate"));
  }
  CHECK(cli.Register(Reg{}, false, std::string(7, 'p') + "\xc3\xab").code == 0);  // 9-byte password
}

TEST_CASE("cli: log prints one line per event and no personal data", "[cli]") {
  Cli cli;
  Reg a = Reg{}.Set("--nickname", "NickLogA3k").Set("--email", "log.a3k@example.org")
              .Set("--user-agent", "AgentLogA3k").Set("--company", "CoLogA3k").Set("--ip", "198.51.100.33");
  Reg b = Reg{}.Set("--nickname", "NickLogB3k").Set("--email", "log.b3k@example.org")
              .Set("--birthdate", "1961-11-21").Set("--company", "CoLogB3k");
  cli.RegisterOk(a);
  cli.RegisterOk(b);
  const std::vector<std::string> secrets = {"NickLogA3k", "log.a3k@example.org", "AgentLogA3k", "CoLogA3k",
                                            "198.51.100.33", "NickLogB3k", "log.b3k@example.org",
                                            "1961-11-21", "CoLogB3k", kPassword};

  Outcome text = cli.Run({"log"});
  REQUIRE(text.code == 0);
  auto lines = Lines(text.out);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].rfind("seq=1 type=policy_published ", 0) == 0);
  CHECK(Contains(lines[0], " version=1.01 "));
  for (size_t i = 1; i < 3; ++i) {
    CHECK(lines[i].rfind("seq=" + std::to_string(i + 1) + " type=registered ", 0) == 0);
    CHECK(Contains(lines[i], " sealed_bytes="));
  }

  Outcome json = cli.Run({"log"}, "", true);
  REQUIRE(json.code == 0);
  auto jl = Lines(json.out);
  REQUIRE(jl.size() == 3);
  Json first = Json::parse(jl[0]);
  CHECK(first["type"] == "policy_published");
  CHECK(first["version"] == "1.01");
  for (size_t i = 1; i < 3; ++i) {
    Json e = Json::parse(jl[i]);
    CHECK(e["seq"] == i + 1);
    CHECK(e["type"] == "registered");
    CHECK(e["account_id"] == i);
    CHECK(e["sealed_bytes"].get<int>() > 0);
    CHECK_FALSE(e.contains("pii"));
  }
  for (const auto& s : secrets) {
    INFO("secret: " << s);
    CHECK_FALSE(Contains(text.out, s));
    CHECK_FALSE(Contains(json.out, s));
  }
}

TEST_CASE("cli: log pages with --from/--limit and filters with --account", "[cli]") {
  Cli cli;
  for (int i = 1; i <= 3; ++i) cli.RegisterOk(Reg{}.Set("--email", "page" + std::to_string(i) + "@example.org"));

  Outcome page = cli.Run({"log", "--from", "2", "--limit", "2"});
  REQUIRE(page.code == 0);
  auto lines = Lines(page.out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].rfind("seq=2 ", 0) == 0);
  CHECK(lines[1].rfind("seq=3 ", 0) == 0);

  Outcome tail = cli.Run({"log", "--from", "4"});
  REQUIRE(tail.code == 0);
  REQUIRE(Lines(tail.out).size() == 1);
  CHECK(tail.out.rfind("seq=4 ", 0) == 0);
  CHECK(cli.Run({"log", "--from", "100"}).out.empty());

  Outcome acct = cli.Run({"log", "--account", "2"}, "", true);
  REQUIRE(acct.code == 0);
  auto al = Lines(acct.out);
  REQUIRE(al.size() == 1);
  Json e = Json::parse(al[0]);
  CHECK(e["account_id"] == 2);
  CHECK(e["type"] == "registered");
  CHECK(e["seq"] == 3);

  Outcome past = cli.Run({"log", "--account", "2", "--from", "2"});
  CHECK(past.code == 0);
  CHECK(past.out.empty());
  Outcome none = cli.Run({"log", "--account", "99"});
  CHECK(none.code == 0);
  CHECK(none.out.empty());
}

TEST_CASE("cli: invalid registration input exits 2, echoes nothing, appends nothing", "[cli]") {
  const std::vector<BadCase> cases = {
      BadReg("email without @", Reg{}.Set("--email", "MailQx1.example.org"), 2, "MailQx1.example.org"),
      BadReg("email with two @", Reg{}.Set("--email", "MailQx2@@example.org"), 2, "MailQx2@@example.org"),
      BadReg("email without local part", Reg{}.Set("--email", "@MailQx3.example.org"), 2, "@MailQx3.example.org"),
      BadReg("email without dotted domain", Reg{}.Set("--email", "MailQx4@localhost"), 2, "MailQx4@localhost"),
      BadReg("email domain ..", Reg{}.Set("--email", "MailQx5@example..org"), 2, "MailQx5@example..org"),
      BadReg("email trailing dot", Reg{}.Set("--email", "MailQx6@example.org."), 2, "MailQx6@example.org."),
      BadReg("email with space", Reg{}.Set("--email", "Mail Qx7@example.org"), 2, "Mail Qx7@example.org"),
      BadReg("email in brackets", Reg{}.Set("--email", "<MailQx8@example.org>"), 2, "MailQx8@example.org"),
      BadReg("email too long", Reg{}.Set("--email", Repeat('m', 250) + "@example.org"), 2, Repeat('m', 250)),
      BadReg("unknown gender", Reg{}.Set("--gender", "GenderQx9"), 2, "GenderQx9"),
      BadReg("birthdate 2023-02-30", Reg{}.Set("--birthdate", "2023-02-30"), 2, "2023-02-30"),
      BadReg("birthdate month 13", Reg{}.Set("--birthdate", "1990-13-01"), 2, "1990-13-01"),
      BadReg("birthdate in the future", Reg{}.Set("--birthdate", "2999-01-01"), 2, "2999-01-01"),
      BadReg("birthdate tomorrow", Reg{}.Set("--birthdate", DateFromToday(1)), 2, DateFromToday(1)),
      BadReg("birthdate before 1900", Reg{}.Set("--birthdate", "1899-12-31"), 2, "1899-12-31"),
      BadReg("birthdate not ISO", Reg{}.Set("--birthdate", "01.04.1990"), 2, "01.04.1990"),
      BadReg("ip not an address", Reg{}.Set("--ip", "999.1.2.3"), 2, "999.1.2.3"),
      BadReg("nickname 65 bytes", Reg{}.Set("--nickname", Repeat('n', 65)), 2, Repeat('n', 65)),
      BadReg("nickname empty", Reg{}.Set("--nickname", ""), 2, ""),
      BadReg("company 129 bytes", Reg{}.Set("--company", Repeat('c', 129)), 2, Repeat('c', 129)),
      BadReg("user agent 513 bytes", Reg{}.Set("--user-agent", Repeat('u', 513)), 2, Repeat('u', 513)),
      BadReg("nickname invalid UTF-8", Reg{}.Set("--nickname", "\xff\xfe"), 2, "\xff\xfe"),
      BadReg("nickname truncated UTF-8", Reg{}.Set("--nickname", "NickQ\xc3"), 2, "NickQ"),
      BadReg("nickname overlong UTF-8", Reg{}.Set("--nickname", "Nick\xc0\xafQ"), 2, "Nick\xc0\xafQ"),
      BadReg("nickname UTF-16 surrogate", Reg{}.Set("--nickname", "Nick\xed\xa0\x80Q"), 2, "Nick\xed\xa0\x80Q"),
      BadReg("nickname with tab", Reg{}.Set("--nickname", "Nick\tTabQ"), 2, "Nick\tTabQ"),
      BadReg("nickname with escape", Reg{}.Set("--nickname", "Nick\x1b[31mQ"), 2, "Nick\x1b[31mQ"),
      BadReg("company with newline", Reg{}.Set("--company", "Co\nLineQ"), 2, "Co\nLineQ"),
      BadReg("user agent with DEL", Reg{}.Set("--user-agent", "UA\x7fQ"), 2, "UA\x7fQ"),
      BadReg("password of 7 bytes", Reg{}, 2, "pw7shrt", "pw7shrt"),
      BadReg("password not UTF-8", Reg{}, 2, "pass\xffword", "pass\xffword"),
      {"stdin empty", Reg{}.Args(), "", 2, ""},
  };
  ExpectRejected(cases, Reg{}.Set("--email", "first@example.org"));
}

TEST_CASE("cli: registrations refused by a rule exit 3 and append nothing", "[cli]") {
  const std::vector<BadCase> cases = {
      BadReg("no --accept-policy", Reg{}.Drop("--accept-policy"), 3, ""),
      BadReg("empty --accept-policy", Reg{}.Set("--accept-policy", ""), 3, ""),
      BadReg("older policy version", Reg{}.Set("--accept-policy", "1.00"), 3, ""),
      BadReg("newer policy version", Reg{}.Set("--accept-policy", "2.0"), 3, ""),
      BadReg("duplicate email", Reg{}.Set("--email", "Taken.Mail@Example.org"), 3, "Taken.Mail@Example.org"),
      BadReg("duplicate email, other case", Reg{}.Set("--email", "taken.mail@EXAMPLE.ORG"), 3, "taken.mail@EXAMPLE.ORG"),
  };
  ExpectRejected(cases, Reg{}.Set("--email", "Taken.Mail@Example.org"));
}

TEST_CASE("cli: usage errors exit 2 and append nothing", "[cli]") {
  auto with = [](std::vector<std::string> a, std::vector<std::string> extra) {
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const std::string pw = std::string(kPassword) + "\n";
  const std::vector<BadCase> cases = {
      {"unknown flag", with(Reg{}.Set("--email", "u1@example.org").Args(), {"--shoe-size", "42"}), pw, 2, ""},
      {"missing --email", Reg{}.Drop("--email").Args(), pw, 2, ""},
      {"missing --birthdate", Reg{}.Drop("--birthdate").Args(), pw, 2, ""},
      {"missing --password-stdin", Reg{}.Set("--email", "u2@example.org").NoPasswordStdin().Args(), pw, 2, ""},
      {"no command", {}, "", 2, ""},
      {"unknown command", {"frobnicate"}, "", 2, ""},
      {"show without id", {"show"}, "", 2, ""},
      {"show non-numeric id", {"show", "abc"}, "", 2, ""},
      {"show id with suffix", {"show", "12x"}, "", 2, ""},
      {"log --limit 0", {"log", "--limit", "0"}, "", 2, ""},
      {"log --from text", {"log", "--from", "first"}, "", 2, ""},
      {"log --account text", {"log", "--account", "ann"}, "", 2, ""},
  };
  ExpectRejected(cases);
}

TEST_CASE("cli: show of an unknown account exits 4", "[cli]") {
  std::vector<BadCase> cases;
  for (std::string id : {"0", "2", "999999"}) cases.push_back({"show " + id, {"show", id}, "", 4, ""});
  ExpectRejected(cases);
}

TEST_CASE("cli: a data directory held by another process exits 6", "[cli]") {
  Cli cli;
  cli.RegisterOk(Reg{});
  {
    accountable::AccountsOptions o;
    o.data_dir = cli.data();
    o.password_cost.ops = 1;
    o.password_cost.mem_bytes = 8 << 20;
    std::unique_ptr<accountable::Accounts> holder;
    accountable::Status s = accountable::Accounts::Open(o, &holder);
    INFO(s.ToString());
    REQUIRE(s.ok());
    const std::vector<std::vector<std::string>> commands = {
        {"log"}, {"show", "1"}, Reg{}.Set("--email", "busy@example.org").Args()};
    for (const auto& args : commands) {
      Outcome text = cli.Run(args, std::string(kPassword) + "\n");
      CHECK(text.code == 6);
      CHECK(text.out.empty());
      CHECK(OneLine(text.err));
      CHECK_THAT(text.err, Catch::Matchers::Contains("in use") || Catch::Matchers::Contains("already open"));
      Outcome json = cli.Run(args, std::string(kPassword) + "\n", true);
      CHECK(json.code == 6);
      Json j = Json::parse(json.out, nullptr, false);
      REQUIRE(j.is_object());
      CHECK(j.value("ok", true) == false);
      CHECK(j.value("error", "") == "busy");
    }
    REQUIRE(holder->Close().ok());
  }
  CHECK(cli.LogLines() == 2);  // the busy register appended nothing
}

// CLI11's own parse errors quote the unexpected argument, which after a
// mistyped flag is the value meant for it, and its Range and IsMember checks
// quote the rejected value; cli_main.cc and cli_commands.h replace them.
TEST_CASE("cli: a mistyped flag does not echo the value that follows it", "[cli]") {
  const std::string pw = std::string(kPassword) + "\n";
  auto typo = Reg{}.Drop("--company").Args();
  typo.insert(typo.end(), {"--compnay", "LeakCoQz9"});
  auto stray = Reg{}.Set("--email", "stray@example.org").Args();
  stray.push_back("StrayNickQz9");
  ExpectRejected({{"--compnay", typo, pw, 2, "LeakCoQz9"},
                  {"stray argument", stray, pw, 2, "StrayNickQz9"},
                  {"a name after --by", {"export", "1", "--by", "Ann ByNameQz9"}, "", 2, "ByNameQz9"},
                  {"a word after --grace-days", {"--grace-days", "GraceQz9", "log"}, "", 2, "GraceQz9"}});
}

// nlohmann::json::dump throws on invalid UTF-8 unless told to replace it,
// which would turn a usage error into an abort (exit 134).
TEST_CASE("cli: --json usage errors quoting invalid UTF-8 still print one JSON error", "[cli]") {
  ExpectRejected({{"show \\xff", {"show", "\xff"}, "", 2, "\xff"},
                  {"log --from 1\\xfe", {"log", "--from", "1\xfe"}, "", 2, "1\xfe"}});
}

// CLI11 alone converts with strtoull(base 0): "0x1" would be hex, "-1" would
// wrap and an overflow would clamp to 2^64-1, each selecting another account.
TEST_CASE("cli: account ids are plain decimal numbers", "[cli]") {
  std::vector<BadCase> cases;
  for (std::string id : {"18446744073709551616", "-1", "0x1"}) cases.push_back({"show " + id, {"show", "--", id}, "", 2, ""});
  ExpectRejected(cases);
}
