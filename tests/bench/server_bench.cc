// accountable-bench: end-to-end load against a running accountabled, over the
// real protocol (docs/protocol.md), with the blocking accountable::Client.
// Not a test; run by hand or by tests/bench/side_by_side.sh, results go to
// docs/performance.md ("Server: side by side").
//
//   accountable-bench --server 127.0.0.1:7400 --token-file TOKENS
//       --connections 64 --depth 8 --seconds 10 --mix cheap
//
// Each connection is one thread with its own Client. It keeps up to --depth
// requests in flight: Send until depth are outstanding, then Receive one,
// Send another, ... Latency is send -> reply of each request. With --rate
// the sends are paced (total requests/s over all connections), for latency
// at a given load rather than at saturation.
//
// Mixes (every request appends exactly one event when it succeeds):
//   cheap - consent give/withdraw, profile update, record-access, round
//           robin, on accounts registered before the timed run;
//   auth  - register a new account + login to a prepared one (Argon2id
//           dominates: the server's --argon2-* settings decide the rate).
//
// Preparation registers --accounts accounts with fixed request ids
// ("bench/reg/<prefix>/<i>"), so a second run against the same server gets
// the same accounts back as duplicates, without paying Argon2id again.
//
// The last line of output is machine-readable:
//   RESULT mix=cheap connections=64 depth=8 seconds=10.00 ok=... events_per_s=...
//          p50_ms=... p99_ms=... p999_ms=... errors=...
//
// Exit code: 0, or 1 if a connection failed / nothing succeeded, 2 usage.

// Boost 1.74 awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/client/client.h"

namespace acc = accountable;
namespace wire = accountable::wire;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  std::string server = "127.0.0.1:7400";
  std::string token, token_file;
  size_t connections = 16;
  size_t depth = 1;
  double seconds = 10;
  double warmup = 1;
  std::string mix = "cheap";
  size_t accounts = 1000;
  size_t prepare_connections = 16;
  std::string prefix = "bench";
  double rate = 0;  // total requests/s; 0: as fast as replies allow
};

struct Account {
  uint64_t id = 0;
  std::string email;
  bool surveys_given = false;  // consent state we set; only this connection touches it
  bool busy = false;           // a request for it is in flight
  uint64_t updates = 0;
};

constexpr const char* kPassword = "bench-password-1";

// Per-connection results.
struct Stats {
  uint64_t ok = 0, duplicates = 0;
  std::map<uint8_t, uint64_t> errors;  // code -> count
  std::vector<uint32_t> latency_us;
  std::string failure;                 // connection-level failure
};

std::string ReadToken(const Config& c) {
  if (!c.token.empty()) return c.token;
  std::ifstream f(c.token_file);
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.find_first_of(" \t");
    std::string role = sp == std::string::npos ? "" : line.substr(line.find_first_not_of(" \t", sp));
    if (role.rfind("writer", 0) == 0) return line.substr(0, sp);
  }
  return "";
}

flatbuffers::Offset<void> RegisterBody(flatbuffers::FlatBufferBuilder& f, const std::string& nick,
                                       const std::string& email) {
  return wire::CreateRegisterDirect(f, nick.c_str(), email.c_str(), kPassword, "unspecified", "1990-01-01",
                                    "192.0.2.1", "accountable-bench/1", "", "1.01")
      .Union();
}

// Registers accounts [begin, end) over one connection, depth-pipelined.
bool PrepareRange(const Config& c, const std::string& token, size_t begin, size_t end,
                  std::vector<Account>* accounts, std::string* err) {
  std::unique_ptr<acc::Client> cl;
  acc::Status s = acc::Client::Connect(c.server, token, &cl);
  if (!s.ok()) {
    *err = s.ToString();
    return false;
  }
  std::unordered_map<uint64_t, size_t> pending;  // corr -> index
  size_t next = begin;
  const size_t depth = 8;
  while (next < end || !pending.empty()) {
    while (next < end && pending.size() < depth) {
      Account& a = (*accounts)[next];
      a.email = c.prefix + "-" + std::to_string(next) + "@bench.example.org";
      const std::string nick = "bench" + std::to_string(next);
      uint64_t corr;
      s = cl->Send(wire::Body::Register, [&](auto& f) { return RegisterBody(f, nick, a.email); }, &corr,
                   "bench/reg/" + c.prefix + "/" + std::to_string(next));
      if (!s.ok()) {
        *err = s.ToString();
        return false;
      }
      pending[corr] = next++;
    }
    acc::Client::Reply r;
    s = cl->Receive(&r);
    if (!s.ok()) {
      *err = s.ToString();
      return false;
    }
    auto it = pending.find(r.correlation_id);
    if (it == pending.end()) {
      *err = "reply with unknown correlation id " + std::to_string(r.correlation_id) + ": " + r.status.ToString();
      return false;
    }
    if (!r.status.ok()) {
      *err = "register: " + r.status.ToString();
      return false;
    }
    (*accounts)[it->second].id = r.account_id;
    pending.erase(it);
  }
  return true;
}

bool Prepare(const Config& c, const std::string& token, std::vector<Account>* accounts) {
  accounts->assign(c.accounts, {});
  const size_t n = std::max<size_t>(1, std::min(c.prepare_connections, c.accounts));
  std::vector<std::thread> threads;
  std::vector<std::string> errs(n);
  std::atomic<bool> ok{true};
  for (size_t t = 0; t < n; ++t)
    threads.emplace_back([&, t] {
      size_t b = c.accounts * t / n, e = c.accounts * (t + 1) / n;
      if (!PrepareRange(c, token, b, e, accounts, &errs[t])) ok = false;
    });
  for (auto& th : threads) th.join();
  for (auto& e : errs)
    if (!e.empty()) std::fprintf(stderr, "prepare: %s\n", e.c_str());
  return ok;
}

class Connection {
 public:
  Connection(const Config& c, size_t index, std::vector<Account> mine, std::vector<Account>* all)
      : c_(c), index_(index), mine_(std::move(mine)), all_(all) {}

  void Run(acc::Client& cl, Clock::time_point start, Clock::time_point measure_from,
           Clock::time_point stop, Stats* st) {
    struct Pending {
      Clock::time_point sent;
      int account = -1;
      int op = 0;
    };
    std::unordered_map<uint64_t, Pending> pending;
    const double per_conn_rate = c_.rate > 0 ? c_.rate / double(c_.connections) : 0;
    // Stagger paced connections so they don't fire in lockstep.
    Clock::time_point next_send =
        start + (per_conn_rate > 0 ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                         double(index_) / double(c_.connections) / per_conn_rate))
                                   : Clock::duration::zero());
    const auto interval = per_conn_rate > 0
                              ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / per_conn_rate))
                              : Clock::duration::zero();
    for (;;) {
      Clock::time_point now = Clock::now();
      const bool sending = now < stop;
      if (!sending && pending.empty()) break;
      if (sending && pending.size() < c_.depth) {
        if (per_conn_rate > 0 && now < next_send) {
          if (pending.empty()) {
            std::this_thread::sleep_until(next_send);
            continue;
          }
          // Something is outstanding: take its reply while waiting (blocking).
        } else {
          Pending p;
          uint64_t corr = 0;
          acc::Status s = SendOne(cl, &p.account, &p.op, &corr);
          if (!s.ok()) {
            st->failure = s.ToString();
            return;
          }
          p.sent = Clock::now();
          pending[corr] = p;
          if (per_conn_rate > 0) next_send += interval;
          continue;
        }
      }
      acc::Client::Reply r;
      acc::Status s = cl.Receive(&r);
      const auto got = Clock::now();
      if (!s.ok()) {
        st->failure = s.ToString();
        return;
      }
      auto it = pending.find(r.correlation_id);
      if (it == pending.end()) {
        st->failure = "reply with correlation id " + std::to_string(r.correlation_id) + ": code " +
                      std::to_string(r.code) + " " + r.status.message();
        return;
      }
      Done(it->second.account, it->second.op, r);
      if (it->second.sent >= measure_from && it->second.sent < stop) {
        if (r.code == 0 && !r.duplicate) ++st->ok;
        else if (r.code == 0) ++st->duplicates;
        else ++st->errors[r.code];
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(got - it->second.sent).count();
        st->latency_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
      }
      pending.erase(it);
    }
  }

 private:
  // Picks the next operation and sends it.
  acc::Status SendOne(acc::Client& cl, int* account, int* op, uint64_t* corr) {
    if (c_.mix == "auth") {
      *op = int(counter_++ % 2);
      if (*op == 0) {  // register a fresh account
        const std::string n = std::to_string(index_) + "-" + std::to_string(counter_);
        const std::string email = c_.prefix + "-new-" + n + "@bench.example.org";
        return cl.Send(wire::Body::Register, [&](auto& f) { return RegisterBody(f, "new" + n, email); }, corr);
      }
      const Account& a = (*all_)[rng_() % all_->size()];
      return cl.Send(wire::Body::Login, [&](auto& f) {
        return wire::CreateLoginDirect(f, a.email.c_str(), 0, kPassword, "192.0.2.7", "accountable-bench/1").Union();
      }, corr);
    }
    // cheap: consent, update, record-access, consent, ...
    *op = int(counter_++ % 3);
    if (*op == 2) {
      *account = -1;
      return cl.Send(wire::Body::RecordAccess, [&](auto& f) {
        return wire::CreateRecordAccessDirect(f, "198.51.100.23", "Firefox 128", "Example ISP", "https://example.org/",
                                              "Linux", "/forum/thread/42").Union();
      }, corr);
    }
    // An account of ours with no request in flight (consent toggles must not race).
    int pick = -1;
    for (size_t i = 0; i < mine_.size(); ++i) {
      size_t k = (cursor_ + i) % mine_.size();
      if (!mine_[k].busy) {
        pick = int(k);
        cursor_ = k + 1;
        break;
      }
    }
    if (pick < 0) {  // all busy: record an access instead
      *op = 2;
      *account = -1;
      return cl.Send(wire::Body::RecordAccess, [&](auto& f) {
        return wire::CreateRecordAccessDirect(f, "198.51.100.23", "Firefox 128", "", "", "Linux", "/").Union();
      }, corr);
    }
    Account& a = mine_[pick];
    a.busy = true;
    *account = pick;
    if (*op == 0) {
      const bool give = !a.surveys_given;
      return cl.Send(wire::Body::Consent, [&](auto& f) {
        return wire::CreateConsentDirect(f, a.id, "surveys", give).Union();
      }, corr);
    }
    const std::string nick = "b" + std::to_string(a.id) + "u" + std::to_string(++a.updates);
    return cl.Send(wire::Body::Update, [&](auto& f) {
      return wire::CreateUpdateDirect(f, a.id, nick.c_str()).Union();
    }, corr);
  }

  void Done(int account, int op, const acc::Client::Reply& r) {
    if (account < 0) return;
    Account& a = mine_[size_t(account)];
    a.busy = false;
    if (op == 0 && r.code == 0) a.surveys_given = !a.surveys_given;
  }

  const Config& c_;
  size_t index_;
  std::vector<Account> mine_;
  std::vector<Account>* all_;
  size_t cursor_ = 0;
  uint64_t counter_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
};

double Percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * double(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)] / 1000.0;
}

void AddOptions(CLI::App& app, Config& c) {
  app.add_option("--server", c.server, "HOST:PORT")->capture_default_str();
  app.add_option("--token", c.token, "writer token");
  app.add_option("--token-file", c.token_file, "token file; the first writer token is used");
  app.add_option("--connections", c.connections)->check(CLI::Range(1, 4096))->capture_default_str();
  app.add_option("--depth", c.depth, "pipelined requests per connection")->check(CLI::Range(1, 65536))->capture_default_str();
  app.add_option("--seconds", c.seconds, "measured duration")->check(CLI::Range(0.1, 3600.0))->capture_default_str();
  app.add_option("--warmup", c.warmup, "seconds run before measuring")->check(CLI::Range(0.0, 600.0))->capture_default_str();
  app.add_option("--mix", c.mix, "cheap | auth")->check(CLI::IsMember({"cheap", "auth"}))->capture_default_str();
  app.add_option("--accounts", c.accounts, "accounts to prepare")->check(CLI::Range(1, 10000000))->capture_default_str();
  app.add_option("--prepare-connections", c.prepare_connections)->check(CLI::Range(1, 1024))->capture_default_str();
  app.add_option("--prefix", c.prefix, "names the prepared accounts; reuse it to reuse them")->capture_default_str();
  app.add_option("--rate", c.rate, "total requests/s over all connections; 0 = unpaced")->capture_default_str();
}

// Connects everyone first, so connection setup is not measured, then runs
// the load; false if a connection could not be made.
bool RunLoad(const Config& c, const std::string& token, std::vector<Account>& accounts, std::vector<Stats>* stats) {
  std::vector<std::unique_ptr<acc::Client>> clients(c.connections);
  for (auto& cl : clients) {
    acc::Status s = acc::Client::Connect(c.server, token, &cl);
    if (!s.ok()) {
      std::fprintf(stderr, "connect: %s\n", s.ToString().c_str());
      return false;
    }
  }
  std::vector<std::unique_ptr<Connection>> conns;
  for (size_t i = 0; i < c.connections; ++i) {
    std::vector<Account> mine;  // disjoint shares; with fewer accounts than connections, share none
    for (size_t k = i; k < accounts.size(); k += c.connections) mine.push_back(accounts[k]);
    conns.push_back(std::make_unique<Connection>(c, i, std::move(mine), &accounts));
  }
  stats->assign(c.connections, Stats());
  const auto start = Clock::now() + std::chrono::milliseconds(50);
  const auto measure_from = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(c.warmup));
  const auto stop = measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(c.seconds));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < c.connections; ++i)
    threads.emplace_back([&, i] {
      std::this_thread::sleep_until(start);
      conns[i]->Run(*clients[i], start, measure_from, stop, &(*stats)[i]);
    });
  for (auto& t : threads) t.join();

  return true;
}

// Sums the connections' counts and latencies into one; *failed counts the
// connections that broke (the first five are named on stderr).
Stats MergeStats(std::vector<Stats>& stats, size_t* failed) {
  Stats all;
  *failed = 0;
  for (auto& s : stats) {
    all.ok += s.ok;
    all.duplicates += s.duplicates;
    for (auto [code, n] : s.errors) all.errors[code] += n;
    all.latency_us.insert(all.latency_us.end(), s.latency_us.begin(), s.latency_us.end());
    if (!s.failure.empty()) {
      if ((*failed)++ < 5) std::fprintf(stderr, "connection failed: %s\n", s.failure.c_str());
    }
  }
  std::sort(all.latency_us.begin(), all.latency_us.end());
  return all;
}

void Report(const Config& c, const Stats& all, size_t failed) {
  uint64_t errors = 0;
  std::string by_code;
  for (auto [code, n] : all.errors) {
    errors += n;
    by_code += " code" + std::to_string(code) + "=" + std::to_string(n);
  }
  const double eps = double(all.ok) / c.seconds;
  std::printf("mix %s, %zu connections x depth %zu, %.1f s measured (+%.1f s warm-up)%s\n", c.mix.c_str(),
              c.connections, c.depth, c.seconds, c.warmup,
              c.rate > 0 ? (", paced at " + std::to_string(int64_t(c.rate)) + " req/s").c_str() : "");
  std::printf("  acknowledged appends: %llu (%.0f events/s), duplicates %llu, errors %llu%s, failed connections %zu\n",
              static_cast<unsigned long long>(all.ok), eps, static_cast<unsigned long long>(all.duplicates),
              static_cast<unsigned long long>(errors), by_code.c_str(), failed);
  std::printf("  latency send->reply: p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms\n",
              Percentile(all.latency_us, 0.5), Percentile(all.latency_us, 0.99), Percentile(all.latency_us, 0.999),
              all.latency_us.empty() ? 0.0 : all.latency_us.back() / 1000.0);
  std::printf("RESULT mix=%s connections=%zu depth=%zu rate=%.0f seconds=%.2f ok=%llu events_per_s=%.0f p50_ms=%.3f "
              "p99_ms=%.3f p999_ms=%.3f errors=%llu failed_connections=%zu\n",
              c.mix.c_str(), c.connections, c.depth, c.rate, c.seconds, static_cast<unsigned long long>(all.ok), eps,
              Percentile(all.latency_us, 0.5), Percentile(all.latency_us, 0.99), Percentile(all.latency_us, 0.999),
              static_cast<unsigned long long>(errors), failed);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  CLI::App app{"accountable-bench: load a running accountabled over the wire protocol"};
  AddOptions(app, c);
  CLI11_PARSE(app, argc, argv);
  const std::string token = ReadToken(c);
  if (token.empty()) {
    std::fprintf(stderr, "error: give --token or a --token-file with a writer token\n");
    return 2;
  }

  std::vector<Account> accounts;
  const auto p0 = Clock::now();
  if (!Prepare(c, token, &accounts)) return 1;
  std::fprintf(stderr, "prepared %zu accounts in %.1f s\n", accounts.size(),
               std::chrono::duration<double>(Clock::now() - p0).count());

  std::vector<Stats> stats;
  if (!RunLoad(c, token, accounts, &stats)) return 1;
  size_t failed = 0;
  const Stats all = MergeStats(stats, &failed);
  Report(c, all, failed);
  return failed > 0 || all.ok == 0 ? 1 : 0;
}
