// accountable-bench: end-to-end load against a running accountabled, over the
// real protocol (docs/protocol.md). Not a test; run by hand or by
// tests/bench/side_by_side.sh, results go to docs/performance.md ("Server:
// side by side").
//
//   accountable-bench --server 127.0.0.1:7400 --token-file DATA/keys/writer.token
//       --connections 64 --depth 8 --seconds 10 --mix cheap --server-pid PID
//
// The client is event-driven so that it is not the bottleneck (details in
// bench_client.h): --threads threads (default: the hardware's cores), each
// with its own boost::asio::io_context and a share of the --connections; each
// connection keeps up to --depth requests pipelined, sending the next one on
// each reply, as pgbench does. Frames are built with FlatBuffers directly.
// With --tls-ca every connection speaks TLS 1.3 (mutual with --tls-cert).
// With --rate the sends are paced (total requests/s, spread evenly over the
// connections), for latency at a given load rather than at saturation.
// Latency is measured from each request's intended send time (its slot in
// the schedule; unpaced, the time it was sent) to its reply, so a server
// that falls behind the schedule is charged for the wait.
//
// Mixes (bench_mix.h; every request appends exactly one event when it
// succeeds): cheap - consent, profile update, record-access on prepared
// accounts; auth - register a new account + login to a prepared one
// (Argon2id on the server: its --argon2-* settings decide the rate).
//
// Preparation registers --accounts accounts with the blocking
// accountable::Client and fixed request ids ("bench/reg/<prefix>/<i>"), so a
// second run against the same server gets the same accounts back as
// duplicates, without paying Argon2id again.
//
// CPU over the measured window: the bench's own (getrusage RUSAGE_SELF) and,
// with --server-pid, the server's (utime + stime of /proc/PID/stat, all of
// its threads), in total and per acknowledged event.
//
// The last line of output is machine-readable:
//   RESULT mix=cheap connections=64 depth=8 rate=0 seconds=10.00 ok=... events_per_s=...
//          p50_ms=... p99_ms=... p999_ms=... errors=... failed_connections=0
//          client_cpu_s=... server_cpu_s=... server_cpu_us_per_event=... client_cpu_us_per_event=...
//          registrations=...
// server_cpu_* are "-" without --server-pid, per-event figures "-" when ok=0;
// registrations counts the new accounts among ok (auth mix; 0 for cheap).
//
// Exit code: 0, or 1 if a connection failed / nothing succeeded, 2 usage.

// Boost 1.74 awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <CLI/CLI.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench_client.h"
#include "server/client/client.h"

namespace acc = accountable;
namespace bench = accountable::bench;
using bench::Account;
using bench::Clock;

namespace {

struct Config {
  bench::LoadConfig load;
  std::string token_file;
  size_t accounts = 1000;
  size_t prepare_connections = 16;
  std::string prefix = "bench";
  int server_pid = 0;  // 0: the server's CPU is not measured
};

// A client token file (KEY_DIR/writer.token, `accountable token add`'s
// output): its first word. The server's token file holds only digests.
std::string ReadToken(const std::string& token, const std::string& token_file) {
  if (!token.empty()) return token;
  std::ifstream f(token_file);
  std::string word;
  f >> word;
  return word;
}

// Registers accounts [begin, end) over one blocking connection, 8 pipelined.
bool PrepareRange(const Config& c, size_t begin, size_t end, std::vector<Account>* accounts, std::string* err) {
  std::unique_ptr<acc::Client> cl;
  acc::Status s = acc::Client::Connect(c.load.server, c.load.token, c.load.tls, &cl);
  std::unordered_map<uint64_t, size_t> pending;  // corr -> index
  size_t next = begin;
  const size_t depth = 8;
  while (s.ok() && (next < end || !pending.empty())) {
    while (s.ok() && next < end && pending.size() < depth) {
      Account& a = (*accounts)[next];
      a.email = c.prefix + "-" + std::to_string(next) + "@bench.example.org";
      const std::string nick = "bench" + std::to_string(next);
      uint64_t corr = 0;
      s = cl->Send(acc::wire::Body::Register, [&](auto& f) { return bench::RegisterBody(f, nick, a.email); }, &corr,
                   "bench/reg/" + c.prefix + "/" + std::to_string(next));
      pending[corr] = next++;
    }
    acc::Client::Reply r;
    if (s.ok()) s = cl->Receive(&r);
    if (!s.ok()) break;
    auto it = pending.find(r.correlation_id);
    if (it == pending.end()) s = acc::Status::IOError("reply with unknown correlation id: " + r.status.ToString());
    else if (!r.status.ok()) s = acc::Status::IOError("register: " + r.status.ToString());
    else (*accounts)[it->second].id = r.account_id;
    if (it != pending.end()) pending.erase(it);
  }
  if (!s.ok()) *err = s.ToString();
  return s.ok();
}

bool Prepare(const Config& c, std::vector<Account>* accounts) {
  accounts->assign(c.accounts, {});
  const size_t n = std::max<size_t>(1, std::min(c.prepare_connections, c.accounts));
  std::vector<std::thread> threads;
  std::vector<std::string> errs(n);
  std::atomic<bool> ok{true};
  for (size_t t = 0; t < n; ++t)
    threads.emplace_back([&, t] {
      size_t b = c.accounts * t / n, e = c.accounts * (t + 1) / n;
      if (!PrepareRange(c, b, e, accounts, &errs[t])) ok = false;
    });
  for (auto& th : threads) th.join();
  for (auto& e : errs)
    if (!e.empty()) std::fprintf(stderr, "prepare: %s\n", e.c_str());
  return ok;
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

// utime + stime of every thread of process pid, in seconds; < 0 if unreadable.
double ProcessCpuSeconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return -1;
  const auto paren = line.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos) return -1;
  std::istringstream in(line.substr(paren + 1));
  std::string skip;
  for (int field = 3; field <= 13; ++field) in >> skip;  // state .. cmajflt
  unsigned long long utime = 0, stime = 0;
  if (!(in >> utime >> stime)) return -1;
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

struct CpuWindow {
  double client_s = 0, server_s = -1;
};

double Percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * double(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)] / 1000.0;
}

void AddOptions(CLI::App& app, Config& c) {
  bench::LoadConfig& l = c.load;
  app.add_option("--server", l.server, "HOST:PORT")->capture_default_str();
  app.add_option("--tls-ca", l.tls.ca_file, "connect over TLS 1.3, verifying the server against this PEM CA");
  app.add_option("--tls-cert", l.tls.cert_file, "with --tls-ca: PEM client certificate (mutual TLS)");
  app.add_option("--tls-key", l.tls.key_file, "the PEM private key of --tls-cert");
  app.add_option("--tls-server-name", l.tls.server_name, "the name the server's certificate must carry");
  app.add_option("--token", l.token, "writer token");
  app.add_option("--token-file", c.token_file, "a writer's token file (first word), e.g. DATA/keys/writer.token");
  app.add_option("--connections", l.connections)->check(CLI::Range(1, 4096))->capture_default_str();
  app.add_option("--depth", l.depth, "pipelined requests per connection")->check(CLI::Range(1, 65536))->capture_default_str();
  app.add_option("--threads", l.threads, "client threads, each with its own io_context")
      ->check(CLI::Range(1, 256))->capture_default_str();
  app.add_option("--seconds", l.seconds, "measured duration")->check(CLI::Range(0.1, 3600.0))->capture_default_str();
  app.add_option("--warmup", l.warmup, "seconds run before measuring")->check(CLI::Range(0.0, 600.0))->capture_default_str();
  app.add_option("--mix", l.mix, "cheap | auth")->check(CLI::IsMember({"cheap", "auth"}))->capture_default_str();
  app.add_option("--accounts", c.accounts, "accounts to prepare")->check(CLI::Range(1, 10000000))->capture_default_str();
  app.add_option("--prepare-connections", c.prepare_connections)->check(CLI::Range(1, 1024))->capture_default_str();
  app.add_option("--prefix", c.prefix, "names the prepared accounts; reuse it to reuse them")->capture_default_str();
  app.add_option("--rate", l.rate, "total requests/s over all connections; 0 = unpaced")
      ->check(CLI::Range(0.0, 1e9))->capture_default_str();
  app.add_option("--server-pid", c.server_pid, "measure this process's CPU over the window (/proc/PID/stat)")
      ->check(CLI::Range(1, 1 << 30));
}

void PrintFailures(const bench::LoadStats& st) {
  for (const auto& f : st.failures) std::fprintf(stderr, "connection failed: %s\n", f.c_str());
}

// "-" when nothing was acknowledged: no per-event figure.
std::string PerEvent(double cpu_s, uint64_t events) {
  if (events == 0 || cpu_s < 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", cpu_s * 1e6 / double(events));
  return buf;
}

void Report(const bench::LoadConfig& c, const bench::LoadStats& all, const CpuWindow& cpu) {
  uint64_t errors = 0;
  std::string by_code;
  for (auto [code, n] : all.errors) {
    errors += n;
    by_code += " code" + std::to_string(code) + "=" + std::to_string(n);
  }
  const double eps = double(all.ok) / c.seconds;
  std::printf("mix %s, %zu connections x depth %zu on %zu client threads, %.1f s measured (+%.1f s warm-up)%s\n",
              c.mix.c_str(), c.connections, c.depth, std::min(c.threads, c.connections), c.seconds, c.warmup,
              c.rate > 0 ? (", paced at " + std::to_string(int64_t(c.rate)) + " req/s").c_str() : "");
  std::printf("  acknowledged appends: %llu (%.0f events/s), duplicates %llu, errors %llu%s, failed connections %zu\n",
              static_cast<unsigned long long>(all.ok), eps, static_cast<unsigned long long>(all.duplicates),
              static_cast<unsigned long long>(errors), by_code.c_str(), all.failed_connections);
  std::printf("  latency intended send->reply: p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms\n",
              Percentile(all.latency_us, 0.5), Percentile(all.latency_us, 0.99), Percentile(all.latency_us, 0.999),
              all.latency_us.empty() ? 0.0 : all.latency_us.back() / 1000.0);
  char server_s[32] = "-";
  if (cpu.server_s >= 0) std::snprintf(server_s, sizeof server_s, "%.3f", cpu.server_s);
  const std::string server_us = PerEvent(cpu.server_s, all.ok), client_us = PerEvent(cpu.client_s, all.ok);
  std::printf("  cpu over the window: client %.3f s (%s us/event), server %s s (%s us/event)\n", cpu.client_s,
              client_us.c_str(), server_s, server_us.c_str());
  std::printf("RESULT mix=%s connections=%zu depth=%zu rate=%.0f seconds=%.2f ok=%llu events_per_s=%.0f p50_ms=%.3f "
              "p99_ms=%.3f p999_ms=%.3f errors=%llu failed_connections=%zu client_cpu_s=%.3f server_cpu_s=%s "
              "server_cpu_us_per_event=%s client_cpu_us_per_event=%s registrations=%llu\n",
              c.mix.c_str(), c.connections, c.depth, c.rate, c.seconds, static_cast<unsigned long long>(all.ok), eps,
              Percentile(all.latency_us, 0.5), Percentile(all.latency_us, 0.99), Percentile(all.latency_us, 0.999),
              static_cast<unsigned long long>(errors), all.failed_connections, cpu.client_s, server_s,
              server_us.c_str(), client_us.c_str(), static_cast<unsigned long long>(all.registrations));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  c.load.threads = std::max(1u, std::thread::hardware_concurrency());
  CLI::App app{"accountable-bench: load a running accountabled over the wire protocol"};
  AddOptions(app, c);
  CLI11_PARSE(app, argc, argv);
  c.load.token = ReadToken(c.load.token, c.token_file);
  if (c.load.token.empty()) {
    std::fprintf(stderr, "error: give --token or a --token-file with a writer token\n");
    return 2;
  }
  // New accounts of the auth mix must not collide with an earlier run's.
  c.load.new_stem = c.prefix + "-new-" + std::to_string(std::random_device{}() & 0xffffff);

  std::vector<Account> accounts;
  const auto p0 = Clock::now();
  if (!Prepare(c, &accounts)) return 1;
  std::fprintf(stderr, "prepared %zu accounts in %.1f s\n", accounts.size(),
               std::chrono::duration<double>(Clock::now() - p0).count());

  CpuWindow cpu;
  double server0 = -1;
  bench::LoadProbe probe;
  probe.at_measure_from = [&] {
    cpu.client_s = SelfCpuSeconds();
    if (c.server_pid > 0) server0 = ProcessCpuSeconds(c.server_pid);
  };
  probe.at_stop = [&] {
    cpu.client_s = SelfCpuSeconds() - cpu.client_s;
    const double server1 = c.server_pid > 0 ? ProcessCpuSeconds(c.server_pid) : -1;
    if (server0 >= 0 && server1 >= 0) cpu.server_s = server1 - server0;
  };
  bench::LoadStats stats;
  acc::Status s = bench::RunLoad(c.load, accounts, probe, &stats);
  if (!s.ok()) {
    std::fprintf(stderr, "load: %s\n", s.ToString().c_str());
    return 1;
  }
  PrintFailures(stats);
  if (c.server_pid > 0 && cpu.server_s < 0) std::fprintf(stderr, "could not read /proc/%d/stat\n", c.server_pid);
  Report(c.load, stats, cpu);
  return stats.failed_connections > 0 || stats.ok == 0 ? 1 : 0;
}
