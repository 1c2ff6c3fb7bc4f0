// Issue 9, item 2: consent and deletion. Withdrawal is always allowed; a
// disclosure needs the consent at its own time and none under consent while a
// deletion is pending; one deadline rule (due at grace_deadline, cancel
// strictly before) for live commands and import; a due account refuses
// login, consent, update and export before any sweep; the server erases it
// at its deadline by a timer, not only on its periodic sweep.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "events/vocabulary.h"
#include "projections/fold/activity.h"
#include "projections/service/describe.h"
#include "projections/service/import.h"
#include "server/client/client.h"
#include "server/daemon/server.h"
#include "tests/accounts_fixture.h"

namespace {

using namespace accountable;
using Code = Status::Code;
using test::kDayMs;

Disclosure ByConsent() {
  return {"Acme Analytics Inc", "US", "newsletter analytics", "consent", "standard_contractual_clauses", ""};
}
Disclosure ByLaw() { return {"Tax Office", "DE", "tax audit", "legal_obligation", "none", "Order 2024/17"}; }

// Disclosures name recipients from the admin's registry.
void RegisterRecipients(test::AccountsFixture& f) {
  Receipt r;
  REQUIRE(f.a().RegisterRecipient("Acme Analytics Inc", "US", test::AdminCtx(), &r).ok());
  REQUIRE(f.a().RegisterRecipient("Tax Office", "DE", test::AdminCtx(), &r).ok());
}

void RequestDeletion(test::AccountsFixture& f, uint64_t id) {
  Receipt r;
  Status s = f.a().RequestDeletion(id, {}, &r);
  INFO(s.ToString());
  REQUIRE(s.ok());
}

}  // namespace

TEST_CASE("deletion: a consent is withdrawn while a deletion is pending", "[issue9][consent][deletion]") {
  test::AccountsFixture f;
  uint64_t id = f.Register("withdraw@example.org");
  Receipt r;
  REQUIRE(f.a().GiveConsent(id, fb::Purpose::ThirdPartyForwarding, {}, &r).ok());
  REQUIRE(f.a().GiveConsent(id, fb::Purpose::Surveys, {}, &r).ok());
  RequestDeletion(f, id);
  f.Advance(1000);
  REQUIRE(f.a().WithdrawConsent(id, fb::Purpose::ThirdPartyForwarding, {}, &r).ok());
  CHECK_FALSE(f.State(id).consents[size_t(fb::Purpose::ThirdPartyForwarding)].given);
  REQUIRE(f.a().WithdrawConsent(id, fb::Purpose::Surveys, {}, &r).ok());
  CHECK(f.State(id).status == AccountStatus::kPendingDeletion);
  // Giving stays refused, and privacy_policy is never withdrawn on its own.
  test::ExpectRefused(f, Code::kRefused, "cancel it first",
                      [&] { return f.a().GiveConsent(id, fb::Purpose::Surveys, {}, &r); });
  test::ExpectRefused(f, Code::kRefused, "request-deletion",
                      [&] { return f.a().WithdrawConsent(id, fb::Purpose::PrivacyPolicy, {}, &r); });
  test::ExpectRefused(f, Code::kRefused, "is not given",
                      [&] { return f.a().WithdrawConsent(id, fb::Purpose::Surveys, {}, &r); });
}

TEST_CASE("deletion: no disclosure under consent while a deletion is pending", "[issue9][disclosure][deletion]") {
  test::AccountsFixture f;
  uint64_t id = f.Register("pending-disclose@example.org");
  RegisterRecipients(f);
  Receipt r;
  REQUIRE(f.a().GiveConsent(id, fb::Purpose::ThirdPartyForwarding, {}, &r).ok());
  f.Advance(1000);
  REQUIRE(f.a().Disclose(id, ByConsent(), test::AdminCtx(), &r).ok());
  RequestDeletion(f, id);
  test::ExpectRefused(f, Code::kRefused, "deletion pending",
                      [&] { return f.a().Disclose(id, ByConsent(), test::AdminCtx(), &r); });
  REQUIRE(f.a().Disclose(id, ByLaw(), test::AdminCtx(), &r).ok());  // a legal obligation still holds
}

TEST_CASE("deletion: a disclosure needs the consent at its own time", "[issue9][disclosure]") {
  test::AccountsFixture f;
  uint64_t id = f.Register("timed-disclose@example.org");
  RegisterRecipients(f);
  f.Advance(kDayMs);
  Receipt r;
  REQUIRE(f.a().GiveConsent(id, fb::Purpose::ThirdPartyForwarding, {}, &r).ok());
  const int64_t given_at = f.now_ms();
  f.Advance(kDayMs);
  Context before = test::AdminCtx();
  before.occurred_at_ms = given_at - 1;  // recorded late, happened before the consent
  test::ExpectRefused(f, Code::kRefused, "at its time", [&] { return f.a().Disclose(id, ByConsent(), before, &r); });
  Context at = test::AdminCtx();
  at.occurred_at_ms = given_at;
  REQUIRE(f.a().Disclose(id, ByConsent(), at, &r).ok());
  REQUIRE(f.a().Disclose(id, ByLaw(), before, &r).ok());  // the law needs no consent
}

TEST_CASE("deletion: cancel only strictly before the deadline", "[issue9][deletion]") {
  test::AccountsFixture f;
  uint64_t early = f.Register("early@example.org");
  uint64_t late = f.Register("late@example.org");
  RequestDeletion(f, early);
  RequestDeletion(f, late);
  const int64_t deadline_ms = f.State(early).deletion_deadline_ms;
  REQUIRE(f.State(late).deletion_deadline_ms == deadline_ms);
  Receipt r;
  f.SetNow(deadline_ms - 1);
  REQUIRE(f.a().CancelDeletion(early, {}, &r).ok());
  CHECK(f.State(early).status == AccountStatus::kActive);
  f.SetNow(deadline_ms);
  test::ExpectRefused(f, Code::kRefused, "deletion due since", [&] { return f.a().CancelDeletion(late, {}, &r); });
}

TEST_CASE("deletion: from the deadline on, login, consent, update and export say deletion due", "[issue9][deletion]") {
  test::AccountsFixture f;
  uint64_t id = f.Register("due@example.org");
  Receipt r;
  REQUIRE(f.a().GiveConsent(id, fb::Purpose::Surveys, {}, &r).ok());
  RequestDeletion(f, id);
  const int64_t deadline_ms = f.State(id).deletion_deadline_ms;
  f.SetNow(deadline_ms - 1);
  REQUIRE(f.Login(id).ok());  // still in the grace period
  f.SetNow(deadline_ms);
  const std::string due = "account " + std::to_string(id) + ": deletion due since " + events::FormatTime(deadline_ms);
  test::ExpectRefused(f, Code::kRefused, due, [&] { return f.Login(id); });
  test::ExpectRefused(f, Code::kRefused, "deletion due",
                      [&] { return f.a().WithdrawConsent(id, fb::Purpose::Surveys, {}, &r); });
  test::ExpectRefused(f, Code::kRefused, "deletion due",
                      [&] { return f.a().GiveConsent(id, fb::Purpose::Notifications, {}, &r); });
  test::ExpectRefused(f, Code::kRefused, "deletion due",
                      [&] { return f.a().Update(id, {.company = "Z"}, test::AdminCtx("ticket 7"), &r); });
  std::string json;
  test::ExpectRefused(f, Code::kRefused, "deletion due", [&] { return f.a().Export(id, test::AdminCtx(), &json); });
  test::ExpectRefused(f, Code::kRefused, "deletion due", [&] { return f.a().Touch(id, {}, &r); });
  test::ExpectRefused(f, Code::kRefused, "deletion due",
                      [&] { return f.a().RecordRetentionNotice(id, {fb::Actor::System}, &r); });
  test::ExpectRefused(f, Code::kRefused, "deletion due",
                      [&] { return f.a().ChangePassword(id, {"", "a brand new secret"}, test::AdminCtx(), &r); });
  // A wrong password learns nothing about the account's state, and leaves no record.
  test::ExpectRefused(f, Code::kAuthFailed, "login failed", [&] { return f.Login(id, "wrong password"); });
  CHECK(json.empty());
  // The sweep then erases it with the deadline as its due date.
  SweepReport rep;
  REQUIRE(f.a().Sweep({}, &rep).ok());
  REQUIRE(rep.erased.size() == 1);
  CHECK(rep.erased[0].due_at_ms == deadline_ms);
  CHECK(f.State(id).status == AccountStatus::kErased);
}

TEST_CASE("deletion: import applies the same deadline rule", "[issue9][deletion][import]") {
  test::AccountsFixture f;
  auto line = [](const std::string& type, const std::string& at, nlohmann::json extra = nlohmann::json::object()) {
    extra["type"] = type;
    extra["account_id"] = 40;
    extra["occurred_at"] = at;
    return extra.dump() + "\n";
  };
  const std::string reg = line("register", "2021-01-05T10:00:00Z",
                               {{"nickname", "Imp"}, {"email", "imp40@example.org"}, {"password", "correct horse battery"},
                                {"gender", "female"}, {"birthdate", "1980-02-03"}, {"ip", "192.0.2.1"},
                                {"accept_policy", "1.01"}});
  const int64_t requested = *events::ParseTime("2021-02-01T00:00:00Z");
  const std::string deadline = events::FormatTime(requested + f.a().grace_period_ms());
  const std::string just_before = events::FormatTime(requested + f.a().grace_period_ms() - 1);
  const std::string head = reg + line("request-deletion", "2021-02-01T00:00:00Z");
  ImportReport rep;
  const uint64_t before = f.LastSeq();
  Status s = ImportJsonLines(f.a(), head + line("cancel-deletion", deadline), &rep);
  CHECK(s.code() == Code::kRefused);
  CHECK(s.message().find("line 3: account 40: deletion due since") != std::string::npos);
  CHECK(f.LastSeq() == before);
  s = ImportJsonLines(f.a(), head + line("consent", deadline, {{"give", "surveys"}}), &rep);
  CHECK(s.code() == Code::kRefused);
  CHECK(f.LastSeq() == before);
  s = ImportJsonLines(f.a(), head + line("cancel-deletion", just_before), &rep);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(f.State(40).status == AccountStatus::kActive);
}

namespace {

// An in-process server over `accounts`, with no periodic sweep: only the
// deadline timer can erase anything.
std::unique_ptr<Server> StartServer(Accounts& accounts) {
  ServerOptions o;
  o.port = 0;
  o.worker_threads = 4;
  o.sweep_interval_ms = 0;
  o.token_digests = {{TokenDigest("writer-token-0123456789"), wire::Role::Writer}};
  std::unique_ptr<Server> server;
  Status s = Server::Start(o, &accounts, &server);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return server;
}

Status Call(Client& c, wire::Body type, uint64_t id) {
  Client::Reply rep;
  Status s = c.Call(type, [&](flatbuffers::FlatBufferBuilder& f) {
    return type == wire::Body::RequestDeletion ? wire::CreateRequestDeletion(f, id).Union()
                                               : wire::CreateCancelDeletion(f, id).Union();
  }, &rep);
  return s.ok() ? rep.status : s;
}

// Polls the account until it is erased and verified, up to timeout_ms.
bool ErasedWithin(Accounts& a, uint64_t id, int64_t timeout_ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    AccountState st;
    if (ReadAccount(a.ledger(), id, &st).ok() && st.status == AccountStatus::kErased && st.erasure_verified)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace

TEST_CASE("deletion: the server erases a due account at its deadline, without a periodic sweep",
          "[issue9][deletion][server]") {
  test::TempDir dir("acc-deadline");
  AccountsOptions ao;
  ao.data_dir = dir.Sub("data");
  ao.password_cost = {1, 8u << 20};
  ao.grace_period_ms = 600;
  std::unique_ptr<Accounts> accounts;
  REQUIRE(Accounts::Open(ao, &accounts).ok());
  RegisterResult kept, erased, later;
  REQUIRE(accounts->Register(test::Reg("kept@example.org"), &kept).ok());
  REQUIRE(accounts->Register(test::Reg("erased@example.org"), &erased).ok());
  REQUIRE(accounts->Register(test::Reg("later@example.org"), &later).ok());
  {
    auto server = StartServer(*accounts);
    std::unique_ptr<Client> c;
    REQUIRE(Client::Connect("127.0.0.1:" + std::to_string(server->port()), "writer-token-0123456789", &c).ok());
    // The earliest deadline is cancelled: the timer must move on to the next one.
    REQUIRE(Call(*c, wire::Body::RequestDeletion, kept.account_id).ok());
    REQUIRE(Call(*c, wire::Body::RequestDeletion, erased.account_id).ok());
    REQUIRE(Call(*c, wire::Body::CancelDeletion, kept.account_id).ok());
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(ErasedWithin(*accounts, erased.account_id, 10'000));
    CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(300));  // not before its deadline
    // A request after the timer fired arms it again.
    REQUIRE(Call(*c, wire::Body::RequestDeletion, later.account_id).ok());
    CHECK(ErasedWithin(*accounts, later.account_id, 10'000));
    server->Stop();
  }
  AccountState st;
  REQUIRE(ReadAccount(accounts->ledger(), kept.account_id, &st).ok());
  CHECK(st.status == AccountStatus::kActive);
  REQUIRE(accounts->Close().ok());
}

TEST_CASE("deletion: a deletion pending at start is erased at its deadline once the server runs",
          "[issue9][deletion][server]") {
  test::TempDir dir("acc-deadline-start");
  AccountsOptions ao;
  ao.data_dir = dir.Sub("data");
  ao.password_cost = {1, 8u << 20};
  ao.grace_period_ms = 400;
  std::unique_ptr<Accounts> accounts;
  REQUIRE(Accounts::Open(ao, &accounts).ok());
  RegisterResult reg;
  REQUIRE(accounts->Register(test::Reg("startup@example.org"), &reg).ok());
  Receipt r;
  REQUIRE(accounts->RequestDeletion(reg.account_id, {}, &r).ok());  // before the server starts
  auto server = StartServer(*accounts);
  CHECK(ErasedWithin(*accounts, reg.account_id, 10'000));
  server->Stop();
  REQUIRE(accounts->Close().ok());
}
