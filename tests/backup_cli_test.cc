// The backup and restore commands of the CLI: embedded, through a running
// server, and their refusals with their exit codes.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "projections/service/backup.h"
#include "tests/server_test_util.h"

namespace {

namespace fs = std::filesystem;
using namespace accountable;

test::ExecResult Cli(const test::TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), ACCOUNTABLE_CLI);
  return test::Exec(args, "", dir.path().string());
}

nlohmann::json LastLine(const std::string& out) {
  const size_t end = out.find_last_not_of('\n');
  const size_t start = out.rfind('\n', end);
  return nlohmann::json::parse(out.substr(start == std::string::npos ? 0 : start + 1, end + 1), nullptr, false);
}

}  // namespace

TEST_CASE("backup cli: backup, restore and their refusals", "[backup][cli]") {
  test::TempDir dir("acc-backup-cli");
  const std::string data = dir.Sub("data"), backup = dir.Sub("b1"), keys = dir.Sub("keys");
  uint64_t last_seq = 0;
  {
    test::ServerFixture f({}, [&](AccountsOptions& o) { o.backup_root = dir.path().string(); });
    RegisterResult r;
    REQUIRE(f.accounts().Register({"Ann", "ann@example.org", test::kServerPassword, "diverse", "1985-06-07",
                                   "198.51.100.7", "agent", "", "1.01"}, &r).ok());
    last_seq = f.accounts().ledger().LastSeq();
    const std::string token = dir.Sub("token");
    std::ofstream(token) << test::kAdminToken << "\n";
    ::chmod(token.c_str(), 0600);
    // Through the running server: it holds the DB locks, so only it can copy.
    test::ExecResult o = Cli(dir, {"--server", f.address(), "--token-file", token, "--json", "backup", backup, "--keys", keys});
    INFO(o.out << o.err);
    REQUIRE(o.code == 0);
    CHECK(LastLine(o.out).value("log_seq", uint64_t{0}) == last_seq);
    CHECK(Cli(dir, {"--server", f.address(), "--token-file", token, "backup", "relative/dir"}).code == 2);
    CHECK(Cli(dir, {"--server", f.address(), "--token-file", token, "backup", "/tmp/acc-outside-root"}).code == 2);
    CHECK(Cli(dir, {"--server", f.address(), "--token-file", token, "backup", dir.Sub("b1/../../x")}).code == 2);
    CHECK(Cli(dir, {"--server", f.address(), "--token-file", token, "backup", backup}).code == 3);  // exists
    f.StopAndClose();
    fs::copy_file(f.data_dir() + "/erasures/erasure-list", dir.Sub("list"));
    // Embedded, on the stopped directory.
    o = Cli(dir, {"--data", f.data_dir(), "backup", dir.Sub("b2")});
    INFO(o.out << o.err);
    CHECK(o.code == 0);
  }
  const std::string target = dir.Sub("restored");
  test::ExecResult o = Cli(dir, {"restore", backup, "--data", target, "--keys", keys});
  CHECK(o.code == 2);  // no erasure list
  CHECK(o.err.find("erasure list") != std::string::npos);
  o = Cli(dir, {"--json", "restore", backup, "--data", target, "--erasure-list", dir.Sub("list"), "--keys", keys});
  INFO(o.out << o.err);
  REQUIRE(o.code == 0);
  auto j = LastLine(o.out);
  CHECK(j.value("backup_seq", uint64_t{0}) == last_seq);
  CHECK(j.value("hits", uint64_t{1}) == 0);
  CHECK(!fs::exists(target + "/" + std::string(kRestoreMarker)));
  o = Cli(dir, {"--data", target, "show", "1"});
  INFO(o.err);
  CHECK(o.code == 0);
  // Never over a restored ledger.
  CHECK(Cli(dir, {"restore", backup, "--data", target, "--erasure-list", dir.Sub("list")}).code == 3);
}
