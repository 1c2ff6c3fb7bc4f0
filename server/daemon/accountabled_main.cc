// accountabled: the Accountable server. Every limit is a flag; a config file
// (--config, INI or TOML "key = value" lines with the same names) can set them.
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <charconv>
#include <functional>
#include <memory>

#include "core/no_core_dumps.h"
#include "server/daemon/daemon_tokens.h"
#include "server/daemon/metrics.h"
#include "server/daemon/server.h"
#include "server/daemon/tls.h"
#include "server/daemon/tls_flags.h"
#include "server/replica/daemon_replica.h"

namespace {

struct Flags {
  std::string data = "data", key_dir, listen = "127.0.0.1:7400", token_file, erasure_list, backup_root;
  unsigned long long argon2_ops = 2;
  size_t argon2_mem_mib = 64;
  double grace_days = 3;
  int retention_months = 36, access_log_days = 30;
  int64_t sweep_interval_s = 3600;
  int64_t sign_interval_ms = 0;
  std::string metrics_listen;                // empty: no metrics listener
  accountable::MetricsOptions metrics;
  accountable::replica::ReplicaFlags replica;
  accountable::ReportPage::Options report;  // GET /report on the metrics listener
};

accountable::Status ParseListen(const std::string& listen, accountable::ServerOptions* o) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return accountable::Status::InvalidArgument("--listen: HOST:PORT");
  o->host = listen.substr(0, colon);
  // from_chars, not std::stoi: no exceptions, and "80x" or " 80" is refused.
  const std::string text = listen.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || port > 65535)
    return accountable::Status::InvalidArgument("--listen: port must be 0..65535");
  o->port = static_cast<uint16_t>(port);
  return accountable::Status::OK();
}

void AddLimits(CLI::App& app, Flags& f, accountable::ServerOptions& o) {
  app.add_option("--data", f.data)->capture_default_str();
  app.add_option("--key-dir", f.key_dir, "default DATA/keys");
  app.add_option("--listen", f.listen)->capture_default_str();
  app.add_option("--token-file", f.token_file,
                 "token digests (docs/protocol.md); default KEY_DIR/tokens, created on a first start");
  app.add_option("--erasure-list", f.erasure_list, "signed list of every erasure, for restores; default DATA/erasures/erasure-list");
  app.add_option("--backup-root", f.backup_root, "Backup requests write only below this directory; unset: refused");
  app.add_option("--argon2-ops", f.argon2_ops)->check(CLI::Range(1, 10))->capture_default_str();
  app.add_option("--argon2-mem-mib", f.argon2_mem_mib)->check(CLI::Range(8, 1024))->capture_default_str();
  app.add_option("--grace-days", f.grace_days)->check(CLI::Range(0.0, 365.0))->capture_default_str();
  app.add_option("--retention-months", f.retention_months)->check(CLI::Range(1, 1200))->capture_default_str();
  app.add_option("--access-log-days", f.access_log_days)->check(CLI::Range(1, 3650))->capture_default_str();
  app.add_option("--sweep-interval-s", f.sweep_interval_s, "0 disables")->check(CLI::Range(0, 86400 * 30))->capture_default_str();
  app.add_option("--sign-interval-ms", f.sign_interval_ms,
                 "0: a signed tree head per group commit; > 0: at most one per interval")
      ->check(CLI::Range(0, 3'600'000))->capture_default_str();
  app.add_option("--io-threads", o.io_threads)->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--worker-threads", o.worker_threads)->check(CLI::Range(1, 4096))->capture_default_str();
  app.add_option("--connections-max", o.connections_max)->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--frame-bytes-max", o.frame_bytes_max)->check(CLI::Range(64, 64 << 20))->capture_default_str();
  app.add_option("--unauthenticated-max", o.unauthenticated_max, "connections before a successful Hello")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--unauthenticated-per-address-max", o.unauthenticated_per_address_max)
      ->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--handshake-timeout-ms", o.handshake_timeout_ms)
      ->check(CLI::Range(100, 600000))->capture_default_str();
  app.add_option("--hello-frame-bytes-max", o.hello_frame_bytes_max)
      ->check(CLI::Range(64, 1 << 20))->capture_default_str();
  app.add_option("--buffer-bytes-max", o.buffer_bytes_max, "request and response buffers, all connections")
      ->check(CLI::Range(size_t{1} << 20, size_t{64} << 30))->capture_default_str();
  app.add_option("--response-bytes-max", o.response_bytes_max)
      ->check(CLI::Range(64 << 10, 1 << 30))->capture_default_str();
  app.add_option("--out-queue-bytes-max", o.out_queue_bytes_max, "unsent responses per connection")
      ->check(CLI::Range(64 << 10, 1 << 30))->capture_default_str();
  app.add_option("--inflight-max", o.inflight_per_connection_max)->check(CLI::Range(1, 65536))->capture_default_str();
  app.add_option("--idle-timeout-ms", o.idle_timeout_ms)->check(CLI::Range(100, 86400000))->capture_default_str();
  app.add_option("--frame-timeout-ms", o.frame_timeout_ms)->check(CLI::Range(100, 3600000))->capture_default_str();
  app.add_option("--subscriber-lag-max", o.subscriber_lag_events_max)->capture_default_str();
  app.add_option("--metrics-listen", f.metrics_listen,
                 "HOST:PORT for /metrics, /healthz, /readyz (plain HTTP, no token); off if empty");
  app.add_option("--metrics-threads", f.metrics.threads, "metrics connections served at once")
      ->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--metrics-queue-max", f.metrics.queued_connections_max, "metrics connections waiting for a thread")
      ->check(CLI::Range(1, 1024))->capture_default_str();
  app.add_option("--metrics-request-bytes-max", f.metrics.request_bytes_max, "metrics request line and headers")
      ->check(CLI::Range(1024, 65536))->capture_default_str();
  app.add_option("--metrics-timeout-ms", f.metrics.request_timeout_ms)
      ->check(CLI::Range(100, 600000))->capture_default_str();
  app.add_option("--report-min-interval-ms", f.report.min_interval_ms,
                 "GET /report reuses a page this young even if events were appended since")
      ->check(CLI::Range(0, 86400000))->capture_default_str();
  app.add_option("--report-wait-ms", f.report.wait_ms, "how long a GET /report waits for the page before a 503")
      ->check(CLI::Range(0, 600000))->capture_default_str();
  app.add_option("--report-waiters-max", f.report.waiters_max,
                 "GET /report requests waiting at once (below --metrics-threads); more get a 503")
      ->check(CLI::Range(0, 64))->capture_default_str();
  app.set_config("--config");
}

// Nothing to do unless --metrics-listen was given. One HTTP thread is
// always left to /metrics and the probes, whatever /report waits for.
accountable::Status StartMetrics(Flags& f, accountable::MetricsSources src,
                                 std::unique_ptr<accountable::ReportPage>* report,
                                 std::unique_ptr<accountable::MetricsServer>* out) {
  using accountable::Status;
  if (f.metrics_listen.empty()) return Status::OK();
  if (f.report.waiters_max >= f.metrics.threads)
    return Status::InvalidArgument("--report-waiters-max must be below --metrics-threads");
  ACC_RETURN_IF_ERROR(accountable::ReportPage::CheckOptions(f.report));
  *report = std::make_unique<accountable::ReportPage>(f.report, src.accounts);
  src.report = report->get();
  Status s = accountable::MetricsServer::Start(f.metrics, src, out);
  if (s.ok())
    spdlog::info("metrics on http://{}:{}/metrics (/healthz, /readyz, /report)", f.metrics.host, (*out)->port());
  return s;
}

// The service's options from the flags (the hooks are the caller's).
accountable::AccountsOptions AccountsOptionsOf(const Flags& f, accountable::LedgerStats* ledger_stats,
                                               accountable::ErasureStats* erasure_stats) {
  accountable::AccountsOptions ao;
  ao.ledger_stats = ledger_stats;
  ao.erasure_stats = erasure_stats;
  ao.data_dir = f.data;
  ao.key_dir = f.key_dir;
  ao.erasure_list_path = f.erasure_list;
  ao.backup_root = f.backup_root;
  ao.password_cost = {f.argon2_ops, f.argon2_mem_mib << 20};
  ao.grace_period_ms = static_cast<int64_t>(f.grace_days * 86400000);
  ao.retention_months = f.retention_months;
  ao.access_log_days = f.access_log_days;
  ao.sign_interval_ms = f.sign_interval_ms;
  return ao;
}

// A copy that cannot follow the log must not go on serving reads: SIGTERM
// ends the signal loop, and main exits 6.
std::function<void(accountable::Status)> StopOnFollowerError(std::atomic<bool>* failed) {
  return [failed](const accountable::Status& e) {
    spdlog::error("follower stopped: {}", e.ToString());
    failed->store(true);
    ::kill(::getpid(), SIGTERM);
  };
}

int ExitCode(const accountable::Status& close, bool follower_failed) {
  if (follower_failed) return 6;
  if (close.ok()) {
    spdlog::info("stopped cleanly");
    return 0;
  }
  // Whatever was acknowledged is durable; what failed is the final flush or
  // a storage error the ledger never recovered from. Say so.
  spdlog::error("stopped after a storage error: {}", close.ToString());
  return 6;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace accountable;
  if (!DisableCoreDumps()) spdlog::warn("could not disable core dumps");
  // No glibc fastbins: with them, every malloc of 1 KiB or more (an
  // envelope, a response builder, a group's WriteBatch growing) first
  // consolidates the fastbins, ~7% of the server's samples at 64 x 8; the
  // per-thread tcache still serves the small sizes (docs/performance.md).
  if (mallopt(M_MXFAST, 0) != 1) spdlog::warn("could not turn glibc's fastbins off");
  // Everything the server creates (stores, keys, tokens, backups) is for
  // its own user only, whatever umask it was started with.
  ::umask(077);
  CLI::App app{"accountabled: the Accountable ledger server"};
  Flags f;
  ServerOptions so;
  AddLimits(app, f, so);
  AddTlsFlags(app, so);
  replica::AddReplicaFlags(app, f.replica);
  CLI11_PARSE(app, argc, argv);
  Status s = ParseListen(f.listen, &so);
  if (s.ok() && !f.metrics_listen.empty())
    s = ParseHostPort("--metrics-listen", f.metrics_listen, &f.metrics.host, &f.metrics.port);
  so.sweep_interval_ms = f.sweep_interval_s * 1000;
  so.sign_interval_ms = f.sign_interval_ms;
  const std::string key_dir = f.key_dir.empty() ? f.data + "/keys" : f.key_dir;
  if (s.ok()) s = CheckTransport(so);  // before the ledger opens: a refused start changes nothing
  const TokenPaths tp{f.data, key_dir, f.token_file.empty() ? key_dir + "/tokens" : f.token_file,
                      !f.token_file.empty()};
  if (s.ok()) s = FirstStartTokens(tp, &so.token_digests);
  if (!s.ok()) {
    spdlog::error("{}", s.ToString());
    return 2;
  }
  LedgerStats ledger_stats;
  ErasureStats erasure_stats;
  std::unique_ptr<Server> server;
  AccountsOptions ao = AccountsOptionsOf(f, &ledger_stats, &erasure_stats);
  ao.on_commit = [&server](uint64_t last) {
    if (server) server->OnCommit(last);
  };
  std::unique_ptr<Accounts> accounts;
  SignalLoop signals(tp.token_file);  // SIGHUP reloads tokens; handled from here on
  replica::DaemonReplica replica;      // declared after accounts: stops before it closes
  std::atomic<bool> follower_failed{false};
  f.replica.listen = f.listen;  // the default --node-name
  s = replica.Open(f.replica, &ao);
  if (replica.follower()) so.sweep_interval_ms = 0;  // erasures arrive through the log
  if (s.ok()) s = Accounts::Open(ao, &accounts);
  if (s.ok()) s = Server::Start(so, accounts.get(), &server);
  if (s.ok()) s = replica.Start(*accounts, so.host + ":" + std::to_string(server->port()), StopOnFollowerError(&follower_failed));
  std::unique_ptr<ReportPage> report;      // after accounts: its thread reads them
  std::unique_ptr<MetricsServer> metrics;  // declared last: stops first
  if (s.ok())
    s = StartMetrics(f, {accounts.get(), server.get(), &ledger_stats, &erasure_stats}, &report, &metrics);
  if (!s.ok()) {
    if (server) server->Stop();  // before accounts, declared after it, goes
    spdlog::error("{}", s.ToString());
    return s.Is(Status::Code::kInvalidArgument) ? 2 : 6;
  }
  spdlog::info("accountabled listening on {}:{} (data {}, {} tokens, last seq {})", so.host, server->port(), f.data,
               so.token_digests.size(), accounts->ledger().LastSeq());
  signals.Run(server.get());
  replica.Stop();  // first: a copy shutting down neither competes for the lease nor keeps it
  server->Stop();  // /readyz answers 503 from here on
  if (report) report->Stop();  // waiting /report requests get 503 now, not after their wait
  metrics.reset();
  report.reset();  // waits for a computation under way
  return ExitCode(accounts->Close(), follower_failed);
}
