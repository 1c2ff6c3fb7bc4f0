// The activity index (projections/fold/activity.h): month arithmetic at month
// ends and leap days, the merge operator's add/remove semantics, bitmap
// decoding of hostile bytes, and InactiveCandidates against a brute-force
// computation over random histories.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "projections/fold/activity.h"
#include "tests/test_util.h"

namespace {

using namespace accountable;

// A UTC calendar time in epoch milliseconds, the unit of every event time.
int64_t UtcMs(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0, int ms = 0) {
  using namespace std::chrono;
  auto tp = sys_days(year{y} / month{m} / day{d}) + hours{hh} + minutes{mm} + seconds{ss} + milliseconds{ms};
  return duration_cast<milliseconds>(tp.time_since_epoch()).count();
}

Roaring64Map Set(std::initializer_list<uint64_t> ids) {
  Roaring64Map b;
  for (uint64_t id : ids) b.add(id);
  return b;
}

Roaring64Map Range(uint64_t from, uint64_t to) {
  Roaring64Map b;
  for (uint64_t i = from; i < to; ++i) b.add(i);
  return b;
}

// The ids in a bitmap. Compared as vectors: Roaring64Map::operator== and
// isSubset of CRoaring 0.2.66 misbehave on maps holding an emptied bucket
// (which -= leaves behind), operator== even loops forever.
std::vector<uint64_t> Ids(const Roaring64Map& b) {
  std::vector<uint64_t> out(b.cardinality());
  b.toUint64Array(out.data());
  return out;
}

Roaring64Map Decoded(const std::string& bytes) {
  Roaring64Map b;
  REQUIRE(DecodeBitmap(bytes, &b));
  return b;
}

std::string Merge(const std::string* existing, const std::vector<std::string>& ops) {
  std::vector<std::string_view> views(ops.begin(), ops.end());
  std::string out;
  REQUIRE(MergeActivity(existing, views, &out));
  REQUIRE(!out.empty());
  CHECK(out[0] == 'B');
  return out;
}

bool MergeFails(const std::string* existing, const std::vector<std::string>& ops) {
  std::vector<std::string_view> views(ops.begin(), ops.end());
  std::string out;
  return !MergeActivity(existing, views, &out);
}

// CRoaring prints a line to stderr for every buffer it rejects; the fuzz
// cases below would print thousands. Restored on scope exit.
class QuietStderr {
 public:
  QuietStderr() : saved_(::dup(STDERR_FILENO)) {
    int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
      ::dup2(null, STDERR_FILENO);
      ::close(null);
    }
  }
  ~QuietStderr() {
    if (saved_ >= 0) {
      ::dup2(saved_, STDERR_FILENO);
      ::close(saved_);
    }
  }
  QuietStderr(const QuietStderr&) = delete;
  QuietStderr& operator=(const QuietStderr&) = delete;

 private:
  int saved_;
};

}  // namespace

TEST_CASE("activity: MonthKey names the UTC month", "[activity][month]") {
  CHECK(MonthKey(UtcMs(2023, 12, 31, 23, 59, 59, 999)) == "m/202312");
  CHECK(MonthKey(UtcMs(2024, 1, 1)) == "m/202401");
  CHECK(MonthKey(UtcMs(2024, 2, 29, 12)) == "m/202402");
  CHECK(MonthKey(0) == "m/197001");
  CHECK(MonthKey(-1) == "m/196912");
  CHECK(MonthIndex(UtcMs(2024, 1, 1)) - MonthIndex(UtcMs(2023, 12, 31, 23, 59, 59, 999)) == 1);
  CHECK(MonthIndex(UtcMs(2024, 1, 31)) == MonthIndex(UtcMs(2024, 1, 1)));
  CHECK(MonthKey(UtcMs(1999, 9, 9)) < MonthKey(UtcMs(1999, 10, 1)));  // keys sort by time
}

TEST_CASE("activity: MonthsBefore clamps the day and keeps the time of day", "[activity][month]") {
  CHECK(MonthsBefore(UtcMs(2024, 3, 31, 10, 20, 30, 456), 1) == UtcMs(2024, 2, 29, 10, 20, 30, 456));
  CHECK(MonthsBefore(UtcMs(2023, 3, 31, 1), 1) == UtcMs(2023, 2, 28, 1));
  CHECK(MonthsBefore(UtcMs(2024, 2, 29), 12) == UtcMs(2023, 2, 28));
  CHECK(MonthsBefore(UtcMs(2024, 2, 29), 48) == UtcMs(2020, 2, 29));
  CHECK(MonthsBefore(UtcMs(2024, 5, 31), 1) == UtcMs(2024, 4, 30));
  CHECK(MonthsBefore(UtcMs(2024, 1, 15, 8), 1) == UtcMs(2023, 12, 15, 8));
  CHECK(MonthsBefore(UtcMs(2024, 1, 31), 36) == UtcMs(2021, 1, 31));
  CHECK(MonthsBefore(UtcMs(2100, 3, 29), 1) == UtcMs(2100, 2, 28));  // 2100 is not a leap year
  CHECK(MonthsBefore(UtcMs(2000, 3, 30), 1) == UtcMs(2000, 2, 29));  // 2000 is
  CHECK(MonthsBefore(UtcMs(1970, 1, 1), 1) == UtcMs(1969, 12, 1));
  CHECK(MonthsBefore(UtcMs(2024, 7, 4, 5), 0) == UtcMs(2024, 7, 4, 5));
}

TEST_CASE("activity: month arithmetic clamps extreme inputs instead of overflowing", "[activity][month][issue11]") {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max(), kMin = std::numeric_limits<int64_t>::min();
  // Clamped to +-kAsOfMsMax (9999-12-31T23:59:59.999Z and its mirror image).
  CHECK(MonthsBefore(kMax, 0) == kAsOfMsMax);
  CHECK(MonthsBefore(kMin, 0) == -kAsOfMsMax);
  CHECK(MonthsBefore(kMax, 12) == UtcMs(9998, 12, 31, 23, 59, 59, 999));
  CHECK(MonthsBefore(kMax, std::numeric_limits<int>::max()) == MonthsBefore(kAsOfMsMax, kMonthsBackMax));
  CHECK(MonthsBefore(kMin, std::numeric_limits<int>::max()) < MonthsBefore(kMin, 0));
  CHECK(MonthsBefore(UtcMs(2024, 7, 4), -5) == UtcMs(2024, 7, 4));  // never forward
  CHECK(RetentionDueAt(kMax, 1200) > kAsOfMsMax);
  CHECK(RetentionDueAt(kMin, 1200) > -kAsOfMsMax);
  CHECK(RetentionDueAt(kAsOfMsMax, std::numeric_limits<int>::max()) > kAsOfMsMax);
  CHECK(CheckAsOfMs(kAsOfMsMin).ok());
  CHECK(CheckAsOfMs(kAsOfMsMax).ok());
  CHECK(CheckAsOfMs(kAsOfMsMax + 1).code() == Status::Code::kInvalidArgument);
  CHECK(CheckAsOfMs(-1).code() == Status::Code::kInvalidArgument);
  CHECK(CheckAsOfMs(kMin).code() == Status::Code::kInvalidArgument);
  CHECK(CheckAsOfMs(kMax).code() == Status::Code::kInvalidArgument);
  CHECK(UtcMs(9999, 12, 31, 23, 59, 59, 999) == kAsOfMsMax);
}

TEST_CASE("activity: MonthsBefore moves exactly n months back, never forward", "[activity][month]") {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> when(UtcMs(1990, 1, 1), UtcMs(2090, 1, 1));
  std::uniform_int_distribution<int> months(0, 600);
  for (int i = 0; i < 2000; ++i) {
    const int64_t t = when(rng);
    const int n = months(rng);
    const int64_t b = MonthsBefore(t, n);
    INFO("t=" << t << " n=" << n);
    CHECK(b <= t);
    CHECK(MonthIndex(t) - MonthIndex(b) == n);
    CHECK(((t % 86400000) + 86400000) % 86400000 == ((b % 86400000) + 86400000) % 86400000);
  }
}

TEST_CASE("activity: bitmaps round trip through Encode and Decode", "[activity][bitmap]") {
  Roaring64Map big = Range(0, 100000);  // bitset containers
  Roaring64Map run = Range(5000, 9000);
  run.runOptimize();
  for (const Roaring64Map& b : {Roaring64Map(), Set({0}), Set({7, (1ULL << 32) + 5, 1ULL << 40}), big, run}) {
    std::string bytes = EncodeBitmap(b);
    CHECK(bytes[0] == 'B');
    CHECK(Ids(Decoded(bytes)) == Ids(b));
  }
  CHECK(Ids(Decoded(AddOperand(42))) == Ids(Set({42})));
  CHECK(Ids(Decoded(RemoveOperand(42))) == Ids(Set({42})));
  CHECK(AddOperand(42)[0] == '+');
  CHECK(RemoveOperand(42)[0] == '-');
}

TEST_CASE("activity: one-account operands are the bytes CRoaring writes", "[activity][bitmap]") {
  // AddOperand and the merge skip Roaring64Map for one-account operands;
  // the bytes must stay exactly what Roaring64Map::write gives.
  std::mt19937_64 rng(3);
  for (int i = 0; i < 2000; ++i) {
    const uint64_t id = i < 64 ? uint64_t{1} << i : (i % 2 ? rng() : rng() % 100000);
    Roaring64Map b = Set({id});
    // write() stores an 8-byte count through a uint64_t*: aligned storage.
    std::vector<uint64_t> aligned(b.getSizeInBytes(true) / 8 + 1);
    b.write(reinterpret_cast<char*>(aligned.data()), true);
    std::string slow(1, '+');
    slow.append(reinterpret_cast<const char*>(aligned.data()), b.getSizeInBytes(true));
    REQUIRE(AddOperand(id) == slow);
    slow[0] = '-';
    REQUIRE(RemoveOperand(id) == slow);
  }
  // Operands of other shapes still take the general path, in order.
  std::string two = EncodeBitmap(Set({4, 1ULL << 33}));
  two[0] = '+';
  Roaring64Map run = Set({6});
  run.runOptimize();
  std::string one_run = EncodeBitmap(run);
  one_run[0] = '-';
  CHECK(Ids(Decoded(Merge(nullptr, {AddOperand(6), two, one_run, AddOperand(7)}))) ==
        Ids(Set({4, 7, 1ULL << 33})));
}

TEST_CASE("activity: MonthKey with bounds names the same month and its instants", "[activity][month]") {
  std::mt19937_64 rng(8);
  for (int i = 0; i < 5000; ++i) {
    const int64_t ms =
        i < 4 ? std::array<int64_t, 4>{0, -1, UtcMs(2024, 2, 29, 12), UtcMs(1999, 12, 31, 23, 59, 59, 999)}[i]
              : static_cast<int64_t>(rng() % 8'000'000'000'000) - 1'000'000'000'000;
    int64_t first = 0, end = 0;
    const std::string key = MonthKey(ms, &first, &end);
    INFO("ms " << ms);
    REQUIRE(key == MonthKey(ms));
    CHECK(first <= ms);
    CHECK(ms < end);
    CHECK(MonthKey(first) == key);
    CHECK(MonthKey(end - 1) == key);
    CHECK(MonthKey(first - 1) != key);
    CHECK(MonthKey(end) != key);
  }
}

TEST_CASE("activity: the merge adds and removes ids in operand order", "[activity][merge]") {
  CHECK(Ids(Decoded(Merge(nullptr, {AddOperand(1), AddOperand(2), RemoveOperand(1)}))) == Ids(Set({2})));
  const std::string existing = EncodeBitmap(Set({1, 3}));
  CHECK(Ids(Decoded(Merge(&existing, {RemoveOperand(3), AddOperand(4)}))) == Ids(Set({1, 4})));
  CHECK(Ids(Decoded(Merge(nullptr, {RemoveOperand(5), AddOperand(5)}))) == Ids(Set({5})));
  CHECK(Ids(Decoded(Merge(nullptr, {AddOperand(5), RemoveOperand(5)}))) == Ids(Roaring64Map()));
  CHECK(Ids(Decoded(Merge(&existing, {RemoveOperand(99)}))) == Ids(Set({1, 3})));  // absent: no-op
  CHECK(Ids(Decoded(Merge(&existing, {AddOperand(1)}))) == Ids(Set({1, 3})));      // present: no-op
  CHECK(Ids(Decoded(Merge(&existing, {}))) == Ids(Set({1, 3})));
  const uint64_t wide = (1ULL << 40) + 3;
  CHECK(Ids(Decoded(Merge(&existing, {AddOperand(wide)}))) == Ids(Set({1, 3, wide})));
}

TEST_CASE("activity: merging in steps equals merging at once", "[activity][merge]") {
  std::mt19937_64 rng(11);
  std::vector<std::string> ops;
  std::set<uint64_t> model;
  for (int i = 0; i < 300; ++i) {
    const uint64_t id = rng() % 50;
    const bool add = rng() % 3 != 0;
    ops.push_back(add ? AddOperand(id) : RemoveOperand(id));
    if (add) model.insert(id);
    else model.erase(id);
  }
  const std::string once = Merge(nullptr, ops);
  std::string stepwise;
  for (size_t i = 0; i < ops.size(); i += 37) {
    std::vector<std::string> part(ops.begin() + i, ops.begin() + std::min(ops.size(), i + 37));
    stepwise = Merge(i == 0 ? nullptr : &stepwise, part);
  }
  Roaring64Map want;
  for (uint64_t id : model) want.add(id);
  CHECK(Ids(Decoded(once)) == Ids(want));
  CHECK(Ids(Decoded(stepwise)) == Ids(want));
}

TEST_CASE("activity: a partial merge folds a run of additions only", "[activity][merge]") {
  std::string out;
  const std::vector<std::string> adds = {AddOperand(1), AddOperand(1ULL << 34), AddOperand(7)};
  REQUIRE(PartialMergeActivity(std::vector<std::string_view>(adds.begin(), adds.end()), &out));
  CHECK(out[0] == '+');
  CHECK(Ids(Decoded(out)) == std::vector<uint64_t>{1, 7, 1ULL << 34});
  const std::string existing = EncodeBitmap(Set({2, 7}));
  CHECK(Ids(Decoded(Merge(&existing, {out, RemoveOperand(2)}))) ==
        Ids(Decoded(Merge(&existing, {adds[0], adds[1], adds[2], RemoveOperand(2)}))));
  // A removal inside the run: order matters, so no partial merge.
  const std::vector<std::string> mixed = {AddOperand(1), RemoveOperand(1), AddOperand(2)};
  CHECK_FALSE(PartialMergeActivity(std::vector<std::string_view>(mixed.begin(), mixed.end()), &out));
  const std::vector<std::string> junk = {AddOperand(1), "+garbage"};
  QuietStderr quiet;
  CHECK_FALSE(PartialMergeActivity(std::vector<std::string_view>(junk.begin(), junk.end()), &out));
}

TEST_CASE("activity: the merge refuses rows and operands it did not write", "[activity][merge]") {
  QuietStderr quiet;
  const std::string empty;
  const std::string plus_row = AddOperand(1);  // an operand is not a row
  const std::string good = EncodeBitmap(Set({1}));
  const std::string truncated = good.substr(0, good.size() - 1);
  CHECK(MergeFails(&empty, {AddOperand(1)}));
  CHECK(MergeFails(&plus_row, {AddOperand(1)}));
  CHECK(MergeFails(&truncated, {AddOperand(1)}));
  CHECK(MergeFails(nullptr, {""}));
  std::string wrong_kind = AddOperand(1);
  wrong_kind[0] = 'x';
  CHECK(MergeFails(nullptr, {wrong_kind}));
  CHECK(MergeFails(nullptr, {good}));  // a row is not an operand
  CHECK(MergeFails(nullptr, {AddOperand(1).substr(0, 5)}));
  CHECK_FALSE(MergeFails(&good, {AddOperand(2)}));
}

TEST_CASE("activity: DecodeBitmap rejects every truncation and any trailing byte", "[activity][bitmap]") {
  QuietStderr quiet;
  Roaring64Map b = Set({1, 2, 3, 70000, (1ULL << 33) + 9});
  b |= Range(1000, 1200);
  for (const std::string& good : {EncodeBitmap(b), EncodeBitmap(Roaring64Map()), AddOperand(9)}) {
    Roaring64Map out;
    for (size_t n = 0; n < good.size(); ++n) {
      INFO("prefix of " << n << " of " << good.size() << " bytes");
      CHECK_FALSE(DecodeBitmap(std::string_view(good).substr(0, n), &out));
    }
    CHECK_FALSE(DecodeBitmap(good + '\0', &out));
    CHECK(DecodeBitmap(good, &out));
  }
}

TEST_CASE("activity: DecodeBitmap survives garbage and corrupted bitmaps", "[activity][bitmap]") {
  QuietStderr quiet;
  std::mt19937_64 rng(2024);
  Roaring64Map out;
  CHECK_FALSE(DecodeBitmap("", &out));
  CHECK_FALSE(DecodeBitmap("B", &out));
  CHECK_FALSE(DecodeBitmap(std::string("B\xff\xff\xff\xff\xff\xff\xff\x7f", 9), &out));  // 2^63 maps
  size_t accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string junk(1 + rng() % 96, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    junk[0] = 'B';
    if (DecodeBitmap(junk, &out)) {
      ++accepted;
      CHECK(EncodeBitmap(out).size() == junk.size());
    }
  }
  CHECK(accepted < 30);  // random bytes are almost never a valid bitmap
  Roaring64Map b = Set({3, 5, 100000, 1ULL << 35});
  const std::string good = EncodeBitmap(b);
  for (int i = 0; i < 3000; ++i) {
    std::string bad = good;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) bad[1 + rng() % (bad.size() - 1)] ^= static_cast<char>(1 + rng() % 255);
    if (DecodeBitmap(bad, &out)) CHECK(EncodeBitmap(out).size() == bad.size());
  }
}

namespace {

// Runs DecodeBitmap in a child process over `bytes` placed flush against an
// unreadable page: false if it read past the end (the child dies of SIGSEGV).
bool DecodesWithinBounds(const std::string& bytes) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  REQUIRE(bytes.size() <= page);
  void* m = ::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(m != MAP_FAILED);
  char* base = static_cast<char*>(m);
  REQUIRE(::mprotect(base + page, page, PROT_NONE) == 0);
  char* at = base + page - bytes.size();
  std::memcpy(at, bytes.data(), bytes.size());
  pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGSEGV, SIG_DFL);  // not Catch2's handler: just die
    ::signal(SIGBUS, SIG_DFL);
    Roaring64Map out;
    DecodeBitmap(std::string_view(at, bytes.size()), &out);
    ::_exit(0);
  }
  int status = 0;
  const bool reaped = pid > 0 && ::waitpid(pid, &status, 0) == pid;
  ::munmap(m, 2 * page);
  return reaped && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// 'B', a map of 2 entries of which only the first is present: key 0, then a
// 32-bit Roaring in the run-container format (cookie 12347) whose one
// container is an array (run flag 0) holding {7}. Roaring64Map::readSafe
// advances by the size this bitmap would take in the *other* format (7 bytes
// more than it read), its byte budget wraps around, and it reads the second
// entry's key from past the end.
std::string RunCookieWithoutRuns() {
  std::string b = "B";
  auto put = [&b](auto v) { b.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(uint64_t{2});
  put(uint32_t{0});
  put(uint32_t{12347});  // SERIAL_COOKIE, (containers - 1) << 16 = 0
  b.push_back('\0');     // run flags: container 0 is not a run
  put(uint16_t{0});      // container key
  put(uint16_t{0});      // cardinality - 1
  put(uint16_t{7});
  return b;
}

}  // namespace

TEST_CASE("activity: DecodeBitmap never reads past the end of its input", "[activity][bitmap]") {
  QuietStderr quiet;
  const std::string good = EncodeBitmap(Set({1, 2, 3, 1ULL << 33}));
  CHECK(DecodesWithinBounds(good));  // the guard page itself is fine
  CHECK(DecodesWithinBounds(good.substr(0, good.size() - 3)));
  CHECK(DecodesWithinBounds(RunCookieWithoutRuns()));
}

namespace {

// A hook that writes activity rows straight from test events: ConsentGiven
// marks the account active in its month, AccessRequested adds it to the live
// set, DeletionRequested removes it (standing in for erasure).
class ActivityHook final : public AppendHook {
 public:
  Status Apply(const events::EventView& e, GroupTx& tx) override {
    const uint64_t id = e.envelope()->account_id();
    if (e.type() == fb::Payload::ConsentGiven) tx.Merge(Cf::kActivity, MonthKey(e.envelope()->occurred_at_ms()), AddOperand(id));
    if (e.type() == fb::Payload::AccessRequested) tx.Merge(Cf::kActivity, kActivityLiveKey, AddOperand(id));
    if (e.type() == fb::Payload::DeletionRequested) tx.Merge(Cf::kActivity, kActivityLiveKey, RemoveOperand(id));
    return Status::OK();
  }
};

std::string Event(uint64_t id, int64_t at_ms, fb::Payload type, uint64_t n) {
  events::EnvelopeBuilder b;
  auto& f = b.fbb();
  flatbuffers::Offset<void> p;
  if (type == fb::Payload::ConsentGiven) p = fb::CreateConsentGiven(f, fb::Purpose::Surveys, f.CreateString("1.01")).Union();
  if (type == fb::Payload::AccessRequested) p = fb::CreateAccessRequested(f).Union();
  if (type == fb::Payload::DeletionRequested) p = fb::CreateDeletionRequested(f, at_ms).Union();
  return b.Finish({id, at_ms, fb::Actor::Holder, test::Name("r", n), "1.01"}, type, p);
}

struct History {
  std::map<uint64_t, std::vector<int64_t>> active;  // account -> activity times
  std::set<uint64_t> live;
};

int64_t RandomTimeInMonth(std::mt19937_64& rng, int month_index) {
  return UtcMs(month_index / 12, static_cast<unsigned>(month_index % 12 + 1), 1 + rng() % 28, 0) +
         static_cast<int64_t>(rng() % 86'400'000);
}

// Appends a random history for 400 accounts over 2016..2024 and returns it.
History WriteHistory(Ledger& ledger, std::mt19937_64& rng) {
  History h;
  std::vector<Ledger::Command> batch;
  uint64_t n = 0;
  auto add = [&](uint64_t id, int64_t at_ms, fb::Payload t) { batch.push_back({Event(id, at_ms, t, ++n), std::nullopt}); };
  const int first = 2016 * 12, months = 9 * 12;
  for (uint64_t id = 1; id <= 400; ++id) {
    const bool registered = rng() % 10 != 0, erased = rng() % 8 == 0;
    if (registered) add(id, UtcMs(2016, 1, 1), fb::Payload::AccessRequested);
    for (int k = static_cast<int>(rng() % 6); k > 0; --k) {
      int64_t at_ms = RandomTimeInMonth(rng, first + static_cast<int>(rng() % months));
      add(id, at_ms, fb::Payload::ConsentGiven);
      h.active[id].push_back(at_ms);
    }
    if (registered && erased) add(id, UtcMs(2016, 1, 1), fb::Payload::DeletionRequested);
    if (registered && !erased) h.live.insert(id);
  }
  std::vector<Ledger::Appended> out;
  Status s = ledger.Append(std::move(batch), &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return h;
}

}  // namespace

TEST_CASE("activity: InactiveCandidates matches a brute-force computation", "[activity][inactive]") {
  test::TempDir dir("acc-activity");
  ActivityHook hook;
  LedgerOptions o = test::LedgerAt(dir.Sub("events"), &hook);
  o.activity_merge = MergeActivity;
  o.activity_partial_merge = PartialMergeActivity;  // month rows get hundreds of operands
  std::unique_ptr<Ledger> ledger;
  REQUIRE(Ledger::Open(o, &ledger).ok());
  std::mt19937_64 rng(99);
  const History h = WriteHistory(*ledger, rng);
  REQUIRE(h.live.size() > 250);

  for (int round = 0; round < 40; ++round) {
    const int64_t as_of_ms = RandomTimeInMonth(rng, 2017 * 12 + static_cast<int>(rng() % 96));
    const int months = round % 4 == 0 ? 1 : round % 4 == 1 ? 12 : 36;
    const int first = MonthIndex(MonthsBefore(as_of_ms, months)) + 1, last = MonthIndex(as_of_ms);
    const int64_t cutoff = MonthsBefore(as_of_ms, months);
    Roaring64Map want, exact;
    for (uint64_t id : h.live) {
      bool in_window = false, since_cutoff = false;
      auto it = h.active.find(id);
      for (int64_t t : it == h.active.end() ? std::vector<int64_t>{} : it->second) {
        in_window |= MonthIndex(t) >= first && MonthIndex(t) <= last;
        since_cutoff |= t >= cutoff;
      }
      if (!in_window) want.add(id);
      if (!since_cutoff) exact.add(id);
    }
    Roaring64Map got;
    size_t bytes = 0;
    REQUIRE(InactiveCandidates(*ledger, as_of_ms, months, &got, &bytes).ok());
    INFO("round " << round << " as_of " << as_of_ms << " months " << months);
    CHECK(Ids(got) == Ids(want));
    const auto g = Ids(got), e = Ids(exact);
    CHECK(std::includes(g.begin(), g.end(), e.begin(), e.end()));  // a superset of the exactly inactive
    CHECK(bytes > 0);
  }
}

TEST_CASE("activity: an empty ledger has no candidates", "[activity][inactive]") {
  test::TempDir dir("acc-activity-empty");
  LedgerOptions o = test::LedgerAt(dir.Sub("events"));
  o.activity_merge = MergeActivity;
  std::unique_ptr<Ledger> ledger;
  REQUIRE(Ledger::Open(o, &ledger).ok());
  Roaring64Map got = Set({1});
  REQUIRE(InactiveCandidates(*ledger, UtcMs(2024, 1, 1), 36, &got).ok());
  CHECK(got.isEmpty());
}
