// accountabled's tokens as an operator meets them: the first start on an
// empty directory, a restart, `accountable token add|list|revoke`, and
// SIGHUP (an added token works, a revoked one's connection is refused on its
// next request while others carry on, a bad file keeps the old set).
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "server/daemon/token_file.h"
#include "tests/daemon_process.h"
#include "tests/server_test_util.h"

namespace {

using namespace accountable;
using Code = Status::Code;
using wire::Body;

const char* const kRoles[] = {"writer", "auditor", "admin"};

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::vector<std::string> ServerArgs(const std::string& data) {
  return {ACCOUNTABLE_SERVER, "--data", data, "--listen", "127.0.0.1:0", "--argon2-ops", "1",
          "--argon2-mem-mib", "8", "--sweep-interval-s", "0"};
}

std::string ReadToken(const std::string& path) {
  std::string token;
  Status s = crypto::ReadTokenFile(path, &token);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return token;
}

std::unique_ptr<Client> Connect(uint16_t port, const std::string& token, Status* status = nullptr) {
  std::unique_ptr<Client> c;
  Status s = Client::Connect("127.0.0.1:" + std::to_string(port), token, &c);
  if (status != nullptr) *status = s;
  return s.ok() ? std::move(c) : nullptr;
}

// No line the daemon wrote holds any of these.
void CheckNeverSaid(const test::Daemon& d, const std::vector<std::string>& secrets) {
  for (const std::string& line : d.lines())
    for (const std::string& secret : secrets) CHECK_FALSE(test::Contains(line, secret));
}

// `accountable --data DATA ARGS...`
test::ExecResult Cli(const test::TempDir& dir, const std::string& data, std::vector<std::string> args) {
  args.insert(args.begin(), {ACCOUNTABLE_CLI, "--data", data});
  return test::Exec(args, "", dir.path());
}

TEST_CASE("tokens: a first start on a missing directory creates private dirs, keys and a token per role",
          "[tokens][server]") {
  test::TempDir dir;
  const std::string data = dir.Sub("data/nested"), keys = data + "/keys";
  std::vector<std::string> tokens;
  {
    test::Daemon d(ServerArgs(data));
    const uint16_t port = d.WaitListening();
    REQUIRE(port != 0);
    CHECK(ModeOf(dir.Sub("data/nested")) == 0700);
    CHECK(ModeOf(keys) == 0700);
    CHECK(ModeOf(keys + "/tokens") == 0600);
    for (const char* role : kRoles) {
      const std::string path = keys + "/" + role + ".token";
      CHECK(ModeOf(path) == 0600);
      tokens.push_back(ReadToken(path));
      CHECK(tokens.back().size() == 64);
      bool named = false;
      for (const std::string& line : d.lines()) named = named || test::Contains(line, path);
      CHECK(named);
    }
    for (const char* key : {"kek", "request", "signing"}) CHECK(ModeOf(keys + "/" + key) == 0600);
    for (const char* store : {"/events", "/vault"}) CHECK(ModeOf(data + store) == 0700);  // umask 077
    const std::string file = test::Slurp(keys + "/tokens");
    for (const std::string& t : tokens) CHECK_FALSE(test::Contains(file, t));
    auto w = Connect(port, tokens[0]);
    REQUIRE(w);
    CHECK(test::RoundTrip(*w, Body::Register, test::RegisterBody("first@example.org")).status.ok());
    auto a = Connect(port, tokens[1]);
    REQUIRE(a);
    CHECK(test::RoundTrip(*a, Body::Register, test::RegisterBody("no@example.org")).code ==
          uint8_t(wire::ProtocolCode::kForbidden));  // the auditor's token has the auditor's role
    CHECK(d.Exit(SIGTERM) == 0);
    CheckNeverSaid(d, tokens);
  }
  // A restart keeps every token and creates none.
  test::Daemon d(ServerArgs(data));
  const uint16_t port = d.WaitListening();
  REQUIRE(port != 0);
  for (size_t i = 0; i < 3; ++i) CHECK(ReadToken(keys + "/" + kRoles[i] + ".token") == tokens[i]);
  auto w = Connect(port, tokens[0]);
  REQUIRE(w);
  CHECK(test::RoundTrip(*w, Body::Register, test::RegisterBody("again@example.org")).status.ok());
  CHECK(d.Exit(SIGTERM) == 0);
  for (const std::string& line : d.lines()) CHECK_FALSE(test::Contains(line, "first start"));
  CheckNeverSaid(d, tokens);
}

TEST_CASE("tokens: a first start never replaces a client token file, and a named token file must exist",
          "[tokens][server]") {
  test::TempDir dir;
  const std::string data = dir.Sub("data");
  REQUIRE(std::filesystem::create_directories(data + "/keys"));
  test::WriteSecretFile(data + "/keys/admin.token", "old-admin-token-0123456789\n");
  test::Daemon d(ServerArgs(data));
  CHECK(d.Exit(0) == 2);
  bool said = false;
  for (const std::string& line : d.lines()) said = said || test::Contains(line, data + "/keys/admin.token exists");
  CHECK(said);
  CHECK(test::Slurp(data + "/keys/admin.token") == "old-admin-token-0123456789\n");
  CHECK_FALSE(std::filesystem::exists(data + "/keys/writer.token"));
  CHECK_FALSE(std::filesystem::exists(data + "/keys/tokens"));

  std::vector<std::string> args = ServerArgs(dir.Sub("data2"));
  args.insert(args.end(), {"--token-file", dir.Sub("no-such-tokens")});
  test::Daemon named(args);
  CHECK(named.Exit(0) == 2);
  CHECK_FALSE(std::filesystem::exists(dir.Sub("data2/keys/writer.token")));
}

TEST_CASE("tokens: accountable token add, list and revoke", "[tokens][cli]") {
  test::TempDir dir;
  const std::string data = dir.Sub("data"), file = data + "/keys/tokens";
  auto add = Cli(dir, data, {"token", "add", "--role", "writer", "--name", "web-1"});
  INFO(add.err);
  REQUIRE(add.code == 0);
  REQUIRE(add.out.size() == 65);  // the token (64 hex digits) and a newline, once
  const std::string token = add.out.substr(0, 64);
  CHECK_FALSE(test::Contains(add.err, token));
  CHECK(test::Contains(add.err, "web-1"));
  CHECK(ModeOf(file) == 0600);
  auto json = Cli(dir, data, {"--json", "token", "add", "--role", "admin", "--name", "ops"});
  REQUIRE(json.code == 0);
  const auto j = nlohmann::json::parse(json.out);
  const std::string admin_token = j.at("token");
  CHECK(j.at("role") == "admin");

  auto list = Cli(dir, data, {"token", "list"});
  REQUIRE(list.code == 0);
  CHECK(list.out == "web-1 writer\nops admin\n");
  const std::string bytes = test::Slurp(file);
  for (const std::string& t : {token, admin_token}) {
    CHECK_FALSE(test::Contains(bytes, t));
    CHECK_FALSE(test::Contains(list.out + list.err, crypto::ToHex(tokens::Digest(t))));
  }

  auto dup = Cli(dir, data, {"token", "add", "--role", "auditor", "--name", "web-1"});
  CHECK(dup.code == 2);
  CHECK(test::Contains(dup.err, "a token named web-1 exists already"));
  CHECK(dup.out.empty());
  auto role = Cli(dir, data, {"token", "add", "--role", "root", "--name", "x"});
  CHECK(role.code == 2);
  CHECK(test::Contains(role.err, "role must be writer, auditor or admin"));
  auto name = Cli(dir, data, {"token", "add", "--role", "writer", "--name", "a b"});
  CHECK(name.code == 2);
  CHECK(test::Contains(name.err, "a token name is 1 to 64"));
  auto remote = Cli(dir, data, {"--server", "127.0.0.1:1", "token", "list"});
  CHECK(remote.code == 2);
  CHECK(test::Slurp(file) == bytes);  // refused edits change nothing

  auto revoke = Cli(dir, data, {"token", "revoke", "web-1"});
  CHECK(revoke.code == 0);
  auto unknown = Cli(dir, data, {"token", "revoke", "web-1"});
  CHECK(unknown.code == 4);
  CHECK(test::Contains(unknown.err, "no token named web-1"));
  list = Cli(dir, data, {"token", "list"});
  CHECK(list.out == "ops admin\n");
  // --token-file names another file.
  auto other = Cli(dir, data, {"--token-file", dir.Sub("other"), "token", "list"});
  CHECK(other.code == 4);
  CHECK(test::Contains(other.err, dir.Sub("other") + " does not exist"));
}

TEST_CASE("tokens: accountabled converts a plaintext token file once, saying how many and never which",
          "[tokens][server]") {
  test::TempDir dir;
  test::WriteSecretFile(dir.Sub("tokens"), test::kWriterToken + " writer\n" + test::kAdminToken + " admin\n");
  std::vector<std::string> args = ServerArgs(dir.Sub("data"));
  args.insert(args.end(), {"--token-file", dir.Sub("tokens")});
  for (int run = 0; run < 2; ++run) {
    test::Daemon d(args);
    const uint16_t port = d.WaitListening();
    REQUIRE(port != 0);
    auto w = Connect(port, test::kWriterToken);
    REQUIRE(w);
    CHECK(test::RoundTrip(*w, Body::Stats, test::StatsBody()).status.ok());
    CHECK(d.Exit(SIGTERM) == 0);
    bool converted = false;
    for (const std::string& line : d.lines()) converted = converted || test::Contains(line, "converted 2 plaintext");
    CHECK(converted == (run == 0));  // the first start only
    CheckNeverSaid(d, {test::kWriterToken, test::kAdminToken});
  }
  CHECK_FALSE(test::Contains(test::Slurp(dir.Sub("tokens")), test::kWriterToken));
}

TEST_CASE("tokens: SIGHUP loads added tokens and refuses a revoked token's connection at its next request",
          "[tokens][server]") {
  test::TempDir dir;
  const std::string data = dir.Sub("data"), keys = data + "/keys";
  test::Daemon d(ServerArgs(data));
  const uint16_t port = d.WaitListening();
  REQUIRE(port != 0);
  const std::string writer = ReadToken(keys + "/writer.token"), admin = ReadToken(keys + "/admin.token");
  auto add = Cli(dir, data, {"token", "add", "--role", "writer", "--name", "extra"});
  REQUIRE(add.code == 0);
  const std::string extra = add.out.substr(0, 64);
  Status s;
  CHECK_FALSE(Connect(port, extra, &s));
  CHECK(s.code() == Code::kAuthFailed);  // not before the reload
  auto w = Connect(port, writer), a = Connect(port, admin);
  REQUIRE(w);
  REQUIRE(a);
  REQUIRE(::kill(d.pid(), SIGHUP) == 0);
  REQUIRE(d.WaitForLine("SIGHUP: reloaded 4 tokens"));
  auto e = Connect(port, extra);
  REQUIRE(e);
  CHECK(test::RoundTrip(*e, Body::Register, test::RegisterBody("extra@example.org")).status.ok());
  CHECK(test::RoundTrip(*w, Body::Stats, test::StatsBody()).status.ok());  // its token is still there
  // A subscriber may never send another request: its stream ends at the reload.
  auto sub = Connect(port, ReadToken(keys + "/auditor.token"));
  REQUIRE(sub);
  uint64_t sub_corr = 0;
  REQUIRE(sub->Send(Body::Subscribe, test::SubscribeBody(1), &sub_corr).ok());

  REQUIRE(Cli(dir, data, {"token", "revoke", "writer"}).code == 0);
  REQUIRE(Cli(dir, data, {"token", "revoke", "auditor"}).code == 0);
  REQUIRE(::kill(d.pid(), SIGHUP) == 0);
  REQUIRE(d.WaitForLine("SIGHUP: reloaded 2 tokens"));
  Client::Reply pushed;
  for (int i = 0; i < 100 && sub->Receive(&pushed).ok() && pushed.code == 0;) ++i;  // the events before it
  CHECK(pushed.code == uint8_t(wire::ProtocolCode::kTokenRevoked));
  CHECK(pushed.correlation_id == sub_corr);
  CHECK_FALSE(sub->Receive(&pushed).ok());
  uint64_t corr = 0;
  REQUIRE(w->Send(Body::Stats, test::StatsBody(), &corr).ok());
  Client::Reply r;
  REQUIRE(w->Receive(&r).ok());
  CHECK(r.code == uint8_t(wire::ProtocolCode::kTokenRevoked));
  CHECK(r.correlation_id == corr);
  CHECK(r.status.code() == Code::kAuthFailed);
  CHECK_FALSE(w->Receive(&r).ok());  // and closed
  CHECK_FALSE(Connect(port, writer, &s));
  CHECK(s.code() == Code::kAuthFailed);
  // The other connections carry on.
  CHECK(test::RoundTrip(*a, Body::Stats, test::StatsBody()).status.ok());
  CHECK(test::RoundTrip(*e, Body::Register, test::RegisterBody("extra2@example.org")).status.ok());
  CHECK(d.Exit(SIGTERM) == 0);
  CheckNeverSaid(d, {writer, admin, extra, ReadToken(keys + "/auditor.token")});
}

TEST_CASE("tokens: a token file that fails to load on SIGHUP keeps the old set", "[tokens][server]") {
  test::TempDir dir;
  const std::string data = dir.Sub("data"), file = data + "/keys/tokens";
  test::Daemon d(ServerArgs(data));
  const uint16_t port = d.WaitListening();
  REQUIRE(port != 0);
  const std::string writer = ReadToken(data + "/keys/writer.token");
  auto w = Connect(port, writer);
  REQUIRE(w);
  const std::string good = test::Slurp(file);
  struct Bad {
    std::string text;
    mode_t mode;
    const char* says;
  };
  const std::vector<Bad> bad = {{"sha256:not-hex writer x\n", 0600, "line 1: the digest must be"},
                                {"", 0644, "mode 0644"},  // the good file, but readable by others
                                {good + "no-role-here-0123456789\n", 0600, "role must be"}};
  for (const Bad& b : bad) {
    test::WriteSecretFile(file, b.text.empty() ? good : b.text, b.mode);
    REQUIRE(::kill(d.pid(), SIGHUP) == 0);
    const std::optional<std::string> line = d.WaitForLine("token file not reloaded");
    REQUIRE(line);
    CHECK(test::Contains(*line, b.says));
    CHECK(test::RoundTrip(*w, Body::Stats, test::StatsBody()).status.ok());
    CHECK(Connect(port, writer));
  }
  CHECK(d.Exit(SIGTERM) == 0);
  CheckNeverSaid(d, {writer});
}

}  // namespace
