// Issue 15: the compliance report as a person sees it, in headless Chromium
// (Debian `chromium`). The page must render without errors, draw every
// chart, and make no network request; a screenshot is saved as
// <build dir>/report.png.
//
// How each is seen: the page's own script (projections/report/report.js) marks <html>
// with data-charts / data-charts-drawn (canvases that hold pixels),
// data-errors (uncaught errors, rejections, console.error) and
// data-csp-violations (blocked loads), read with --dump-dom; requests come
// from Chromium's net log (--log-net-log), keeping those made for the page
// (site file://) apart from Chromium's own background traffic. DNS is mapped
// to nothing, so no request leaves the machine either way.
//
// Controls prove each check can fail: a report whose script throws, one
// with a remote <script src> (the CSP blocks it), and one without its CSP
// that loads a remote image.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/report_ledger.h"

namespace {

using namespace accountable;

constexpr const char* kChromium = "/usr/bin/chromium";

struct Seen {
  int charts = -1, drawn = -1, errors = 0, violations = 0;
  std::vector<std::string> requests;  // URLs the page asked for
  std::string failure;                // the browser itself failed
};

int Attribute(const std::string& dom, const std::string& name, int missing) {
  std::smatch m;
  if (!std::regex_search(dom, m, std::regex(name + "=\"([0-9]+)\""))) return missing;
  return std::stoi(m[1]);
}

// URL_REQUEST_START_JOB events of the page (network isolation key file://).
std::vector<std::string> PageRequests(const std::string& netlog_path, std::string* failure) {
  std::ifstream f(netlog_path);
  nlohmann::json log = nlohmann::json::parse(f, nullptr, false);
  if (log.is_discarded() || !log.contains("events")) {
    *failure = "cannot read the net log " + netlog_path;
    return {};
  }
  const int start = log["constants"]["logEventTypes"].value("URL_REQUEST_START_JOB", -1);
  std::vector<std::string> out;
  for (auto& e : log["events"]) {
    if (e.value("type", -2) != start || !e.contains("params")) continue;
    const auto& p = e["params"];
    if (p.value("network_isolation_key", std::string()).find("file://") != std::string::npos)
      out.push_back(p.value("url", std::string()));
  }
  return out;
}

std::vector<std::string> BrowserArgs(const test::TempDir& profile) {
  return {kChromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-default-apps", "--disable-extensions", "--host-resolver-rules=MAP * ~NOTFOUND",
          "--user-data-dir=" + profile.Sub("profile"), "--virtual-time-budget=5000"};
}

Seen Open(const std::string& page) {
  test::TempDir profile("acc-chromium");
  std::vector<std::string> argv = BrowserArgs(profile);
  const std::string netlog = profile.Sub("net.json");
  argv.push_back("--log-net-log=" + netlog);
  argv.push_back("--dump-dom");
  argv.push_back("file://" + page);
  argv.insert(argv.begin(), {"timeout", "120"});
  argv[0] = "/usr/bin/timeout";
  test::ExecResult r = test::Exec(argv, "", profile.path().string());
  Seen s;
  if (r.code != 0) s.failure = "chromium exited " + std::to_string(r.code) + ": " + r.err.substr(0, 2000);
  s.charts = Attribute(r.out, "data-charts", -1);
  s.drawn = Attribute(r.out, "data-charts-drawn", -1);
  s.errors = Attribute(r.out, "data-errors", 0);
  s.violations = Attribute(r.out, "data-csp-violations", 0);
  s.requests = PageRequests(netlog, &s.failure);
  return s;
}

std::string Write(const std::string& path, const std::string& html) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << html;
  return path;
}

std::string Replace(std::string html, const std::string& from, const std::string& to) {
  const size_t at = html.find(from);
  REQUIRE(at != std::string::npos);
  return html.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("report browser: the page renders every chart, without errors or network", "[report][browser]") {
  if (!std::filesystem::exists(kChromium)) {
    WARN("SKIPPED: no " << kChromium << " (install the Debian package chromium: make test installs it)");
    return;
  }
  test::ReportLedger l;
  const std::string html = l.Html();
  const std::string report = Write(std::string(ACCOUNTABLE_BUILD_DIR) + "/report.html", html);
  Seen s = Open(report);
  INFO(s.failure);
  CHECK(s.failure.empty());
  CHECK(s.charts >= 10);
  CHECK(s.drawn == s.charts);
  CHECK(s.errors == 0);
  CHECK(s.violations == 0);
  CHECK(s.requests.empty());

  test::TempDir profile("acc-chromium-shot");
  const std::string png = std::string(ACCOUNTABLE_BUILD_DIR) + "/report.png";
  std::filesystem::remove(png);
  std::vector<std::string> argv = BrowserArgs(profile);
  argv.insert(argv.begin(), {"/usr/bin/timeout", "120"});
  argv.insert(argv.end(), {"--hide-scrollbars", "--window-size=1280,4000", "--screenshot=" + png, "file://" + report});
  test::ExecResult r = test::Exec(argv, "", profile.path().string());
  INFO(r.err.substr(0, 2000));
  CHECK(r.code == 0);
  CHECK(std::filesystem::file_size(png) > 50'000);  // a page of charts, not a blank one
}

TEST_CASE("report browser: the checks fail on a script error, a remote script and a request", "[report][browser]") {
  if (!std::filesystem::exists(kChromium)) {
    WARN("SKIPPED: no " << kChromium << " (install the Debian package chromium: make test installs it)");
    return;
  }
  test::ReportLedger l;
  const std::string html = l.Html();
  test::TempDir dir("acc-report-controls");
  // The chart data names a canvas that does not exist: report.js throws.
  Seen thrown = Open(Write(dir.Sub("throws.html"), Replace(html, "\"id\":\"accounts-status\"", "\"id\":\"no-such\"")));
  CHECK(thrown.errors > 0);
  CHECK(thrown.drawn < thrown.charts);
  // A remote script: the CSP refuses it, and the page sees the refusal.
  Seen remote = Open(Write(dir.Sub("remote.html"),
                           Replace(html, "</body>", "<script src=\"https://example.com/x.js\"></script></body>")));
  CHECK(remote.violations > 0);
  // Without the CSP, an image from the network is requested, and seen.
  std::string open = std::regex_replace(html, std::regex("<meta http-equiv=\"Content-Security-Policy\"[^>]*>"), "");
  Seen fetched = Open(Write(dir.Sub("fetches.html"), Replace(open, "</main>", "<img src=\"http://192.0.2.1/x.png\"></main>")));
  CHECK(fetched.failure.empty());
  REQUIRE(fetched.requests.size() >= 1);
  CHECK(fetched.requests[0] == "http://192.0.2.1/x.png");
  CHECK(fetched.violations == 0);
}
