// accountable-append-bench: throughput and latency of Ledger::Append with
// sync group commit, from T producer threads, with and without the
// projections::Projector hook. Not a test; run by hand, results go to
// docs/performance.md.
//
//   accountable-append-bench --threads 1,4,16,64 --batch 1,16 --seconds 3
//   accountable-append-bench --threads 1,16 --batch 1,16 --tree both   # Merkle cost
//   accountable-append-bench --threads 16 --batch 16 --hook projector --accounts 1000 --prefill 200000
//
// --tree off sets LedgerOptions::merkle_tree = false (benchmarks only): the
// same appends without the RFC 6962 tree's hashes and rows, to measure its cost.
// Each event is a LoginSucceeded envelope for the thread's own account (or,
// with --accounts N, for one of N registered accounts picked at random, as
// the server's mix spreads commands), under a request id of 64 random hex
// digits, the shape of the stored idempotency keys, carrying --payload-bytes - 40 bytes of plaintext sealed under a random DEK
// with the storage format's padding (SealForAccount): the default 120 gives
// the 296-byte box of a real login (IP + user agent). Sealing and
// encoding happen before the timed Append call, as in the real write path.
// --prefill N appends N such events first, then closes and reopens the
// ledger (flushing every memtable to SSTs), so the timed run's point lookups
// see a DB with history, as a server after a restart does.
// Mean group size is derived from LedgerOptions::on_commit, which the writer
// calls once per durable group.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "core/crypto.h"
#include "core/ledger.h"
#include "core/vault.h"
#include "events/event.h"
#include "projections/fold/activity.h"
#include "projections/fold/projector.h"
#include "bench_util.h"

namespace acc = accountable;
namespace fb = accountable::fb;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  std::vector<size_t> threads = {4};
  std::vector<size_t> batches = {1};
  double seconds = 3;
  size_t payload_bytes = 120;
  size_t accounts = 0;  // 0: one account per thread
  size_t prefill = 0;
  size_t lookups = 0;  // point lookups of each kind timed after the run
  std::string hooks = "both";  // none | projector | both
  std::string trees = "on";    // on | off | both
  std::string tmp = "/tmp";
};

struct Result {
  uint64_t events = 0, appends = 0, groups = 0;
  double seconds = 0;
  // CPU time of the writer thread and of the whole process over the run:
  // fsync latency swings 0.2-8 ms on a shared disk, CPU per event does not.
  double writer_cpu_s = 0, process_cpu_s = 0;
  std::vector<uint64_t> latencies_ns;
  // Thread CPU ns per point lookup after the run (--lookups): request id
  // absent and present, accounts row, stream version (a SeekForPrev).
  double rid_miss_ns = 0, rid_hit_ns = 0, account_ns = 0, version_ns = 0;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "error: %s\nusage: accountable-append-bench [--threads 1,4,16] [--batch 1,16]\n"
               "  [--seconds S] [--payload-bytes N] [--hook none|projector|both] [--tree on|off|both]\n"
               "  [--accounts N] [--prefill EVENTS] [--lookups N] [--tmp DIR]\n",
               why);
  std::exit(2);
}

std::vector<size_t> ParseList(const std::string& s, bool allow_zero = false) {
  auto list = accountable::bench::ParseList(s, allow_zero);
  if (!list) Usage("expected a comma-separated list of positive numbers");
  return *list;
}

Config ParseArgs(int argc, char** argv) {
  Config c;
  accountable::bench::ForEachFlag(argc, argv, [&](const std::string& a, const std::string& v) {
    if (a == "--threads") c.threads = ParseList(v);
    else if (a == "--batch") c.batches = ParseList(v);
    else if (a == "--seconds") c.seconds = std::atof(v.c_str());
    else if (a == "--payload-bytes") c.payload_bytes = ParseList(v).at(0);
    else if (a == "--hook") c.hooks = v;
    else if (a == "--tree") c.trees = v;
    else if (a == "--accounts") c.accounts = ParseList(v).at(0);
    else if (a == "--lookups") c.lookups = ParseList(v, true).at(0);
    else if (a == "--prefill") c.prefill = ParseList(v, true).at(0);
    else if (a == "--tmp") c.tmp = v;
    else return false;
    return true;
  }, Usage);
  if (c.seconds <= 0) Usage("--seconds must be positive");
  if (c.payload_bytes < acc::crypto::kSealOverheadBytes) Usage("--payload-bytes must be at least 40");
  if (c.hooks != "none" && c.hooks != "projector" && c.hooks != "both") Usage("bad --hook");
  if (c.trees != "on" && c.trees != "off" && c.trees != "both") Usage("bad --tree");
  return c;
}

int64_t WallMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void Check(const acc::Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}


// splitmix64: cheap, well-mixed bits for request ids and account picks.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// One thread's event source: its own account (accounts == 0) or one of
// accounts 1..accounts at random, and its own data key.
class Producer {
 public:
  Producer(size_t index, size_t payload_bytes, size_t accounts)
      : account_(index + 1), accounts_(accounts), dek_(acc::crypto::RandomKey()),
        plain_(acc::crypto::RandomBytes(payload_bytes - acc::crypto::kSealOverheadBytes)),
        seed_(Mix(index) ^ static_cast<uint64_t>(WallMs())) {}

  uint64_t account() const { return account_; }
  std::string RegistrationBox() { return acc::crypto::Seal(dek_, plain_, "reg"); }

  uint64_t produced() const { return counter_; }
  // The request id of this producer's n-th event.
  std::string RequestId(uint64_t n) const {
    char rid[65];
    for (uint64_t w = 0; w < 4; ++w)
      std::snprintf(rid + 16 * w, 17, "%016llx", static_cast<unsigned long long>(Mix(seed_ + 4 * n + w)));
    return std::string(rid, 64);
  }

  acc::Ledger::Command Next() {
    const uint64_t n = counter_++;
    const uint64_t account = accounts_ ? 1 + Mix(~seed_ + n) % accounts_ : account_;
    return {acc::bench::LoginEnvelope(account, WallMs(), RequestId(n), dek_, plain_), std::nullopt};
  }

 private:
  uint64_t account_;
  size_t accounts_;
  acc::crypto::Key32 dek_;
  std::string plain_;
  uint64_t seed_;
  uint64_t counter_ = 0;
};

void AppendAll(acc::Ledger& ledger, std::vector<acc::Ledger::Command>* commands) {
  constexpr size_t kSetupBatch = 256;
  for (size_t i = 0; i < commands->size(); i += kSetupBatch) {
    const size_t end = std::min(commands->size(), i + kSetupBatch);
    std::vector<acc::Ledger::Command> batch(std::make_move_iterator(commands->begin() + static_cast<std::ptrdiff_t>(i)),
                                            std::make_move_iterator(commands->begin() + static_cast<std::ptrdiff_t>(end)));
    std::vector<acc::Ledger::Appended> out;
    Check(ledger.Append(std::move(batch), &out), "setup append");
  }
  commands->clear();
}

struct ThreadStats {
  uint64_t appends = 0, events = 0;
  std::vector<uint64_t> latencies_ns;
};

void ProducerLoop(acc::Ledger& ledger, Producer& p, size_t batch_size, Clock::time_point deadline,
                  ThreadStats* st) {
  while (Clock::now() < deadline) {
    std::vector<acc::Ledger::Command> batch;
    batch.reserve(batch_size);
    for (size_t i = 0; i < batch_size; ++i) batch.push_back(p.Next());
    std::vector<acc::Ledger::Appended> out;
    auto t0 = Clock::now();
    Check(ledger.Append(std::move(batch), &out), "append");
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
    st->latencies_ns.push_back(static_cast<uint64_t>(ns));
    ++st->appends;
    st->events += out.size();
  }
}

// The policy, the registrations and --prefill events, then a close and
// reopen when prefilled so the history sits in SSTs.
void Setup(const Config& c, const acc::LedgerOptions& lo, std::vector<Producer>* producers,
           std::unique_ptr<acc::Ledger>* ledger) {
  std::vector<acc::Ledger::Command> setup;
  setup.push_back({acc::bench::PolicyEnvelope(WallMs(), "bench/policy"), std::nullopt});
  const size_t accounts = c.accounts ? c.accounts : producers->size();
  for (uint64_t a = 1; a <= accounts; ++a) {
    Producer& p = (*producers)[c.accounts ? 0 : a - 1];
    setup.push_back({acc::bench::RegisteredEnvelope(a, WallMs(), "bench/reg/" + std::to_string(a),
                                                    p.RegistrationBox()),
                     std::nullopt});
  }
  for (size_t i = 0; i < c.prefill; ++i) setup.push_back((*producers)[i % producers->size()].Next());
  AppendAll(**ledger, &setup);
  if (c.prefill == 0) return;
  Check((*ledger)->Close(), "close after prefill");
  ledger->reset();
  Check(acc::Ledger::Open(lo, ledger), "reopen after prefill");
}

// The reads the writer and the server's callers make per command, timed on
// this thread's CPU clock against the DB as the run left it (a memtable of
// recent writes over SSTs). The fastest of kLookupChunks equal chunks is
// kept: on a shared box, cache pollution by other processes only adds.
constexpr size_t kLookupChunks = 20;

template <typename Fn>
double CpuNsEach(size_t n, Fn&& fn) {
  const size_t chunk = std::max<size_t>(n / kLookupChunks, 1);
  double best_ns = 0;
  for (size_t from = 0; from + chunk <= n; from += chunk) {
    const double t0 = ThreadCpuSeconds();
    for (size_t i = from; i < from + chunk; ++i) fn(i);
    const double ns = (ThreadCpuSeconds() - t0) * 1e9 / static_cast<double>(chunk);
    if (best_ns == 0 || ns < best_ns) best_ns = ns;
  }
  return best_ns;
}

void TimeLookups(acc::Ledger& ledger, const Producer& p, size_t accounts, size_t n, Result* r) {
  std::string v;
  uint64_t seq = 0, sink = 0;
  const uint64_t made = std::max<uint64_t>(p.produced(), 1);
  std::vector<std::string> absent, present, account_keys;
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < n; ++i) {  // keys made before the clock starts
    absent.push_back(p.RequestId(made + (uint64_t{1} << 40) + i));
    present.push_back(p.RequestId(Mix(i) % made));
    ids.push_back(1 + Mix(i) % accounts);
    account_keys.push_back(acc::AccountKey(ids.back()));
  }
  r->rid_miss_ns = CpuNsEach(n, [&](size_t i) { sink += ledger.LookupRequest(absent[i], &seq, nullptr).ok(); });
  r->rid_hit_ns = CpuNsEach(n, [&](size_t i) { sink += ledger.LookupRequest(present[i], &seq, nullptr).ok(); });
  r->account_ns = CpuNsEach(n, [&](size_t i) { sink += ledger.Get(acc::Cf::kAccounts, account_keys[i], &v).ok(); });
  r->version_ns = CpuNsEach(n, [&](size_t i) { sink += ledger.StreamVersion(ids[i]); });
  if (sink == 0) std::fprintf(stderr, "lookups found nothing\n");
}

Result RunOnce(const Config& c, bool with_hook, bool with_tree, size_t threads, size_t batch_size) {
  std::string dir = c.tmp + "/acc-bench-" + std::to_string(::getpid()) + "-" + std::to_string(WallMs());
  acc::Projector projector;
  std::atomic<uint64_t> commits{0};
  std::atomic<double> writer_cpu_s{0};  // as of the last commit; on_commit runs on the writer
  acc::LedgerOptions lo;
  lo.dir = dir + "/events";
  lo.hook = with_hook ? &projector : nullptr;
  lo.merkle_tree = with_tree;
  lo.activity_merge = acc::MergeActivity;
  lo.on_commit = [&commits, &writer_cpu_s](uint64_t) {
    writer_cpu_s.store(ThreadCpuSeconds(), std::memory_order_relaxed);
    commits.fetch_add(1, std::memory_order_relaxed);
  };
  std::filesystem::create_directories(dir);
  std::unique_ptr<acc::Ledger> ledger;
  Check(acc::Ledger::Open(lo, &ledger), "open ledger");
  std::vector<Producer> producers;
  producers.reserve(threads);
  for (size_t t = 0; t < threads; ++t) producers.emplace_back(t, c.payload_bytes, c.accounts);
  Setup(c, lo, &producers, &ledger);
  // A reopen starts a new writer thread, whose CPU clock starts near zero.
  if (c.prefill) writer_cpu_s.store(0);

  std::vector<ThreadStats> stats(threads);
  const uint64_t commits_before = commits.load();
  const double writer_before = writer_cpu_s.load(), process_before = ProcessCpuSeconds();
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(c.seconds));
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t)
    workers.emplace_back(ProducerLoop, std::ref(*ledger), std::ref(producers[t]), batch_size, deadline, &stats[t]);
  for (auto& w : workers) w.join();
  Result r;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.groups = commits.load() - commits_before;
  r.writer_cpu_s = writer_cpu_s.load() - writer_before;
  r.process_cpu_s = ProcessCpuSeconds() - process_before;
  for (auto& s : stats) {
    r.appends += s.appends;
    r.events += s.events;
    r.latencies_ns.insert(r.latencies_ns.end(), s.latencies_ns.begin(), s.latencies_ns.end());
  }
  if (c.lookups) TimeLookups(*ledger, producers[0], c.accounts ? c.accounts : threads, c.lookups, &r);
  Check(ledger->Close(), "close");
  ledger.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return r;
}

double PercentileUs(std::vector<uint64_t>& v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return static_cast<double>(v[k]) / 1000.0;
}

void PrintRow(const char* hook, bool tree, size_t threads, size_t batch, Result& r) {
  double p50 = PercentileUs(r.latencies_ns, 0.50);
  double p99 = PercentileUs(r.latencies_ns, 0.99);
  double group = r.groups ? static_cast<double>(r.events) / static_cast<double>(r.groups) : 0;
  const double events = static_cast<double>(std::max<uint64_t>(r.events, 1));
  std::printf("| %-9s | %-4s | %7zu | %5zu | %10.0f | %10.0f | %8.1f | %9.0f | %9.0f | %9.2f | %9.2f |\n", hook,
              tree ? "on" : "off", threads, batch,
              static_cast<double>(r.events) / r.seconds, static_cast<double>(r.appends) / r.seconds, group,
              p50, p99, r.writer_cpu_s * 1e6 / events, r.process_cpu_s * 1e6 / events);
  if (r.rid_miss_ns > 0)
    std::printf("# lookups, thread CPU ns each (fastest chunk): request id absent %.0f, present %.0f, accounts row %.0f, "
                "stream version %.0f\n",
                r.rid_miss_ns, r.rid_hit_ns, r.account_ns, r.version_ns);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Config c = ParseArgs(argc, argv);
  Check(acc::crypto::InitCrypto(), "init crypto");
  std::printf("# %.1f s per run, --payload-bytes %zu, LoginSucceeded envelopes, sync group commit, "
              "--accounts %zu, --prefill %zu\n",
              c.seconds, c.payload_bytes, c.accounts, c.prefill);
  std::printf("| hook      | tree | threads | batch |   events/s |  appends/s | ev/group |  p50 (us) |  p99 (us) "
              "| writer us/ev | cpu us/ev |\n");
  std::printf("|-----------|------|---------|-------|------------|------------|----------|-----------|-----------"
              "|-----------|-----------|\n");
  std::vector<bool> hooks;
  if (c.hooks != "projector") hooks.push_back(false);
  if (c.hooks != "none") hooks.push_back(true);
  std::vector<bool> trees;
  if (c.trees != "off") trees.push_back(true);
  if (c.trees != "on") trees.push_back(false);
  // Tree on and off back to back for each point, so both see the same load.
  for (size_t batch : c.batches)
    for (size_t threads : c.threads)
      for (bool h : hooks)
        for (bool t : trees) {
          Result r = RunOnce(c, h, t, threads, batch);
          PrintRow(h ? "projector" : "none", t, threads, batch, r);
        }
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) == 3) std::printf("# load average %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  return 0;
}
