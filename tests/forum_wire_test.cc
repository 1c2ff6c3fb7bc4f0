// Issue 9, item 6 over the wire and through the CLI: ChangePassword, Touch,
// RetentionNotice and Inactive within_days with their roles, and the
// change-password, touch, inactive --within and notice-sent commands with
// their exit codes. Every refusal leaves the log as it was.
#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "events/vocabulary.h"
#include "projections/fold/activity.h"
#include "projections/service/describe.h"
#include "tests/server_test_util.h"

namespace {

using namespace accountable;
using Json = nlohmann::json;
using wire::Body;

constexpr const char* kNewPassword = "a brand new secret";

using test::CallOk;

test::BodyFn PasswordBody(uint64_t id, const char* old_password, bool by_admin) {
  return [=](flatbuffers::FlatBufferBuilder& f) {
    return wire::CreateChangePasswordDirect(f, id, old_password, kNewPassword, by_admin).Union();
  };
}

test::BodyFn TouchBody(uint64_t id) {
  return [=](flatbuffers::FlatBufferBuilder& f) { return wire::CreateTouch(f, id).Union(); };
}

test::BodyFn NoticeBody(uint64_t id) {
  return [=](flatbuffers::FlatBufferBuilder& f) { return wire::CreateRetentionNotice(f, id).Union(); };
}

test::BodyFn InactiveBody(int within_days) {
  return [=](flatbuffers::FlatBufferBuilder& f) { return wire::CreateInactive(f, 0, 0, within_days).Union(); };
}

// The reply has `code` and the log did not move.
void ExpectNothingAppended(test::ServerFixture& f, Client& c, Body type, const test::BodyFn& body, uint8_t code) {
  const uint64_t before = f.accounts().ledger().LastSeq();
  Client::Reply r = CallOk(c, type, body);
  INFO("code " << int(r.code) << ": " << r.status.ToString());
  CHECK(r.code == code);
  CHECK(f.accounts().ledger().LastSeq() == before);
}

}  // namespace

TEST_CASE("forum wire: ChangePassword, Touch, RetentionNotice and Inactive within_days by role", "[issue9][server]") {
  test::ServerFixture f;
  auto writer = f.Connect(test::kWriterToken);
  auto admin = f.Connect(test::kAdminToken);
  // Last active 37 months ago on the old forum: past the retention line.
  Registration old{"Old", "old-wire@example.org", test::kServerPassword, "female", "1990-04-01", "192.0.2.10",
                   "ua", "", "1.01", "", fb::Actor::Import, MonthsBefore(f.accounts().NowMs(), 37)};
  RegisterResult reg;
  REQUIRE(f.accounts().Register(old, &reg).ok());
  const uint64_t id = reg.account_id;

  const uint8_t kAuthFailed = uint8_t(Status::Code::kAuthFailed);
  const uint8_t kForbidden = uint8_t(wire::ProtocolCode::kForbidden);
  ExpectNothingAppended(f, *writer, Body::ChangePassword, PasswordBody(id, "not the password", false), kAuthFailed);
  ExpectNothingAppended(f, *writer, Body::ChangePassword, PasswordBody(id, nullptr, true), kForbidden);
  ExpectNothingAppended(f, *writer, Body::RetentionNotice, NoticeBody(id), kForbidden);
  ExpectNothingAppended(f, *writer, Body::Inactive, InactiveBody(30), kForbidden);
  ExpectNothingAppended(f, *admin, Body::Inactive, InactiveBody(5000), uint8_t(Status::Code::kInvalidArgument));
  ExpectNothingAppended(f, *writer, Body::Touch, TouchBody(9999), uint8_t(Status::Code::kNotFound));

  Client::Reply due = CallOk(*admin, Body::Inactive, InactiveBody(30));
  REQUIRE(due.status.ok());
  Json j = Json::parse(due.json);
  REQUIRE(j["accounts"].size() == 1);
  CHECK(j["accounts"][0]["account_id"] == id);
  CHECK(j["accounts"][0]["due_at"] == events::FormatTime(RetentionDueAt(old.occurred_at_ms, 36)));
  CHECK(j["truncated"] == false);
  Client::Reply notice = CallOk(*admin, Body::RetentionNotice, NoticeBody(id));
  REQUIRE(notice.status.ok());
  CHECK(notice.seq != 0);

  Client::Reply touch = CallOk(*writer, Body::Touch, TouchBody(id));
  REQUIRE(touch.status.ok());
  CHECK(touch.seq != 0);  // first activity of today
  ExpectNothingAppended(f, *writer, Body::Touch, TouchBody(id), 0);  // acknowledged, seq 0
  CHECK(Json::parse(CallOk(*admin, Body::Inactive, InactiveBody(30)).json)["accounts"].empty());

  Client::Reply changed = CallOk(*writer, Body::ChangePassword, PasswordBody(id, test::kServerPassword, false));
  REQUIRE(changed.status.ok());
  Client::Reply reset = CallOk(*admin, Body::ChangePassword, PasswordBody(id, nullptr, true));
  REQUIRE(reset.status.ok());
  CHECK(reset.seq > changed.seq);
  LoginResult login;
  CHECK(f.accounts().Login({"", id, kNewPassword, "192.0.2.1", "ua"}, &login).ok());
}

namespace {

struct Outcome {
  int code = -1;
  std::string out;
  Json json() const {
    Json j = Json::parse(out.substr(0, out.find('\n')), nullptr, false);
    return j.is_object() ? j : Json::object();
  }
};

class Cli {
 public:
  Outcome Run(std::vector<std::string> args, const std::string& input = "") const {
    std::vector<std::string> argv = {ACCOUNTABLE_CLI, "--data", dir_.Sub("data"), "--argon2-mem-mib", "8",
                                     "--argon2-ops", "1", "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    test::ExecResult r = test::Exec(argv, input, dir_.path().string());
    return Outcome{r.code, r.out};
  }
  size_t Events() const {
    Outcome o = Run({"log", "--limit", "100000"});
    REQUIRE(o.code == 0);
    return static_cast<size_t>(std::count(o.out.begin(), o.out.end(), '\n'));
  }
  // Exits with `code`, says `fragment`, appends nothing.
  void ExpectRefused(std::vector<std::string> args, const std::string& input, int code, const std::string& fragment) {
    const size_t before = Events();
    Outcome o = Run(args, input);
    INFO(args[0] << " -> " << o.out);
    CHECK(o.code == code);
    CHECK(o.json().value("message", "").find(fragment) != std::string::npos);
    CHECK(Events() == before);
  }

 private:
  test::TempDir dir_{"acc-forum-cli"};
};

}  // namespace

TEST_CASE("forum cli: change-password, touch, inactive --within and notice-sent", "[issue9][cli]") {
  Cli cli;
  Outcome reg = cli.Run({"register", "--nickname", "Nick", "--email", "cli-forum@example.org", "--password-stdin",
                         "--gender", "female", "--birthdate", "1990-04-01", "--ip", "192.0.2.10",
                         "--accept-policy", "1.01"}, std::string(test::kServerPassword) + "\n");
  REQUIRE(reg.code == 0);
  const std::string acct = std::to_string(reg.json().value("account_id", uint64_t{0}));
  REQUIRE(acct != "0");

  cli.ExpectRefused({"change-password", acct, "--password-stdin"}, "wrong password\n" + std::string(kNewPassword) + "\n",
                    5, "wrong password");
  cli.ExpectRefused({"change-password", acct}, "", 2, "--password-stdin");
  cli.ExpectRefused({"change-password", acct, "--password-stdin"}, std::string(test::kServerPassword) + "\nshort\n", 2,
                    "password");
  cli.ExpectRefused({"notice-sent", "4242"}, "", 4, "does not exist");
  cli.ExpectRefused({"touch", "4242"}, "", 4, "does not exist");

  Outcome changed = cli.Run({"change-password", acct, "--password-stdin"},
                            std::string(test::kServerPassword) + "\n" + kNewPassword + "\n");
  INFO(changed.out);
  REQUIRE(changed.code == 0);
  CHECK(changed.json()["event"] == "credentials_changed");
  Outcome reset = cli.Run({"change-password", acct, "--by", "admin", "--password-stdin"}, "reset by the admin\n");
  REQUIRE(reset.code == 0);
  CHECK(cli.Run({"login", "--account", acct, "--password-stdin", "--ip", "203.0.113.5"}, "reset by the admin\n").code == 0);

  const size_t before = cli.Events();
  Outcome touch = cli.Run({"touch", acct});
  REQUIRE(touch.code == 0);
  CHECK(touch.json()["recorded"] == false);  // registered and logged in today
  CHECK(cli.Events() == before);

  Outcome none = cli.Run({"inactive", "--within", "30"});
  REQUIRE(none.code == 0);
  CHECK(none.out.empty());
  // With a one-month retention the account falls due within about a month.
  Outcome soon = cli.Run({"--retention-months", "1", "inactive", "--within", "40"});
  REQUIRE(soon.code == 0);
  CHECK(soon.json()["account_id"].dump() == acct);
  CHECK(soon.json().contains("due_at"));
  cli.ExpectRefused({"inactive", "--within", "5000"}, "", 2, "range");
  Outcome notice = cli.Run({"notice-sent", acct});
  REQUIRE(notice.code == 0);
  CHECK(notice.json()["event"] == "retention_notice_sent");
}

TEST_CASE("forum cli: the same commands through a server", "[issue9][cli][server]") {
  test::ServerFixture f;
  test::TempDir dir("acc-forum-remote");
  const std::string admin_tokens = dir.Sub("admin"), writer_tokens = dir.Sub("writer");
  test::WriteSecretFile(admin_tokens, std::string(test::kAdminToken) + "\n");
  test::WriteSecretFile(writer_tokens, std::string(test::kWriterToken) + "\n");
  auto run = [&](const std::string& tokens, std::vector<std::string> args, const std::string& input = "") {
    std::vector<std::string> argv = {ACCOUNTABLE_CLI, "--server", f.address(), "--token-file", tokens, "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    test::ExecResult r = test::Exec(argv, input, dir.path().string());
    return Outcome{r.code, r.out};
  };
  Registration old{"Old", "old-remote@example.org", test::kServerPassword, "female", "1990-04-01", "192.0.2.10",
                   "ua", "", "1.01", "", fb::Actor::Import, MonthsBefore(f.accounts().NowMs(), 37)};
  RegisterResult reg;
  REQUIRE(f.accounts().Register(old, &reg).ok());
  const std::string id = std::to_string(reg.account_id);

  Outcome due = run(admin_tokens, {"inactive", "--within", "30"});
  INFO(due.out);
  REQUIRE(due.code == 0);
  CHECK(due.json()["account_id"].dump() == id);
  CHECK(due.json()["due_at"] == events::FormatTime(RetentionDueAt(old.occurred_at_ms, 36)));
  CHECK(run(admin_tokens, {"notice-sent", id}).json()["event"] == "retention_notice_sent");

  const uint64_t before = f.accounts().ledger().LastSeq();
  CHECK(run(writer_tokens, {"change-password", id, "--by", "admin", "--password-stdin"}, "reset by a writer\n").code == 3);
  CHECK(run(writer_tokens, {"change-password", id, "--password-stdin"}, "wrong one\nreset by a writer\n").code == 5);
  CHECK(f.accounts().ledger().LastSeq() == before);
  Outcome touch = run(writer_tokens, {"touch", id});
  REQUIRE(touch.code == 0);
  CHECK(touch.json()["recorded"] == true);
  CHECK(run(writer_tokens, {"touch", id}).json()["recorded"] == false);
  CHECK(run(admin_tokens, {"change-password", id, "--by", "admin", "--password-stdin"}, "reset by the admin\n").code == 0);
  LoginResult login;
  CHECK(f.accounts().Login({"", reg.account_id, "reset by the admin", "192.0.2.1", "ua"}, &login).ok());
}
