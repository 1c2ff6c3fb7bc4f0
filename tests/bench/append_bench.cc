// accountable-append-bench: throughput and latency of Ledger::Append with
// sync group commit, from T producer threads, with and without the
// projections::Projector hook. Not a test; run by hand, results go to
// docs/performance.md.
//
//   accountable-append-bench --threads 1,4,16,64 --batch 1,16 --seconds 3
//   accountable-append-bench --threads 1,16 --batch 1,16 --tree both   # Merkle cost
//
// --tree off sets LedgerOptions::merkle_tree = false (benchmarks only): the
// same appends without the RFC 6962 tree's hashes and rows, to measure its cost.
// Each event is a LoginSucceeded envelope for the thread's own account,
// carrying --payload-bytes - 40 bytes of plaintext sealed under a random DEK
// with the storage format's padding (SealForAccount): the default 120 gives
// the 296-byte box of a real login (IP + user agent). Sealing and
// encoding happen before the timed Append call, as in the real write path.
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
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "error: %s\nusage: accountable-append-bench [--threads 1,4,16] [--batch 1,16]\n"
               "  [--seconds S] [--payload-bytes N] [--hook none|projector|both] [--tree on|off|both]\n"
               "  [--tmp DIR]\n",
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


// One thread's event source: its own account and data key.
class Producer {
 public:
  Producer(size_t index, size_t payload_bytes)
      : account_(index + 1), dek_(acc::crypto::RandomKey()),
        plain_(acc::crypto::RandomBytes(payload_bytes - acc::crypto::kSealOverheadBytes)),
        prefix_("bench/t" + std::to_string(index) + "/") {}

  uint64_t account() const { return account_; }
  std::string RegistrationBox() { return acc::crypto::Seal(dek_, plain_, "reg"); }

  acc::Ledger::Command Next() {
    std::string rid = prefix_ + std::to_string(counter_++);
    return {acc::bench::LoginEnvelope(account_, WallMs(), rid, dek_, plain_), std::nullopt};
  }

 private:
  uint64_t account_;
  acc::crypto::Key32 dek_;
  std::string plain_;
  std::string prefix_;
  uint64_t counter_ = 0;
};

void AppendOne(acc::Ledger& ledger, std::string envelope) {
  std::vector<acc::Ledger::Command> batch(1);
  batch[0].envelope = std::move(envelope);
  std::vector<acc::Ledger::Appended> out;
  Check(ledger.Append(std::move(batch), &out), "setup append");
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
  AppendOne(*ledger, acc::bench::PolicyEnvelope(WallMs(), "bench/policy"));
  for (size_t t = 0; t < threads; ++t) {
    producers.emplace_back(t, c.payload_bytes);
    AppendOne(*ledger, acc::bench::RegisteredEnvelope(producers.back().account(), WallMs(),
                                                      "bench/reg/" + std::to_string(producers.back().account()),
                                                      producers.back().RegistrationBox()));
  }

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
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Config c = ParseArgs(argc, argv);
  Check(acc::crypto::InitCrypto(), "init crypto");
  std::printf("# %.1f s per run, --payload-bytes %zu, LoginSucceeded envelopes, sync group commit\n",
              c.seconds, c.payload_bytes);
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
