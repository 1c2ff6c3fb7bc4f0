// accountable-audit-bench: how fast an auditor can check a ledger, and what
// its proofs cost. Not a test; run by hand, results go to docs/performance.md
// ("Verify, replay and proofs").
//
//   accountable-audit-bench --events 1000000                 # build, verify, replay, proofs
//   accountable-audit-bench --events 10000000 --proofs 2000  # the 10M proof table
//
// Builds a ledger of N events with Ledger::Append in large batches (one
// fsync per batch, not per event) through the Projector hook: --accounts
// Registered events, then LoginSucceeded events round-robin over them, each
// sealed from --payload-bytes as in accountable-append-bench. Then it
// reopens the ledger read-only, as an auditor does, and times
//   - audit::VerifyTree (projections/service/log_checks.h): every leaf recomputed and checked,
//     and the root recomputed from them;
//   - RebuildCheck (projections/fold/rebuild.h): the whole log replayed through
//     the Projector and compared with the stored projections;
//   - --proofs random inclusion and consistency proofs at the full size
//     (audit::ProveInclusion / ProveConsistency: JSON as accountable-audit
//     prints it), median and p99 microseconds, JSON bytes and hash count.
// It prints the mean envelope size, to pass to db_bench --value_size for
// the readseq comparison. The ledger directory is removed unless --keep.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/crypto.h"
#include "core/ledger.h"
#include "core/vault.h"
#include "events/event.h"
#include "projections/fold/activity.h"
#include "projections/fold/projector.h"
#include "projections/fold/rebuild.h"
#include "projections/service/log_checks.h"
#include "bench_util.h"

namespace acc = accountable;
namespace fb = accountable::fb;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kAppendBatchEvents = 4096;  // the ledger's batch_commands_max

struct Config {
  uint64_t events = 1000000;
  uint64_t accounts = 1000;
  size_t payload_bytes = 120;
  size_t proofs = 1000;
  std::string tmp = "/tmp";
  bool keep = false;
  std::string reuse;  // an event DB kept by an earlier --keep 1 run: skip the build
  bool replay = true;  // --replay 0: VerifyTree only (for profiling it)
  bool verify = true;  // --verify 0: RebuildCheck only (for profiling it)
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "error: %s\nusage: accountable-audit-bench [--events N] [--accounts N] [--payload-bytes N]\n"
               "  [--proofs N] [--tmp DIR] [--keep 1] [--reuse EVENT_DB_DIR] [--replay 0|1] [--verify 0|1]\n",
               why);
  std::exit(2);
}

size_t One(const std::string& v) {
  auto list = acc::bench::ParseList(v);
  if (!list || list->size() != 1) Usage("expected one positive number");
  return list->at(0);
}

Config ParseArgs(int argc, char** argv) {
  Config c;
  accountable::bench::ForEachFlag(argc, argv, [&](const std::string& a, const std::string& v) {
    if (a == "--events") c.events = One(v);
    else if (a == "--accounts") c.accounts = One(v);
    else if (a == "--payload-bytes") c.payload_bytes = One(v);
    else if (a == "--proofs") c.proofs = One(v);
    else if (a == "--tmp") c.tmp = v;
    else if (a == "--keep") c.keep = v == "1";
    else if (a == "--reuse") c.reuse = v;
    else if (a == "--replay") c.replay = v == "1";
    else if (a == "--verify") c.verify = v == "1";
    else return false;
    return true;
  }, Usage);
  if (c.payload_bytes < acc::crypto::kSealOverheadBytes) Usage("--payload-bytes must be at least 40");
  if (c.accounts + 1 > c.events) Usage("--events must exceed --accounts");
  return c;
}

void Check(const acc::Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr int64_t kStartMs = 1767225600000;  // 2026-01-01: fixed, so runs are comparable

std::string LoginEnvelope(uint64_t account, uint64_t n, const acc::crypto::Key32& dek, const std::string& plain) {
  return acc::bench::LoginEnvelope(account, kStartMs, "audit-bench/" + std::to_string(n), dek, plain);
}

// Appends the whole log; returns the mean envelope size in bytes.
double Build(const Config& c, const std::string& dir) {
  acc::Projector projector;
  acc::LedgerOptions lo;
  lo.dir = dir;
  lo.hook = &projector;
  lo.activity_merge = acc::MergeActivity;
  std::unique_ptr<acc::Ledger> ledger;
  Check(acc::Ledger::Open(lo, &ledger), "open ledger");
  const acc::crypto::Key32 dek = acc::crypto::RandomKey();  // one key for all: sealing cost is not measured here
  const std::string plain = acc::crypto::RandomBytes(c.payload_bytes - acc::crypto::kSealOverheadBytes);
  uint64_t bytes = 0, n = 0;
  const auto t0 = Clock::now();
  std::vector<acc::Ledger::Command> batch;
  auto flush = [&] {
    std::vector<acc::Ledger::Appended> out;
    Check(ledger->Append(std::move(batch), &out), "append");
    batch.clear();
  };
  auto add = [&](std::string envelope) {
    bytes += envelope.size();
    batch.push_back({std::move(envelope), std::nullopt});
    if (batch.size() == kAppendBatchEvents) flush();
  };
  add(acc::bench::PolicyEnvelope(kStartMs, "audit-bench/policy"));
  for (uint64_t a = 1; a <= c.accounts; ++a)
    add(acc::bench::RegisteredEnvelope(a, kStartMs, "audit-bench/reg/" + std::to_string(a),
                                       acc::crypto::Seal(dek, plain, "reg")));
  for (n = c.accounts + 1; n < c.events; ++n) {
    add(LoginEnvelope(n % c.accounts + 1, n, dek, plain));
    if (n % 1000000 == 0) std::fprintf(stderr, "  built %llu events\n", static_cast<unsigned long long>(n));
  }
  if (!batch.empty()) flush();
  const double s = Since(t0);
  std::printf("build: %llu events in %.1f s (%.0f events/s, appends of %zu, projector hook)\n",
              static_cast<unsigned long long>(ledger->LastSeq()), s, static_cast<double>(ledger->LastSeq()) / s,
              kAppendBatchEvents);
  Check(ledger->Close(), "close");
  return static_cast<double>(bytes) / static_cast<double>(c.events);
}

std::unique_ptr<acc::Ledger> OpenReadOnly(const std::string& dir) {
  acc::LedgerOptions lo;
  lo.dir = dir;
  lo.read_only = true;
  lo.activity_merge = acc::MergeActivity;
  std::unique_ptr<acc::Ledger> ledger;
  Check(acc::Ledger::Open(lo, &ledger), "open read-only");
  return ledger;
}

void TimeVerifyAndReplay(acc::Ledger& ledger, const Config& c) {
  const double n = static_cast<double>(ledger.LastSeq());
  if (c.verify) {
    acc::audit::Json j;
    const auto t0 = Clock::now();
    Check(acc::audit::VerifyTree(ledger, &j), "verify");
    const double s = Since(t0);
    std::printf("| VerifyTree | %.2f s | %.0f events/s |\n", s, n / s);
  }
  if (!c.replay) return;
  acc::RebuildReport r;
  const auto t0 = Clock::now();
  Check(acc::RebuildCheck(ledger, &r), "rebuild-check");
  const double s = Since(t0);
  std::printf("| RebuildCheck (full replay) | %.2f s | %.0f events/s |\n", s, n / s);
  std::fflush(stdout);
}

struct Sample {
  std::vector<double> us;
  std::vector<size_t> json_bytes, hashes;
};

double Pct(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

void PrintSample(const char* what, Sample& s) {
  auto mm = [](const std::vector<size_t>& v) {
    return std::make_pair(*std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()));
  };
  auto [jmin, jmax] = mm(s.json_bytes);
  auto [hmin, hmax] = mm(s.hashes);
  std::printf("| %s | %zu | %.1f | %.1f | %zu-%zu | %zu-%zu |\n", what, s.us.size(), Pct(s.us, 0.5), Pct(s.us, 0.99),
              jmin, jmax, hmin, hmax);
}

// Random leaves and old sizes, always against the full log, as a client
// checking its receipt against the latest head would ask.
void TimeProofs(acc::Ledger& ledger, size_t count) {
  const uint64_t size = ledger.LastSeq();
  std::mt19937_64 rng(6962);
  Sample inc, con;
  for (size_t i = 0; i < count; ++i) {
    acc::audit::Json j;
    auto t0 = Clock::now();
    Check(acc::audit::ProveInclusion(ledger, 1 + rng() % size, size, &j), "prove inclusion");
    inc.us.push_back(Since(t0) * 1e6);
    inc.json_bytes.push_back(j.dump().size());
    inc.hashes.push_back(j["proof"].size());
    Check(acc::audit::VerifyInclusion(j), "verify inclusion");
    t0 = Clock::now();
    Check(acc::audit::ProveConsistency(ledger, 1 + rng() % (size - 1), size, &j), "prove consistency");
    con.us.push_back(Since(t0) * 1e6);
    con.json_bytes.push_back(j.dump().size());
    con.hashes.push_back(j["proof"].size());
    Check(acc::audit::VerifyConsistency(j), "verify consistency");
  }
  std::printf("\n| proof at size %llu | samples | median us | p99 us | JSON bytes | hashes |\n|---|---|---|---|---|---|\n",
              static_cast<unsigned long long>(size));
  PrintSample("inclusion (ProveInclusion)", inc);
  PrintSample("consistency (ProveConsistency)", con);
}

}  // namespace

int main(int argc, char** argv) {
  Config c = ParseArgs(argc, argv);
  Check(acc::crypto::InitCrypto(), "init crypto");
  std::printf("# %llu events, %llu accounts, --payload-bytes %zu\n", static_cast<unsigned long long>(c.events),
              static_cast<unsigned long long>(c.accounts), c.payload_bytes);
  if (!c.reuse.empty()) {
    auto ledger = OpenReadOnly(c.reuse);
    std::printf("reusing %s: %llu events\n\n| what | time | rate |\n|---|---|---|\n", c.reuse.c_str(),
                static_cast<unsigned long long>(ledger->LastSeq()));
    TimeVerifyAndReplay(*ledger, c);
    TimeProofs(*ledger, c.proofs);
    return 0;
  }
  const std::string dir = c.tmp + "/acc-audit-bench-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const double mean_bytes = Build(c, dir + "/events");
  std::error_code ec;
  uint64_t disk = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file()) disk += e.file_size();
  std::printf("mean envelope %.0f bytes; event DB %.1f MiB on disk\n", mean_bytes, static_cast<double>(disk) / (1 << 20));
  std::printf("compare: db_bench --benchmarks=fillseq,readseq --num=%llu --value_size=%.0f --use_existing_db=0 "
              "--db=%s/db_bench\n\n| what | time | rate |\n|---|---|---|\n",
              static_cast<unsigned long long>(c.events), mean_bytes, c.tmp.c_str());
  {
    auto ledger = OpenReadOnly(dir + "/events");
    TimeVerifyAndReplay(*ledger, c);
    TimeProofs(*ledger, c.proofs);
  }
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) == 3) std::printf("# load average %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  if (!c.keep) std::filesystem::remove_all(dir, ec);
  else std::printf("# kept %s\n", dir.c_str());
  return 0;
}
