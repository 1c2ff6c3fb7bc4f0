// MetricsServer's HTTP side: civetweb with every file-serving feature off
// (no document_root), keep-alive off, and its limits set from MetricsOptions.
#include <civetweb.h>

// Boost 1.74 awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/ip/address.hpp>

#include <cstring>
#include <mutex>
#include <string_view>

#include "projections/report/report_html.h"
#include "server/daemon/metrics.h"

namespace accountable {

namespace {

constexpr size_t kThreadsMax = 64;
constexpr size_t kQueueMax = 1024;
constexpr size_t kRequestBytesMin = 1024, kRequestBytesMax = 64 << 10;
constexpr int64_t kTimeoutMsMin = 100, kTimeoutMsMax = 600'000;
constexpr size_t kErrorTextBytes = 256;

std::string_view Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    default: return "Service Unavailable";
  }
}

// extra: more header lines, each ending in CRLF.
void Send(mg_connection* conn, int status, std::string_view type, std::string_view body, bool head,
          const std::string& extra = {}) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
            "%sConnection: close\r\n\r\n",
            status, std::string(Reason(status)).c_str(), std::string(type).c_str(), body.size(), extra.c_str());
  if (!head) mg_write(conn, body.data(), body.size());
}

// The token of "Authorization: Bearer TOKEN", or empty.
std::string_view BearerToken(mg_connection* conn) {
  const char* h = mg_get_header(conn, "Authorization");
  std::string_view v = h ? h : "";
  constexpr std::string_view kScheme = "bearer ";
  if (v.size() <= kScheme.size() || mg_strncasecmp(v.data(), kScheme.data(), kScheme.size()) != 0) return {};
  v.remove_prefix(kScheme.size());
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return v;
}

// GET /report: the token is checked before anything is computed, and no
// line here names the request's path, query or header (a token may be in
// any of them).
int ServeReport(mg_connection* conn, const MetricsSources& src, std::string_view path, bool head) {
  const mg_request_info* ri = mg_get_request_info(conn);
  if (path != "/report" || (ri->query_string && ri->query_string[0] != '\0')) {
    Send(conn, 400, "text/plain",
         "GET /report takes no query and no path below it: send the token in \"Authorization: Bearer TOKEN\", "
         "never in a URL\n", head);
    return 400;
  }
  const std::string_view token = BearerToken(conn);
  const wire::Role role = token.empty() ? wire::Role::None : src.server->TokenRole(token);
  if (role == wire::Role::None) {
    Send(conn, 401, "text/plain", "an auditor or admin token is needed: \"Authorization: Bearer TOKEN\"\n", head,
         "WWW-Authenticate: Bearer realm=\"accountable\"\r\n");
    return 401;
  }
  if (role != wire::Role::Auditor && role != wire::Role::Admin) {
    Send(conn, 403, "text/plain", "the report is for auditor and admin tokens only\n", head);
    return 403;
  }
  const ReportPage::Reply r = src.report->Get();
  if (r.status == 503) {
    Send(conn, 503, "text/plain", "the report is being computed; retry after the time in Retry-After\n", head,
         "Retry-After: " + std::to_string(r.retry_after_s) + "\r\n");
    return 503;
  }
  if (r.status != 200) {
    Send(conn, 500, "text/plain", "the report failed: " + r.error + "\n", head);
    return 500;
  }
  Send(conn, 200, "text/html; charset=utf-8", *r.html, head,
       "Content-Security-Policy: " + audit::ReportCsp() + "\r\nX-Content-Type-Options: nosniff\r\n"
       "Referrer-Policy: no-referrer\r\nX-Report-Seq: " + std::to_string(r.seq) + "\r\n");
  return 200;
}

class MetricsServerImpl final : public MetricsServer {
 public:
  explicit MetricsServerImpl(const MetricsSources& src) : src_(src) {}
  ~MetricsServerImpl() override {
    if (ctx_) mg_stop(ctx_);  // joins civetweb's threads: no handler runs after this
  }
  uint16_t port() const override { return port_; }
  Status Listen(const MetricsOptions& o);

 private:
  static int Handle(mg_connection* conn, void* self) { return static_cast<MetricsServerImpl*>(self)->Serve(conn); }
  int Serve(mg_connection* conn);

  MetricsSources src_;
  mg_context* ctx_ = nullptr;
  uint16_t port_ = 0;
};

int MetricsServerImpl::Serve(mg_connection* conn) {
  const mg_request_info* ri = mg_get_request_info(conn);
  const bool head = std::strcmp(ri->request_method, "HEAD") == 0;
  if (!head && std::strcmp(ri->request_method, "GET") != 0) {
    Send(conn, 405, "text/plain", "only GET and HEAD\n", false);
    return 405;
  }
  const std::string_view path = ri->local_uri ? ri->local_uri : "";
  if (src_.report && path.substr(0, 7) == "/report") return ServeReport(conn, src_, path, head);
  if (path == "/metrics") {
    Send(conn, 200, "text/plain; version=0.0.4; charset=utf-8", RenderMetrics(src_), head);
    return 200;
  }
  if (path == "/healthz") {
    Send(conn, 200, "text/plain", "alive\n", head);
    return 200;
  }
  if (path == "/readyz") {
    std::string why;
    const int status = Ready(src_, &why) ? 200 : 503;
    Send(conn, status, "text/plain", why + "\n", head);
    return status;
  }
  Send(conn, 404, "text/plain", "not found: /metrics, /healthz, /readyz\n", head);
  return 404;
}

Status CheckOptions(const MetricsOptions& o) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(o.host, ec);
  if (ec) return Status::InvalidArgument("metrics listen: not an IP address: " + o.host);
  if (o.threads < 1 || o.threads > kThreadsMax) return Status::InvalidArgument("metrics threads must be 1..64");
  if (o.queued_connections_max < 1 || o.queued_connections_max > kQueueMax)
    return Status::InvalidArgument("metrics queued connections must be 1..1024");
  if (o.request_bytes_max < kRequestBytesMin || o.request_bytes_max > kRequestBytesMax)
    return Status::InvalidArgument("metrics request bytes must be 1024..65536");
  if (o.request_timeout_ms < kTimeoutMsMin || o.request_timeout_ms > kTimeoutMsMax)
    return Status::InvalidArgument("metrics request timeout must be 100..600000 ms");
  return Status::OK();
}

Status MetricsServerImpl::Listen(const MetricsOptions& o) {
  static std::once_flag init;
  std::call_once(init, [] { mg_init_library(0); });
  const bool v6 = o.host.find(':') != std::string::npos;
  const std::string ports = (v6 ? "[" + o.host + "]" : o.host) + ":" + std::to_string(o.port);
  const std::string threads = std::to_string(o.threads), queue = std::to_string(o.queued_connections_max),
                    request = std::to_string(o.request_bytes_max), timeout = std::to_string(o.request_timeout_ms);
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", threads.c_str(),
                           "connection_queue", queue.c_str(), "max_request_size", request.c_str(),
                           "request_timeout_ms", timeout.c_str(), "enable_keep_alive", "no",
                           "enable_directory_listing", "no", nullptr};
  mg_callbacks callbacks{};
  // civetweb's own log lines (a client's bad request, say) are not ours to print.
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  mg_init_data init_data{&callbacks, this, options};
  char text[kErrorTextBytes] = {};
  unsigned code = 0;
  mg_error_data error{&code, text, sizeof text};
  ctx_ = mg_start2(&init_data, &error);
  if (!ctx_) return Status::IOError("metrics listen on " + ports + ": " + (text[0] ? text : "cannot start"));
  mg_set_request_handler(ctx_, "/", &MetricsServerImpl::Handle, this);
  mg_server_port bound[2] = {};
  if (mg_get_server_ports(ctx_, 2, bound) < 1) return Status::IOError("metrics listen: no port bound");
  port_ = static_cast<uint16_t>(bound[0].port);
  return Status::OK();
}

}  // namespace

Status MetricsServer::Start(const MetricsOptions& o, const MetricsSources& src, std::unique_ptr<MetricsServer>* out) {
  ACC_ASSERT(src.accounts != nullptr && src.server != nullptr, "metrics need the accounts and the server");
  ACC_RETURN_IF_ERROR(CheckOptions(o));
  auto impl = std::make_unique<MetricsServerImpl>(src);
  ACC_RETURN_IF_ERROR(impl->Listen(o));
  *out = std::move(impl);
  return Status::OK();
}

}  // namespace accountable
