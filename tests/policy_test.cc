// Policy versions (issue 9, item 3): the text, effective date and summary are
// stored with each version and can be read back (service, CLI, wire);
// versions and effective dates only go forward, live and imported alike; an
// imported registration or consent names only a version in effect at its
// time. Every refusal appends nothing.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "events/vocabulary.h"
#include "projections/fold/policy.h"
#include "projections/service/accounts.h"
#include "projections/service/describe.h"
#include "projections/service/import.h"
#include "tests/accounts_fixture.h"
#include "tests/import_lines.h"
#include "tests/ledger_fixture.h"
#include "tests/server_test_util.h"
#include "tests/test_util.h"

namespace {

using namespace accountable;
using Code = Status::Code;
using Json = nlohmann::json;

using test::Contains;
int64_t T(const std::string& rfc3339) { return *events::ParseTime(rfc3339); }

using test::ExpectRefused;

// The fixtures here use test::WallClock, as these tests were written: "versions
// and effective dates only go forward" publishes versions effective "now"
// (effective empty) around fixed effective dates of 2026.
Status Publish(test::AccountsFixture& f, const std::string& version, const std::string& effective = "",
               const std::string& summary = "") {
  Receipt r;
  return f.a().PublishPolicy(PolicyDraft{version, "text of " + version, summary, effective.empty() ? 0 : T(effective)},
                             Context{fb::Actor::Admin}, &r);
}

Status Register(test::AccountsFixture& f, const std::string& email, const std::string& policy,
                fb::Actor actor = fb::Actor::Holder, int64_t at_ms = 0, uint64_t id = 0) {
  Registration r = test::Reg(email, "Nick", policy);
  r.actor = actor;
  r.occurred_at_ms = at_ms;
  r.account_id = id;
  return f.TryRegister(r);
}

policy::Info Read(test::AccountsFixture& f, const std::string& version) {
  policy::Info info;
  Status s = policy::Read(f.a().ledger(), version, true, &info);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return info;
}

using test::ImportLine;

std::string RegisterLine(uint64_t id, const std::string& at, const std::string& policy) {
  return ImportLine("register", id, at,
              {{"nickname", "Imp"}, {"email", "imp" + std::to_string(id) + "@example.org"},
               {"password", "correct horse battery"}, {"gender", "female"}, {"birthdate", "1980-02-03"},
               {"ip", "192.0.2.1"}, {"accept_policy", policy}});
}

std::string ReadDoc(const std::string& name) {
  std::ifstream in(std::string(ACCOUNTABLE_SOURCE_DIR) + "/docs/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<uint32_t> V(const std::string& v) {
  std::vector<uint32_t> out;
  Status s = policy::ParseVersion(v, &out);
  INFO(v << ": " << s.ToString());
  REQUIRE(s.ok());
  return out;
}

}  // namespace

TEST_CASE("policy: a new ledger starts with the 1.01 text of docs/privacy-policy-1.01.txt", "[policy]") {
  test::AccountsFixture f(test::WallClock);
  const policy::Info p = Read(f, "1.01");
  const std::string file = ReadDoc("privacy-policy-1.01.txt");
  REQUIRE(!file.empty());
  CHECK(p.text == file);
  CHECK(crypto::ToHex(p.row.text_sha256) == kPolicy101Sha256Hex);
  CHECK(crypto::ToHex(crypto::Sha256(kPolicy101Text)) == kPolicy101Sha256Hex);
  CHECK(events::FormatTime(p.row.effective_at_ms).rfind("2018-04-28T00:00:00", 0) == 0);
  CHECK(p.summary == "initial version");
  CHECK(Read(f, "").version == "1.01");  // empty: the current version
}

TEST_CASE("policy: an embedded text that does not match its digest starts no ledger", "[policy]") {
  test::TempDir dir("acc-policy-digest");
  AccountsOptions o;
  o.data_dir = dir.Sub("data");
  o.password_cost = {1, 8u << 20};
  o.initial_policy_text = "some other text";
  std::unique_ptr<Accounts> a;
  Status s = Accounts::Open(o, &a);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(Contains(s.message(), "does not match"));
}

TEST_CASE("policy: versions compare component by component as integers", "[policy]") {
  CHECK(policy::CompareVersions(V("1.2"), V("1.10")) < 0);
  CHECK(policy::CompareVersions(V("1.01"), V("1.1")) == 0);
  CHECK(policy::CompareVersions(V("1.1"), V("1.1.0")) == 0);
  CHECK(policy::CompareVersions(V("1.00"), V("1.01")) < 0);
  CHECK(policy::CompareVersions(V("2"), V("1.99")) > 0);
  CHECK(policy::CompareVersions(V("1.02"), V("1.01")) > 0);
  std::vector<uint32_t> out;
  for (const char* bad : {"", ".", "1.", ".1", "1..2", "1.a", "1-2", "v1", "1 2", "1234567890", "1.2.3.4.5.6.7.8.9"}) {
    INFO(bad);
    CHECK(policy::ParseVersion(bad, &out).code() == Code::kInvalidArgument);
  }
  CHECK(policy::ParseVersion("1.2.3.4.5.6.7.8", &out).ok());
  CHECK(policy::ParseVersion("999999999", &out).ok());
}

TEST_CASE("policy: versions and effective dates only go forward", "[policy]") {
  test::AccountsFixture f(test::WallClock);
  // The scenario: 1.00 after 1.01 would have become current.
  ExpectRefused(f, Code::kRefused, "versions only go forward", [&] { return Publish(f, "1.00"); });
  ExpectRefused(f, Code::kRefused, "same version", [&] { return Publish(f, "1.1"); });
  ExpectRefused(f, Code::kRefused, "same version", [&] { return Publish(f, "1.01.0"); });
  ExpectRefused(f, Code::kRefused, "already published", [&] { return Publish(f, "1.01"); });
  ExpectRefused(f, Code::kRefused, "take effect before", [&] { return Publish(f, "1.02", "2018-01-01T00:00:00Z"); });
  ExpectRefused(f, Code::kInvalidArgument, "policy version", [&] { return Publish(f, "1.02-beta"); });
  CHECK(f.a().CurrentPolicyVersion() == "1.01");
  CHECK(Register(f, "a@example.org", "1.01").ok());

  REQUIRE(Publish(f, "1.02", "2026-01-01T00:00:00Z").ok());
  ExpectRefused(f, Code::kRefused, "take effect before", [&] { return Publish(f, "1.03", "2025-12-31T00:00:00Z"); });
  REQUIRE(Publish(f, "1.10", "2026-01-01T00:00:00Z").ok());  // the same effective date is not earlier
  ExpectRefused(f, Code::kRefused, "versions only go forward", [&] { return Publish(f, "1.9"); });
  CHECK(f.a().CurrentPolicyVersion() == "1.10");
  ExpectRefused(f, Code::kRefused, "current policy version 1.10", [&] { return Register(f, "b@example.org", "1.02"); });
  CHECK(Register(f, "b@example.org", "1.10").ok());
}

TEST_CASE("policy: show and list give text, effective date and summary", "[policy]") {
  test::AccountsFixture f(test::WallClock);
  std::string big(policy::kTextBytesMax + 1, 'x');
  Receipt r;
  ExpectRefused(f, Code::kInvalidArgument, "policy text", [&] {
    return f.a().PublishPolicy(PolicyDraft{"1.02", big, "", 0}, Context{fb::Actor::Admin}, &r);
  });
  ExpectRefused(f, Code::kInvalidArgument, "summary", [&] {
    return f.a().PublishPolicy(PolicyDraft{"1.02", "t", std::string(policy::kSummaryBytesMax + 1, 's'), 0},
                               Context{fb::Actor::Admin}, &r);
  });
  REQUIRE(Publish(f, "1.02", "2026-12-01T00:00:00Z", "cookies for surveys").ok());
  const policy::Info p = Read(f, "");
  CHECK(p.version == "1.02");
  CHECK(p.text == "text of 1.02");
  CHECK(p.summary == "cookies for surveys");
  CHECK(p.row.effective_at_ms == T("2026-12-01T00:00:00Z"));
  CHECK(p.row.text_sha256 == crypto::Sha256("text of 1.02"));

  std::vector<policy::Info> all;
  REQUIRE(policy::List(f.a().ledger(), &all).ok());
  REQUIRE(all.size() == 2);
  CHECK(all[0].version == "1.01");
  CHECK(all[1].version == "1.02");
  CHECK(all[1].text.empty());  // the list carries no texts
  const auto j = policy::Describe(all[1], false);
  CHECK(j["summary"] == "cookies for surveys");
  CHECK(!j.contains("text"));

  policy::Info none;
  CHECK(policy::Read(f.a().ledger(), "9.99", false, &none).code() == Code::kNotFound);
  // Not a version at all: refused as such, and what was typed is not echoed.
  const Status typed = policy::Read(f.a().ledger(), "ann.reader@example.org", false, &none);
  CHECK(typed.code() == Code::kInvalidArgument);
  CHECK(typed.message().find("example.org") == std::string::npos);
}

TEST_CASE("policy: an imported registration names a version in effect at its time", "[policy][import]") {
  test::AccountsFixture f(test::WallClock);
  REQUIRE(Publish(f, "1.02", "2021-06-01T00:00:00Z").ok());
  const int64_t before_102 = T("2021-05-15T00:00:00Z");
  ExpectRefused(f, Code::kRefused, "in effect only from 2021-06-01",
                [&] { return Register(f, "i1@example.org", "1.02", fb::Actor::Import, before_102, 101); });
  ExpectRefused(f, Code::kRefused, "in effect only from 2018-04-28",
                [&] { return Register(f, "i1@example.org", "1.01", fb::Actor::Import, T("2017-01-01T00:00:00Z"), 102); });
  CHECK(Register(f, "i1@example.org", "1.01", fb::Actor::Import, before_102, 103).ok());
  CHECK(Register(f, "i2@example.org", "1.02", fb::Actor::Import, T("2021-06-02T00:00:00Z"), 104).ok());
}

TEST_CASE("policy: import obeys the version order and names the version in effect", "[policy][import]") {
  test::AccountsFixture f(test::WallClock);
  ImportReport rep;
  const std::vector<std::pair<std::string, std::string>> bad = {
      {ImportLine("publish-policy", 0, "2021-01-01T00:00:00Z", {{"version", "1.00"}, {"text", "old"}}), "versions only go forward"},
      {ImportLine("publish-policy", 0, "2021-01-01T00:00:00Z", {{"version", "1.1"}, {"text", "same"}}), "same version"},
      {ImportLine("publish-policy", 0, "2021-01-01T00:00:00Z",
            {{"version", "1.02"}, {"text", "v"}, {"effective_at", "2017-01-01T00:00:00Z"}}), "take effect before"},
      {ImportLine("publish-policy", 0, "2021-01-01T00:00:00Z", {{"version", "1.02"}, {"text", "v"}}) +
           ImportLine("publish-policy", 0, "2021-01-02T00:00:00Z", {{"version", "1.02"}, {"text", "v"}}), "already published"},
      {ImportLine("publish-policy", 0, "2021-01-01T00:00:00Z",
            {{"version", "1.02"}, {"text", "v"}, {"effective_at", "2021-06-01T00:00:00Z"}}) +
           RegisterLine(201, "2021-05-01T00:00:00Z", "1.02"), "in effect only from"},
  };
  for (const auto& [file, fragment] : bad) {
    const uint64_t before = f.LastSeq();
    Status s = ImportJsonLines(f.a(), file, &rep);
    INFO(file << " -> " << s.ToString());
    CHECK(s.code() == Code::kRefused);
    CHECK(Contains(s.message(), fragment));
    CHECK(f.LastSeq() == before);
  }
  const uint64_t before = f.LastSeq();
  Status bad_time = ImportJsonLines(
      f.a(), ImportLine("publish-policy", 0, "2021-01-01T00:00:00Z", {{"version", "1.02"}, {"text", "v"}, {"effective_at", "soon"}}),
      &rep);
  CHECK(bad_time.code() == Code::kInvalidArgument);
  CHECK(Contains(bad_time.message(), "effective_at"));
  CHECK(f.LastSeq() == before);

  const std::string good =
      RegisterLine(210, "2021-01-05T00:00:00Z", "1.01") +
      ImportLine("publish-policy", 0, "2021-05-01T00:00:00Z",
           {{"version", "1.02"}, {"text", "v2"}, {"summary", "surveys"}, {"effective_at", "2021-06-01T00:00:00Z"}}) +
      ImportLine("consent", 210, "2021-05-20T00:00:00Z", {{"give", "surveys"}}) +
      ImportLine("consent", 210, "2021-06-20T00:00:00Z", {{"give", "notifications"}});
  Status s = ImportJsonLines(f.a(), good, &rep);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(f.LastSeq() == before + 4);
  AccountState st;
  REQUIRE(ReadAccount(f.a().ledger(), 210, &st).ok());
  CHECK(st.consents[size_t(fb::Purpose::Surveys)].policy_version == "1.01");        // 1.02 not yet in effect
  CHECK(st.consents[size_t(fb::Purpose::Notifications)].policy_version == "1.02");
  const policy::Info p = Read(f, "1.02");
  CHECK(p.summary == "surveys");
  CHECK(p.row.effective_at_ms == T("2021-06-01T00:00:00Z"));
  CHECK(p.row.published_at_ms == T("2021-05-01T00:00:00Z"));
}

TEST_CASE("policy cli: publish-policy --effective --summary, policy show and list", "[policy][cli]") {
  test::TempDir dir("acc-policy-cli");
  const std::string data = dir.Sub("data");
  auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {ACCOUNTABLE_CLI, "--data", data, "--argon2-mem-mib", "8", "--argon2-ops", "1"};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::Exec(argv, "", dir.path().string());
  };
  test::ExecResult show101 = run({"policy", "show", "1.01"});
  REQUIRE(show101.code == 0);
  CHECK(Contains(show101.out, "version=1.01 effective_at=2018-04-28T00:00:00"));
  CHECK(Contains(show101.out, ReadDoc("privacy-policy-1.01.txt")));

  std::ofstream(dir.Sub("p.txt")) << "revised policy\n";
  auto events = [&] { return run({"log", "--limit", "100000"}).out.size(); };
  test::ExecResult pub = run({"--json", "publish-policy", "1.02", "--text-file", dir.Sub("p.txt"), "--effective",
                              "2026-12-01", "--summary", "surveys need consent"});
  INFO(pub.out);
  REQUIRE(pub.code == 0);
  const size_t log_size = events();
  CHECK(run({"publish-policy", "1.00", "--text-file", dir.Sub("p.txt")}).code == 3);
  CHECK(run({"publish-policy", "1.03", "--text-file", dir.Sub("p.txt"), "--effective", "2020-01-01"}).code == 3);
  CHECK(run({"publish-policy", "1.03", "--text-file", dir.Sub("p.txt"), "--effective", "tomorrow"}).code == 2);
  CHECK(events() == log_size);

  test::ExecResult list = run({"--json", "policy", "list"});
  REQUIRE(list.code == 0);
  std::istringstream lines(list.out);
  std::vector<Json> rows;
  for (std::string l; std::getline(lines, l);) rows.push_back(Json::parse(l));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["version"] == "1.01");
  CHECK(rows[1]["version"] == "1.02");
  CHECK(rows[1]["summary"] == "surveys need consent");
  CHECK(rows[1]["effective_at"].get<std::string>().rfind("2026-12-01T00:00:00", 0) == 0);
  CHECK(!rows[1].contains("text"));

  test::ExecResult cur = run({"--json", "policy", "show"});
  REQUIRE(cur.code == 0);
  CHECK(Json::parse(cur.out)["text"] == "revised policy\n");
  CHECK(run({"policy", "show", "9.99"}).code == 4);
}

TEST_CASE("policy server: any role reads policies over the wire, only an admin publishes", "[policy][server]") {
  test::ServerFixture f;
  auto admin = f.Connect(test::kAdminToken);
  Client::Reply rep;
  REQUIRE(admin->Call(wire::Body::PublishPolicy, [](auto& b) {
    return wire::CreatePublishPolicyDirect(b, "1.02", "wire text", "wire summary", T("2030-01-01T00:00:00Z")).Union();
  }, &rep).ok());
  REQUIRE(rep.status.ok());
  const uint64_t before = f.accounts().ledger().LastSeq();
  REQUIRE(admin->Call(wire::Body::PublishPolicy, [](auto& b) {
    return wire::CreatePublishPolicyDirect(b, "1.01.5", "older", "", 0).Union();
  }, &rep).ok());
  CHECK(rep.status.code() == Code::kRefused);
  CHECK(f.accounts().ledger().LastSeq() == before);

  for (const std::string& token : {test::kWriterToken, test::kAuditorToken}) {
    auto c = f.Connect(token);
    REQUIRE(c->Call(wire::Body::GetPolicy, [](auto& b) { return wire::CreateGetPolicyDirect(b, "").Union(); }, &rep).ok());
    REQUIRE(rep.status.ok());
    Json one = Json::parse(rep.json);
    CHECK(one["version"] == "1.02");
    CHECK(one["text"] == "wire text");
    CHECK(one["summary"] == "wire summary");
    REQUIRE(c->Call(wire::Body::ListPolicies, [](auto& b) { return wire::CreateListPolicies(b).Union(); }, &rep).ok());
    REQUIRE(rep.status.ok());
    Json list = Json::parse(rep.json)["policies"];
    REQUIRE(list.size() == 2);
    CHECK(list[0]["version"] == "1.01");
    REQUIRE(c->Call(wire::Body::GetPolicy, [](auto& b) { return wire::CreateGetPolicyDirect(b, "7").Union(); }, &rep).ok());
    CHECK(rep.status.code() == Code::kNotFound);
    REQUIRE(c->Call(wire::Body::PublishPolicy, [](auto& b) {
      return wire::CreatePublishPolicyDirect(b, "1.03", "t", "", 0).Union();
    }, &rep).ok());
    CHECK(rep.code == uint8_t(wire::ProtocolCode::kForbidden));
  }
  CHECK(f.accounts().ledger().LastSeq() == before);
}

TEST_CASE("policy cli remote: publish, show and list through a server", "[policy][server][cli]") {
  test::ServerFixture fx;
  test::TempDir dir("acc-policy-remote");
  test::WriteSecretFile(dir.Sub("admin.token"), std::string(test::kAdminToken) + "\n");
  test::WriteSecretFile(dir.Sub("writer.token"), std::string(test::kWriterToken) + "\n");
  std::ofstream(dir.Sub("p.txt")) << "remote policy\n";
  auto run = [&](const std::string& token, std::vector<std::string> args) {
    args.insert(args.begin(), {ACCOUNTABLE_CLI, "--server", fx.address(), "--token-file", dir.Sub(token), "--json"});
    return test::Exec(args, "", dir.path().string());
  };
  test::ExecResult pub = run("admin.token", {"publish-policy", "2", "--text-file", dir.Sub("p.txt"), "--summary",
                                             "remote summary", "--effective", "2031-01-01T00:00:00Z"});
  INFO(pub.out << pub.err);
  REQUIRE(pub.code == 0);
  const uint64_t before = fx.accounts().ledger().LastSeq();
  CHECK(run("admin.token", {"publish-policy", "1.5", "--text-file", dir.Sub("p.txt")}).code == 3);
  CHECK(run("writer.token", {"publish-policy", "3", "--text-file", dir.Sub("p.txt")}).code == 3);  // forbidden
  CHECK(fx.accounts().ledger().LastSeq() == before);

  test::ExecResult show = run("writer.token", {"policy", "show"});
  REQUIRE(show.code == 0);
  const Json p = Json::parse(show.out);
  CHECK(p["version"] == "2");
  CHECK(p["text"] == "remote policy\n");
  CHECK(p["summary"] == "remote summary");
  CHECK(p["effective_at"].get<std::string>().rfind("2031-01-01T00:00:00", 0) == 0);
  test::ExecResult list = run("writer.token", {"policy", "list"});
  REQUIRE(list.code == 0);
  CHECK(std::count(list.out.begin(), list.out.end(), '\n') == 2);
  CHECK(run("writer.token", {"policy", "show", "1.7"}).code == 4);
}

namespace {

// A PolicyPublished envelope as any writer could hand the ledger, bypassing
// the service's input checks: the projector must refuse it on its own.
Status AppendPolicy(test::AccountsFixture& f, const std::string& version, const std::string& digest, const char* text,
                    int64_t effective_at_ms) {
  events::EnvelopeBuilder b;
  auto& fbb = b.fbb();
  auto p = fb::CreatePolicyPublished(fbb, fbb.CreateString(version), f.a().NowMs(),
                                     fbb.CreateVector(reinterpret_cast<const uint8_t*>(digest.data()), digest.size()),
                                     text ? fbb.CreateString(text) : 0, effective_at_ms);
  events::Header h{0, f.a().NowMs(), fb::Actor::Admin, "raw/" + version + "/" + std::to_string(f.LastSeq()), version};
  std::vector<Ledger::Command> batch(1);
  batch[0].envelope = b.Finish(h, fb::Payload::PolicyPublished, p.Union());
  std::vector<Ledger::Appended> out;
  return f.a().ledger().Append(std::move(batch), &out);
}

}  // namespace

TEST_CASE("policy: the projector refuses a publication the service would, whoever appends it", "[policy]") {
  test::AccountsFixture f(test::WallClock);
  const std::string good = crypto::Sha256("t");
  ExpectRefused(f, Code::kRefused, "versions only go forward", [&] { return AppendPolicy(f, "1.00", good, "t", 0); });
  ExpectRefused(f, Code::kRefused, "same version", [&] { return AppendPolicy(f, "1.1", good, "t", 0); });
  ExpectRefused(f, Code::kRefused, "take effect before", [&] { return AppendPolicy(f, "1.02", good, "t", 1); });
  ExpectRefused(f, Code::kInvalidArgument, "does not match its digest",
                [&] { return AppendPolicy(f, "1.02", crypto::Sha256("other"), "t", 0); });
  ExpectRefused(f, Code::kInvalidArgument, "32-byte digest", [&] { return AppendPolicy(f, "1.02", "short", "t", 0); });
  ExpectRefused(f, Code::kInvalidArgument, "policy version", [&] { return AppendPolicy(f, "1.02b", good, "t", 0); });
  CHECK(AppendPolicy(f, "1.02", good, "t", 0).ok());
  CHECK(f.a().CurrentPolicyVersion() == "1.02");
}

TEST_CASE("policy: a draft with a text that is not UTF-8 or a date before 1970 is refused", "[policy]") {
  test::AccountsFixture f(test::WallClock);
  Receipt r;
  ExpectRefused(f, Code::kInvalidArgument, "policy text: not valid UTF-8", [&] {
    return f.a().PublishPolicy(PolicyDraft{"1.02", "bad \xFF text", "", 0}, Context{fb::Actor::Admin}, &r);
  });
  ExpectRefused(f, Code::kInvalidArgument, "effective date", [&] {
    return f.a().PublishPolicy(PolicyDraft{"1.02", "text", "", -5}, Context{fb::Actor::Admin}, &r);
  });
  ExpectRefused(f, Code::kInvalidArgument, "summary", [&] {
    return f.a().PublishPolicy(PolicyDraft{"1.02", "text", "two\nlines", 0}, Context{fb::Actor::Admin}, &r);
  });
}

// CurrentPolicyVersion comes from memory, re-read after each commit: these
// fail if a publication's commit does not refresh it, or Open does not load it.
namespace {

std::string HeaderPolicy(test::AccountsFixture& f, uint64_t seq) {
  const std::string bytes = test::EnvelopeAt(f.a().ledger(), seq);
  events::EventView v;
  REQUIRE(events::EventView::Parse(bytes, &v).ok());
  return v.envelope()->policy_version()->str();
}

}  // namespace

TEST_CASE("policy: the next command, a reopen and a follower copy see a publication at once", "[policy]") {
  test::CaptureSink sink;
  test::AccountsFixture f([&](AccountsOptions& o) { o.sink = &sink; });
  const uint64_t id = f.Register(test::Reg("p@example.org", "P", "1.01"));
  Receipt r;
  REQUIRE(f.a().GiveConsent(id, fb::Purpose::Surveys, {}, &r).ok());
  CHECK(HeaderPolicy(f, r.seq) == "1.01");
  REQUIRE(Publish(f, "1.02").ok());
  const uint64_t published_seq = f.LastSeq();
  CHECK(f.a().CurrentPolicyVersion() == "1.02");
  REQUIRE(f.a().WithdrawConsent(id, fb::Purpose::Surveys, {}, &r).ok());
  CHECK(HeaderPolicy(f, r.seq) == "1.02");
  f.Reopen();
  CHECK(f.a().CurrentPolicyVersion() == "1.02");

  test::TempDir copy("acc-policy-copy");
  AccountsOptions fo;
  fo.data_dir = copy.Sub("data");
  fo.key_dir = f.DataDir() + "/keys";
  fo.password_cost = {1, 8u << 20};
  fo.follower = true;
  std::unique_ptr<Accounts> follower;
  REQUIRE(Accounts::Open(fo, &follower).ok());
  CHECK(follower->CurrentPolicyVersion().empty());  // nothing replicated yet
  for (const ReplicatedGroup& g : sink.groups) {
    if (g.kind != ReplicatedGroup::Kind::kEvents) continue;
    Status s = follower->ledger().ApplyReplicated(g);
    INFO(s.ToString());
    REQUIRE(s.ok());
    // A group holding a publication changes the copy's version as it lands.
    CHECK(follower->CurrentPolicyVersion() == (g.last_seq >= published_seq ? "1.02" : "1.01"));
  }
}
