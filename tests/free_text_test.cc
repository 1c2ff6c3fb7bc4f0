// Issue 9, the mechanics behind "no plaintext personal data in the log":
// request ids stored as HMACs and checked against the request's content,
// disclosures built from a recipient registry and closed vocabularies, and
// sealed payloads padded to buckets. Every refusal appends nothing.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "events/vocabulary.h"
#include "projections/service/accounts.h"
#include "projections/service/history.h"
#include "tests/accounts_fixture.h"
#include "tests/test_util.h"

namespace {

using namespace accountable;
using Code = Status::Code;

constexpr const char* kPassword = test::kFixturePassword;
using test::ExpectRefused;
using test::Reg;

Context ContextWithRequestId(const std::string& rid, fb::Actor actor = fb::Actor::Holder) {
  return Context{actor, 0, rid, {}};
}

}  // namespace

TEST_CASE("request ids: stored as an HMAC, never as given", "[free-text][idempotency]") {
  test::AccountsFixture f;
  RegisterResult reg;
  Registration r = Reg("rid@example.org");
  r.request_id = "signup-zorro.mail@example.org";
  REQUIRE(f.a().Register(r, &reg).ok());
  std::string keep;
  auto v = f.Event(reg.seq, &keep);
  const std::string stored = v.envelope()->request_id()->str();
  CHECK(stored == f.a().RequestKey(r.request_id));
  CHECK(stored.size() == 64);
  CHECK(stored.find("zorro") == std::string::npos);
  CHECK(keep.find("zorro") == std::string::npos);
  uint64_t seq = 0;
  CHECK(f.a().ledger().LookupRequest(stored, &seq).ok());
  CHECK(seq == reg.seq);
  CHECK(f.a().ledger().LookupRequest(r.request_id, &seq).code() == Code::kNotFound);
  // The sealing ad binds the stored form: the profile opens.
  CHECK(DescribeEventPii(f.a().vault(), v)["nickname"] == "Nick");

  // The secret: its own 0600 file, created with the ledger; never replaced.
  struct stat st {};
  REQUIRE(::stat((f.DataDir() + "/keys/request").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(st.st_size == 32);
  f.Close();
  std::filesystem::remove(f.DataDir() + "/keys/request");
  std::unique_ptr<Accounts> again;
  AccountsOptions o;
  o.data_dir = f.DataDir();
  CHECK(Accounts::Open(o, &again).code() == Code::kIOError);
}

TEST_CASE("request ids: the same id with another content is refused, never answered", "[free-text][idempotency]") {
  test::AccountsFixture f;
  const uint64_t id = f.Register(Reg("same@example.org"));
  Receipt first, again;
  REQUIRE(f.a().GiveConsent(id, fb::Purpose::Surveys, ContextWithRequestId("c-1"), &first).ok());
  REQUIRE(f.a().GiveConsent(id, fb::Purpose::Surveys, ContextWithRequestId("c-1"), &again).ok());
  CHECK(again.duplicate);
  CHECK(again.seq == first.seq);
  ExpectRefused(f, Code::kRequestReused, "different request",
                [&] { return f.a().GiveConsent(id, fb::Purpose::Notifications, ContextWithRequestId("c-1"), &again); });
  ExpectRefused(f, Code::kRequestReused, "different request",
                [&] { return f.a().WithdrawConsent(id, fb::Purpose::Surveys, ContextWithRequestId("c-1"), &again); });
  const uint64_t other = f.Register(Reg("other@example.org"));
  ExpectRefused(f, Code::kRequestReused, "different request",
                [&] { return f.a().GiveConsent(other, fb::Purpose::Surveys, ContextWithRequestId("c-1"), &again); });

  // Registration has its own duplicate path.
  RegisterResult reg, reg2;
  Registration r = Reg("dup@example.org");
  r.request_id = "reg-1";
  REQUIRE(f.a().Register(r, &reg).ok());
  REQUIRE(f.a().Register(r, &reg2).ok());
  CHECK(reg2.duplicate);
  CHECK(reg2.account_id == reg.account_id);
  CHECK(reg2.seq == reg.seq);
  r.nickname = "Someone Else";
  ExpectRefused(f, Code::kRequestReused, "different request", [&] { return f.a().Register(r, &reg2); });

  // Login: a failed attempt's id cannot be reused with the right password.
  LoginResult lr;
  LoginRequest bad{"same@example.org", 0, "wrong password!", "192.0.2.1", "ua"};
  bad.ctx.request_id = "login-1";
  CHECK(f.a().Login(bad, &lr).code() == Code::kAuthFailed);
  LoginRequest good = bad;
  good.password = kPassword;
  ExpectRefused(f, Code::kRequestReused, "different request", [&] { return f.a().Login(good, &lr); });
  good.ctx.request_id = "login-2";
  REQUIRE(f.a().Login(good, &lr).ok());
  LoginResult lr2;
  REQUIRE(f.a().Login(good, &lr2).ok());
  CHECK(lr2.duplicate);
  CHECK(lr2.seq == lr.seq);
}

TEST_CASE("request ids: a login's implicit acceptance is keyed from the login's id", "[free-text][idempotency]") {
  test::AccountsFixture f;
  f.Register(Reg("implicit@example.org"));
  Receipt r;
  REQUIRE(f.a().PublishPolicy("1.02", "revised", ContextWithRequestId("", fb::Actor::Admin), &r).ok());
  LoginRequest l{"implicit@example.org", 0, kPassword, "192.0.2.1", "ua"};
  l.ctx.request_id = "login-zorro";
  LoginResult out;
  REQUIRE(f.a().Login(l, &out).ok());
  CHECK(out.implicit_acceptance);
  const uint64_t last = f.a().ledger().LastSeq();
  CHECK(last == out.seq + 1);
  std::string keep;
  auto v = f.Event(last, &keep);
  CHECK(v.type() == fb::Payload::ConsentGiven);
  CHECK(v.envelope()->request_id()->str() == f.a().RequestKey("login-zorro/implicit"));
  CHECK(keep.find("zorro") == std::string::npos);
  LoginResult again;
  REQUIRE(f.a().Login(l, &again).ok());
  CHECK(again.duplicate);
  CHECK(again.seq == out.seq);
  CHECK(f.a().ledger().LastSeq() == last);
  l.ip = "192.0.2.2";
  ExpectRefused(f, Code::kRequestReused, "different request", [&] { return f.a().Login(l, &again); });
}

TEST_CASE("disclosure: recipients come from the registry, countries and safeguards from closed sets",
          "[free-text][disclosure]") {
  test::AccountsFixture f;
  const uint64_t id = f.Register(Reg("disc@example.org"));
  Receipt r;
  const Context admin = ContextWithRequestId("", fb::Actor::Admin);
  REQUIRE(f.a().RegisterRecipient("Tax Office", "DE", admin, &r).ok());
  const uint64_t tax = r.seq;
  ExpectRefused(f, Code::kRefused, "already registered", [&] { return f.a().RegisterRecipient("TAX OFFICE", "FR", admin, &r); });
  ExpectRefused(f, Code::kInvalidArgument, "country", [&] { return f.a().RegisterRecipient("Nowhere", "XX", admin, &r); });
  ExpectRefused(f, Code::kInvalidArgument, "country", [&] { return f.a().RegisterRecipient("Nowhere", "de", admin, &r); });
  ExpectRefused(f, Code::kInvalidArgument, "number", [&] { return f.a().RegisterRecipient("12345", "DE", admin, &r); });
  ExpectRefused(f, Code::kRefused, "admin",
                [&] { return f.a().RegisterRecipient("Mine", "DE", ContextWithRequestId(""), &r); });

  Disclosure d{"Tax Office", "", "ticket for ZorroNick", "legal_obligation", "legal_obligation", "Order zorro-17"};
  Disclosure unknown = d;
  unknown.recipient = "Zorro Data Brokers";
  ExpectRefused(f, Code::kNotFound, "no registered recipient", [&] { return f.a().Disclose(id, unknown, admin, &r); });
  unknown.recipient = "999999";
  ExpectRefused(f, Code::kNotFound, "no registered recipient", [&] { return f.a().Disclose(id, unknown, admin, &r); });
  Disclosure bad = d;
  for (const char* country : {"XK", "EU", "UK", "ZZ", "de", "D", "DEU"}) {
    bad.country = country;
    ExpectRefused(f, Code::kInvalidArgument, "country", [&] { return f.a().Disclose(id, bad, admin, &r); });
  }
  bad = d;
  bad.safeguard = "SCC";
  ExpectRefused(f, Code::kInvalidArgument, "safeguard", [&] { return f.a().Disclose(id, bad, admin, &r); });

  d.recipient = std::to_string(tax);  // by id as well as by name
  REQUIRE(f.a().Disclose(id, d, admin, &r).ok());
  std::string keep;
  auto v = f.Event(r.seq, &keep);
  auto* p = v.envelope()->payload_as_DisclosureRecorded();
  CHECK(p->recipient_id() == tax);
  CHECK(p->country()->str() == "DE");
  CHECK(p->safeguard_kind() == fb::Safeguard::LegalObligation);
  CHECK(p->has_reference());
  CHECK(keep.find("Zorro") == std::string::npos);
  CHECK(keep.find("zorro") == std::string::npos);
  auto pii = DescribeEventPii(f.a().vault(), v);
  CHECK(pii["purpose"] == "ticket for ZorroNick");
  CHECK(pii["reference"] == "Order zorro-17");
  std::vector<Recipient> all;
  REQUIRE(f.a().ListRecipients(&all).ok());
  REQUIRE(all.size() == 1);
  CHECK(all[0].id == tax);
  CHECK(all[0].name == "Tax Office");
  CHECK(all[0].country == "DE");
}

TEST_CASE("vocabulary: exactly the 249 assigned ISO 3166-1 alpha-2 codes", "[free-text][disclosure]") {
  size_t assigned = 0;
  for (char a = 'A'; a <= 'Z'; ++a)
    for (char b = 'A'; b <= 'Z'; ++b) assigned += events::IsCountryCode(std::string{a, b}) ? 1 : 0;
  CHECK(assigned == 249);
  for (const char* yes : {"DE", "US", "AX", "BQ", "SS", "CW", "PS", "AQ"}) CHECK(events::IsCountryCode(yes));
  for (const char* no : {"XK", "EU", "UK", "AN", "YU", "ZZ", "AA", "de", ""}) CHECK_FALSE(events::IsCountryCode(no));
  CHECK(events::ParseSafeguard("binding_corporate_rules") == fb::Safeguard::BindingCorporateRules);
  CHECK_FALSE(events::ParseSafeguard("BCR"));
}

TEST_CASE("sealing: payloads are padded to buckets, the padding is checked", "[free-text][crypto]") {
  CHECK(crypto::PaddedSize(0) == 256);
  CHECK(crypto::PaddedSize(255) == 256);
  CHECK(crypto::PaddedSize(256) == 512);
  CHECK(crypto::PaddedSize(1000) == 1024);
  test::AccountsFixture f;
  const uint64_t short_nick = f.Register(Reg("p1@example.org", "A"));
  const uint64_t long_nick = f.Register(Reg("p2@example.org", std::string(60, 'n')));
  std::vector<Ledger::Stored> a, b;
  REQUIRE(f.a().ledger().ReadStream(short_nick, 1, 1, &a).ok());
  REQUIRE(f.a().ledger().ReadStream(long_nick, 1, 1, &b).ok());
  events::EventView va, vb;
  REQUIRE(events::EventView::Parse(a[0].envelope, &va).ok());
  REQUIRE(events::EventView::Parse(b[0].envelope, &vb).ok());
  CHECK(va.sealed()->box()->size() == vb.sealed()->box()->size());
  const size_t inner = va.sealed()->box()->size() - crypto::kSealOverheadBytes;
  CHECK(inner >= crypto::kPadBucketMinBytes);
  CHECK((inner & (inner - 1)) == 0);  // a power-of-two bucket

  const crypto::Key32 key = crypto::RandomKey();
  std::string out;
  REQUIRE(crypto::OpenPadded(key, crypto::SealPadded(key, "hello", "ad"), "ad", &out).ok());
  CHECK(out == "hello");
  // A box whose plaintext is not padded (or all zeros) is refused, not truncated.
  CHECK(crypto::OpenPadded(key, crypto::Seal(key, std::string(256, '\0'), "ad"), "ad", &out).code() ==
        Code::kCorruption);
  CHECK(crypto::OpenPadded(key, crypto::Seal(key, "short", "ad"), "ad", &out).code() == Code::kCorruption);
}

TEST_CASE("sealing: nonces come from the per-thread pool, never twice, across refills", "[free-text][crypto]") {
  // Every draw across three refills of the pool is distinct, and so is every
  // nonce of a box sealed in the same thread (the pool serves both).
  std::set<std::string> seen;
  const size_t draws = 3 * crypto::kPublicRandomPoolBytes / crypto::kNonceBytes + 5;
  for (size_t i = 0; i < draws; ++i) {
    uint8_t nonce[crypto::kNonceBytes];
    crypto::PublicRandom(nonce, sizeof nonce);
    CHECK(seen.insert(std::string(reinterpret_cast<char*>(nonce), sizeof nonce)).second);
  }
  const crypto::Key32 key = crypto::RandomKey();
  for (int i = 0; i < 200; ++i) CHECK(seen.insert(crypto::Seal(key, "x", "ad").substr(0, crypto::kNonceBytes)).second);
  // A draw the size of the whole pool, from a pool that is partly used.
  std::vector<uint8_t> whole(crypto::kPublicRandomPoolBytes);
  crypto::PublicRandom(whole.data(), whole.size());
  CHECK(std::count(whole.begin(), whole.end(), uint8_t{0}) < 64);  // ~16 expected of 4096 random bytes
}
