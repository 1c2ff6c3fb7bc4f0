// Issue 15: the compliance report (projections/report/report_data.h, report_html.h,
// `accountable-audit report`). Its numbers come from the log, cells about
// fewer than 5 accounts read "< 5", no personal value or free text reaches
// it, and the page is self-contained (inline scripts allowed by hash only).
#include <catch2/catch.hpp>

#include <sodium.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/pii_scan_util.h"
#include "tests/report_ledger.h"

namespace {

using namespace accountable;

const audit::Table& FindTable(const audit::ReportData& d, const std::string& id) {
  for (auto& s : d.sections)
    for (auto& t : s.tables)
      if (t.id == id) return t;
  FAIL("no table " << id);
  throw 0;
}

audit::Cell At(const audit::Table& t, size_t series, const std::string& column) {
  for (size_t i = 0; i < t.columns.size(); ++i)
    if (t.columns[i] == column) return t.series.at(series).cells.at(i);
  FAIL("table " << t.id << " has no column " << column);
  throw 0;
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("report: no personal value or free text reaches the report", "[report][pii]") {
  test::ReportLedger l;
  const std::string html = l.Html();
  test::pii::Scanner scan = test::ReportPiiScanner();
  std::set<size_t> found;
  scan.Scan(html, &found);
  for (size_t n : found) FAIL_CHECK("the report holds " << scan.needle(n));
  CHECK(found.empty());
  // Controls: the same scan finds what the report shows on purpose.
  test::pii::Scanner controls;
  controls.Add(test::kReportRecipient);
  controls.Add("1.02");
  std::set<size_t> seen;
  controls.Scan(html, &seen);
  CHECK(seen.size() == 2);
}

TEST_CASE("report: the numbers come from the log; cells of 1..4 accounts read < 5", "[report]") {
  test::ReportLedger l;
  const audit::ReportData d = l.Data();
  const auto& in = d.integrity;
  CHECK(in.verified);
  CHECK(in.head_checked);
  CHECK(in.head_ok);
  CHECK(in.as_of_seq == in.tree_size);
  CHECK(in.root_b64 == in.as_of_root_b64);
  const int kTotal = test::ReportLedger::kAccounts + test::ReportLedger::kImported;

  const auto& status = FindTable(d, "accounts-status");
  const std::string last = status.columns.back();
  CHECK(At(status, 0, last).n == uint64_t(kTotal - test::ReportLedger::kDeletions));
  CHECK(At(status, 2, last).n == uint64_t(test::ReportLedger::kDeletions));
  const auto& regs = FindTable(d, "accounts-registered");
  uint64_t registered = 0;
  for (auto& c : regs.series[0].cells) registered += c.n;
  CHECK(registered == uint64_t(kTotal));
  CHECK(At(regs, 0, "2022-03").n == uint64_t(test::ReportLedger::kImported));

  // Imported accounts last active in March 2022 fall due 36 months later.
  CHECK(At(FindTable(d, "retention-due"), 0, "2025-03").n == uint64_t(test::ReportLedger::kImported));
  const auto& delay = FindTable(d, "erasures-delay");
  CHECK(At(delay, 0, "3 d to 3 d 1 h").n == uint64_t(test::ReportLedger::kDeletions));
  CHECK(At(delay, 0, "not verified").n == 0);
  const auto& acceptance = FindTable(d, "policy-acceptance");
  CHECK(At(acceptance, 1, "1.02").n == 20);                      // implicit, by the logins
  CHECK(At(acceptance, 0, "1.01").n == uint64_t(kTotal));        // explicit, at registration
  const auto& basis = FindTable(d, "disclosures-basis");
  CHECK(At(basis, 0, "consent").n == 9);
  CHECK_FALSE(At(basis, 0, "consent").Suppressed());
  CHECK(At(basis, 0, "legal_obligation").Suppressed());          // 3 accounts
  const std::string html = audit::RenderReportHtml(d);
  CHECK(html.find("<th scope=\"row\">legal_obligation</th><td>&lt; 5</td>") != std::string::npos);
  CHECK(html.find("<th scope=\"row\">consent</th><td>9</td>") != std::string::npos);
  // Never the number of a suppressed cell, in the table or the chart data.
  CHECK(html.find("<th scope=\"row\">legal_obligation</th><td>3</td>") == std::string::npos);
  CHECK(html.find("\"data\":[9,null]") != std::string::npos);
  const auto& days = FindTable(d, "access-days");
  uint64_t alive = 0, past = 0;
  for (size_t i = 0; i < days.columns.size(); ++i) {
    alive += days.series[0].cells[i].n;
    past += days.series[1].cells[i].n;
  }
  CHECK(alive + past == 40);
  // 40 days logged, then 3 days and 20 minutes to the report's time: the
  // window (30 days back from it) keeps the last 27.
  CHECK(alive == 27);

  // As of an earlier time: only what the log held then.
  const audit::ReportData early = l.Data(*events::ParseTime("2024-02-01"));
  CHECK(early.integrity.as_of_seq < early.integrity.tree_size);
  uint64_t early_regs = 0;
  for (auto& c : FindTable(early, "accounts-registered").series[0].cells) early_regs += c.n;
  CHECK(early_regs == uint64_t(test::ReportLedger::kImported + 5));
}

TEST_CASE("report: the page loads nothing; its scripts run only by their hash", "[report]") {
  test::ReportLedger l;
  const std::string html = l.Html();
  std::smatch m;
  REQUIRE(std::regex_search(html, m, std::regex("http-equiv=\"Content-Security-Policy\" content=\"([^\"]*)\"")));
  const std::string csp = m[1];
  CHECK(csp.find("default-src 'none'") != std::string::npos);
  CHECK(csp.find("img-src data:") != std::string::npos);
  size_t scripts = 0;
  for (size_t at = html.find("<script>"); at != std::string::npos; at = html.find("<script>", at + 1)) {
    const size_t begin = at + 8, end = html.find("</script>", begin);
    REQUIRE(end != std::string::npos);
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(html.data() + begin), end - begin);
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, h, sizeof h, sodium_base64_VARIANT_ORIGINAL);
    CHECK(csp.find("'sha256-" + std::string(b64) + "'") != std::string::npos);
    ++scripts;
  }
  CHECK(scripts == 2);  // Chart.js and the report's own
  for (const char* remote : {"<script src", "<link", "<img", "<iframe", "@import"})
    CHECK(html.find(remote) == std::string::npos);
  CHECK(html.find("@media print") != std::string::npos);
}

TEST_CASE("accountable-audit report: writes the page; bad input gets a clear error and no file", "[report][cli]") {
  test::ReportLedger l;
  const std::string data = l.f.DataDir();
  l.f.Close();
  test::TempDir scratch("acc-report-cli");
  const std::string out = scratch.Sub("report.html");
  auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {ACCOUNTABLE_AUDIT, "--data", data, "--json", "report"};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::Exec(argv, "", scratch.path().string());
  };
  test::ExecResult r = run({"--out", out});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("\"verified\":true") != std::string::npos);
  CHECK(ReadAll(out).find("Compliance report") != std::string::npos);

  std::filesystem::remove(out);
  r = run({"--out", out, "--as-of", "last tuesday"});
  CHECK(r.code == 6);
  CHECK(r.out.find("--as-of takes a time") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(out));
  r = run({"--out", out, "--access-log-days", "0"});
  CHECK(r.code == 2);
  CHECK_FALSE(std::filesystem::exists(out));
  r = run({"--out", scratch.Sub("missing/dir/report.html")});
  CHECK(r.code == 6);
  CHECK(r.out.find("cannot write") != std::string::npos);
  r = run({"--out", out, "--pubkey", scratch.Sub("no-such.pub")});
  CHECK(r.code == 6);
  CHECK(r.out.find("cannot read a public key") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(out));
}
