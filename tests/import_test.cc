// Import of a forum's existing history (projections/service/import.h): JSON lines in
// the shape of the CLI. A good file imports and re-imports as a no-op; a bad
// line is named ("line N") and nothing of its file is appended. Through
// `accountable import` and its exit codes: import_cli_test.cc.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "events/vocabulary.h"
#include "projections/fold/activity.h"
#include "projections/service/accounts.h"
#include "projections/service/describe.h"
#include "projections/service/import.h"
#include "tests/accounts_fixture.h"
#include "tests/import_lines.h"
#include "tests/test_util.h"

namespace {

using namespace accountable;
using Code = Status::Code;
using Json = nlohmann::json;
using test::GoodFile;
using test::ImportLine;
using test::RegisterLine;

using test::Contains;

int64_t T(const std::string& rfc3339) { return *events::ParseTime(rfc3339); }

// A service on the wall clock (imports are dated relative to real time here)
// that knows the recipient GoodFile's disclosure names.
class Fixture : public test::AccountsFixture {
 public:
  Fixture() : AccountsFixture(test::WallClock) {
    Receipt r;
    REQUIRE(a().RegisterRecipient("Acme", "US", {fb::Actor::Admin}, &r).ok());
  }
  Status Import(const std::string& bytes, ImportReport* r = nullptr) {
    ImportReport ignored;
    return ImportJsonLines(a(), bytes, r ? r : &ignored);
  }
};

struct BadFile {
  std::string name, bytes;
  Code code;
  std::string fragment;  // besides the line number
  size_t line = 3;
  std::string secret;    // a value of the line that the message must not echo
};

// Two good lines (register 20, a consent), then the bad line (3 unless said).
std::vector<BadFile> BadFiles() {
  const std::string head = RegisterLine(20, "2021-01-05T10:00:00Z", "imp20@example.org") +
                           ImportLine("consent", 20, "2021-01-06T10:00:00Z", {{"give", "surveys"}});
  const std::string at = "2021-02-01T00:00:00Z";
  return {
      {"malformed JSON", head + "{\"type\":\"login\",\n", Code::kInvalidArgument, "JSON"},
      {"unknown type", head + ImportLine("teleport", 20, at), Code::kInvalidArgument, "unknown type"},
      {"disclosure to an unregistered recipient",
       head + ImportLine("disclose", 20, at, {{"recipient", "Zorro Brokers"}, {"purpose", "p"}, {"legal_basis", "legal_obligation"},
                                        {"safeguard", "none"}, {"reference", "r"}}),
       Code::kNotFound, "no registered recipient"},
      {"recipient already registered (ASCII case-insensitive)",
       head + ImportLine("register-recipient", 0, at, {{"name", "ACME"}, {"country", "US"}}), Code::kRefused,
       "already registered"},
      {"recipient with an unassigned country code",
       head + ImportLine("register-recipient", 0, at, {{"name", "Elsewhere"}, {"country", "EU"}}), Code::kInvalidArgument,
       "country"},
      {"disclosure with an unknown safeguard",
       head + ImportLine("disclose", 20, at, {{"recipient", "Acme"}, {"purpose", "p"}, {"legal_basis", "legal_obligation"},
                                        {"safeguard", "SCC"}, {"reference", "r"}}),
       Code::kInvalidArgument, "safeguard"},
      {"disclosure to an unassigned country code",
       head + ImportLine("disclose", 20, at, {{"recipient", "Acme"}, {"country", "XK"}, {"purpose", "p"},
                                        {"legal_basis", "legal_obligation"}, {"safeguard", "none"}, {"reference", "r"}}),
       Code::kInvalidArgument, "country"},
      {"unknown key", head + ImportLine("login", 20, at, {{"ip", "192.0.2.1"}, {"shoe_size", "42"}}), Code::kInvalidArgument,
       "unknown key"},
      {"missing occurred_at", head + ImportLine("login", 20, "", {{"ip", "192.0.2.1"}}), Code::kInvalidArgument, "occurred_at"},
      {"occurred_at in the future", head + ImportLine("login", 20, "2999-01-01T00:00:00Z", {{"ip", "192.0.2.1"}}),
       Code::kInvalidArgument, "future"},
      {"missing account id", head + ImportLine("login", 0, at, {{"ip", "192.0.2.1"}}), Code::kInvalidArgument, "account_id"},
      {"bad email", head + RegisterLine(21, at, "not-an-email"), Code::kInvalidArgument, "email"},
      {"login before registration", head + ImportLine("login", 21, at, {{"ip", "192.0.2.1"}}) + RegisterLine(21, at, "i21@example.org"),
       Code::kNotFound, "does not exist"},
      {"time goes backwards", head + ImportLine("login", 20, "2021-01-01T00:00:00Z", {{"ip", "192.0.2.1"}}),
       Code::kInvalidArgument, "back in time"},
      {"duplicate email in the file", head + RegisterLine(21, at, "IMP20@Example.org"), Code::kRefused, "already registered"},
      {"duplicate account id", head + RegisterLine(20, at, "other@example.org"), Code::kRefused, "already taken"},
      {"withdraw privacy_policy", head + ImportLine("consent", 20, at, {{"withdraw", "privacy_policy"}}), Code::kRefused,
       "deletion"},
      {"withdraw a consent not given", head + ImportLine("consent", 20, at, {{"withdraw", "notifications"}}), Code::kRefused,
       "not given"},
      {"unpublished policy", head + RegisterLine(21, at, "i21@example.org", "9.99"), Code::kRefused, "never published"},
      {"cancel after the grace period",
       head + ImportLine("request-deletion", 20, at) + ImportLine("cancel-deletion", 20, "2021-03-01T00:00:00Z"), Code::kRefused,
       "deletion due since", 4},
  };
}

// Lines that try to say who acted in a way no live command can: each is
// line 3 after the same two good lines, and only its own rule refuses it.
std::vector<BadFile> BadActorFiles() {
  const std::string head = RegisterLine(20, "2021-01-05T10:00:00Z", "imp20@example.org") +
                           ImportLine("consent", 20, "2021-01-06T10:00:00Z", {{"give", "surveys"}});
  const std::string at = "2021-02-01T00:00:00Z";
  const std::string raw_at = "\"occurred_at\":\"" + at + "\"";
  auto raw = [&](const std::string& keys) {
    return head + "{\"type\":\"login\",\"account_id\":20," + raw_at + "," + keys + "}\n";
  };
  return {
      {"by with a bad value", head + ImportLine("update", 20, at, {{"nickname", "N"}, {"by", "zorro-superuser"}}),
       Code::kInvalidArgument, "by: must be holder or admin", 3, "zorro"},
      {"by on a login", head + ImportLine("login", 20, at, {{"ip", "192.0.2.1"}, {"by", "holder"}}), Code::kInvalidArgument,
       "by: only"},
      {"by on a register", head + ImportLine("register", 21, at, {{"by", "admin"}}), Code::kInvalidArgument, "by: only"},
      {"by on an access request", head + ImportLine("access_requested", 20, at, {{"by", "admin"}}), Code::kInvalidArgument,
       "by: only"},
      {"admin update of gender", head + ImportLine("update", 20, at, {{"gender", "male"}, {"reason", "t1"}, {"by", "admin"}}),
       Code::kRefused, "only nickname, email and company"},
      {"admin update of birthdate",
       head + ImportLine("update", 20, at, {{"birthdate", "1981-01-01"}, {"reason", "t1"}, {"by", "admin"}}), Code::kRefused,
       "only nickname, email and company"},
      {"admin update without reason", head + ImportLine("update", 20, at, {{"nickname", "N"}, {"by", "admin"}}),
       Code::kRefused, "needs a reason"},
      {"admin gives a consent", head + ImportLine("consent", 20, at, {{"give", "notifications"}, {"by", "admin"}}),
       Code::kRefused, "cannot give a consent"},
      {"duplicate known key", raw("\"ip\":\"192.0.2.1\",\"ip\":\"192.0.2.77\""), Code::kInvalidArgument,
       "duplicate key ip", 3, "192.0.2.77"},
      {"duplicate type", raw("\"ip\":\"192.0.2.1\",\"type\":\"register\""), Code::kInvalidArgument,
       "duplicate key type"},
      {"duplicate unknown key", raw("\"zorro@example.org\":\"1\",\"zorro@example.org\":\"2\""),
       Code::kInvalidArgument, "duplicate key", 3, "zorro"},
      {"duplicate by", head + "{\"type\":\"update\",\"account_id\":20," + raw_at +
           ",\"nickname\":\"N\",\"by\":\"holder\",\"by\":\"admin\"}\n",
       Code::kInvalidArgument, "duplicate key by"},
      {"login_failed without ip", head + ImportLine("login_failed", 20, at), Code::kInvalidArgument, "ip"},
      {"login_failed of an unknown account", head + ImportLine("login_failed", 21, at, {{"ip", "192.0.2.1"}}),
       Code::kNotFound, "does not exist"},
      {"access_requested with a key", head + ImportLine("access_requested", 20, at, {{"channel", "admin"}}),
       Code::kInvalidArgument, "unknown key"},
      {"access_requested of an unknown account", head + ImportLine("access_requested", 21, at), Code::kNotFound,
       "does not exist"},
  };
}

}  // namespace

TEST_CASE("import: a good file imports every command", "[import]") {
  Fixture f;
  const uint64_t before = f.LastSeq();
  ImportReport r;
  Status s = f.Import(GoodFile(), &r);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(r.lines == 12);
  CHECK(r.appended == 12);
  CHECK(r.already_imported == 0);
  CHECK(f.LastSeq() == before + 12);

  AccountState a = f.State(10), b = f.State(11);
  CHECK(a.registered_at_ms == T("2021-01-05T10:00:00Z"));
  CHECK(a.last_active_at_ms == T("2021-05-01T00:00:00Z"));
  CHECK_FALSE(a.consents[static_cast<size_t>(fb::Purpose::ThirdPartyForwarding)].given);
  CHECK(b.status == AccountStatus::kActive);
  CHECK(b.accepted_policy_version == "1.01");
  CHECK(b.last_active_at_ms == T("2021-07-01T00:00:00Z"));
  CHECK(f.a().CurrentPolicyVersion() == "1.02");
  AccountView v;
  REQUIRE(f.a().Show(11, &v).ok());
  CHECK(v.display_name == "Imp11b");
  crypto::Key32 day;
  CHECK(f.a().vault().GetDayKey(20210302, &day).ok());

  RegisterResult next;
  Registration reg{"N", "new@example.org", "correct horse battery", "male", "1990-01-01", "192.0.2.9", "", "", "1.02"};
  REQUIRE(f.a().Register(reg, &next).ok());
  CHECK(next.account_id == 12);  // allocation continues after the imported ids
}

TEST_CASE("import: a recipient registered in the file can be named by a later disclosure", "[import][disclosure]") {
  Fixture f;
  const std::string at = "2021-02-01T00:00:00Z";
  const std::string file =
      RegisterLine(60, "2021-01-05T10:00:00Z", "imp60@example.org") +
      ImportLine("register-recipient", 0, at, {{"name", "Old Forum Host"}, {"country", "NL"}}) +
      ImportLine("disclose", 60, "2021-02-02T00:00:00Z",
           {{"recipient", "old forum host"}, {"purpose", "hosting"}, {"legal_basis", "legal_obligation"},
            {"safeguard", "none"}, {"reference", "contract 7"}});
  const uint64_t before = f.LastSeq();
  Status s = f.Import(file);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(f.LastSeq() == before + 3);
  Recipient host;
  REQUIRE(f.a().FindRecipient("Old Forum Host", &host).ok());
  CHECK(host.country == "NL");
  std::vector<Ledger::Stored> last;
  REQUIRE(f.a().ledger().ReadRange(f.LastSeq(), 1, &last).ok());
  events::EventView v;
  REQUIRE(events::EventView::Parse(last[0].envelope, &v).ok());
  REQUIRE(v.type() == fb::Payload::DisclosureRecorded);
  CHECK(v.envelope()->payload_as_DisclosureRecorded()->recipient_id() == host.id);
  CHECK(v.envelope()->payload_as_DisclosureRecorded()->country()->str() == "NL");
  CHECK(v.envelope()->actor() == fb::Actor::Import);
}

TEST_CASE("import: running the same file again appends nothing", "[import]") {
  Fixture f;
  REQUIRE(f.Import(GoodFile()).ok());
  const uint64_t after_first = f.LastSeq();
  ImportReport r;
  REQUIRE(f.Import(GoodFile(), &r).ok());
  CHECK(r.lines == 12);
  CHECK(r.already_imported == 12);
  CHECK(r.appended == 0);
  CHECK(f.LastSeq() == after_first);
}

void CheckRefusedWhole(Fixture& f, const std::vector<BadFile>& files) {
  for (const BadFile& bad : files) {
    INFO("case: " << bad.name);
    const uint64_t before = f.LastSeq();
    Status s = f.Import(bad.bytes);
    INFO("status: " << s.ToString());
    CHECK(s.code() == bad.code);
    CHECK(s.message().rfind("line " + std::to_string(bad.line) + ": ", 0) == 0);
    CHECK(Contains(s.message(), bad.fragment));
    if (!bad.secret.empty()) CHECK_FALSE(Contains(s.message(), bad.secret));
    CHECK(f.LastSeq() == before);
    AccountState st;
    CHECK(ReadAccount(f.a().ledger(), 20, &st).code() == Code::kNotFound);
  }
}

TEST_CASE("import: a bad line is named and nothing of its file is appended", "[import]") {
  Fixture f;
  CheckRefusedWhole(f, BadFiles());
}

TEST_CASE("import: a line cannot say who acted beyond what live commands allow", "[import][actor]") {
  Fixture f;
  CheckRefusedWhole(f, BadActorFiles());
}

TEST_CASE("import: time may not go back behind an account's history in the ledger", "[import]") {
  Fixture f;
  REQUIRE(f.Import(RegisterLine(50, "2021-05-01T00:00:00Z", "imp50@example.org")).ok());
  const uint64_t before = f.LastSeq();
  Status s = f.Import(ImportLine("consent", 50, "2021-06-01T00:00:00Z", {{"give", "surveys"}}) +
                      ImportLine("login", 50, "2021-04-01T00:00:00Z", {{"ip", "192.0.2.1"}}));
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().rfind("line 2: ", 0) == 0);
  s = f.Import(ImportLine("login", 50, "2021-04-30T23:59:59Z", {{"ip", "192.0.2.1"}}));
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(Contains(s.message(), "back in time"));
  CHECK(f.LastSeq() == before);
  REQUIRE(f.Import(ImportLine("login", 50, "2021-05-01T00:00:00Z", {{"ip", "192.0.2.1"}})).ok());  // equal is fine
}

TEST_CASE("import: occurred_at drives retention, deadlines and access-log keys", "[import][retention]") {
  Fixture f;
  const int64_t now_ms = f.a().NowMs();
  auto ago = [&](int months) { return events::FormatTime(MonthsBefore(now_ms, months)); };
  const std::string old_day = events::FormatTime(now_ms - 40LL * 24 * 3600 * 1000);
  const std::string file = RegisterLine(60, ago(37), "old@example.org") + RegisterLine(61, ago(35), "recent@example.org") +
                           RegisterLine(62, ago(35), "leaving@example.org") + ImportLine("request-deletion", 62, ago(12)) +
                           ImportLine("record-access", 0, old_day, {{"ip", "198.51.100.1"}});
  REQUIRE(f.Import(file).ok());
  SweepReport dry;
  REQUIRE(f.a().Sweep({0, true}, &dry).ok());
  std::map<uint64_t, std::string> want = {{60, "retention_inactive"}, {62, "user_request"}}, got;
  for (const auto& e : dry.erased) got[e.account_id] = e.reason;
  CHECK(got == want);
  CHECK(dry.days_shredded == std::vector<uint32_t>{DayOf(*events::ParseTime(old_day))});
  SweepReport rep;
  REQUIRE(f.a().Sweep({}, &rep).ok());
  CHECK(rep.erased.size() == 2);
  CHECK(f.State(60).status == AccountStatus::kErased);
  CHECK(f.State(61).status == AccountStatus::kActive);
  CHECK(f.State(62).erasure_reason == "user_request");
  crypto::Key32 key;
  CHECK(f.a().vault().GetDayKey(DayOf(*events::ParseTime(old_day)), &key).code() == Code::kNotFound);
}

TEST_CASE("import: line numbers count blank lines", "[import]") {
  Fixture f;
  Status s = f.Import("\n  \n" + ImportLine("login", 5, "2021-01-01T00:00:00Z", {{"ip", "192.0.2.1"}}));
  CHECK(s.code() == Code::kNotFound);
  CHECK(s.message().rfind("line 3: ", 0) == 0);
  ImportReport r;
  REQUIRE(f.Import("\n\n", &r).ok());
  CHECK(r.lines == 0);
}

TEST_CASE("import: a login during a pending deletion after a new policy imports", "[import]") {
  Fixture f;
  const std::string file = RegisterLine(30, "2021-01-01T00:00:00Z", "imp30@example.org") +
                           ImportLine("publish-policy", 0, "2021-02-01T00:00:00Z", {{"version", "1.02"}, {"text", "v2"}}) +
                           ImportLine("request-deletion", 30, "2021-03-01T00:00:00Z") +
                           ImportLine("login", 30, "2021-03-02T00:00:00Z", {{"ip", "192.0.2.1"}});
  const uint64_t before = f.LastSeq();
  Status s = f.Import(file);
  INFO("status: " << s.ToString() << ", appended " << f.LastSeq() - before << " events");
  CHECK(s.ok());
  CHECK(f.LastSeq() == before + 4);
  CHECK(f.State(30).status == AccountStatus::kPendingDeletion);
}

TEST_CASE("import: an email given up by an update can be registered again", "[import]") {
  Fixture f;
  // In the file: account 30 moves from x@ to y@, then account 31 takes x@.
  const std::string in_file = RegisterLine(30, "2021-01-05T10:00:00Z", "x30@example.org") +
                              ImportLine("update", 30, "2021-01-06T10:00:00Z", {{"email", "y30@example.org"}}) +
                              RegisterLine(31, "2021-01-07T10:00:00Z", "x30@example.org");
  ImportReport r;
  REQUIRE(f.Import(in_file, &r).ok());
  CHECK(r.appended == 3);
  // Across files: 30 (in the ledger now with y@) moves to z@, then 32 takes y@.
  const std::string next = ImportLine("update", 30, "2021-02-01T10:00:00Z", {{"email", "z30@example.org"}}) +
                           RegisterLine(32, "2021-02-02T10:00:00Z", "y30@example.org");
  REQUIRE(f.Import(next, &r).ok());
  CHECK(r.appended == 2);
  // Still refused: taking an email that a live account holds.
  const uint64_t before = f.LastSeq();
  Status s = f.Import(RegisterLine(33, "2021-03-01T10:00:00Z", "z30@example.org"));
  CHECK(s.Is(Code::kRefused));
  CHECK(f.LastSeq() == before);
}

TEST_CASE("import: Erase of an unknown or erased account appends nothing", "[import][erasure]") {
  Fixture f;
  REQUIRE(f.Import(RegisterLine(40, "2021-01-05T10:00:00Z", "e40@example.org")).ok());
  SweepReport rep;
  const uint64_t before = f.LastSeq();
  CHECK(f.a().Erase({{999, "admin", 0}}, &rep).Is(Code::kNotFound));
  CHECK(f.LastSeq() == before);
  REQUIRE(f.a().Erase({{40, "admin", 0}}, &rep).ok());
  REQUIRE(rep.erased.size() == 1);
  CHECK(rep.verified);
  const uint64_t after = f.LastSeq();
  CHECK(f.a().Erase({{40, "admin", 0}}, &rep).Is(Code::kRefused));
  CHECK(f.LastSeq() == after);
}

namespace {

// The account's events as (type, actor), in order.
std::vector<std::pair<fb::Payload, fb::Actor>> Stream(Accounts& a, uint64_t id) {
  std::vector<Ledger::Stored> ev;
  REQUIRE(a.ledger().ReadStream(id, 1, 100, &ev).ok());
  std::vector<std::pair<fb::Payload, fb::Actor>> out;
  for (const auto& e : ev) {
    events::EventView v;
    REQUIRE(events::EventView::Parse(e.envelope, &v).ok());
    out.emplace_back(v.type(), v.envelope()->actor());
  }
  return out;
}

}  // namespace

TEST_CASE("import: \"by\" records who acted, and an admin's act is not the holder's activity", "[import][actor]") {
  Fixture f;
  const std::string file =
      RegisterLine(70, "2021-01-01T00:00:00Z", "imp70@example.org") +
      ImportLine("consent", 70, "2021-01-02T00:00:00Z", {{"give", "surveys"}, {"by", "holder"}}) +
      ImportLine("update", 70, "2021-01-03T00:00:00Z", {{"email", "imp70b@example.org"}, {"reason", "t1"}, {"by", "admin"}}) +
      ImportLine("consent", 70, "2021-01-04T00:00:00Z", {{"withdraw", "surveys"}, {"by", "admin"}}) +
      ImportLine("request-deletion", 70, "2021-01-05T00:00:00Z", {{"by", "admin"}}) +
      ImportLine("cancel-deletion", 70, "2021-01-06T00:00:00Z", {{"by", "admin"}}) +
      ImportLine("login_failed", 70, "2021-01-07T00:00:00Z", {{"ip", "192.0.2.5"}, {"user_agent", "ua"}}) +
      ImportLine("access_requested", 70, "2021-01-08T00:00:00Z") +
      ImportLine("update", 70, "2021-01-09T00:00:00Z", {{"company", "New Co"}, {"by", "admin"}, {"reason", "t2"}});
  const uint64_t before = f.LastSeq();
  Status s = f.Import(file);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(f.LastSeq() == before + 9);
  using P = fb::Payload;
  using A = fb::Actor;
  const std::vector<std::pair<P, A>> want = {
      {P::Registered, A::Import},      {P::ConsentGiven, A::Import},          {P::ProfileUpdated, A::ImportAdmin},
      {P::ConsentWithdrawn, A::ImportAdmin}, {P::DeletionRequested, A::ImportAdmin},
      {P::DeletionCancelled, A::ImportAdmin}, {P::LoginFailed, A::Import}, {P::AccessRequested, A::Import},
      {P::ProfileUpdated, A::ImportAdmin}};
  CHECK(Stream(f.a(), 70) == want);
  AccountState st = f.State(70);
  CHECK(st.status == AccountStatus::kActive);
  CHECK_FALSE(st.consents[static_cast<size_t>(fb::Purpose::Surveys)].given);
  // The holder's last act is the consent: the admin's acts, the failed login
  // and the access request are no use of the forum.
  CHECK(st.last_active_at_ms == T("2021-01-02T00:00:00Z"));
  AccountView v;
  REQUIRE(f.a().Show(70, &v).ok());
  REQUIRE(v.pii);
  CHECK(v.pii->email == "imp70b@example.org");
  CHECK(v.pii->company == "New Co");
  std::vector<Ledger::Stored> ev;
  REQUIRE(f.a().ledger().ReadStream(70, 7, 2, &ev).ok());
  REQUIRE(ev.size() == 2);
  events::EventView failed, access;
  REQUIRE(events::EventView::Parse(ev[0].envelope, &failed).ok());
  REQUIRE(events::EventView::Parse(ev[1].envelope, &access).ok());
  CHECK(failed.envelope()->payload_as_LoginFailed()->method() == fb::LoginMethod::AccountId);
  CHECK(failed.sealed() != nullptr);  // ip and user agent are sealed, as live
  CHECK(access.envelope()->payload_as_AccessRequested()->channel() == fb::AccessChannel::Import);
}

TEST_CASE("import: an admin's edit keeps no account from retention, as live", "[import][actor][retention]") {
  Fixture f;
  const int64_t now_ms = f.a().NowMs();
  const int64_t registered = MonthsBefore(now_ms, 40), edited = MonthsBefore(now_ms, 12);
  // Imported: 80 has only an admin edit since its registration, 81 a holder edit.
  const std::string file =
      RegisterLine(80, events::FormatTime(registered), "imp80@example.org") + RegisterLine(81, events::FormatTime(registered), "imp81@example.org") +
      ImportLine("update", 80, events::FormatTime(edited), {{"nickname", "Renamed"}, {"reason", "t3"}, {"by", "admin"}}) +
      ImportLine("update", 81, events::FormatTime(edited), {{"nickname", "Renamed"}});
  REQUIRE(f.Import(file).ok());
  // Live: the same two histories through the Accounts API.
  uint64_t live[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    Registration r{"Live", "live" + std::to_string(i) + "@example.org", "correct horse battery", "female",
                   "1980-02-03", "192.0.2.1", "", "", "1.01", "", fb::Actor::Holder, registered};
    RegisterResult out;
    REQUIRE(f.a().Register(r, &out).ok());
    live[i] = out.account_id;
    Context c{i == 0 ? fb::Actor::Admin : fb::Actor::Holder, edited, "", i == 0 ? "t3" : ""};
    Receipt rc;
    REQUIRE(f.a().Update(live[i], ProfileChange{.nickname = "Renamed"}, c, &rc).ok());
  }
  CHECK(f.State(80).last_active_at_ms == f.State(live[0]).last_active_at_ms);
  CHECK(f.State(81).last_active_at_ms == f.State(live[1]).last_active_at_ms);
  SweepReport rep;
  REQUIRE(f.a().Sweep({}, &rep).ok());
  std::map<uint64_t, std::string> got;
  for (const auto& e : rep.erased) got[e.account_id] = e.reason;
  const std::map<uint64_t, std::string> want = {{80, "retention_inactive"}, {live[0], "retention_inactive"}};
  CHECK(got == want);
  CHECK(f.State(80).status == AccountStatus::kErased);
  CHECK(f.State(live[0]).status == AccountStatus::kErased);
  CHECK(f.State(81).status == AccountStatus::kActive);
  CHECK(f.State(live[1]).status == AccountStatus::kActive);
}

TEST_CASE("import: the projector holds the admin rules for live and imported events alike", "[import][actor]") {
  Fixture f;
  REQUIRE(f.Import(RegisterLine(90, "2021-01-01T00:00:00Z", "imp90@example.org")).ok());
  // Built by hand, past the input checks of Accounts::CheckChange: the
  // writer's rule function alone must refuse them.
  auto append = [&](fb::Actor actor, fb::Payload type, const std::string& reason) {
    events::EnvelopeBuilder b;
    auto& fbb = b.fbb();
    flatbuffers::Offset<void> p =
        type == fb::Payload::ConsentGiven
            ? fb::CreateConsentGiven(fbb, fb::Purpose::Surveys, fbb.CreateString("1.01"), false).Union()
            : fb::CreateProfileUpdated(fbb, fbb.CreateVector(std::vector<fb::ProfileField>{fb::ProfileField::Gender}),
                                       0, !reason.empty())
                  .Union();
    std::vector<Ledger::Command> batch(1);
    batch[0].envelope = b.Finish({90, T("2021-02-01T00:00:00Z"), actor, NewRequestId(), "1.01"}, type, p);
    std::vector<Ledger::Appended> res;
    return f.a().ledger().Append(std::move(batch), &res);
  };
  const uint64_t before = f.LastSeq();
  for (fb::Actor actor : {fb::Actor::Admin, fb::Actor::ImportAdmin}) {
    INFO("actor " << events::ActorName(actor));
    Status s = append(actor, fb::Payload::ProfileUpdated, "t4");
    CHECK(s.Is(Code::kRefused));
    CHECK(Contains(s.message(), "only nickname, email and company"));
    CHECK(Contains(append(actor, fb::Payload::ProfileUpdated, "").message(), "needs a reason"));
    CHECK(Contains(append(actor, fb::Payload::ConsentGiven, "").message(), "cannot give a consent"));
  }
  CHECK(f.LastSeq() == before);
  // The holder, live or imported, may change any field and give consent.
  for (fb::Actor actor : {fb::Actor::Holder, fb::Actor::Import}) {
    CHECK(append(actor, fb::Payload::ProfileUpdated, "").ok());
    CHECK(append(actor, fb::Payload::ConsentGiven, "").ok());
  }
  CHECK(f.LastSeq() == before + 4);
}
