// The account lifecycle rules (docs/events.md, "Catalog"; docs/compliance.md),
// in process: every rule has a positive and a negative case, and every
// refusal appends nothing. The clock is the test's, so grace periods,
// retention and access-log windows are exercised without waiting.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "projections/fold/activity.h"
#include "projections/service/accounts.h"
#include "projections/service/history.h"
#include "tests/accounts_fixture.h"
#include "tests/ledger_fixture.h"
#include "tests/test_util.h"

namespace {

using namespace accountable;
using Code = Status::Code;
using Json = nlohmann::json;

constexpr const char* kPassword = test::kFixturePassword;
using test::kDayMs;
constexpr int64_t kT0 = test::kTestTimeMs;
using test::AdminCtx;
using test::ExpectRefused;
using test::Reg;

using test::Contains;

std::vector<std::string> Stream(test::AccountsFixture& f, uint64_t id) {
  std::vector<Ledger::Stored> page;
  REQUIRE(f.a().ledger().ReadStream(id, 1, 100000, &page).ok());
  std::vector<std::string> out;
  for (auto& st : page) out.push_back(std::move(st.envelope));
  return out;
}

// The view borrows `bytes`: keep them alive as long as the view is used.
events::EventView View(const std::string& bytes) {
  events::EventView v;
  REQUIRE(events::EventView::Parse(bytes, &v).ok());
  return v;
}

std::string EventAt(test::AccountsFixture& f, uint64_t seq) { return test::EnvelopeAt(f.a().ledger(), seq); }

size_t CountType(test::AccountsFixture& f, uint64_t id, fb::Payload type) {
  size_t n = 0;
  for (auto& e : Stream(f, id)) n += View(e).type() == type;
  return n;
}

bool InMonth(test::AccountsFixture& f, int64_t at_ms, uint64_t id) {
  Roaring64Map b;
  REQUIRE(ReadBitmap(f.a().ledger(), MonthKey(at_ms), &b).ok());
  return b.contains(id);
}

std::vector<uint64_t> Inactive(test::AccountsFixture& f, int months = 36) {
  std::vector<uint64_t> ids;
  REQUIRE(f.a().Inactive(f.now_ms(), months, &ids).ok());
  std::sort(ids.begin(), ids.end());
  return ids;
}

SweepReport Sweep(test::AccountsFixture& f, bool dry_run = false) {
  SweepReport r;
  Status s = f.a().Sweep(SweepOptions{0, dry_run}, &r);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return r;
}

void RequestDeletion(test::AccountsFixture& f, uint64_t id) {
  Receipt r;
  REQUIRE(f.a().RequestDeletion(id, {}, &r).ok());
}

}  // namespace

TEST_CASE("lifecycle: registration needs the current policy version", "[lifecycle][policy]") {
  test::AccountsFixture f;
  REQUIRE(f.a().CurrentPolicyVersion() == "1.01");
  ExpectRefused(f, Code::kRefused, "privacy policy", [&] { return f.TryRegister(Reg("a@example.org", "A", "")); });
  ExpectRefused(f, Code::kRefused, "current policy version 1.01",
                [&] { return f.TryRegister(Reg("a@example.org", "A", "1.00")); });
  uint64_t a = f.Register(Reg("a@example.org", "A", "1.01"));
  CHECK(f.State(a).accepted_policy_version == "1.01");

  Receipt rc;
  REQUIRE(f.a().PublishPolicy("1.02", "revised policy text", AdminCtx(), &rc).ok());
  CHECK(f.a().CurrentPolicyVersion() == "1.02");
  ExpectRefused(f, Code::kRefused, "1.02", [&] { return f.TryRegister(Reg("b@example.org", "B", "1.01")); });
  uint64_t b = f.Register(Reg("b@example.org", "B", "1.02"));
  CHECK(f.State(b).accepted_policy_version == "1.02");
  CHECK(f.State(b).consents[0].given);
}

TEST_CASE("lifecycle: a policy version is published once", "[lifecycle][policy]") {
  test::AccountsFixture f;
  Receipt rc;
  REQUIRE(f.a().PublishPolicy("1.02", "text one", AdminCtx(), &rc).ok());
  CHECK(View(EventAt(f, rc.seq)).type() == fb::Payload::PolicyPublished);
  ExpectRefused(f, Code::kRefused, "already published", [&] { return f.a().PublishPolicy("1.02", "text two", AdminCtx(), &rc); });
  ExpectRefused(f, Code::kRefused, "already published", [&] { return f.a().PublishPolicy("1.01", "old", AdminCtx(), &rc); });
  ExpectRefused(f, Code::kInvalidArgument, "policy text", [&] { return f.a().PublishPolicy("1.03", "", AdminCtx(), &rc); });
  ExpectRefused(f, Code::kInvalidArgument, "policy version", [&] { return f.a().PublishPolicy("1 03", "t", AdminCtx(), &rc); });
  CHECK(f.a().CurrentPolicyVersion() == "1.02");
}

TEST_CASE("lifecycle: email is unique among live accounts, ignoring case", "[lifecycle][email]") {
  test::AccountsFixture f;
  uint64_t a = f.Register("Ann@Example.org");
  ExpectRefused(f, Code::kRefused, "already registered", [&] { return f.TryRegister(Reg("ann@example.ORG")); });
  ExpectRefused(f, Code::kRefused, "already registered", [&] { return f.TryRegister(Reg("Ann@Example.org")); });
  uint64_t b = f.Register("ann2@example.org");
  CHECK(b != a);
}

TEST_CASE("lifecycle: login by email or id records success and failure", "[lifecycle][login]") {
  test::AccountsFixture f;
  uint64_t id = f.Register("Login@Example.org");
  LoginResult out;
  REQUIRE(f.Login("login@example.org", 0, kPassword, &out).ok());
  CHECK(out.account_id == id);
  auto ev = EventAt(f, out.seq);
  CHECK(View(ev).type() == fb::Payload::LoginSucceeded);
  CHECK(View(ev).envelope()->payload_as_LoginSucceeded()->method() == fb::LoginMethod::Email);
  REQUIRE(f.Login("", id, kPassword, &out).ok());
  ev = EventAt(f, out.seq);
  CHECK(View(ev).envelope()->payload_as_LoginSucceeded()->method() == fb::LoginMethod::AccountId);

  const int64_t last_success = f.now_ms();
  f.Advance(60'000);
  const uint64_t before = f.a().ledger().LastSeq();
  Status wrong = f.Login("", id, "not the password");
  CHECK(wrong.code() == Code::kAuthFailed);
  REQUIRE(f.a().ledger().LastSeq() == before + 1);
  const std::string failed_bytes = EventAt(f, before + 1);
  auto failed = View(failed_bytes);
  CHECK(failed.type() == fb::Payload::LoginFailed);
  CHECK(failed.envelope()->account_id() == id);
  CHECK(f.State(id).last_active_at_ms == last_success);  // a failed login is no activity

  ExpectRefused(f, Code::kAuthFailed, wrong.message(), [&] { return f.Login("nobody@example.org", 0); });
  ExpectRefused(f, Code::kAuthFailed, wrong.message(), [&] { return f.Login("", 9999); });
  ExpectRefused(f, Code::kInvalidArgument, "exactly one", [&] { return f.Login("login@example.org", id); });
  CHECK(CountType(f, id, fb::Payload::LoginSucceeded) == 2);
  CHECK(CountType(f, id, fb::Payload::LoginFailed) == 1);
}

TEST_CASE("lifecycle: a login after a new policy accepts it once, implicitly", "[lifecycle][login][policy]") {
  test::AccountsFixture f;
  uint64_t id = f.Register("implicit@example.org");
  Receipt rc;
  REQUIRE(f.a().PublishPolicy("1.02", "revised", AdminCtx(), &rc).ok());
  CHECK(f.Login("", id, "wrong password").code() == Code::kAuthFailed);
  CHECK(CountType(f, id, fb::Payload::ConsentGiven) == 0);
  CHECK(f.State(id).accepted_policy_version == "1.01");

  LoginResult out;
  REQUIRE(f.Login("", id, kPassword, &out).ok());
  CHECK(out.implicit_acceptance);
  AccountState st = f.State(id);
  CHECK(st.accepted_policy_version == "1.02");
  CHECK(st.consents[0].given);
  CHECK(st.consents[0].implicit);
  CHECK(st.consents[0].policy_version == "1.02");
  const std::string consent_bytes = EventAt(f, out.seq + 1);
  auto consent = View(consent_bytes);
  REQUIRE(consent.type() == fb::Payload::ConsentGiven);
  CHECK(consent.envelope()->payload_as_ConsentGiven()->implicit());

  REQUIRE(f.Login("", id, kPassword, &out).ok());
  CHECK_FALSE(out.implicit_acceptance);
  CHECK(CountType(f, id, fb::Payload::ConsentGiven) == 1);
}

TEST_CASE("lifecycle: a login in the grace period after a new policy still accepts it", "[lifecycle][login][policy]") {
  test::AccountsFixture f;
  uint64_t id = f.Register("pending@example.org");
  RequestDeletion(f, id);
  Receipt rc;
  REQUIRE(f.a().PublishPolicy("1.02", "revised", AdminCtx(), &rc).ok());
  LoginResult out;
  Status s = f.Login("", id, kPassword, &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(out.implicit_acceptance);
  CHECK(f.State(id).accepted_policy_version == "1.02");
  CHECK(f.State(id).status == AccountStatus::kPendingDeletion);
  // Only the implicit acceptance passes; explicit consent changes still wait.
  ExpectRefused(f, Code::kRefused, "cancel it first",
                [&] { return f.a().GiveConsent(id, fb::Purpose::PrivacyPolicy, {}, &rc); });
}

TEST_CASE("lifecycle: consent is given and withdrawn per purpose", "[lifecycle][consent]") {
  test::AccountsFixture f;
  uint64_t id = f.Register("consent@example.org");
  Receipt r;
  for (size_t i = 1; i < kPurposeCount; ++i) {
    const auto p = static_cast<fb::Purpose>(i);
    INFO("purpose " << events::PurposeName(p));
    ExpectRefused(f, Code::kRefused, "not given", [&] { return f.a().WithdrawConsent(id, p, {}, &r); });
    REQUIRE(f.a().GiveConsent(id, p, {}, &r).ok());
    CHECK(f.State(id).consents[i].given);
    CHECK(f.State(id).consents[i].policy_version == "1.01");
    REQUIRE(f.a().WithdrawConsent(id, p, {}, &r).ok());
    CHECK_FALSE(f.State(id).consents[i].given);
  }
  ExpectRefused(f, Code::kRefused, "deletion",
                [&] { return f.a().WithdrawConsent(id, fb::Purpose::PrivacyPolicy, {}, &r); });
  CHECK(f.State(id).consents[0].given);
  REQUIRE(f.a().GiveConsent(id, fb::Purpose::PrivacyPolicy, {}, &r).ok());  // re-accepting is fine
  ExpectRefused(f, Code::kNotFound, "does not exist", [&] { return f.a().GiveConsent(777, fb::Purpose::Surveys, {}, &r); });
}

TEST_CASE("lifecycle: the holder updates the profile, an admin only some fields with a reason", "[lifecycle][update]") {
  test::AccountsFixture f;
  uint64_t id = f.Register("update@example.org");
  Receipt r;
  REQUIRE(f.a().Update(id, {.nickname = "NewNick", .company = "New Co", .gender = "diverse"}, {}, &r).ok());
  AccountView v;
  REQUIRE(f.a().Show(id, &v).ok());
  CHECK(v.display_name == "NewNick");
  CHECK(v.pii->company == "New Co");
  CHECK(v.pii->gender == "diverse");
  CHECK(View(EventAt(f, r.seq)).envelope()->actor() == fb::Actor::Holder);

  ExpectRefused(f, Code::kRefused, "reason", [&] { return f.a().Update(id, {.nickname = "X"}, AdminCtx(), &r); });
  ExpectRefused(f, Code::kRefused, "only nickname",
                [&] { return f.a().Update(id, {.gender = "male"}, AdminCtx("ticket 12"), &r); });
  ExpectRefused(f, Code::kRefused, "only nickname",
                [&] { return f.a().Update(id, {.birthdate = "1991-01-01"}, AdminCtx("ticket 12"), &r); });
  ExpectRefused(f, Code::kInvalidArgument, "at least one field", [&] { return f.a().Update(id, {}, {}, &r); });

  REQUIRE(f.a().Update(id, {.nickname = "AdminSet", .company = "Admin Co"}, AdminCtx("ticket 12"), &r).ok());
  const std::string ev_bytes = EventAt(f, r.seq);
  auto ev = View(ev_bytes);
  CHECK(ev.envelope()->actor() == fb::Actor::Admin);
  CHECK(ev.envelope()->payload_as_ProfileUpdated()->has_reason());
  CHECK(DescribeEventPii(f.a().vault(), ev)["reason"] == "ticket 12");
  REQUIRE(f.a().Show(id, &v).ok());
  CHECK(v.display_name == "AdminSet");
  CHECK(v.pii->gender == "diverse");
}

TEST_CASE("lifecycle: an email change moves the blind index", "[lifecycle][email]") {
  test::AccountsFixture f;
  uint64_t a = f.Register("old@example.org");
  f.Register("other@example.org");
  Receipt r;
  ExpectRefused(f, Code::kRefused, "already registered",
                [&] { return f.a().Update(a, {.email = "OTHER@example.org"}, {}, &r); });
  REQUIRE(f.a().Update(a, {.email = "New@Example.org"}, {}, &r).ok());
  LoginResult out;
  REQUIRE(f.Login("new@example.org", 0, kPassword, &out).ok());
  CHECK(out.account_id == a);
  ExpectRefused(f, Code::kAuthFailed, "login failed", [&] { return f.Login("old@example.org", 0); });
  uint64_t c = f.Register("old@example.org");
  CHECK(c != a);
  REQUIRE(f.Login("old@example.org", 0, kPassword, &out).ok());
  CHECK(out.account_id == c);
  AccountView v;
  REQUIRE(f.a().Show(a, &v).ok());
  CHECK(v.pii->email == "New@Example.org");
}

TEST_CASE("lifecycle: an access request is recorded and exports decrypted data", "[lifecycle][export]") {
  test::AccountsFixture f;
  uint64_t id = f.Register("dsar@example.org");
  LoginRequest login{"", id, kPassword, "203.0.113.77", "export-agent/3"};
  LoginResult lo;
  REQUIRE(f.a().Login(login, &lo).ok());
  const uint64_t before = f.a().ledger().LastSeq();
  std::string text;
  REQUIRE(f.a().Export(id, {}, &text).ok());
  REQUIRE(f.a().ledger().LastSeq() == before + 1);
  const std::string req_bytes = EventAt(f, before + 1);
  auto req = View(req_bytes);
  CHECK(req.type() == fb::Payload::AccessRequested);
  CHECK(req.envelope()->payload_as_AccessRequested()->channel() == fb::AccessChannel::SelfService);

  Json doc = Json::parse(text);
  CHECK(doc["access_request_seq"] == before + 1);
  CHECK(doc["account"]["pii"]["email"] == "dsar@example.org");
  std::vector<std::string> login_ips;
  for (auto& e : doc["events"])
    if (e["type"] == "login_succeeded") login_ips.push_back(e["pii"]["ip"]);
  CHECK(login_ips == std::vector<std::string>{"203.0.113.77"});
  CHECK(doc["events"][0]["pii"]["ip"] == "192.0.2.10");
  CHECK_FALSE(Contains(text, "$argon2id$"));  // the credential hash is not handed out
  ExpectRefused(f, Code::kNotFound, "does not exist", [&] { return f.a().Export(4242, {}, &text); });
}

TEST_CASE("lifecycle: deletion waits for the grace period and can be cancelled within it", "[lifecycle][deletion]") {
  test::AccountsFixture f;
  uint64_t id = f.Register("delete@example.org");
  Receipt r;
  RequestDeletion(f, id);
  CHECK(f.State(id).status == AccountStatus::kPendingDeletion);
  CHECK(f.State(id).deletion_deadline_ms == f.now_ms() + f.a().grace_period_ms());
  ExpectRefused(f, Code::kRefused, "already has a deletion", [&] { return f.a().RequestDeletion(id, {}, &r); });
  ExpectRefused(f, Code::kRefused, "cancel it first", [&] { return f.a().GiveConsent(id, fb::Purpose::Surveys, {}, &r); });
  ExpectRefused(f, Code::kRefused, "cancel it first", [&] { return f.a().Update(id, {.nickname = "Z"}, {}, &r); });

  f.Advance(kDayMs);
  REQUIRE(f.a().CancelDeletion(id, {}, &r).ok());
  CHECK(f.State(id).status == AccountStatus::kActive);
  ExpectRefused(f, Code::kRefused, "no deletion request", [&] { return f.a().CancelDeletion(id, {}, &r); });

  RequestDeletion(f, id);
  const int64_t deadline_ms = f.State(id).deletion_deadline_ms;
  f.Advance(deadline_ms - 1 - f.now_ms());
  CHECK(Sweep(f).erased.empty());
  CHECK(f.State(id).status == AccountStatus::kPendingDeletion);
  f.Advance(2);
  ExpectRefused(f, Code::kRefused, "deletion due since", [&] { return f.a().CancelDeletion(id, {}, &r); });
  SweepReport rep = Sweep(f);
  REQUIRE(rep.erased.size() == 1);
  CHECK(rep.erased[0].account_id == id);
  CHECK(rep.erased[0].reason == "user_request");
  CHECK(rep.erased[0].due_at_ms == deadline_ms);
  CHECK(f.State(id).status == AccountStatus::kErased);
  CHECK(f.State(id).erasure_verified);
}

TEST_CASE("lifecycle: retention erases accounts inactive for 36 months", "[lifecycle][retention]") {
  test::AccountsFixture f;
  const int64_t cutoff = MonthsBefore(f.now_ms(), 36);
  uint64_t old = f.RegisterAt("old@example.org", MonthsBefore(f.now_ms(), 37));
  uint64_t recent = f.RegisterAt("recent@example.org", MonthsBefore(f.now_ms(), 35));
  uint64_t just_before = f.RegisterAt("before@example.org", cutoff - 1);
  uint64_t at_cutoff = f.RegisterAt("at@example.org", cutoff);
  CHECK(Inactive(f) == std::vector<uint64_t>{old, just_before});
  CHECK(Inactive(f, 38).empty());

  SweepReport dry = Sweep(f, true);
  CHECK(dry.erased.size() == 2);
  CHECK(f.State(old).status == AccountStatus::kActive);  // a dry run erases nothing
  SweepReport rep = Sweep(f);
  REQUIRE(rep.erased.size() == 2);
  for (const auto& e : rep.erased) CHECK(e.reason == "retention_inactive");
  CHECK(f.State(old).status == AccountStatus::kErased);
  CHECK(f.State(old).erasure_reason == "retention_inactive");
  CHECK(f.State(just_before).status == AccountStatus::kErased);
  CHECK(f.State(recent).status == AccountStatus::kActive);
  CHECK(f.State(at_cutoff).status == AccountStatus::kActive);
  CHECK(Inactive(f).empty());
}

TEST_CASE("lifecycle: only events the holder caused count as activity", "[lifecycle][retention]") {
  test::AccountsFixture f;
  const int64_t registered = MonthsBefore(f.now_ms(), 40);
  uint64_t id = f.RegisterAt("quiet@example.org", registered);
  Receipt r;
  REQUIRE(f.a().Update(id, {.company = "Admin Co"}, AdminCtx("support ticket"), &r).ok());
  REQUIRE(f.a().RegisterRecipient("Tax Office", "DE", AdminCtx(), &r).ok());
  Disclosure d{"Tax Office", "DE", "audit", "legal_obligation", "none", "Order 2024/17"};
  REQUIRE(f.a().Disclose(id, d, AdminCtx(), &r).ok());
  REQUIRE(f.a().RecordAccess({"198.51.100.9", "b", "isp", "ref", "os", "/"}, {fb::Actor::System}, &r).ok());
  std::string json;
  REQUIRE(f.a().Export(id, AdminCtx(), &json).ok());
  CHECK(f.Login("", id, "wrong password").code() == Code::kAuthFailed);
  CHECK(f.State(id).last_active_at_ms == registered);
  CHECK_FALSE(InMonth(f, f.now_ms(), id));
  CHECK(Inactive(f) == std::vector<uint64_t>{id});

  REQUIRE(f.Login("", id).ok());
  CHECK(f.State(id).last_active_at_ms == f.now_ms());
  CHECK(InMonth(f, f.now_ms(), id));
  CHECK(Inactive(f).empty());
}

TEST_CASE("lifecycle: disclosure needs consent or a recorded legal obligation", "[lifecycle][disclosure]") {
  test::AccountsFixture f;
  uint64_t id = f.Register("disclose@example.org");
  Receipt r;
  REQUIRE(f.a().RegisterRecipient("Acme Analytics Inc", "US", AdminCtx(), &r).ok());
  const uint64_t acme = r.seq;
  REQUIRE(f.a().RegisterRecipient("Tax Office", "DE", AdminCtx(), &r).ok());
  Disclosure d{"Acme Analytics Inc", "", "newsletter analytics", "consent", "standard_contractual_clauses", ""};
  ExpectRefused(f, Code::kRefused, "third_party_forwarding", [&] { return f.a().Disclose(id, d, AdminCtx(), &r); });
  REQUIRE(f.a().GiveConsent(id, fb::Purpose::ThirdPartyForwarding, {}, &r).ok());
  REQUIRE(f.a().Disclose(id, d, AdminCtx(), &r).ok());
  const std::string bytes = EventAt(f, r.seq);
  auto* p = View(bytes).envelope()->payload_as_DisclosureRecorded();
  REQUIRE(p);
  CHECK(p->recipient_id() == acme);
  CHECK(p->country()->str() == "US");  // the recipient's, as none was given
  CHECK(p->safeguard_kind() == fb::Safeguard::StandardContractualClauses);
  CHECK(p->legal_basis() == fb::LegalBasis::Consent);

  REQUIRE(f.a().WithdrawConsent(id, fb::Purpose::ThirdPartyForwarding, {}, &r).ok());
  ExpectRefused(f, Code::kRefused, "third_party_forwarding", [&] { return f.a().Disclose(id, d, AdminCtx(), &r); });
  Disclosure legal{"Tax Office", "DE", "tax audit", "legal_obligation", "none", ""};
  ExpectRefused(f, Code::kRefused, "reference", [&] { return f.a().Disclose(id, legal, AdminCtx(), &r); });
  legal.reference = "Order 2024/17";
  REQUIRE(f.a().Disclose(id, legal, AdminCtx(), &r).ok());
  d.country = "usa";
  ExpectRefused(f, Code::kInvalidArgument, "country", [&] { return f.a().Disclose(id, d, AdminCtx(), &r); });
  d.country = "US";
  d.legal_basis = "whim";
  ExpectRefused(f, Code::kInvalidArgument, "legal basis", [&] { return f.a().Disclose(id, d, AdminCtx(), &r); });
}

namespace {

// Opens an AccessLogged event's box with its day key, as an operator would.
Status OpenAccessLog(test::AccountsFixture& f, const std::string& envelope, std::string* ip) {
  auto v = View(envelope);
  const uint32_t day = v.envelope()->payload_as_AccessLogged()->day();
  crypto::Key32 key;
  ACC_RETURN_IF_ERROR(f.a().vault().GetDayKey(day, &key));
  const fb::Sealed* s = v.sealed();
  std::string_view box(reinterpret_cast<const char*>(s->box()->data()), s->box()->size());
  std::string plain;
  ACC_RETURN_IF_ERROR(crypto::Open(key, box, AccountAd(day, fb::Payload::AccessLogged,
                                                       v.envelope()->request_id()->str()), &plain));
  const fb::AccessLogPii* pii;
  ACC_RETURN_IF_ERROR(events::ReadPii(plain, &pii));
  *ip = pii->ip()->str();
  return Status::OK();
}

}  // namespace

TEST_CASE("lifecycle: access logs are sealed under a day key that the sweep shreds", "[lifecycle][access]") {
  test::AccountsFixture f;
  Receipt r;
  REQUIRE(f.a().RecordAccess({"198.51.100.23", "Firefox", "Example ISP", "https://ref.example", "Linux", "/forum"},
                             {fb::Actor::System}, &r).ok());
  const std::string env = EventAt(f, r.seq);
  auto v = View(env);
  CHECK(v.envelope()->account_id() == 0);
  CHECK(v.sealed()->key_kind() == fb::KeyKind::DayKey);
  const uint32_t day = v.envelope()->payload_as_AccessLogged()->day();
  CHECK(day == DayOf(f.now_ms()));
  CHECK(v.envelope()->occurred_at_ms() % kDayMs == 0);  // only the day in plaintext
  CHECK(DayOf(v.envelope()->occurred_at_ms()) == day);
  std::string ip;
  REQUIRE(OpenAccessLog(f, env, &ip).ok());
  CHECK(ip == "198.51.100.23");

  ExpectRefused(f, Code::kInvalidArgument, "future", [&] {
    return f.a().RecordAccess({"198.51.100.23"}, {fb::Actor::System, f.now_ms() + kDayMs}, &r);
  });
  f.Advance(29 * kDayMs);
  CHECK(Sweep(f).days_shredded.empty());
  REQUIRE(OpenAccessLog(f, env, &ip).ok());
  f.Advance(2 * kDayMs);
  SweepReport rep = Sweep(f);
  CHECK(rep.days_shredded == std::vector<uint32_t>{day});
  CHECK(rep.shred.hits == 0);
  crypto::Key32 key;
  CHECK(f.a().vault().GetDayKey(day, &key).code() == Code::kNotFound);
  CHECK_FALSE(OpenAccessLog(f, env, &ip).ok());
}

TEST_CASE("lifecycle: an erased account is anonymous, shredded and frees its email", "[lifecycle][erasure]") {
  test::AccountsFixture f;
  uint64_t id = f.Register(Reg("Erase.Me@example.org", "ErasedNick"));
  REQUIRE(f.Login("", id).ok());
  Receipt r;
  REQUIRE(f.a().Update(id, {.nickname = "Renamed"}, {}, &r).ok());
  RequestDeletion(f, id);
  f.Advance(f.a().grace_period_ms() + 1);
  REQUIRE(Sweep(f).verified);

  AccountView v;
  REQUIRE(f.a().Show(id, &v).ok());
  CHECK(v.state.status == AccountStatus::kErased);
  CHECK(v.display_name == "Anonymous");
  CHECK_FALSE(v.pii.has_value());
  size_t sealed = 0;
  for (auto& e : Stream(f, id)) {
    auto ev = View(e);
    if (!ev.sealed()) continue;
    ++sealed;
    std::string_view box(reinterpret_cast<const char*>(ev.sealed()->box()->data()), ev.sealed()->box()->size());
    std::string plain;
    CHECK(OpenForAccount(f.a().vault(), id, ev.type(), ev.envelope()->request_id()->str(), box, &plain).code() ==
          Code::kShredded);
  }
  CHECK(sealed == 3);  // registered, login, update
  CHECK(CountType(f, id, fb::Payload::AccountErased) == 1);
  CHECK(CountType(f, id, fb::Payload::ErasureVerified) == 1);

  const std::string unknown = f.Login("", 9999).message();
  ExpectRefused(f, Code::kAuthFailed, unknown, [&] { return f.Login("", id); });
  ExpectRefused(f, Code::kAuthFailed, unknown, [&] { return f.Login("erase.me@example.org", 0); });
  ExpectRefused(f, Code::kRefused, "erased", [&] { return f.a().GiveConsent(id, fb::Purpose::Surveys, {}, &r); });
  ExpectRefused(f, Code::kRefused, "erased", [&] { return f.a().RequestDeletion(id, {}, &r); });
  std::string json;
  ExpectRefused(f, Code::kRefused, "erased", [&] { return f.a().Export(id, {}, &json); });

  uint64_t again = f.Register("erase.me@example.org");
  CHECK(again != id);
  LoginResult out;
  REQUIRE(f.Login("Erase.Me@example.org", 0, kPassword, &out).ok());
  CHECK(out.account_id == again);
}

TEST_CASE("lifecycle: one sweep erases many accounts in one verified shred", "[lifecycle][erasure]") {
  test::AccountsFixture f;
  std::vector<uint64_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(f.Register(test::Name("many", i) + "@example.org"));
  for (uint64_t id : ids) RequestDeletion(f, id);
  uint64_t keep = f.Register("keep@example.org");
  f.Advance(f.a().grace_period_ms() + 1);
  SweepReport rep = Sweep(f);
  CHECK(rep.erased.size() == ids.size());
  CHECK(rep.verified);
  CHECK(rep.shred.keys_known == ids.size());
  CHECK(rep.shred.hits == 0);
  CHECK(rep.shred.versions_left == 0);
  CHECK(rep.shred.compaction_passes >= 1);
  CHECK(rep.shred.compaction_passes <= 3);
  for (uint64_t id : ids) {
    CHECK(f.State(id).erasure_verified);
    auto events = Stream(f, id);
    auto last = View(events.back());
    REQUIRE(last.type() == fb::Payload::ErasureVerified);
    CHECK(last.envelope()->payload_as_ErasureVerified()->hits() == 0);
    CHECK(last.envelope()->payload_as_ErasureVerified()->erased_seq() == f.State(id).erased_seq);
  }
  CHECK(f.State(keep).status == AccountStatus::kActive);
  crypto::Key32 dek;
  CHECK(f.a().vault().GetAccountKey(keep, &dek).ok());
  CHECK(Sweep(f).erased.empty());  // nothing left to do
}
