// accountable-activity-bench: cost of the retention query
// (accountable::InactiveCandidates) over the monthly activity bitmaps of a
// real Ledger. Not a test; run by hand, results go to docs/performance.md.
//
//   accountable-activity-bench --accounts 1000000 --months 120
//
// Model: account ids 1..N registered in id order, evenly over the months; each
// account's last active month is uniform between its registration month and
// the last month; it is active in its first and last month and in each month
// between with its own probability p, uniform in [0.10, 0.30]. Every account
// is live (worst case: the first sweep after an import).
//
// Writing: the way the projector does, through an AppendHook that merges
// into Cf::kActivity in the same WriteBatch as a real event, but
// pre-aggregated: one PolicyPublished envelope per month whose hook merges
// '+' operands holding that month's accounts (--split operands per month,
// default 1). The ledger is then closed and reopened, so the rows are read
// from SST files. The query is timed as written (rows are stored merge
// operands, folded by MergeActivity on every Get) and again after a forced
// full compaction of the activity column family (rows are 'B' values).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>

#include "core/ledger.h"
#include "events/event.h"
#include "projections/fold/activity.h"
#include "bench_util.h"

namespace acc = accountable;
namespace fb = accountable::fb;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  uint64_t accounts = 1000000;
  int months = 120;
  int retention = 36;
  int repeat = 5;
  size_t split = 1;
  uint64_t seed = 1;
  std::string tmp = "/tmp";
  bool keep = false;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "error: %s\nusage: accountable-activity-bench [--accounts N] [--months M]\n"
               "  [--retention MONTHS] [--repeat R] [--split OPERANDS_PER_MONTH] [--seed S]\n"
               "  [--tmp DIR] [--keep 1]\n",
               why);
  std::exit(2);
}

uint64_t Number(const std::string& v) {
  char* end = nullptr;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n == 0) Usage("expected a positive number");
  return n;
}

Config ParseArgs(int argc, char** argv) {
  Config c;
  accountable::bench::ForEachFlag(argc, argv, [&](const std::string& a, const std::string& v) {
    if (a == "--accounts") c.accounts = Number(v);
    else if (a == "--months") c.months = static_cast<int>(Number(v));
    else if (a == "--retention") c.retention = static_cast<int>(Number(v));
    else if (a == "--repeat") c.repeat = static_cast<int>(Number(v));
    else if (a == "--split") c.split = Number(v);
    else if (a == "--seed") c.seed = Number(v);
    else if (a == "--tmp") c.tmp = v;
    else if (a == "--keep") c.keep = v == "1";
    else return false;
    return true;
  }, Usage);
  if (c.accounts >= (1ULL << 32)) Usage("--accounts must be below 2^32");
  if (c.retention >= c.months) Usage("--retention must be below --months");
  return c;
}

void Check(const acc::Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

void CheckRocks(const rocksdb::Status& s, const char* what) {
  if (!s.ok()) Check(acc::Status::IOError(s.ToString()), what);
}

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

long PeakRssMiB() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

uint64_t SplitMix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double Uniform(uint64_t& s) { return static_cast<double>(SplitMix(s) >> 11) * 0x1.0p-53; }

// 2025-06-15T12:00:00Z: the sweep's "now"; month M-1 is June 2025.
constexpr int64_t kAsOfMs = 1749988800000LL;

struct Model {
  std::vector<Roaring64Map> months;   // index 0 = oldest month
  uint64_t expected_candidates = 0;   // accounts whose last activity is before the window
  uint64_t activity_bits = 0;
};

Model Generate(const Config& c) {
  Model m;
  m.months.resize(static_cast<size_t>(c.months));
  const int window_first = c.months - c.retention;
  std::vector<uint32_t> buf;
  for (uint64_t id = 1; id <= c.accounts; ++id) {
    uint64_t rng = c.seed * 0x2545f4914f6cdd1dULL + id;
    const int reg = static_cast<int>((id - 1) * static_cast<uint64_t>(c.months) / c.accounts);
    const int last = reg + static_cast<int>(SplitMix(rng) % static_cast<uint64_t>(c.months - reg));
    const double p = 0.10 + 0.20 * Uniform(rng);
    for (int k = reg; k <= last; ++k)
      if (k == reg || k == last || Uniform(rng) < p) {
        m.months[static_cast<size_t>(k)].add(id);  // ids ascend: appends to the last container
        ++m.activity_bits;
      }
    if (last < window_first) ++m.expected_candidates;
  }
  for (auto& b : m.months) b.runOptimize();
  return m;
}

std::string AsOperand(const Roaring64Map& b) {
  std::string s = acc::EncodeBitmap(b);
  s[0] = '+';
  return s;
}

// Splits b into n operands, round robin over its values: each is as sparse
// as one writer's share of the month would be.
std::vector<std::string> Operands(const Roaring64Map& b, size_t n) {
  if (n == 1) return {AsOperand(b)};
  std::vector<Roaring64Map> parts(n);
  size_t i = 0;
  for (uint64_t v : b) parts[i++ % n].add(v);
  std::vector<std::string> out;
  for (auto& p : parts) {
    p.runOptimize();
    out.push_back(AsOperand(p));
  }
  return out;
}

// Merges the operands of the row named by the event's request id
// ("bench/activity/<i>") into the same WriteBatch as the event.
class BitmapHook final : public acc::AppendHook {
 public:
  std::vector<std::pair<std::string, std::vector<std::string>>> rows;
  acc::Status Apply(const acc::events::EventView& e, acc::GroupTx& tx) override {
    const std::string rid = e.envelope()->request_id()->str();
    const size_t i = std::stoul(rid.substr(rid.rfind('/') + 1));
    for (const auto& op : rows.at(i).second) tx.Merge(acc::Cf::kActivity, rows[i].first, op);
    return acc::Status::OK();
  }
};

std::string MonthEvent(size_t i) {
  acc::events::EnvelopeBuilder b;
  auto& fbb = b.fbb();
  std::string digest(32, '\x11');
  auto p = fb::CreatePolicyPublished(fbb, fbb.CreateString("1.01"), kAsOfMs,
                                     fbb.CreateVector(reinterpret_cast<const uint8_t*>(digest.data()), 32));
  acc::events::Header h{0, kAsOfMs, fb::Actor::System, "bench/activity/" + std::to_string(i), "1.01"};
  return b.Finish(h, fb::Payload::PolicyPublished, p.Union());
}

class RawMerge final : public rocksdb::MergeOperator {
 public:
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    std::string existing;
    if (in.existing_value) existing = in.existing_value->ToString();
    std::vector<std::string_view> ops;
    for (const auto& o : in.operand_list) ops.emplace_back(o.data(), o.size());
    return acc::MergeActivity(in.existing_value ? &existing : nullptr, ops, &out->new_value);
  }
  const char* Name() const override { return "accountable.activity.v1"; }
};

// Opens the closed event DB directly: optionally compacts the activity column
// family (forced bottommost), then counts how the query's rows are stored.
struct RowForms {
  int values = 0, operand_rows = 0;
  size_t operands = 0;
};
RowForms RawPass(const std::string& dir, const std::vector<std::string>& keys, bool compact) {
  std::vector<std::string> names;
  CheckRocks(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names), "list cfs");
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  size_t activity = names.size();
  for (size_t i = 0; i < names.size(); ++i) {
    rocksdb::ColumnFamilyOptions co;
    if (names[i] == "activity") {
      co.merge_operator = std::make_shared<RawMerge>();
      activity = i;
    }
    cfs.emplace_back(names[i], co);
  }
  if (activity == names.size()) Usage("event DB has no activity column family");
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  CheckRocks(rocksdb::DB::Open(rocksdb::DBOptions(), dir, cfs, &hs, &raw), "raw open");
  if (compact) {
    rocksdb::CompactRangeOptions co;
    co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    CheckRocks(raw->CompactRange(co, hs[activity], nullptr, nullptr), "compact");
  }
  RowForms f;
  for (const auto& k : keys) {
    std::vector<rocksdb::PinnableSlice> ops(4096);
    rocksdb::GetMergeOperandsOptions mo{static_cast<int>(ops.size())};
    int n = 0;
    rocksdb::Status s = raw->GetMergeOperands(rocksdb::ReadOptions(), hs[activity], k, ops.data(), &mo, &n);
    if (s.IsNotFound()) continue;
    if (s.IsIncomplete()) n = static_cast<int>(ops.size());  // more operands than slots
    else CheckRocks(s, "merge operands");
    if (n == 1 && !ops[0].empty() && ops[0].data()[0] == 'B') ++f.values;
    else ++f.operand_rows, f.operands += static_cast<size_t>(n);
  }
  for (auto* h : hs) raw->DestroyColumnFamilyHandle(h);
  CheckRocks(raw->Close(), "raw close");
  delete raw;
  return f;
}

struct QueryStats {
  double first_ms = 0, min_ms = 0, median_ms = 0, get_min_ms = 0;
  uint64_t candidates = 0;
  size_t bytes = 0, live_bytes = 0;
};

QueryStats TimeQuery(const Config& c, const std::string& dir, const std::vector<std::string>& keys) {
  std::unique_ptr<acc::Ledger> ledger;
  Check(acc::Ledger::Open(acc::LedgerOptions{.dir = dir, .activity_merge = acc::MergeActivity}, &ledger),
        "reopen ledger");
  QueryStats q;
  std::vector<double> times;
  for (int r = 0; r < c.repeat; ++r) {
    Roaring64Map out;
    auto t0 = Clock::now();
    Check(acc::InactiveCandidates(*ledger, kAsOfMs, c.retention, &out, &q.bytes), "query");
    times.push_back(MsSince(t0));
    q.candidates = out.cardinality();
  }
  q.first_ms = times.front();
  std::sort(times.begin(), times.end());
  q.min_ms = times.front();
  q.median_ms = times[times.size() / 2];
  // The reads alone: Ledger::Get of every row the query reads (merge included).
  q.get_min_ms = 1e300;
  for (int r = 0; r < c.repeat; ++r) {
    auto t0 = Clock::now();
    for (const auto& k : keys) {
      std::string v;
      acc::Status s = ledger->Get(acc::Cf::kActivity, k, &v);
      if (!s.ok() && !s.Is(acc::Status::Code::kNotFound)) Check(s, "get");
      if (k == acc::kActivityLiveKey) q.live_bytes = v.size();
    }
    q.get_min_ms = std::min(q.get_min_ms, MsSince(t0));
  }
  Check(ledger->Close(), "close");
  return q;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

// The 1-minute load average: on a shared 2-core box, figures drift with it.
std::string LoadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string one;
  f >> one;
  return one.empty() ? "?" : one;
}

// Row i of the hook: live, then the months, oldest first. Frees each month
// bitmap of the model once encoded; returns the months' serialized bytes.
size_t FillRows(const Config& c, Model& m, BitmapHook* hook) {
  Roaring64Map live;
  live.flip(1, c.accounts + 1);  // ids 1..N; no range add in CRoaring 0.2.66
  live.runOptimize();
  hook->rows.emplace_back(std::string(acc::kActivityLiveKey), Operands(live, c.split));
  size_t month_bytes = 0;
  for (int k = 0; k < c.months; ++k) {
    const int64_t ms = acc::MonthsBefore(kAsOfMs, c.months - 1 - k);
    auto& b = m.months[static_cast<size_t>(k)];
    month_bytes += b.getSizeInBytes(true);
    hook->rows.emplace_back(acc::MonthKey(ms), Operands(b, c.split));
    b = Roaring64Map();
  }
  return month_bytes;
}

void WriteRows(const std::string& dir, BitmapHook* hook) {
  std::unique_ptr<acc::Ledger> ledger;
  acc::LedgerOptions lo{.dir = dir, .activity_merge = acc::MergeActivity, .hook = hook};
  Check(acc::Ledger::Open(lo, &ledger), "open ledger");
  for (size_t i = 0; i < hook->rows.size(); ++i) {
    std::vector<acc::Ledger::Command> batch(1);
    batch[0].envelope = MonthEvent(i);
    std::vector<acc::Ledger::Appended> out;
    Check(ledger->Append(std::move(batch), &out), "append");
    hook->rows[i].second.clear();
    hook->rows[i].second.shrink_to_fit();
  }
  Check(ledger->Close(), "close");
}

// The rows the query reads: live, then the months after the cutoff month.
std::vector<std::string> QueryKeys(const Config& c) {
  std::vector<std::string> keys{std::string(acc::kActivityLiveKey)};
  const int first = acc::MonthIndex(acc::MonthsBefore(kAsOfMs, c.retention)) + 1;
  for (int k = 0; k < c.months; ++k) {
    const int64_t ms = acc::MonthsBefore(kAsOfMs, c.months - 1 - k);
    if (acc::MonthIndex(ms) >= first) keys.push_back(acc::MonthKey(ms));
  }
  return keys;
}

void PrintRow(const Config& c, const RowForms& f, const QueryStats& q, int months_read) {
  char form[64];
  if (f.operand_rows == 0) std::snprintf(form, sizeof form, "values (compacted)");
  else std::snprintf(form, sizeof form, "%d operand rows (%zu operands)", f.operand_rows, f.operands);
  std::printf("| %s | %llu | %llu | %d | %zu | %zu | %.0f | %.2f | %.2f | %.2f | %.2f |\n", form,
              static_cast<unsigned long long>(c.accounts), static_cast<unsigned long long>(q.candidates),
              months_read + 1, q.bytes, q.live_bytes,
              static_cast<double>(q.bytes - q.live_bytes) / months_read, q.get_min_ms, q.first_ms,
              q.min_ms, q.median_ms);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Config c = ParseArgs(argc, argv);
  const std::string dir = c.tmp + "/acc-activity-bench-" + std::to_string(::getpid());
  fs::create_directories(dir);

  auto t0 = Clock::now();
  Model m = Generate(c);
  const double gen_ms = MsSince(t0);
  BitmapHook hook;
  const size_t month_bytes = FillRows(c, m, &hook);
  const double encode_ms = MsSince(t0) - gen_ms;
  t0 = Clock::now();
  WriteRows(dir, &hook);
  const double write_ms = MsSince(t0);
  const std::vector<std::string> keys = QueryKeys(c);
  const int months_read = static_cast<int>(keys.size()) - 1;

  std::printf("# %llu accounts, %d months (%.2f active months per account), %zu operand(s) per row, "
              "retention %d months, %d runs\n",
              static_cast<unsigned long long>(c.accounts), c.months,
              static_cast<double>(m.activity_bits) / static_cast<double>(c.accounts), c.split, c.retention,
              c.repeat);
  std::printf("# setup: generate %.0f ms, encode %.0f ms, append+close %.0f ms; all %d month bitmaps "
              "%.1f MiB; event DB %.1f MiB on disk\n",
              gen_ms, encode_ms, write_ms, c.months, static_cast<double>(month_bytes) / (1 << 20),
              static_cast<double>(DirBytes(dir)) / (1 << 20));
  std::printf("| rows stored as | accounts | candidates | rows read | bitmap bytes | live bytes | "
              "avg bytes/month | Get only (ms) | query 1st (ms) | query min (ms) | query median (ms) |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (bool compact : {false, true}) {
    RowForms f = RawPass(dir, keys, compact);
    QueryStats q = TimeQuery(c, dir, keys);
    if (q.candidates != m.expected_candidates) {
      std::fprintf(stderr, "candidate count %llu, model says %llu\n",
                   static_cast<unsigned long long>(q.candidates),
                   static_cast<unsigned long long>(m.expected_candidates));
      return 1;
    }
    PrintRow(c, f, q, months_read);
  }
  std::printf("# peak RSS %ld MiB\n", PeakRssMiB());
  std::printf("# load average (1 min) at the end: %s\n", LoadAverage().c_str());
  if (!c.keep) fs::remove_all(dir);
  return 0;
}
