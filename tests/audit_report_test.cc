// The auditor's reports and erasure certificates (replay/reports.h,
// replay/certificate.h, accountable-audit): state as of a seq or a time,
// read-only DSAR export and disclosures, and certificates that verify offline
// with only the public key, and fail on any altered byte.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "events/vocabulary.h"
#include "projections/service/accounts.h"
#include "projections/fold/activity.h"
#include "projections/service/describe.h"
#include "projections/service/history.h"
#include "replay/certificate.h"
#include "projections/service/log_checks.h"
#include "replay/reports.h"
#include "tests/test_util.h"

namespace {

using namespace accountable;
using Code = Status::Code;
using Json = nlohmann::ordered_json;

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

// A data directory with two accounts, one of them erased after its grace
// period, a nickname change and a disclosure; the clock is the test's.
class History {
 public:
  History() : now_(std::make_shared<std::atomic<int64_t>>(test::kTestTimeMs)) {
    AccountsOptions o;
    o.data_dir = data();
    o.password_cost = {1, 8u << 20};
    o.clock_ms = [n = now_] { return n->load(); };
    REQUIRE(Accounts::Open(o, &a_).ok());
    kept = Register("kept@example.org", "KeptNick");
    gone = Register("gone@example.org", "GoneNick");
    before_update = a_->ledger().LastSeq();
    time_before_update = now_->load();
    now_->fetch_add(60'000);
    Receipt r;
    REQUIRE(a_->Update(kept, {.nickname = "RenamedNick"}, {}, &r).ok());
    REQUIRE(a_->GiveConsent(kept, fb::Purpose::ThirdPartyForwarding, {}, &r).ok());
    REQUIRE(a_->RegisterRecipient("Acme Analytics Inc", "US", {fb::Actor::Admin}, &r).ok());
    Disclosure d{"Acme Analytics Inc", "US", "newsletter analytics", "consent", "standard_contractual_clauses", ""};
    REQUIRE(a_->Disclose(kept, d, {fb::Actor::Admin}, &r).ok());
    REQUIRE(a_->RequestDeletion(gone, {}, &r).ok());
    before_erasure = a_->ledger().LastSeq();
    now_->fetch_add(4 * kDayMs);
    SweepReport rep;
    REQUIRE(a_->Sweep({}, &rep).ok());
    REQUIRE(rep.erased.size() == 1);
    public_key = a_->public_key();
    REQUIRE(a_->Close().ok());
    a_.reset();
  }
  std::string data() const { return dir_.Sub("data"); }
  std::string path(const char* name) const { return dir_.Sub(name); }

  std::unique_ptr<Ledger> OpenLedger() const {
    LedgerOptions o;
    o.dir = data() + "/events";
    o.read_only = true;
    o.activity_merge = MergeActivity;
    std::unique_ptr<Ledger> l;
    REQUIRE(Ledger::Open(o, &l).ok());
    return l;
  }
  std::unique_ptr<Vault> OpenVault() const {
    std::unique_ptr<Vault> v;
    Status s = Vault::Open({.dir = data() + "/vault", .kek_path = data() + "/keys/kek", .read_only = true}, &v);
    INFO(s.ToString());
    REQUIRE(s.ok());
    return v;
  }

  uint64_t kept = 0, gone = 0, before_update = 0, before_erasure = 0;
  int64_t time_before_update = 0;
  std::string public_key;

 private:
  uint64_t Register(const std::string& email, const std::string& nick) {
    Registration r{nick, email, "correct horse battery", "female", "1990-04-01", "192.0.2.10", "ua", "", "1.01"};
    RegisterResult out;
    REQUIRE(a_->Register(r, &out).ok());
    return out.account_id;
  }
  test::TempDir dir_{"acc-report"};
  std::shared_ptr<std::atomic<int64_t>> now_;
  std::unique_ptr<Accounts> a_;
};

nlohmann::json Certificate(const History& h, Ledger& l, uint64_t account) {
  auto vault = h.OpenVault();
  SigningKey key;
  REQUIRE(LoadOrCreateSigningKey(h.data() + "/keys/signing", &key).ok());
  nlohmann::json cert;
  Status s = audit::ProveErasure(l, *vault, key, account, test::kTestTimeMs, &cert);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return cert;
}

}  // namespace

TEST_CASE("audit reports: an account as of a seq, a time, and now", "[audit][replay]") {
  History h;
  auto l = h.OpenLedger();
  auto vault = h.OpenVault();
  Json then, now;
  REQUIRE(audit::AccountAsOf(*l, vault.get(), h.kept, h.before_update, &then).ok());
  CHECK(then["pii"]["nickname"] == "KeptNick");
  CHECK(then["status"] == "active");
  REQUIRE(audit::AccountAsOf(*l, vault.get(), h.kept, l->LastSeq(), &now).ok());
  CHECK(now["pii"]["nickname"] == "RenamedNick");
  CHECK(now["consents"].contains("third_party_forwarding"));
  CHECK_FALSE(then["consents"].contains("third_party_forwarding"));

  uint64_t seq = 0;
  REQUIRE(audit::SeqAtTime(*l, h.time_before_update, &seq).ok());
  CHECK(seq == h.before_update);
  REQUIRE(audit::SeqAtTime(*l, 0, &seq).ok());
  CHECK(seq == 0);

  Json none;
  CHECK(audit::AccountAsOf(*l, vault.get(), h.kept, 1, &none).code() == Code::kNotFound);  // seq 1: the policy

  SECTION("an erased account: state as it was, its PII marked erased") {
    Json was, is;
    REQUIRE(audit::AccountAsOf(*l, vault.get(), h.gone, h.before_erasure, &was).ok());
    CHECK(was["status"] == "pending_deletion");
    CHECK(was["pii"].get<std::string>().find("erased") != std::string::npos);
    CHECK(was["display_name"] == "Anonymous");
    REQUIRE(audit::AccountAsOf(*l, vault.get(), h.gone, l->LastSeq(), &is).ok());
    CHECK(is["status"] == "erased");
    CHECK(is["erasure_verified"] == true);
  }
  SECTION("without a vault nothing is decrypted") {
    Json sealed;
    REQUIRE(audit::AccountAsOf(*l, nullptr, h.kept, l->LastSeq(), &sealed).ok());
    CHECK(sealed["pii"].get<std::string>().find("sealed") != std::string::npos);
  }
  SECTION("every account at once, counted by status") {
    std::vector<Json> lines;
    Json summary;
    REQUIRE(audit::AllAccountsAsOf(*l, nullptr, l->LastSeq(), [&](const Json& j) { lines.push_back(j); }, &summary)
                .ok());
    CHECK(lines.size() == 2);
    CHECK(summary["accounts"]["active"] == 1);
    CHECK(summary["accounts"]["erased"] == 1);
    REQUIRE(audit::AllAccountsAsOf(*l, nullptr, 2, [&](const Json&) {}, &summary).ok());
    CHECK(summary["accounts"]["active"] == 1);  // only the first registration had happened
  }
}

TEST_CASE("audit reports: disclosures and a read-only export", "[audit][replay]") {
  History h;
  auto l = h.OpenLedger();
  std::vector<Json> found;
  Json summary;
  REQUIRE(audit::Disclosures(*l, nullptr, 0, [&](const Json& j) { found.push_back(j); }, &summary).ok());
  REQUIRE(found.size() == 1);
  CHECK(found[0]["recipient"] == "Acme Analytics Inc");
  CHECK(found[0]["safeguard"] == "standard_contractual_clauses");
  CHECK(found[0]["purpose"] == "sealed");  // no vault: the free text stays sealed
  CHECK(found[0]["account_id"] == h.kept);
  REQUIRE(audit::Disclosures(*l, nullptr, h.gone, [&](const Json& j) { found.push_back(j); }, &summary).ok());
  CHECK(summary["disclosures"] == 0);

  const uint64_t last = l->LastSeq();
  auto vault = h.OpenVault();
  found.clear();
  REQUIRE(audit::Disclosures(*l, vault.get(), h.kept, [&](const Json& j) { found.push_back(j); }, &summary).ok());
  REQUIRE(found.size() == 1);
  CHECK(found[0]["purpose"] == "newsletter analytics");  // opened with the vault
  Json doc;
  REQUIRE(ExportDocument(*l, vault.get(), h.kept, test::kTestTimeMs, &doc).ok());
  CHECK(doc["account"]["pii"]["email"] == "kept@example.org");
  CHECK(doc["disclosures"].size() == 1);
  CHECK(l->LastSeq() == last);  // an auditor's export appends nothing
  REQUIRE(ExportDocument(*l, nullptr, h.kept, test::kTestTimeMs, &doc).ok());
  CHECK(doc.dump().find("kept@example.org") == std::string::npos);
  CHECK(ExportDocument(*l, nullptr, 999, test::kTestTimeMs, &doc).code() == Code::kNotFound);
}

TEST_CASE("audit: an erasure certificate verifies offline with only the public key", "[audit][certificate]") {
  History h;
  auto l = h.OpenLedger();
  nlohmann::json cert = Certificate(h, *l, h.gone);
  Json summary;
  Status s = audit::VerifyCertificate(cert, h.public_key, &summary);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(summary["account_id"] == h.gone);
  CHECK(summary["erasure_reason"] == "user_request");
  CHECK(summary["sealed_payloads_shredded"] == 1);  // the registration's PII
  CHECK(cert["certificate"]["erasure_verified"]["seq"].get<uint64_t>() == l->LastSeq());

  SECTION("the wrong public key fails") {
    std::string other(32, '\x07');
    CHECK(audit::VerifyCertificate(cert, other, &summary).code() == Code::kCorruption);
  }
  SECTION("a live account, or one never erased, gets no certificate") {
    auto vault = h.OpenVault();
    SigningKey key;
    REQUIRE(LoadOrCreateSigningKey(h.data() + "/keys/signing", &key).ok());
    nlohmann::json none;
    CHECK(audit::ProveErasure(*l, *vault, key, h.kept, 0, &none).code() == Code::kRefused);
    CHECK(audit::ProveErasure(*l, *vault, key, 999, 0, &none).code() == Code::kRefused);
  }
  SECTION("signed as docs/audit.md says; even validly signed, a body missing a part fails") {
    SigningKey key;
    REQUIRE(LoadOrCreateSigningKey(h.data() + "/keys/signing", &key).ok());
    auto resign = [&](const nlohmann::json& body) {
      const std::string msg = "accountable-erasure-certificate-v1" + std::string(1, '\0') + body.dump();
      return nlohmann::json{{"certificate", body}, {"signature", audit::B64(SignDetached(key, msg))}};
    };
    CHECK(audit::VerifyCertificate(resign(cert["certificate"]), h.public_key, &summary).ok());
    // What tools sign with (the fuzz harness re-signs through it) is the documented form.
    CHECK(audit::CertificateSignedBytes(cert["certificate"]) ==
          "accountable-erasure-certificate-v1" + std::string(1, '\0') + cert["certificate"].dump());
    for (auto it = cert["certificate"].begin(); it != cert["certificate"].end(); ++it) {
      if (it.key() == "sealed_payloads") continue;  // an empty list is a valid (vacuous) claim; absent is checked below
      nlohmann::json cut = cert["certificate"];
      cut.erase(it.key());
      INFO("without " << it.key());
      CHECK_FALSE(audit::VerifyCertificate(resign(cut), h.public_key, &summary).ok());
    }
    nlohmann::json opened = cert["certificate"];
    opened["sealed_payloads"][0]["result"] = "opened";
    CHECK(audit::VerifyCertificate(resign(opened), h.public_key, &summary).code() == Code::kCorruption);
    nlohmann::json other = cert["certificate"];
    other["account_id"] = h.kept;  // the events are account 2's
    CHECK(audit::VerifyCertificate(resign(other), h.public_key, &summary).code() == Code::kCorruption);
  }
  SECTION("not a certificate at all") {
    CHECK(audit::VerifyCertificate(nlohmann::json{{"a", 1}}, h.public_key, &summary).code() ==
          Code::kInvalidArgument);
  }
}

TEST_CASE("audit: every single altered byte of a certificate fails verification", "[audit][certificate][tamper]") {
  History h;
  auto l = h.OpenLedger();
  const std::string text = Certificate(h, *l, h.gone).dump();
  size_t rejected = 0, unparsable = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    std::string t = text;
    t[i] = static_cast<char>(t[i] ^ 0x01);
    nlohmann::json j = nlohmann::json::parse(t, nullptr, false);
    Json summary;
    if (j.is_discarded()) ++unparsable;
    else if (!audit::VerifyCertificate(j, h.public_key, &summary).ok()) ++rejected;
    else FAIL("byte " << i << " ('" << text[i] << "') altered, yet the certificate verified");
  }
  CHECK(rejected + unparsable == text.size());
  CHECK(rejected > text.size() / 2);  // most alterations parse and are caught by a check, not by the parser
}

TEST_CASE("accountable-audit: prove-erasure, verify-certificate, replay and disclosures", "[audit][cli]") {
  History h;
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {ACCOUNTABLE_AUDIT, "--data", h.data()});
    return test::Exec(args, "", h.path(""));
  };
  test::ExecResult cert = run({"prove-erasure", std::to_string(h.gone)});
  INFO(cert.err);
  REQUIRE(cert.code == 0);
  std::ofstream(h.path("cert.json")) << cert.out;
  const std::string pub = h.data() + "/keys/signing.pub";
  CHECK(run({"verify-certificate", h.path("cert.json"), "--pubkey", pub}).code == 0);
  std::string bad = cert.out;
  bad[bad.find("\"account_id\":") + 13] ^= 0x01;  // another account
  std::ofstream(h.path("bad.json")) << bad;
  test::ExecResult refused = run({"verify-certificate", h.path("bad.json"), "--pubkey", pub});
  CHECK(refused.code == 6);
  CHECK(refused.err.find("certificate") != std::string::npos);
  CHECK(run({"prove-erasure", std::to_string(h.kept)}).code == 6);
  std::ofstream(h.path("truncated.json")) << cert.out.substr(0, cert.out.size() / 2);
  test::ExecResult truncated = run({"verify-certificate", h.path("truncated.json"), "--pubkey", pub});
  CHECK(truncated.code == 6);
  CHECK(truncated.err.find("cannot read JSON") != std::string::npos);
  std::ofstream(h.path("huge.json")) << std::string(17 << 20, ' ');
  test::ExecResult huge = run({"verify-certificate", h.path("huge.json"), "--pubkey", pub});
  CHECK(huge.code == 6);
  CHECK(huge.err.find("larger than") != std::string::npos);
  CHECK(run({"verify-certificate", h.path("cert.json"), "--pubkey", h.path("cert.json")}).code == 6);  // not a key

  test::ExecResult replay = run({"replay", "--until", std::to_string(h.before_update), "--account",
                                 std::to_string(h.kept)});
  REQUIRE(replay.code == 0);
  CHECK(replay.out.find("KeptNick") != std::string::npos);
  CHECK(run({"replay", "--until", "0"}).code == 6);
  CHECK(run({"replay", "--until", "yesterday"}).code == 6);
  test::ExecResult all = run({"replay", "--until", events::FormatTime(h.time_before_update)});
  CHECK(all.code == 0);
  CHECK(all.out.find("KeptNick") != std::string::npos);
  test::ExecResult disclosures = run({"disclosures"});
  CHECK(disclosures.code == 0);
  CHECK(disclosures.out.find("Acme Analytics Inc") != std::string::npos);
}

TEST_CASE("audit walkthrough: docs/audit.md runs as written", "[audit][cli][docs]") {
  History h;
  std::ifstream doc(std::string(ACCOUNTABLE_SOURCE_DIR) + "/docs/audit.md");
  REQUIRE(doc);
  std::vector<std::string> blocks;
  bool in_sh = false;
  for (std::string line; std::getline(doc, line);) {
    if (!in_sh && line == "```sh") {
      in_sh = true;
      blocks.emplace_back();
    } else if (in_sh && line == "```") {
      in_sh = false;
    } else if (in_sh) {
      blocks.back() += line + "\n";
    }
  }
  REQUIRE(blocks.size() >= 6);
  const std::string bin = std::filesystem::path(ACCOUNTABLE_AUDIT).parent_path().string();
  test::TempDir scratch("acc-walk");
  for (const std::string& block : blocks) {
    const std::string script = "cd '" + h.path("") + "' && export PATH='" + bin + "':\"$PATH\"\n" + block;
    test::ExecResult r = test::Exec({"/bin/bash", "-euo", "pipefail", "-c", script}, "", scratch.path().string());
    INFO(block << "stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.code == 0);
  }
  std::ifstream cert(h.path("cert.json"));
  nlohmann::json j = nlohmann::json::parse(cert, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  CHECK(j["certificate"]["account_id"] == h.gone);
}
