// accountabled as a process: its token file, a clean stop on SIGTERM, and a
// bug that throws inside a session, which must abort the process (not be
// swallowed) without losing any write the server had acknowledged.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "projections/service/log_checks.h"
#include "tests/daemon_process.h"
#include "tests/server_test_util.h"

namespace {

using namespace accountable;
using Code = Status::Code;
using wire::Body;

// No core file, soft or hard limit: a dump would hold keys and personal data.
void CheckNoCoreFile(pid_t pid) {
  std::ifstream limits("/proc/" + std::to_string(pid) + "/limits");
  std::string line, soft, hard;
  while (std::getline(limits, line) && line.rfind("Max core file size", 0) != 0) {
  }
  std::istringstream(line.substr(std::string("Max core file size").size())) >> soft >> hard;
  CHECK(soft == "0");
  CHECK(hard == "0");
}

TEST_CASE("server: LoadTokens reads roles and rejects bad lines", "[server]") {
  test::TempDir dir;
  auto load = [&](const std::string& text, std::map<std::string, wire::Role>* out) {
    test::WriteSecretFile(dir.Sub("tokens"), text);
    return LoadTokens(dir.Sub("tokens"), out);
  };
  std::map<std::string, wire::Role> t;
  REQUIRE(load("# comment\n\nwriter-token-0123456789 writer trailing words\n"
               "  auditor-token-012345678\tauditor\nadmin-token-0123456789ab admin\n", &t).ok());
  // Only digests are kept, never a token's plaintext.
  CHECK(t == std::map<std::string, wire::Role>{{TokenDigest(test::kWriterToken), wire::Role::Writer},
                                               {TokenDigest(test::kAuditorToken), wire::Role::Auditor},
                                               {TokenDigest(test::kAdminToken), wire::Role::Admin}});
  for (const auto& [digest, role] : t) CHECK(digest.size() == 32);
  t.clear();
  CHECK(load("writer-token-0123456789 root\n", &t).code() == Code::kInvalidArgument);
  CHECK(load("writer-token-0123456789\n", &t).code() == Code::kInvalidArgument);  // no role
  CHECK(load("short-token writer\n", &t).code() == Code::kInvalidArgument);
  CHECK(LoadTokens(dir.Sub("missing"), &t).code() == Code::kNotFound);
}

TEST_CASE("server: a token file that group or others may read is refused, naming file and mode", "[server][issue11]") {
  test::TempDir dir;
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602}) {
    test::WriteSecretFile(dir.Sub("tokens"), "writer-token-0123456789 writer\n", mode);
    std::map<std::string, wire::Role> t;
    Status s = LoadTokens(dir.Sub("tokens"), &t);
    char text[8];
    std::snprintf(text, sizeof text, "%04o", unsigned(mode));
    INFO(s.ToString());
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(test::Contains(s.message(), dir.Sub("tokens")));
    CHECK(test::Contains(s.message(), std::string("mode ") + text));
    CHECK_FALSE(test::Contains(s.message(), "writer-token"));  // never the secret itself
    CHECK(t.empty());
  }
  test::WriteSecretFile(dir.Sub("tokens"), "writer-token-0123456789 writer\n", 0400);
  std::map<std::string, wire::Role> t;
  CHECK(LoadTokens(dir.Sub("tokens"), &t).ok());
  CHECK(t.size() == 1);
}

using test::Daemon;

TEST_CASE("server: accountabled serves clients and stops cleanly on SIGTERM", "[server]") {
  test::TempDir dir;
  test::WriteSecretFile(dir.Sub("tokens"), std::string(test::kWriterToken) + " writer\n" + test::kAdminToken + " admin\n");
  const std::vector<std::string> base = {ACCOUNTABLE_SERVER, "--data", dir.Sub("data"), "--listen", "127.0.0.1:0",
                                         "--token-file", dir.Sub("tokens"), "--argon2-ops", "1",
                                         "--argon2-mem-mib", "8", "--sweep-interval-s", "0"};
  uint64_t seq = 0, id = 0;
  {
    Daemon d(base);
    const uint16_t port = d.WaitListening();
    REQUIRE(port != 0);
    CheckNoCoreFile(d.pid());
    std::unique_ptr<Client> w;
    REQUIRE(Client::Connect("127.0.0.1:" + std::to_string(port), test::kWriterToken, &w).ok());
    auto r = test::RoundTrip(*w, Body::Register, test::RegisterBody("daemon@example.org"));
    REQUIRE(r.status.ok());
    seq = r.seq;
    id = r.account_id;
    std::unique_ptr<Client> nobody;
    CHECK(Client::Connect("127.0.0.1:" + std::to_string(port), test::kAuditorToken, &nobody).code() ==
          Code::kAuthFailed);  // not in this token file
    CHECK(d.Exit(SIGTERM) == 0);
    Client::Reply gone;
    CHECK_FALSE(w->Receive(&gone).ok());  // closed
  }
  {
    AccountsOptions ao;
    ao.data_dir = dir.Sub("data");
    ao.password_cost = {1, 8u << 20};
    std::unique_ptr<Accounts> a;
    REQUIRE(Accounts::Open(ao, &a).ok());
    CHECK(a->ledger().LastSeq() == seq);
    AccountView v;
    REQUIRE(a->Show(id, &v).ok());
    REQUIRE(v.pii);
    CHECK(v.pii->email == "daemon@example.org");
  }
  // A bad token file stops it at start-up with exit code 2.
  test::WriteSecretFile(dir.Sub("tokens"), "short writer\n");
  Daemon bad(base);
  CHECK(bad.Exit(0) == 2);
  // So does a good one that others may read.
  test::WriteSecretFile(dir.Sub("tokens"), std::string(test::kWriterToken) + " writer\n", 0644);
  Daemon exposed(base);
  CHECK(exposed.Exit(0) == 2);
}

std::vector<std::string> DaemonArgs(const test::TempDir& dir) {
  return {ACCOUNTABLE_SERVER, "--data", dir.Sub("data"), "--listen", "127.0.0.1:0", "--token-file",
          dir.Sub("tokens"), "--argon2-ops", "1", "--argon2-mem-mib", "8", "--sweep-interval-s", "0"};
}

std::unique_ptr<Accounts> OpenOffline(const test::TempDir& dir) {
  AccountsOptions ao;
  ao.data_dir = dir.Sub("data");
  ao.password_cost = {1, 8u << 20};
  std::unique_ptr<Accounts> a;
  Status s = Accounts::Open(ao, &a);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return a;
}

constexpr int kAckedBeforeBug = 5;

// Registers kAckedBeforeBug accounts, each acknowledged, then sends the
// request that hits the injected bug; returns email by account id.
std::map<uint64_t, std::string> WriteUntilTheBug(Client& w) {
  std::map<uint64_t, std::string> acked;
  for (int i = 0; i < kAckedBeforeBug; ++i) {
    const std::string email = "acked" + std::to_string(i) + "@example.org";
    auto r = test::RoundTrip(w, Body::Register, test::RegisterBody(email));
    INFO(r.status.ToString());
    REQUIRE(r.status.ok());
    acked[r.account_id] = email;
  }
  uint64_t corr = 0;
  REQUIRE(w.Send(Body::Register, test::RegisterBody("never-acked@example.org"), &corr).ok());
  Client::Reply none;
  CHECK_FALSE(w.Receive(&none).ok());  // no answer: the connection dies with the process
  return acked;
}

TEST_CASE("server: a bug that throws in a session aborts accountabled and loses nothing acknowledged",
          "[server][durability]") {
  test::TempDir dir;
  test::WriteSecretFile(dir.Sub("tokens"), std::string(test::kWriterToken) + " writer\n");
  // Frame 1 is the Hello, then one frame per acknowledged write; the next throws.
  const std::string crash_at = "ACCOUNTABLE_CRASH_AT=session:throw@" + std::to_string(kAckedBeforeBug + 2);
  std::map<uint64_t, std::string> acked;
  {
    Daemon d(DaemonArgs(dir), {crash_at});
    const uint16_t port = d.WaitListening();
    REQUIRE(port != 0);
    CheckNoCoreFile(d.pid());
    std::unique_ptr<Client> w;
    REQUIRE(Client::Connect("127.0.0.1:" + std::to_string(port), test::kWriterToken, &w).ok());
    acked = WriteUntilTheBug(*w);
    std::optional<int> status = d.Wait();
    REQUIRE(status.has_value());
    INFO("wait status " << *status);
    REQUIRE(WIFSIGNALED(*status));  // not swallowed, and not a clean exit
    CHECK(WTERMSIG(*status) == SIGABRT);
  }
  {
    // Restarted on the same data dir, it serves again.
    Daemon d(DaemonArgs(dir));
    const uint16_t port = d.WaitListening();
    REQUIRE(port != 0);
    CheckNoCoreFile(d.pid());
    std::unique_ptr<Client> w;
    REQUIRE(Client::Connect("127.0.0.1:" + std::to_string(port), test::kWriterToken, &w).ok());
    auto r = test::RoundTrip(*w, Body::Register, test::RegisterBody("after-restart@example.org"));
    CHECK(r.status.ok());
    CHECK(d.Exit(SIGTERM) == 0);
  }
  auto a = OpenOffline(dir);
  REQUIRE(acked.size() == size_t{kAckedBeforeBug});
  for (const auto& [id, email] : acked) {
    AccountView v;
    REQUIRE(a->Show(id, &v).ok());
    REQUIRE(v.pii);
    CHECK(v.pii->email == email);
  }
  // The policy, the acknowledged writes and the one after the restart.
  CHECK(a->ledger().LastSeq() == 1 + kAckedBeforeBug + 1);
  audit::Json tree, head;
  Status s = audit::VerifyTree(a->ledger(), &tree);
  INFO(s.ToString());
  CHECK(s.ok());
  s = audit::VerifySignedHead(a->ledger(), a->public_key(), &head);
  INFO(s.ToString());
  CHECK(s.ok());
}

}  // namespace
