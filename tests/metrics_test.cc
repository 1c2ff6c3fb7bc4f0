// accountabled's metrics listener (server/daemon/metrics.h): counters move by
// what was done, histograms count, probes answer 200/503, bad flags are
// refused clearly, and no personal data or account id reaches the text.
#include <catch2/catch.hpp>

#include <condition_variable>
#include <map>
#include <mutex>
#include <regex>
#include <set>

#include "server/daemon/metrics.h"
#include "tests/http_test_util.h"
#include "tests/server_test_util.h"

namespace accountable {
namespace {

using wire::Body;

using test::Http;
using test::HttpReply;

HttpReply Get(uint16_t port, const std::string& path) {
  return Http(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

// Sample name with labels (as written) -> value.
std::map<std::string, double> Parse(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto sp = line.rfind(' ');
    REQUIRE(sp != std::string::npos);
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return out;
}

double At(const std::map<std::string, double>& m, const std::string& key) {
  auto it = m.find(key);
  INFO(key);
  REQUIRE(it != m.end());
  return it->second;
}

struct Metrics {
  explicit Metrics(test::ServerFixture& f) {
    MetricsOptions o;
    o.port = 0;
    Status s = MetricsServer::Start(o, {&f.accounts(), &f.server(), &f.ledger_stats(), &f.erasure_stats()}, &server);
    INFO(s.ToString());
    REQUIRE(s.ok());
    REQUIRE(server->port() != 0);
  }
  std::map<std::string, double> Scrape() {
    HttpReply r = Get(server->port(), "/metrics");
    REQUIRE(r.status == 200);
    text = r.body;
    return Parse(r.body);
  }
  std::unique_ptr<MetricsServer> server;
  std::string text;
};

TEST_CASE("metrics: appends, group commits, fsyncs and requests are counted", "[metrics]") {
  test::ServerFixture f;
  Metrics m(f);
  auto before = m.Scrape();
  const double fsyncs0 = At(before, "accountable_fsync_seconds_count");
  const double groups0 = At(before, "accountable_group_commit_events_count");
  auto w = f.Connect(test::kWriterToken);
  constexpr int kRegistrations = 3, kAccessLogs = 4;
  for (int i = 0; i < kRegistrations; ++i)
    REQUIRE(test::RoundTrip(*w, Body::Register, test::RegisterBody(test::Name("m", i) + "@example.org")).status.ok());
  for (int i = 0; i < kAccessLogs; ++i)
    REQUIRE(test::RoundTrip(*w, Body::RecordAccess, test::RecordAccessBody("/p")).status.ok());
  auto after = m.Scrape();
  const std::string reg = "accountable_appends_total{type=\"registered\"}";
  const std::string acc = "accountable_appends_total{type=\"access_logged\"}";
  CHECK(At(after, reg) - At(before, reg) == kRegistrations);
  CHECK(At(after, acc) - At(before, acc) == kAccessLogs);
  CHECK(At(after, "accountable_appends_total{type=\"consent_given\"}") ==
        At(before, "accountable_appends_total{type=\"consent_given\"}"));
  // Every event went through exactly one group commit, each with one fsync.
  CHECK(At(after, "accountable_group_commit_events_sum") - At(before, "accountable_group_commit_events_sum") ==
        kRegistrations + kAccessLogs);
  CHECK(At(after, "accountable_group_commit_events_count") - groups0 >= 1);
  CHECK(At(after, "accountable_fsync_seconds_count") - fsyncs0 ==
        At(after, "accountable_group_commit_events_count") - groups0);
  CHECK(At(after, "accountable_fsync_seconds_bucket{le=\"+Inf\"}") == At(after, "accountable_fsync_seconds_count"));
  CHECK(At(after, "accountable_fsync_seconds_sum") > 0);
  CHECK(At(after, "accountable_request_seconds_count{op=\"Register\"}") == kRegistrations);
  CHECK(At(after, "accountable_request_seconds_count{op=\"RecordAccess\"}") == kAccessLogs);
  CHECK(At(after, "accountable_request_seconds_count{op=\"Hello\"}") == 1);
  CHECK(At(after, "accountable_connections{state=\"authenticated\"}") == 1);
  CHECK(At(after, "accountable_connections{state=\"unauthenticated\"}") == 0);
  CHECK(At(after, "accountable_last_seq") == static_cast<double>(f.accounts().ledger().LastSeq()));
  // sign_interval_ms 0: a head is signed before any write is acknowledged.
  CHECK(At(after, "accountable_signed_tree_size") == At(after, "accountable_last_seq"));
  CHECK(At(after, "accountable_storage_errors_total") == 0);
  // The writer reads RocksDB for a registration's request id; an access
  // log's id was drawn by the server or found absent before it queued.
  CHECK(At(after, "accountable_request_id_reads_total") - At(before, "accountable_request_id_reads_total") ==
        kRegistrations);
  CHECK(At(after, "accountable_ready") == 1);
}

// Appends n access logs of about 3 KB at once (asynchronously, so they share group commits).
void AppendAccessLogs(Accounts& a, int n) {
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  const std::string filler(1000, 'a');
  for (int i = 0; i < n; ++i) {
    Status s = a.RecordAccess({"198.51.100.1", filler, filler, "", filler, "/"}, {fb::Actor::System},
                              [&](Status st, Receipt) {
                                CHECK(st.ok());
                                std::lock_guard<std::mutex> l(mu);
                                ++done;
                                cv.notify_all();
                              });
    REQUIRE(s.ok());
  }
  std::unique_lock<std::mutex> l(mu);
  REQUIRE(cv.wait_for(l, std::chrono::seconds(60), [&] { return done == n; }));
}

TEST_CASE("metrics: subscribers and their lag", "[metrics]") {
  // A small out queue, so a subscriber that reads nothing stalls the pump soon.
  test::ServerFixture f([](ServerOptions& o) { o.out_queue_bytes_max = 64 << 10; });
  Metrics m(f);
  CHECK(At(m.Scrape(), "accountable_subscriber_lag_events") == 0);
  auto stalled = std::make_unique<test::RawConn>(f.port(), 4096);
  REQUIRE(stalled->connected());
  test::RawReply reply;
  REQUIRE(stalled->Send(test::HelloFrame(1, test::kAuditorToken)));
  REQUIRE(stalled->ReadFrame(5000, &reply) == test::RawConn::Got::kFrame);
  REQUIRE(stalled->Send(test::RequestFrame(2, Body::Subscribe, test::SubscribeBody(1))));
  // About 9 MB of envelopes: more than the socket buffers (tcp_wmem's 4 MiB
  // at most) and the out queue hold.
  constexpr int kEvents = 3000;
  AppendAccessLogs(f.accounts(), kEvents);
  auto s = m.Scrape();
  CHECK(At(s, "accountable_subscribers") == 1);
  const double lag = At(s, "accountable_subscriber_lag_events");
  CHECK(lag > 0);
  CHECK(lag <= At(s, "accountable_last_seq"));
  stalled.reset();
  for (int i = 0; i < 500 && At(m.Scrape(), "accountable_subscribers") != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  s = m.Scrape();
  CHECK(At(s, "accountable_subscribers") == 0);
  CHECK(At(s, "accountable_subscriber_lag_events") == 0);
}

TEST_CASE("metrics: an erasure counts its pass and its vault scan", "[metrics][erasure]") {
  test::ServerFixture f;
  Metrics m(f);
  auto w = f.Connect(test::kWriterToken);
  auto r = test::RoundTrip(*w, Body::Register, test::RegisterBody("gone@example.org"));
  REQUIRE(r.status.ok());
  SweepReport rep;
  REQUIRE(f.accounts().Erase({{r.account_id, "admin", 0}}, &rep).ok());
  auto s = m.Scrape();
  CHECK(At(s, "accountable_erase_seconds_count") == 1);
  CHECK(At(s, "accountable_sweep_seconds_count") == 0);
  CHECK(At(s, "accountable_accounts_erased_total") == 1);
  CHECK(At(s, "accountable_appends_total{type=\"account_erased\"}") == 1);
  CHECK(At(s, "accountable_appends_total{type=\"erasure_verified\"}") == 1);
  CHECK(At(s, "accountable_vault_scans_total") == 1);
  CHECK(At(s, "accountable_vault_scan_files_total") == static_cast<double>(rep.shred.files_scanned));
  CHECK(At(s, "accountable_vault_scan_bytes_total") == static_cast<double>(rep.shred.bytes_scanned));
  CHECK(At(s, "accountable_vault_scan_bytes_total") > 0);
  CHECK(At(s, "accountable_vault_scan_hits_total") == 0);
  CHECK(At(s, "accountable_erasure_pass_failures_total{kind=\"erase\"}") == 0);
  SweepReport sweep;
  REQUIRE(f.accounts().Sweep({}, &sweep).ok());
  CHECK(At(m.Scrape(), "accountable_sweep_seconds_count") == 1);
}

TEST_CASE("metrics: health and readiness probes", "[metrics]") {
  test::ServerFixture f;
  Metrics m(f);
  const uint16_t port = m.server->port();
  CHECK(Get(port, "/healthz").status == 200);
  HttpReply ready = Get(port, "/readyz");
  CHECK(ready.status == 200);
  CHECK(ready.body == "ready\n");
  CHECK(Get(port, "/nothing").status == 404);
  CHECK(Get(port, "/metrics/x").status == 404);
  CHECK(Http(port, "POST /readyz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").status == 405);
  // A request line and headers past request_bytes_max are refused, not served.
  test::RawConn big(port);
  REQUIRE(big.connected());
  big.Send("GET /metrics HTTP/1.1\r\nX: " + std::string(8192, 'a') + "\r\n\r\n");
  char b[64];
  pollfd p{big.fd(), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 5000) == 1);
  const ssize_t n = ::recv(big.fd(), b, sizeof b, 0);
  CHECK((n <= 0 || std::string(b, static_cast<size_t>(n)).rfind("HTTP/1.1 200", 0) != 0));
  f.server().Stop();
  ready = Get(port, "/readyz");
  CHECK(ready.status == 503);
  CHECK(ready.body == "server stopping\n");
  CHECK(Get(port, "/healthz").status == 200);
  CHECK(At(m.Scrape(), "accountable_ready") == 0);
}

TEST_CASE("metrics: the text holds no personal data and no account ids", "[metrics][pii]") {
  test::ServerFixture f;
  Metrics m(f);
  auto w = f.Connect(test::kWriterToken);
  const std::string nick = "NickZq7Metrics", email = "zq7.metrics@example.org";
  auto r = test::RoundTrip(*w, Body::Register, test::RegisterBody(email, nick));
  REQUIRE(r.status.ok());
  m.Scrape();
  for (const std::string& needle : {nick, email, std::string("zq7"), std::string("192.0.2.10"),
                                    std::string(test::kServerPassword), std::string("Example Ltd"), test::kWriterToken}) {
    INFO(needle);
    CHECK_FALSE(test::Contains(m.text, needle));
  }
  // Labels are only these names, so no value can carry an id.
  std::set<std::string> names;
  const std::regex label("[{,]([a-z_]+)=\"");
  for (auto it = std::sregex_iterator(m.text.begin(), m.text.end(), label); it != std::sregex_iterator(); ++it)
    names.insert((*it)[1]);
  CHECK(names == std::set<std::string>{"kind", "le", "op", "state", "type"});
}

TEST_CASE("metrics: bad listener options are refused with a clear error", "[metrics]") {
  std::string host;
  uint16_t port = 0;
  CHECK(ParseHostPort("--metrics-listen", "127.0.0.1:9400", &host, &port).ok());
  CHECK((host == "127.0.0.1" && port == 9400));
  CHECK(ParseHostPort("--metrics-listen", "[::1]:0", &host, &port).ok());
  CHECK(host == "::1");
  for (const char* bad : {"", "9400", ":9400", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:94x", "localhost:9400"}) {
    Status s = ParseHostPort("--metrics-listen", bad, &host, &port);
    INFO(bad);
    CHECK(s.Is(Status::Code::kInvalidArgument));
    CHECK(test::Contains(s.message(), "--metrics-listen"));
  }
  test::ServerFixture f;
  Metrics first(f);
  MetricsOptions o;
  o.port = first.server->port();
  std::unique_ptr<MetricsServer> second;
  Status s = MetricsServer::Start(o, {&f.accounts(), &f.server(), nullptr, nullptr}, &second);
  CHECK(s.Is(Status::Code::kIOError));
  CHECK(test::Contains(s.message(), "metrics listen on 127.0.0.1:" + std::to_string(o.port)));
  o.port = 0;
  o.threads = 0;
  CHECK(MetricsServer::Start(o, {&f.accounts(), &f.server(), nullptr, nullptr}, &second).Is(Status::Code::kInvalidArgument));
  // accountabled stops at start-up with exit code 2 and says which flag.
  test::TempDir dir;
  auto run = test::Exec({ACCOUNTABLE_SERVER, "--data", dir.Sub("data"), "--metrics-listen", "localhost:9400"}, "",
                        dir.path());
  CHECK(run.code == 2);
  CHECK(test::Contains(run.out + run.err, "--metrics-listen: not an IP address"));
}

TEST_CASE("metrics: accountable health exits 0 when ready, 1 when not", "[metrics][cli]") {
  test::ServerFixture f;
  Metrics m(f);
  test::TempDir dir;
  const std::string at = "127.0.0.1:" + std::to_string(m.server->port());
  auto ok = test::Exec({ACCOUNTABLE_CLI, "health", "--metrics", at}, "", dir.path());
  CHECK(ok.code == 0);
  CHECK(ok.out == "ok /readyz 200 ready\n");
  f.server().Stop();
  auto stopping = test::Exec({ACCOUNTABLE_CLI, "health", "--metrics", at}, "", dir.path());
  CHECK(stopping.code == 1);
  CHECK(stopping.out == "not ok /readyz 503 server stopping\n");
  CHECK(test::Exec({ACCOUNTABLE_CLI, "health", "--live", "--metrics", at}, "", dir.path()).code == 0);
  const std::string closed = "127.0.0.1:" + std::to_string(m.server->port());
  m.server.reset();
  auto gone = test::Exec({ACCOUNTABLE_CLI, "health", "--metrics", closed}, "", dir.path());
  CHECK(gone.code == 1);
  CHECK(test::Contains(gone.out, "connect"));
  CHECK(test::Exec({ACCOUNTABLE_CLI, "health", "--metrics", "nowhere"}, "", dir.path()).code == 2);
}

}  // namespace
}  // namespace accountable
