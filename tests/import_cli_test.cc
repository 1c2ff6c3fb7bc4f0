// `accountable import` end to end: exit codes 2, 3 and 4 for a bad file, the
// line named in the JSON error without echoing its values, who acted, and
// nothing of a refused file appended. In process: import_test.cc.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/import_lines.h"
#include "tests/test_util.h"

namespace {

using namespace accountable;
using Json = nlohmann::json;
using test::GoodFile;
using test::ImportLine;
using test::RegisterLine;

using test::Contains;

struct Outcome {
  int code = -1;
  std::string out;
};

// Runs the CLI with cheap Argon2id over `data`, stdout captured to a file.
Outcome RunCli(const std::string& data, const std::string& scratch, std::vector<std::string> args) {
  std::vector<std::string> argv = {ACCOUNTABLE_CLI, "--data", data, "--argon2-mem-mib", "8", "--argon2-ops", "1", "--json"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const std::string out = scratch + "/stdout";
  Outcome o;
  pid_t pid = ::fork();
  if (pid == 0) {
    int fo = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int fn = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fo < 0 || fn < 0 || ::dup2(fn, 0) < 0 || ::dup2(fo, 1) < 0 || ::dup2(fn, 2) < 0) ::_exit(126);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return o;
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  o.out = test::Slurp(out);
  return o;
}

size_t CountLines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace

TEST_CASE("import: the CLI imports a file and exits 2, 3 or 4 on a bad one", "[import][cli]") {
  test::TempDir dir("acc-import-cli");
  const std::string data = dir.Sub("data"), file = dir.Sub("history.jsonl");
  auto run = [&](std::vector<std::string> args) { return RunCli(data, dir.path().string(), std::move(args)); };
  auto write = [&](const std::string& bytes) { std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes; };

  REQUIRE(run({"recipient", "add", "--name", "Acme", "--country", "US"}).code == 0);
  write(GoodFile());
  Outcome ok = run({"import", file});
  INFO(ok.out);
  REQUIRE(ok.code == 0);
  Json j = Json::parse(ok.out);
  CHECK(j["ok"] == true);
  CHECK(j["lines"] == 12);
  CHECK(j["appended"] == 12);
  Outcome again = run({"import", file});
  REQUIRE(again.code == 0);
  CHECK(Json::parse(again.out)["already_imported"] == 12);
  // The same bytes through a pipe (`import -`) are the same import: its
  // request ids come from the bytes, so nothing is appended twice.
  const std::string piped = dir.Sub("piped.json");
  const std::string cmd = "cat '" + file + "' | '" + ACCOUNTABLE_CLI + "' --data '" + data + "' --json import - > '" +
                          piped + "' 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  INFO(test::Slurp(piped));
  CHECK(Json::parse(test::Slurp(piped))["already_imported"] == 12);
  const size_t events = CountLines(run({"log"}).out);
  CHECK(events == 14);  // the initial policy, the recipient and 12 commands

  const std::string at = "2021-08-01T00:00:00Z";
  struct Case {
    std::string bytes;
    int code;
  } cases[] = {
      {ImportLine("login", 10, at, {{"ip", "192.0.2.1"}}) + "{not json\n", 2},
      {ImportLine("login", 10, at, {{"ip", "192.0.2.1"}}) + RegisterLine(40, at, "IMP10@example.org"), 3},
      {ImportLine("login", 10, at, {{"ip", "192.0.2.1"}}) + ImportLine("login", 41, at, {{"ip", "192.0.2.1"}}), 4},
  };
  for (const Case& c : cases) {
    write(c.bytes);
    Outcome o = run({"import", file});
    INFO("file: " << c.bytes << "output: " << o.out);
    CHECK(o.code == c.code);
    Json e = Json::parse(o.out, nullptr, false);
    CHECK(e.value("ok", true) == false);
    CHECK(Contains(e.value("message", ""), "line 2"));
    CHECK(CountLines(run({"log"}).out) == events);
  }
  CHECK(run({"import", dir.Sub("missing.jsonl")}).code == 4);
}

TEST_CASE("import: the CLI records who acted and refuses a duplicate key or an admin's gender edit", "[import][cli][actor]") {
  test::TempDir dir("acc-import-by");
  const std::string data = dir.Sub("data"), file = dir.Sub("history.jsonl");
  auto run = [&](std::vector<std::string> args) { return RunCli(data, dir.path().string(), std::move(args)); };
  auto write = [&](const std::string& bytes) { std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes; };

  write(RegisterLine(10, "2021-01-05T10:00:00Z", "imp10@example.org") +
        ImportLine("update", 10, "2021-01-06T10:00:00Z", {{"company", "New Co"}, {"reason", "t5"}, {"by", "admin"}}));
  REQUIRE(run({"import", file}).code == 0);
  const std::string log = run({"log"}).out;
  const size_t events = CountLines(log);
  Json last = Json::parse(log.substr(log.rfind('\n', log.size() - 2) + 1));
  CHECK(last["type"] == "profile_updated");
  CHECK(last["actor"] == "import_admin");

  const std::string at = "\"occurred_at\":\"2021-02-01T00:00:00Z\"";
  struct Case {
    std::string bytes;
    int code;
    std::string fragment, secret;
  } cases[] = {
      {"{\"type\":\"login\",\"account_id\":10," + at + ",\"ip\":\"192.0.2.1\",\"ip\":\"192.0.2.77\"}\n", 2,
       "line 1: duplicate key ip", "192.0.2.77"},
      {ImportLine("update", 10, "2021-02-01T00:00:00Z", {{"gender", "male"}, {"reason", "t6"}, {"by", "admin"}}), 3,
       "line 1: an admin may change only nickname, email and company", "male"},
      {ImportLine("login", 10, "2021-02-01T00:00:00Z", {{"ip", "192.0.2.1"}, {"by", "admin"}}), 2, "line 1: by: only", ""},
  };
  for (const Case& c : cases) {
    write(c.bytes);
    Outcome o = run({"import", file});
    INFO("file: " << c.bytes << "output: " << o.out);
    CHECK(o.code == c.code);
    Json e = Json::parse(o.out, nullptr, false);
    CHECK(Contains(e.value("message", ""), c.fragment));
    if (!c.secret.empty()) CHECK_FALSE(Contains(o.out, c.secret));
    CHECK(CountLines(run({"log"}).out) == events);
  }
}
