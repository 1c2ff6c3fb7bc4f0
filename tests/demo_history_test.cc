// `make demo`'s made-up history (server/cli/demo_history.awk) stays a valid
// import: generated, piped into `accountable import -`, swept and reported,
// exactly as server/cli/demo.sh does, at a smaller size. Without this test
// a change to the import rules could break `make demo` unnoticed.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace {

using Json = nlohmann::json;
namespace test = accountable::test;

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// The last line of a --json output: the summary after any per-item lines.
Json LastLine(const std::string& text) {
  const size_t end = text.find_last_not_of('\n');
  const size_t start = end == std::string::npos ? 0 : text.rfind('\n', end);
  return Json::parse(text.substr(start == std::string::npos ? 0 : start + 1), nullptr, false);
}

// Runs `cmd` through sh with stdout and stderr to `out`; its exit code.
int Sh(const std::string& cmd, const std::string& out) {
  const int rc = std::system((cmd + " > " + Quote(out) + " 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

}  // namespace

TEST_CASE("demo: the generated history imports, sweeps and reports; a second run imports nothing", "[demo][import]") {
  test::TempDir dir("acc-demo-history");
  const std::string data = dir.Sub("data"), out = dir.Sub("out");
  const std::string cli = Quote(ACCOUNTABLE_CLI) + " --data " + Quote(data) + " --argon2-mem-mib 8 --argon2-ops 1 --json ";
  const std::string import = "LC_ALL=C awk -v ACCOUNTS=40 -f " +
                             Quote(std::string(ACCOUNTABLE_SOURCE_DIR) + "/server/cli/demo_history.awk") +
                             " | LC_ALL=C sort -s -k1,1 | cut -f2- | " + cli + "import -";
  REQUIRE(Sh(import, out) == 0);
  Json first = Json::parse(test::Slurp(out));
  INFO(first.dump());
  CHECK(first["lines"].get<int>() > 40 * 3);
  CHECK(first["appended"] == first["lines"]);

  REQUIRE(Sh(import, out) == 0);
  Json again = Json::parse(test::Slurp(out));
  CHECK(again["appended"] == 0);
  CHECK(again["already_imported"] == first["lines"]);

  REQUIRE(Sh(cli + "sweep", out) == 0);
  Json sweep = LastLine(test::Slurp(out));
  INFO(sweep.dump());
  CHECK(sweep["erased"].get<int>() > 0);  // the history has accounts past 36 months and past their grace period
  CHECK(sweep["hits"] == 0);

  const std::string report = dir.Sub("report.html");
  REQUIRE(Sh(Quote(ACCOUNTABLE_AUDIT) + " --data " + Quote(data) + " report --out " + Quote(report), out) == 0);
  const std::string page = test::Slurp(report);
  for (const char* marker : {"demo-user-", "example.org", "demo-password-", "192.0.2.", "203.0.113."}) {
    INFO(marker);
    CHECK_FALSE(test::Contains(page, marker));
  }
}
