// Identity rules (issue 9, item 4): e-mail addresses are unique and log in
// by their canonical form (NFKC + case folding, IDNA domain); invisible and
// bidi control characters are refused without echoing the input; nicknames
// carry no controls and are never blank; account ids stay in 1..2^53-1 so
// that importing the largest id cannot break later registrations. Every
// refusal appends nothing.
#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "projections/service/accounts.h"
#include "projections/service/import.h"
#include "projections/validate/validate.h"
#include "tests/accounts_fixture.h"
#include "tests/server_test_util.h"
#include "tests/test_util.h"

namespace {

using namespace accountable;
using Code = Status::Code;

using test::ExpectRefused;
using test::Reg;

using test::Contains;

// Logs in by e-mail alone; *id is the account it found.
Status LoginByEmail(test::AccountsFixture& f, const std::string& email, uint64_t* id) {
  LoginResult out;
  Status s = f.Login(email, 0, test::kFixturePassword, &out);
  *id = out.account_id;
  return s;
}

std::string Canonical(const std::string& email) {
  std::string out;
  Status s = validate::CanonicalEmail(email, &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return out;
}

}  // namespace

TEST_CASE("identity: an email's canonical form is NFKC, case-folded, with an IDNA domain", "[identity][email]") {
  CHECK(Canonical("Ann@Example.org") == "ann@example.org");
  CHECK(Canonical("ann@example.org") == "ann@example.org");
  CHECK(Canonical("\xEF\xBD\x81\xEF\xBD\x8E\xEF\xBD\x8E@example.org") == "ann@example.org");  // fullwidth ａｎｎ
  CHECK(Canonical("ann\xEF\xBC\xA0" "example.org") == "ann@example.org");                   // fullwidth ＠
  CHECK(Canonical("ann@b\xC3\xBC" "cher.example") == "ann@xn--bcher-kva.example");          // bücher
  CHECK(Canonical("ann@B\xC3\x9C" "CHER.example") == "ann@xn--bcher-kva.example");          // BÜCHER
  CHECK(Canonical("ann@XN--BCHER-KVA.example") == "ann@xn--bcher-kva.example");
  CHECK(Canonical("Stra\xC3\x9F" "e@example.org") == "strasse@example.org");                // ß folds to ss
  CHECK(Canonical("STRASSE@example.org") == "strasse@example.org");
  CHECK(Canonical("\xC3\xA9l\xC3\xA8ve@example.org") == Canonical("e\xCC\x81l\xC3\xA8ve@example.org"));  // é: NFC = NFD
}

TEST_CASE("identity: invisible, bidi and control characters in an email are refused, never echoed", "[identity][email]") {
  const std::vector<std::string> marks = {
      "\xC2\xAD",      "\xE2\x80\x8B", "\xE2\x80\x8C", "\xE2\x80\x8D", "\xE2\x80\x8E", "\xE2\x80\x8F",
      "\xE2\x80\xAA", "\xE2\x80\xAE", "\xE2\x81\xA0", "\xE2\x81\xA4", "\xE2\x81\xA6", "\xE2\x81\xA9",
      "\xEF\xBB\xBF", "\xC2\x85",     "\xE2\x80\xA8", "\xEE\x80\x80" /* private use */};
  for (const std::string& m : marks) {
    for (const std::string& email : {"zorro" + m + "@example.org", "zorro@exa" + m + "mple.org"}) {
      std::string out;
      Status s = validate::CanonicalEmail(email, &out);
      INFO("mark bytes " << m.size() << ": " << s.ToString());
      CHECK(s.code() == Code::kInvalidArgument);
      CHECK(Contains(s.message(), "email: "));
      CHECK(!Contains(s.message(), "zorro"));
      CHECK(!Contains(s.message(), "example"));
    }
  }
  std::string out;
  for (const char* bad : {"zorro@", "@example.org", "zorro@@example.org", "zorro@example", "zorro@-bad-.org",
                          "zorro@exa_mple.org", "zorro@exa$mple.org", "zor ro@example.org", "zorro@example.org.", "\xFF@example.org"}) {
    Status s = validate::CanonicalEmail(bad, &out);
    INFO(bad << " -> " << s.ToString() << " " << out);
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(!Contains(s.message(), "zorro"));
  }
}

TEST_CASE("identity: one account per canonical email, and login by any spelling of it", "[identity][email]") {
  test::AccountsFixture f;
  const uint64_t ann = f.Register("Ann@Example.org");
  ExpectRefused(f, Code::kRefused, "already registered", [&] { return f.TryRegister(Reg("ann@example.org")); });
  ExpectRefused(f, Code::kRefused, "already registered",
                [&] { return f.TryRegister(Reg("\xEF\xBD\x81\xEF\xBD\x8E\xEF\xBD\x8E@example.org")); });
  ExpectRefused(f, Code::kInvalidArgument, "invisible",
                [&] { return f.TryRegister(Reg("ann\xE2\x80\x8B@example.org")); });
  const uint64_t buecher = f.Register("ann@b\xC3\xBC" "cher.example");
  ExpectRefused(f, Code::kRefused, "already registered", [&] { return f.TryRegister(Reg("ann@xn--bcher-kva.example")); });
  const uint64_t strasse = f.Register("stra\xC3\x9F" "e@example.org");
  ExpectRefused(f, Code::kRefused, "already registered", [&] { return f.TryRegister(Reg("STRASSE@example.org")); });

  uint64_t id = 0;
  REQUIRE(LoginByEmail(f, "\xEF\xBD\x81\xEF\xBD\x8E\xEF\xBD\x8E@EXAMPLE.org", &id).ok());
  CHECK(id == ann);
  REQUIRE(LoginByEmail(f, "ANN@XN--BCHER-KVA.example", &id).ok());
  CHECK(id == buecher);
  REQUIRE(LoginByEmail(f, "Strasse@example.org", &id).ok());
  CHECK(id == strasse);
  ExpectRefused(f, Code::kInvalidArgument, "invisible", [&] { return LoginByEmail(f, "ann\xE2\x80\x8B@example.org", &id); });

  // An update to another spelling of the same address keeps the account's row;
  // to another account's address it is refused.
  Receipt r;
  ProfileChange same;
  same.email = "ANN@example.org";
  REQUIRE(f.a().Update(ann, same, {}, &r).ok());
  REQUIRE(LoginByEmail(f, "ann@example.org", &id).ok());
  CHECK(id == ann);
  ProfileChange taken;
  taken.email = "Strasse@Example.org";
  ExpectRefused(f, Code::kRefused, "already registered", [&] { return f.a().Update(ann, taken, {}, &r); });
}

TEST_CASE("identity: nicknames have no controls or bidi overrides and are not blank", "[identity][nickname]") {
  test::AccountsFixture f;
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"Zorro\xC2\x85", "control"},                        // C1 NEL
      {"Zorro\xC2\x9B", "control"},                        // C1 CSI
      {"Zorro\x1B[31m", "control"},                        // C0 ESC
      {"Zorro\xE2\x80\xAE" "olleh", "bidirectional"},      // RLO
      {"\xE2\x81\xA6Zorro\xE2\x81\xA9", "bidirectional"},  // LRI .. PDI
      {"Zorro\xE2\x80\x8F", "bidirectional"},              // RLM
      {"\xE2\x80\x8B\xE2\x80\x8B", "blank"},               // zero-width spaces only
      {" \xE3\x80\x80 ", "blank"},                         // spaces and an ideographic space
      {"\xC2\xAD\xE2\x81\xA0", "blank"},                   // soft hyphen, word joiner
      {"\xFFZorro", "UTF-8"},
  };
  for (const auto& [nick, fragment] : bad) {
    ExpectRefused(f, Code::kInvalidArgument, fragment,
                  [&] { return f.TryRegister(Reg("n" + std::to_string(nick.size()) + fragment + "@example.org", nick)); });
    CHECK(validate::Nickname(nick).code() == Code::kInvalidArgument);
    CHECK(validate::Nickname(nick).message().rfind("nickname: ", 0) == 0);
  }
  const uint64_t id = f.Register("nick@example.org");
  Receipt r;
  ProfileChange c;
  c.nickname = "Zorro\xE2\x80\xAE";
  ExpectRefused(f, Code::kInvalidArgument, "nickname: contains bidirectional", [&] { return f.a().Update(id, c, {}, &r); });
  for (const char* good : {"Zo\xC3\xAB", "Anne Marie", "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB" /* ZWJ emoji */}) {
    CHECK(validate::Nickname(good).ok());
    c.nickname = good;
    CHECK(f.a().Update(id, c, {}, &r).ok());
  }
}

TEST_CASE("identity: account ids stay in 1..2^53-1; importing the largest breaks no registration", "[identity][ids]") {
  test::AccountsFixture f;
  const std::string line = R"({"type":"register","account_id":ID,"occurred_at":"2021-01-05T10:00:00Z","nickname":"Max",)"
                           R"("email":"max@example.org","password":"correct horse battery","gender":"female",)"
                           R"("birthdate":"1980-02-03","ip":"192.0.2.1","accept_policy":"1.01"})";
  auto with_id = [&](uint64_t id) {
    std::string l = line;
    l.replace(l.find("ID"), 2, std::to_string(id));
    return l + "\n";
  };
  ImportReport rep;
  for (uint64_t bad : {kAccountIdMax + 1, ~uint64_t{0}}) {
    ExpectRefused(f, Code::kInvalidArgument, "account id: must be 1..9007199254740991",
                  [&] { return ImportJsonLines(f.a(), with_id(bad), &rep); });
  }
  REQUIRE(ImportJsonLines(f.a(), with_id(kAccountIdMax), &rep).ok());
  AccountView v;
  REQUIRE(f.a().Show(kAccountIdMax, &v).ok());
  CHECK(v.state.status == AccountStatus::kActive);
  CHECK(f.a().Show(kAccountIdMax + 1, &v).code() == Code::kInvalidArgument);

  ExpectRefused(f, Code::kRefused, "no account id left", [&] { return f.TryRegister(Reg("late@example.org")); });
  f.Reopen();  // the allocator starts above the stored largest id, and still refuses
  ExpectRefused(f, Code::kRefused, "no account id left", [&] { return f.TryRegister(Reg("late@example.org")); });
  Registration direct = Reg("direct@example.org");
  direct.actor = fb::Actor::Import;
  direct.occurred_at_ms = f.a().NowMs();
  direct.account_id = kAccountIdMax + 1;
  ExpectRefused(f, Code::kInvalidArgument, "account id", [&] { return f.TryRegister(direct); });
  direct.account_id = 5;  // free ids below stay available to imports
  CHECK(f.TryRegister(direct).ok());
}

TEST_CASE("identity server: an account id outside the range is refused over the wire", "[identity][server]") {
  test::ServerFixture f;
  auto c = f.Connect(test::kAdminToken);
  const uint64_t before = f.accounts().ledger().LastSeq();
  Client::Reply rep;
  REQUIRE(c->Call(wire::Body::GetAccount, [](auto& b) { return wire::CreateGetAccount(b, kAccountIdMax + 1).Union(); },
                  &rep).ok());
  CHECK(rep.status.code() == Code::kInvalidArgument);
  CHECK(Contains(rep.status.message(), "account id"));
  REQUIRE(c->Call(wire::Body::Consent, [](auto& b) {
    return wire::CreateConsentDirect(b, kAccountIdMax + 1, "surveys", true).Union();
  }, &rep).ok());
  CHECK(rep.status.code() == Code::kInvalidArgument);
  REQUIRE(c->Call(wire::Body::Register, [](auto& b) {
    return wire::CreateRegisterDirect(b, "Nick", "zorro\xE2\x80\x8B@example.org", test::kFixturePassword, "female",
                                      "1990-04-01", "192.0.2.10", "ua", "", "1.01").Union();
  }, &rep).ok());
  CHECK(rep.status.code() == Code::kInvalidArgument);
  CHECK(!Contains(rep.status.message(), "zorro"));
  CHECK(f.accounts().ledger().LastSeq() == before);
}

TEST_CASE("identity: limits apply to the canonical form, and the projector checks the id range itself", "[identity][ids]") {
  // U+FDFA is 3 bytes and folds to 33: twenty of them pass the raw limits and fail once canonical.
  std::string local;
  for (int i = 0; i < 20; ++i) local += "\xEF\xB7\xBA";
  std::string out;
  Status s = validate::CanonicalEmail(local + "@example.org", &out);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(Contains(s.message(), "email: local part longer than 64 bytes"));

  test::AccountsFixture f;
  events::EnvelopeBuilder b;
  auto& fbb = b.fbb();
  std::vector<fb::Purpose> consents = {fb::Purpose::PrivacyPolicy};
  auto payload = fb::CreateRegistered(fbb, fbb.CreateString("1.01"), fbb.CreateVector(consents));
  events::Header h{kAccountIdMax + 1, f.a().NowMs(), fb::Actor::Import, "raw/too-large", "1.01"};
  std::vector<Ledger::Command> batch(1);
  batch[0].envelope = b.Finish(h, fb::Payload::Registered, payload.Union());
  std::vector<Ledger::Appended> appended;
  ExpectRefused(f, Code::kInvalidArgument, "account id: must be 1..",
                [&] { return f.a().ledger().Append(std::move(batch), &appended); });
}
