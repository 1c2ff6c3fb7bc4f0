// MetricsServer: accountabled's Prometheus endpoint and health probes
// (--metrics-listen HOST:PORT, off by default). Three plain HTTP GETs, no
// token, so a load balancer or Prometheus can use them:
//   /metrics  the Prometheus text format (docs/operations.md, "Metrics and health")
//   /healthz  200 while the process serves HTTP at all
//   /readyz   200 when the ledger is writable and the server accepting, else 503
// and, with a ReportPage, one that needs a token:
//   /report   the compliance report (server/daemon/report_page.h) to an
//             auditor or admin token in "Authorization: Bearer TOKEN";
//             401 without a known token, 403 for another role, 400 for any
//             query string or path below /report (a token must never be in
//             a URL, where proxies and histories keep it); never logged.
// Any other path is 404, any other method 405.
//
// The figures come from core/stats.h structs bumped on the hot paths with
// relaxed atomics; a scrape reads them and renders them with prometheus-cpp's
// text serializer. Labels never carry an account id or personal data: only
// event types, operation names and fixed words.
//
//   MetricsSources src{accounts.get(), server.get(), &ledger_stats, &erasure_stats};
//   std::unique_ptr<MetricsServer> m;
//   Status s = MetricsServer::Start(MetricsOptions{.host = "127.0.0.1", .port = 9400}, src, &m);
//   ...
//   m.reset();   // stops serving; before the sources go
//
// Thread safety: the handlers run on the HTTP server's own threads and only
// read the sources, which must outlive the MetricsServer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/stats.h"
#include "projections/service/accounts.h"
#include "server/daemon/report_page.h"
#include "server/daemon/server.h"

namespace accountable {

struct MetricsOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 9400;                      // 0: any free port (tests)
  // HTTP worker threads: connections served at once (civetweb num_threads).
  size_t threads = 2;
  // Accepted connections waiting for a thread (civetweb connection_queue);
  // past it, new connections wait in the kernel's listen backlog.
  size_t queued_connections_max = 16;
  size_t request_bytes_max = 4096;           // request line and headers (civetweb max_request_size)
  int64_t request_timeout_ms = 5'000;        // to receive a request / send a response
};

struct MetricsSources {
  Accounts* accounts = nullptr;              // required
  Server* server = nullptr;                  // required
  LedgerStats* ledger = nullptr;             // optional: no ledger-writer metrics without it
  ErasureStats* erasure = nullptr;           // optional
  ReportPage* report = nullptr;              // optional: GET /report is 404 without it
};

// "HOST:PORT" (IPv4 or IPv6 address in brackets or bare) -> host and port.
Status ParseHostPort(const std::string& flag, const std::string& text, std::string* host, uint16_t* port);

// What /metrics returns.
std::string RenderMetrics(const MetricsSources& src);
// What /readyz decides; *why names what is not ready.
bool Ready(const MetricsSources& src, std::string* why);

class MetricsServer {
 public:
  // InvalidArgument for a bad option or host; IOError if it cannot listen.
  static Status Start(const MetricsOptions& o, const MetricsSources& src, std::unique_ptr<MetricsServer>* out);
  virtual ~MetricsServer() = default;
  virtual uint16_t port() const = 0;
};

}  // namespace accountable
