// accountable-erasure-bench: end-to-end cost of one admin erasure pass
// (Accounts::Erase: AccountErased appends, vault Shred with flush, forced
// compaction and byte-scan verification, ErasureVerified appends) for K
// accounts at once. Not a test; run by hand, results go to docs/performance.md.
//
//   accountable-erasure-bench --accounts 1,100,10000
//
// For each K: a fresh Accounts in a temp dir with cheap Argon2id (1 pass,
// 8 MiB), K + --keep registrations on --threads threads, then one Erase of
// the first K with reason "admin". After the pass, the vault byte scan is
// repeated alone with the same number of needles (2 per account: DEK and
// wrapped DEK, random bytes here) to show its share of the pass.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include "core/byte_scan.h"
#include "core/crypto.h"
#include "projections/service/accounts.h"
#include "bench_util.h"

namespace acc = accountable;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  std::vector<size_t> accounts = {1, 100, 10000};
  size_t keep = 0;
  size_t threads = 8;
  std::string tmp = "/tmp";
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "error: %s\nusage: accountable-erasure-bench [--accounts 1,100,10000] [--keep N]\n"
               "  [--threads T] [--tmp DIR]\n",
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
    if (a == "--accounts") c.accounts = ParseList(v);
    else if (a == "--keep") c.keep = ParseList(v, true).at(0);
    else if (a == "--threads") c.threads = ParseList(v).at(0);
    else if (a == "--tmp") c.tmp = v;
    else return false;
    return true;
  }, Usage);
  return c;
}

void Check(const acc::Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double CpuMs() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

uint64_t DirBytes(const fs::path& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

acc::Registration MakeRegistration(size_t i) {
  const std::string n = std::to_string(i);
  acc::Registration r;
  r.nickname = "bench" + n;
  r.email = "bench" + n + "@example.org";
  r.password = "correct-horse-" + n;
  r.gender = "unspecified";
  r.birthdate = "1990-01-01";
  r.ip = "203.0.113." + std::to_string(i % 250 + 1);
  r.user_agent = "Mozilla/5.0 (X11; Linux x86_64) bench";
  r.company = "Example Ltd";
  r.accept_policy = "1.01";
  r.request_id = "bench/reg/" + n;
  return r;
}

struct Row {
  size_t k = 0;
  double register_ms = 0, wall_ms = 0, cpu_ms = 0, scan_only_ms = 0;
  uint64_t vault_bytes_before = 0;
  acc::SweepReport report;
};

Row RunOnce(const Config& c, size_t k) {
  const fs::path dir = fs::path(c.tmp) / ("acc-erasure-bench-" + std::to_string(::getpid()) + "-" +
                                          std::to_string(k));
  fs::remove_all(dir);
  acc::AccountsOptions o;
  o.data_dir = dir.string();
  o.password_cost.ops = 1;
  o.password_cost.mem_bytes = 8 << 20;
  std::unique_ptr<acc::Accounts> accounts;
  Check(acc::Accounts::Open(o, &accounts), "open accounts");

  Row row;
  row.k = k;
  const size_t total = k + c.keep;
  std::vector<uint64_t> ids(total);
  std::atomic<size_t> next{0}, failures{0};
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (size_t t = 0; t < std::min(c.threads, total); ++t)
    threads.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < total;) {
        acc::RegisterResult out;
        acc::Status s = accounts->Register(MakeRegistration(i), &out);
        if (!s.ok()) {
          if (failures.fetch_add(1) == 0) std::fprintf(stderr, "register: %s\n", s.ToString().c_str());
          continue;
        }
        ids[i] = out.account_id;
      }
    });
  for (auto& t : threads) t.join();
  if (failures.load()) std::exit(1);
  row.register_ms = MsSince(t0);
  row.vault_bytes_before = DirBytes(dir / "vault");

  std::vector<acc::SweepReport::Erasure> todo;
  const int64_t now = accounts->NowMs();
  for (size_t i = 0; i < k; ++i) todo.push_back({ids[i], "admin", now});
  std::fprintf(stderr, "# erasing %zu accounts (pid %d)\n", k, static_cast<int>(::getpid()));
  const double cpu0 = CpuMs();
  t0 = Clock::now();
  Check(accounts->Erase(todo, &row.report), "erase");
  row.wall_ms = MsSince(t0);
  row.cpu_ms = CpuMs() - cpu0;
  if (!row.report.verified || row.report.erased.size() != k) {
    std::fprintf(stderr, "erase: verified=%d erased=%zu of %zu\n", row.report.verified,
                 row.report.erased.size(), k);
    std::exit(1);
  }

  // The byte scan alone, same needle count and sizes (32 B DEK, 72 B wrapped).
  std::vector<std::string> needles;
  for (size_t i = 0; i < k; ++i) {
    needles.push_back(acc::crypto::RandomBytes(32));
    needles.push_back(acc::crypto::RandomBytes(32 + acc::crypto::kSealOverheadBytes));
  }
  acc::ScanReport scan;
  t0 = Clock::now();
  Check(acc::ScanDirectory((dir / "vault").string(), needles, &scan), "scan");
  row.scan_only_ms = MsSince(t0);

  Check(accounts->Close(), "close");
  accounts.reset();
  fs::remove_all(dir);
  return row;
}

// The 1-minute load average: on a shared 2-core box, figures drift with it.
std::string LoadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string one;
  f >> one;
  return one.empty() ? "?" : one;
}

}  // namespace

int main(int argc, char** argv) {
  const Config c = ParseArgs(argc, argv);
  Check(acc::crypto::InitCrypto(), "init crypto");
  std::printf("# Accounts::Erase of K accounts in one pass (reason admin); %zu more accounts kept; "
              "registration on %zu threads, Argon2id 1 pass 8 MiB\n",
              c.keep, c.threads);
  std::printf("| K | register (ms) | vault before (KiB) | Erase wall (ms) | elapsed_ms | CPU (ms) | ms/account | "
              "passes | files | bytes scanned | hits | versions left | scan alone (ms) |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (size_t k : c.accounts) {
    Row r = RunOnce(c, k);
    const auto& s = r.report.shred;
    std::printf("| %zu | %.0f | %.0f | %.1f | %lld | %.0f | %.3f | %u | %llu | %llu | %llu | %llu | %.1f |\n", r.k,
                r.register_ms, static_cast<double>(r.vault_bytes_before) / 1024, r.wall_ms,
                static_cast<long long>(r.report.elapsed_ms), r.cpu_ms, r.wall_ms / static_cast<double>(r.k),
                s.compaction_passes, static_cast<unsigned long long>(s.files_scanned),
                static_cast<unsigned long long>(s.bytes_scanned), static_cast<unsigned long long>(s.hits),
                static_cast<unsigned long long>(s.versions_left), r.scan_only_ms);
    std::fflush(stdout);
  }
  std::printf("# load average (1 min) at the end: %s\n", LoadAverage().c_str());
  return 0;
}
