// A ledger for the compliance report's tests (report_test.cc,
// report_browser_test.cc): two years of history with enough accounts that
// most cells pass the "< 5" rule, a few that do not, and a distinctive
// marker in every personal and free-text field, request id, policy text and
// summary, so a byte scan of the report finds any that leaks.
//
//   test::ReportLedger l;                          // builds it (a few seconds)
//   std::string html = l.Html();                   // the report as of l.f.now_ms()
//
// Uses Catch2 (REQUIRE), so only the test binary includes it.
#pragma once

#include <catch2/catch.hpp>

#include <cctype>
#include <string>
#include <vector>

#include "events/vocabulary.h"
#include "projections/report/report_data.h"
#include "projections/report/report_html.h"
#include "tests/accounts_fixture.h"
#include "tests/pii_scan_util.h"

namespace accountable::test {

// kReportMarker is in every value a caller typed; a hit of it (or of its
// lower-case form: e-mails are normalized) in a report is a leak.
inline const std::string kReportMarker = "RpQz7";
// Plaintext on purpose (an organisation, docs/audit.md): the report shows it.
inline const std::string kReportRecipient = "Ctl Report Registry AG";

// What no report may hold: the marker in either case and the personal
// values ReportLedger registers that carry no marker (IP prefixes,
// birthdate, gender).
inline pii::Scanner ReportPiiScanner() {
  pii::Scanner scan;
  std::string lower = kReportMarker;
  for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (const std::string& needle : {kReportMarker, lower, std::string("198.51.100."), std::string("192.0.2."),
                                    std::string("1987-06-05"), std::string("diverse")})
    scan.Add(needle);
  return scan;
}

class ReportLedger {
 public:
  static constexpr int kAccounts = 30;       // registered live, one a week
  static constexpr int kImported = 8;        // imported, last active in 2022: due for retention soon
  static constexpr int kDeletions = 6;       // holder requests, swept after the grace period

  AccountsFixture f{[](AccountsOptions& o) { o.access_log_days = 30; }};
  std::vector<uint64_t> ids;

  ReportLedger() {
    f.SetNow(*events::ParseTime("2024-01-03T10:00:00Z"));
    for (int i = 0; i < kImported; ++i) {
      Registration r = Marked(1000 + i);
      r.actor = fb::Actor::Import;
      r.occurred_at_ms = *events::ParseTime("2022-03-1" + std::to_string(i % 10) + "T08:00:00Z");
      f.Register(r);
    }
    for (int i = 0; i < kAccounts; ++i) {
      ids.push_back(f.Register(Marked(i)));
      f.Advance(7 * kDayMs);
    }
    Act();
  }

  static std::string M(const std::string& field, int i) { return field + "-" + kReportMarker + "-" + std::to_string(i); }

  // Every personal field marked; the password too (it is hashed, then sealed).
  static Registration Marked(int i) {
    Registration r{M("Nick", i), "mail." + kReportMarker + "." + std::to_string(i) + "@example.org",
                   M("password-horse", i), "diverse", "1987-06-05", "198.51.100." + std::to_string(1 + i % 200),
                   M("Agent/5.0", i), M("Company", i), "1.01"};
    r.request_id = M("rid-register", i);
    return r;
  }

  Context Ctx(const std::string& what, int i, fb::Actor actor = fb::Actor::Holder) {
    return Context{actor, 0, M("rid-" + what, i), actor == fb::Actor::Admin ? M("reason", i) : ""};
  }

  // Consents, a new policy and logins after it, profile edits, disclosures,
  // access logs, deletions and a sweep.
  void Act() {
    Receipt r;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i % 3 == 0) REQUIRE(f.a().GiveConsent(ids[i], fb::Purpose::Surveys, Ctx("surveys", int(i)), &r).ok());
      if (i < 12) REQUIRE(f.a().GiveConsent(ids[i], fb::Purpose::ThirdPartyForwarding, Ctx("tpf", int(i)), &r).ok());
      ProfileChange c{.nickname = M("Nick2", int(i)), .company = M("Company2", int(i))};
      REQUIRE(f.a().Update(ids[i], c, Ctx("update", int(i)), &r).ok());
    }
    REQUIRE(f.a().Update(ids[0], {.email = "moved." + kReportMarker + "@example.org"},
                         Ctx("admin-update", 0, fb::Actor::Admin), &r).ok());
    PolicyDraft draft{"1.02", M("policy text", 0), M("summary", 0), 0};
    REQUIRE(f.a().PublishPolicy(draft, Ctx("policy", 0, fb::Actor::Admin), &r).ok());
    f.Advance(kDayMs);
    for (size_t i = 0; i < 20; ++i) REQUIRE(f.Login(ids[i], M("password-horse", int(i))).ok());
    for (size_t i = 0; i < 6; ++i)
      REQUIRE(f.a().WithdrawConsent(ids[i * 3], fb::Purpose::Surveys, Ctx("withdraw", int(i)), &r).ok());
    REQUIRE(f.a().RegisterRecipient(kReportRecipient, "CH", Ctx("recipient", 0, fb::Actor::Admin), &r).ok());
    for (size_t i = 0; i < 12; ++i) {
      Disclosure d{kReportRecipient, "", M("purpose", int(i)), i < 9 ? "consent" : "legal_obligation",
                   i < 9 ? "adequacy_decision" : "legal_obligation", i < 9 ? "" : M("reference", int(i))};
      REQUIRE(f.a().Disclose(ids[i], d, Ctx("disclose", int(i), fb::Actor::Admin), &r).ok());
    }
    for (int day = 0; day < 40; ++day) {
      AccessLog log{"192.0.2." + std::to_string(day + 1), M("browser", day), M("isp", day), M("referrer", day),
                    M("os", day), std::string("/").append(M("path", day))};
      REQUIRE(f.a().RecordAccess(log, Ctx("access", day, fb::Actor::System), &r).ok());
      f.Advance(kDayMs);
    }
    for (int i = 0; i < kDeletions; ++i)
      REQUIRE(f.a().RequestDeletion(ids[size_t(20 + i)], Ctx("delete", i), &r).ok());
    f.Advance(3 * kDayMs + 20 * 60'000);
    SweepReport sweep;
    REQUIRE(f.a().Sweep({}, &sweep).ok());
    bool signed_now = false;
    REQUIRE(f.a().SignTreeHeadIfBehind(&signed_now).ok());
  }

  audit::ReportData Data(int64_t as_of_ms = 0) {
    audit::ReportData d;
    audit::ReportOptions o{.as_of_ms = as_of_ms ? as_of_ms : f.now_ms(), .now_ms = f.now_ms(),
                    .public_key = f.a().public_key(), .access_log_days = 30};
    Status s = audit::BuildReportData(f.a().ledger(), o, &d);
    INFO(s.ToString());
    REQUIRE(s.ok());
    return d;
  }
  std::string Html() { return audit::RenderReportHtml(Data()); }
};

}  // namespace accountable::test
