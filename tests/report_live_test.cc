// Issue 15 item 4: the compliance report served live by accountabled on
// GET /report of the metrics listener (server/daemon/report_page.h,
// projections/report/report_live.h, core Ledger::Snapshot). The served page
// is the file's page for the same snapshot, also after new events (the
// incremental path); only auditor and admin tokens in a header get it; a
// token in the URL is refused and never logged; a reload revokes; one
// computation at a time.
#include <catch2/catch.hpp>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <sstream>
#include <thread>

#include "projections/report/report_live.h"
#include "server/daemon/metrics.h"
#include "server/daemon/report_page.h"
#include "tests/pii_scan_util.h"
#include "tests/report_ledger.h"
#include "tests/http_test_util.h"
#include "tests/server_test_util.h"

namespace accountable {
namespace {

using test::Http;
using test::HttpReply;

HttpReply GetReport(uint16_t port, const std::string& auth, const std::string& target = "/report") {
  return Http(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + (auth.empty() ? "" : "Authorization: " + auth + "\r\n") +
                        "Connection: close\r\n\r\n");
}

std::map<std::string, wire::Role> AllTokens() {
  return {{TokenDigest(test::kWriterToken), wire::Role::Writer},
          {TokenDigest(test::kAuditorToken), wire::Role::Auditor},
          {TokenDigest(test::kAdminToken), wire::Role::Admin}};
}

// A new registration after the ledger's policy 1.02 took effect.
Registration Later(int i) {
  Registration r = test::ReportLedger::Marked(i);
  r.accept_policy = "1.02";
  return r;
}

// A server, a ReportPage and the metrics listener over a ReportLedger's
// Accounts (its clock is fixed, so the page's times are known).
struct LiveFixture {
  explicit LiveFixture(ReportPage::Options po = {}) {
    ServerOptions so;
    so.port = 0;
    so.sweep_interval_ms = 0;
    so.token_digests = AllTokens();
    Status s = Server::Start(so, &l.f.a(), &server);
    INFO(s.ToString());
    REQUIRE(s.ok());
    page = std::make_unique<ReportPage>(po, &l.f.a());
    MetricsOptions mo;
    mo.port = 0;
    MetricsSources src{&l.f.a(), server.get(), nullptr, nullptr, page.get()};
    s = MetricsServer::Start(mo, src, &metrics);
    INFO(s.ToString());
    REQUIRE(s.ok());
  }
  ~LiveFixture() {
    metrics.reset();
    page.reset();
    server->Stop();
  }
  uint16_t port() const { return metrics->port(); }

  test::ReportLedger l;
  std::unique_ptr<Server> server;
  std::unique_ptr<ReportPage> page;
  std::unique_ptr<MetricsServer> metrics;
};

}  // namespace

TEST_CASE("ledger snapshot: reads stay at the seq it was taken at; writes are refused", "[report][snapshot]") {
  test::ReportLedger l;
  Ledger& ledger = l.f.a().ledger();
  const uint64_t before = ledger.LastSeq();
  std::unique_ptr<Ledger> snap;
  REQUIRE(ledger.Snapshot(&snap).ok());
  l.f.Register(Later(500));
  REQUIRE(ledger.LastSeq() > before);
  CHECK(snap->LastSeq() == before);
  std::vector<Ledger::Stored> page;
  REQUIRE(snap->ReadRange(before, 10, &page).ok());
  REQUIRE(page.size() == 1);  // the new events are not in it
  CHECK(page[0].seq == before);
  uint64_t seen = 0;
  REQUIRE(snap->ScanEvents(1, [&](uint64_t, std::string_view) { return ++seen > 0; }).ok());
  CHECK(seen == before);
  std::vector<Ledger::Appended> out;
  CHECK(snap->Append({}, &out).Is(Status::Code::kRefused));
  CHECK(snap->PutMeta("x", "y").Is(Status::Code::kRefused));
  CHECK_FALSE(snap->Writable());
}

TEST_CASE("report live: the served page is the file's page for the same snapshot, also after new events",
          "[report]") {
  LiveFixture fx({.min_interval_ms = 0, .wait_ms = 60'000, .waiters_max = 1});
  HttpReply r = GetReport(fx.port(), "Bearer " + test::kAuditorToken);
  REQUIRE(r.status == 200);
  CHECK(r.HasHeader("Cache-Control: no-store"));
  CHECK(r.HasHeader("Content-Security-Policy: " + audit::ReportCsp()));
  CHECK(r.HasHeader("X-Report-Seq: " + std::to_string(fx.l.f.LastSeq())));
  CHECK(r.body == fx.l.Html());  // same numbers, same structure, byte for byte

  // New events and a later time: the live tallies take only the new ones,
  // and the page is still the one computed from scratch.
  fx.l.f.Advance(40 * test::kDayMs);
  for (int i = 0; i < 7; ++i) fx.l.f.Register(Later(600 + i));
  Receipt rc;
  REQUIRE(fx.l.f.a().RequestDeletion(fx.l.ids[3], fx.l.Ctx("delete-late", 3), &rc).ok());
  HttpReply again = GetReport(fx.port(), "Bearer " + test::kAdminToken);
  REQUIRE(again.status == 200);
  CHECK(again.body == fx.l.Html());
  CHECK(again.body != r.body);
  CHECK(fx.page->computations() == 2);

  // No new event: the page is served again without a computation.
  HttpReply cached = GetReport(fx.port(), "Bearer " + test::kAdminToken);
  REQUIRE(cached.status == 200);
  CHECK(cached.body == again.body);
  CHECK(fx.page->computations() == 2);

  // The byte scan of the served page: none of the planted markers.
  test::pii::Scanner scan = test::ReportPiiScanner();
  std::set<size_t> found;
  scan.Scan(again.body, &found);
  for (size_t n : found) FAIL_CHECK("the served report holds " << scan.needle(n));
  CHECK(found.empty());
  test::pii::Scanner control;  // the scan sees what the page shows on purpose
  control.Add(test::kReportRecipient);
  std::set<size_t> seen;
  control.Scan(again.body, &seen);
  CHECK(seen.size() == 1);
}

TEST_CASE("report live: auditor and admin tokens only, in a header only; a reload revokes", "[report]") {
  LiveFixture fx;
  std::ostringstream logged;
  auto logger = std::make_shared<spdlog::logger>("report-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(logged));
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  CHECK(GetReport(fx.port(), "").status == 401);
  HttpReply unknown = GetReport(fx.port(), "Bearer not-a-token-at-all-0123");
  CHECK(unknown.status == 401);
  CHECK(unknown.HasHeader("WWW-Authenticate: Bearer realm=\"accountable\""));
  CHECK(GetReport(fx.port(), "Basic " + test::kAuditorToken).status == 401);
  CHECK(GetReport(fx.port(), "Bearer " + test::kWriterToken).status == 403);
  // A token in the URL, as a query or a path: 400 whatever the token, and
  // not computed.
  for (const std::string& target : {"/report?token=" + test::kAuditorToken, "/report/" + test::kAuditorToken,
                                    "/report?" + test::kAuditorToken})
    CHECK(GetReport(fx.port(), "Bearer " + test::kAuditorToken, target).status == 400);
  CHECK(fx.page->computations() == 0);
  CHECK(GetReport(fx.port(), "Bearer " + test::kAuditorToken).status == 200);
  CHECK(GetReport(fx.port(), "bearer  " + test::kAdminToken + " ").status == 200);

  // What SIGHUP does (daemon_tokens.cc): a new set without the auditor.
  auto without = AllTokens();
  without.erase(TokenDigest(test::kAuditorToken));
  CHECK(fx.server->ReplaceTokens(without) == 1);
  CHECK(GetReport(fx.port(), "Bearer " + test::kAuditorToken).status == 401);
  CHECK(GetReport(fx.port(), "Bearer " + test::kAdminToken).status == 200);
  spdlog::set_default_logger(previous);
  for (const std::string& t : {test::kAuditorToken, test::kAdminToken, test::kWriterToken})
    CHECK(logged.str().find(t) == std::string::npos);
}

TEST_CASE("report live: one computation at a time; requests past the waiters get 503 with Retry-After",
          "[report]") {
  test::ReportLedger l;
  SECTION("concurrent requests share one computation") {
    ReportPage page({.min_interval_ms = 0, .wait_ms = 60'000, .waiters_max = 2}, &l.f.a());
    constexpr int kRequests = 8;
    std::atomic<int> ok{0}, busy{0}, other{0}, bad_retry{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kRequests; ++i)
      threads.emplace_back([&] {  // no CHECK here: Catch2 asserts from one thread only
        ReportPage::Reply r = page.Get();
        (r.status == 200 ? ok : r.status == 503 ? busy : other).fetch_add(1);
        if (r.status == 503 && r.retry_after_s < 1) bad_retry.fetch_add(1);
      });
    for (auto& t : threads) t.join();
    CHECK(ok + busy == kRequests);
    CHECK(other == 0);
    CHECK(bad_retry == 0);
    CHECK(ok >= 1);
    CHECK(page.computations() == 1);  // nothing was appended: one page for all
  }
  SECTION("no waiters: 503 at once, and the page computed meanwhile serves the retry") {
    ReportPage page({.min_interval_ms = 0, .wait_ms = 60'000, .waiters_max = 0}, &l.f.a());
    ReportPage::Reply first = page.Get();
    CHECK(first.status == 503);
    CHECK(first.retry_after_s >= 1);
    for (int i = 0; i < 600 && page.computations() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    REQUIRE(page.computations() == 1);
    ReportPage::Reply retry = page.Get();
    REQUIRE(retry.status == 200);
    CHECK(*retry.html == l.Html());
  }
  SECTION("a page younger than the minimum interval is reused even after appends") {
    ReportPage page({.min_interval_ms = 3'600'000, .wait_ms = 60'000, .waiters_max = 1}, &l.f.a());
    ReportPage::Reply a = page.Get();
    REQUIRE(a.status == 200);
    l.f.Register(Later(700));
    ReportPage::Reply b = page.Get();
    REQUIRE(b.status == 200);
    CHECK(b.seq == a.seq);
    CHECK(page.computations() == 1);
  }
  SECTION("bad limits are refused clearly") {
    CHECK(ReportPage::CheckOptions({.min_interval_ms = -1}).Is(Status::Code::kInvalidArgument));
    CHECK(ReportPage::CheckOptions({.wait_ms = 600'001}).Is(Status::Code::kInvalidArgument));
    Status s = ReportPage::CheckOptions({.waiters_max = 65});
    CHECK(s.Is(Status::Code::kInvalidArgument));
    CHECK(s.message().find("--report-waiters-max") != std::string::npos);
  }
}

TEST_CASE("report live: LiveReport on successive snapshots equals a report from scratch", "[report]") {
  test::ReportLedger l;
  audit::LiveReport live;
  for (int round = 0; round < 3; ++round) {
    std::unique_ptr<Ledger> snap;
    REQUIRE(l.f.a().ledger().Snapshot(&snap).ok());
    audit::ReportOptions o{.as_of_ms = l.f.now_ms(), .now_ms = l.f.now_ms(), .public_key = l.f.a().public_key(),
                           .access_log_days = 30};
    std::string html;
    REQUIRE(live.Render(*snap, o, &html).ok());
    snap.reset();
    CHECK(html == l.Html());
    CHECK(live.tallied_seq() == l.f.LastSeq());
    l.f.Advance(20 * test::kDayMs);
    l.f.Register(Later(800 + round));
  }
}

}  // namespace accountable
