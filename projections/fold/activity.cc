#include "projections/fold/activity.h"

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <stdexcept>

namespace accountable {

namespace {

std::chrono::year_month_day Ymd(int64_t ms) {
  using namespace std::chrono;
  return year_month_day{floor<days>(sys_time<milliseconds>{milliseconds{ms}})};
}

std::string MonthKeyFromIndex(int index) {
  // Called once per holder event on the writer thread: four-digit years
  // (every real one) without snprintf; anything else as before.
  if (index < 0 || index / 12 > 9999) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "m/%04d%02d", index / 12, index % 12 + 1);
    return buf;
  }
  const int y = index / 12, m = index % 12 + 1;
  const char key[8] = {'m', '/', static_cast<char>('0' + y / 1000), static_cast<char>('0' + y / 100 % 10),
                       static_cast<char>('0' + y / 10 % 10), static_cast<char>('0' + y % 10),
                       static_cast<char>('0' + m / 10), static_cast<char>('0' + m % 10)};
  return std::string(key, sizeof key);
}

// Roaring64Map::write and ::readSafe (CRoaring 0.2.66 headers) store and
// load the 8-byte map count through a plain uint64_t*: their buffer must be
// 8-byte aligned, and the bytes after our 1-byte kind prefix are not. So
// bytes go through this aligned storage on their way to and from the library.
using AlignedBytes = std::vector<uint64_t>;

const char* CopyAligned(std::string_view bytes, AlignedBytes* storage) {
  storage->assign(bytes.size() / sizeof(uint64_t) + 1, 0);
  // Bounded by the storage as well, which also tells GCC the copy fits.
  std::memcpy(storage->data(), bytes.data(), std::min(bytes.size(), storage->size() * sizeof(uint64_t)));
  return reinterpret_cast<const char*>(storage->data());
}

std::string WithPrefix(char kind, const Roaring64Map& b) {
  const size_t n = b.getSizeInBytes(true);
  AlignedBytes aligned((n + sizeof(uint64_t) - 1) / sizeof(uint64_t));
  b.write(reinterpret_cast<char*>(aligned.data()), true);
  std::string out(1, kind);
  out.append(reinterpret_cast<const char*>(aligned.data()), n);
  return out;
}

std::string SlowOperand(char kind, uint64_t account_id) {
  Roaring64Map b;
  b.add(account_id);
  return WithPrefix(kind, b);
}

// A one-account operand is by far the most common value the merge sees (one
// per holder event), and building or decoding it through Roaring64Map costs
// a std::map node and a bitmap per call. Its portable bytes have a fixed
// layout: u64 entry count (1) | u32 high half | cookie | u32 container
// count (1) | u16 container key | u16 cardinality-1 | u32 offset | u16 low
// bits. The template is taken from CRoaring itself and checked against it at
// start-up for ids that exercise every field; if that check ever fails (a
// different CRoaring), both fast paths stay off and nothing changes.
constexpr size_t kSingleBytes = 30;
constexpr size_t kHighAt = 8, kKeyAt = 20, kLowAt = 28;

struct SingleLayout {
  std::array<char, kSingleBytes> tmpl{};
  bool usable = false;

  void Fill(uint64_t id, char* out) const {
    std::memcpy(out, tmpl.data(), kSingleBytes);
    const uint32_t high = static_cast<uint32_t>(id >> 32);
    const uint16_t key = static_cast<uint16_t>(id >> 16), low = static_cast<uint16_t>(id);
    std::memcpy(out + kHighAt, &high, sizeof high);  // native order, as Roaring64Map::write
    std::memcpy(out + kKeyAt, &key, sizeof key);
    std::memcpy(out + kLowAt, &low, sizeof low);
  }

  SingleLayout() {
    const std::string zero = SlowOperand('+', 0);
    if (zero.size() != 1 + kSingleBytes) return;
    std::memcpy(tmpl.data(), zero.data() + 1, kSingleBytes);
    for (uint64_t id : {uint64_t{0}, uint64_t{1}, uint64_t{0xffff}, uint64_t{0x10000}, uint64_t{0x12345678},
                        uint64_t{1} << 32, uint64_t{0x0123456789abcdef}, ~uint64_t{0}}) {
      char bytes[kSingleBytes];
      Fill(id, bytes);
      if (SlowOperand('+', id).substr(1) != std::string_view(bytes, kSingleBytes)) return;
    }
    usable = true;
  }
};

const SingleLayout& Single() {
  static const SingleLayout layout;
  return layout;
}

// True if `portable` is exactly the bytes of a one-account bitmap; then *id
// is that account. Bytes it accepts decode to {id} by construction.
bool ParseSingle(std::string_view portable, uint64_t* id) {
  const SingleLayout& l = Single();
  if (!l.usable || portable.size() != kSingleBytes) return false;
  uint32_t high;
  uint16_t key, low;
  std::memcpy(&high, portable.data() + kHighAt, sizeof high);
  std::memcpy(&key, portable.data() + kKeyAt, sizeof key);
  std::memcpy(&low, portable.data() + kLowAt, sizeof low);
  const uint64_t candidate = (uint64_t{high} << 32) | (uint64_t{key} << 16) | low;
  char expect[kSingleBytes];
  l.Fill(candidate, expect);
  if (std::memcmp(expect, portable.data(), kSingleBytes) != 0) return false;
  *id = candidate;
  return true;
}

std::string Operand(char kind, uint64_t account_id) {
  const SingleLayout& l = Single();
  if (!l.usable) return SlowOperand(kind, account_id);
  std::string out(1 + kSingleBytes, kind);
  l.Fill(account_id, out.data() + 1);
  return out;
}

// Folds one operand into acc; false if it is not a ledger operand of `kinds`.
bool FoldOperand(std::string_view op, std::string_view kinds, Roaring64Map* acc) {
  if (op.empty() || kinds.find(op[0]) == std::string_view::npos) return false;
  uint64_t id;
  if (ParseSingle(op.substr(1), &id)) {
    // add/remove of one value leave the same contents as |= / -= of {id}.
    if (op[0] == '+') acc->add(id);
    else acc->remove(id);
    return true;
  }
  Roaring64Map b;
  if (!DecodeBitmap(op, &b)) return false;
  if (op[0] == '+') *acc |= b;
  else *acc -= b;
  return true;
}

}  // namespace

int MonthIndex(int64_t ms) {
  auto ymd = Ymd(ms);
  return int(ymd.year()) * 12 + int(unsigned(ymd.month())) - 1;
}

uint32_t DayOf(int64_t ms) {
  using namespace std::chrono;
  year_month_day ymd{floor<days>(sys_time<milliseconds>{milliseconds{ms}})};
  return uint32_t(int(ymd.year())) * 10000 + unsigned(ymd.month()) * 100 + unsigned(ymd.day());
}

std::string MonthKey(int64_t ms) { return MonthKeyFromIndex(MonthIndex(ms)); }

std::string MonthKey(int64_t ms, int64_t* first_ms, int64_t* end_ms) {
  using namespace std::chrono;
  const auto ymd = Ymd(ms);
  const year_month ym{ymd.year(), ymd.month()};
  const auto first = sys_days(ym / 1), end = sys_days((ym + months{1}) / 1);
  *first_ms = duration_cast<milliseconds>(first.time_since_epoch()).count();
  *end_ms = duration_cast<milliseconds>(end.time_since_epoch()).count();
  return MonthKeyFromIndex(int(ymd.year()) * 12 + int(unsigned(ymd.month())) - 1);
}

std::string AddOperand(uint64_t id) { return Operand('+', id); }
std::string RemoveOperand(uint64_t id) { return Operand('-', id); }

std::string EncodeBitmap(const Roaring64Map& b) { return WithPrefix('B', b); }

namespace {

// CRoaring 0.2.66 deserializes a container as stored, trusting its
// cardinality and run count: a bitset claiming more bits than it holds or
// an empty run container passes readSafe and later trips the library's
// assertions (convert.c "n_runs > 0" in runOptimize; found by fuzz-bitmap)
// or yields a wrong set. These are the invariants its own writer keeps.
bool ContainerValid(const void* c, uint8_t type) {
  if (type == BITSET_CONTAINER_TYPE_CODE) {
    const auto* b = static_cast<const bitset_container_t*>(c);
    int32_t bits = 0;
    for (int i = 0; i < BITSET_CONTAINER_SIZE_IN_WORDS; ++i) bits += std::popcount(b->array[i]);
    return b->cardinality == bits && bits > DEFAULT_MAX_SIZE;
  }
  if (type == ARRAY_CONTAINER_TYPE_CODE) {
    const auto* a = static_cast<const array_container_t*>(c);
    if (a->cardinality < 1 || a->cardinality > DEFAULT_MAX_SIZE) return false;
    for (int32_t i = 1; i < a->cardinality; ++i)
      if (a->array[i] <= a->array[i - 1]) return false;
    return true;
  }
  if (type != RUN_CONTAINER_TYPE_CODE) return false;  // shared containers are never deserialized
  const auto* r = static_cast<const run_container_t*>(c);
  if (r->n_runs < 1) return false;
  // Sorted and disjoint. Adjacent runs are not canonical but harmless, and
  // refusing a row the library might write would lose an index.
  int32_t next = 0;
  for (int32_t i = 0; i < r->n_runs; ++i) {
    const int32_t start = r->runs[i].value, end = start + r->runs[i].length;
    if (start < next || end > 0xFFFF) return false;
    next = end + 1;
  }
  return true;
}

bool ContainersValid(const roaring_bitmap_t* r) {
  const roaring_array_t& ra = r->high_low_container;
  for (int32_t i = 0; i < ra.size; ++i)
    if ((i > 0 && ra.keys[i] <= ra.keys[i - 1]) || !ContainerValid(ra.containers[i], ra.typecodes[i])) return false;
  return true;
}

}  // namespace

// Walks the portable layout (u64 count, then per entry a u32 key and one
// 32-bit bitmap) and checks that every inner bitmap's recomputed size equals
// the bytes it occupies and that its containers are well formed. CRoaring
// 0.2.66's readSafe advances by the recomputed size, not by what it read, so
// only bytes that pass this walk are safe for it.
bool WalkPortable(std::string_view bytes) {
  if (bytes.size() < sizeof(uint64_t)) return false;
  uint64_t count;
  std::memcpy(&count, bytes.data(), sizeof count);
  const char* p = bytes.data() + sizeof count;
  size_t remaining = bytes.size() - sizeof count;
  if (count > remaining / sizeof(uint32_t)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    if (remaining < sizeof(uint32_t)) return false;
    p += sizeof(uint32_t);
    remaining -= sizeof(uint32_t);
    const size_t used = roaring_bitmap_portable_deserialize_size(p, remaining);
    if (used == 0 || used > remaining) return false;
    roaring_bitmap_t* r = roaring_bitmap_portable_deserialize_safe(p, used);
    if (r == nullptr) return false;
    const bool ok = roaring_bitmap_portable_size_in_bytes(r) == used && ContainersValid(r);
    roaring_bitmap_free(r);
    if (!ok) return false;
    p += used;
    remaining -= used;
  }
  return remaining == 0;
}

bool DecodeBitmap(std::string_view bytes, Roaring64Map* out) {
  // readSafe reads an 8-byte count before it checks any length, and does not
  // count those 8 bytes against maxbytes: check and subtract them here.
  if (bytes.size() < 1 + sizeof(uint64_t) || !WalkPortable(bytes.substr(1))) return false;
  AlignedBytes aligned;
  const char* body = CopyAligned(bytes.substr(1), &aligned);
  try {
    *out = Roaring64Map::readSafe(body, bytes.size() - 1 - sizeof(uint64_t));
  } catch (const std::exception&) {
    return false;
  }
  return out->getSizeInBytes(true) == bytes.size() - 1;
}

bool MergeActivity(const std::string* existing, const std::vector<std::string_view>& operands,
                   std::string* out) {
  Roaring64Map acc;
  if (existing && (existing->empty() || (*existing)[0] != 'B' || !DecodeBitmap(*existing, &acc)))
    return false;
  for (std::string_view op : operands)
    if (!FoldOperand(op, "+-", &acc)) return false;
  acc.runOptimize();
  *out = EncodeBitmap(acc);
  return true;
}

bool PartialMergeActivity(const std::vector<std::string_view>& operands, std::string* out) {
  Roaring64Map acc;
  for (std::string_view op : operands)
    if (!FoldOperand(op, "+", &acc)) return false;
  acc.runOptimize();
  *out = EncodeBitmap(acc);
  (*out)[0] = '+';
  return true;
}

Status CheckAsOfMs(int64_t as_of_ms) {
  if (as_of_ms < kAsOfMsMin || as_of_ms > kAsOfMsMax)
    return Status::InvalidArgument("as_of: must be between 1970-01-01 and 9999-12-31T23:59:59.999Z");
  return Status::OK();
}

int64_t MonthsBefore(int64_t ms, int months) {
  using namespace std::chrono;
  ms = std::clamp(ms, -kAsOfMsMax, kAsOfMsMax);
  months = std::clamp(months, 0, kMonthsBackMax);
  sys_time<milliseconds> tp{milliseconds{ms}};
  auto day = floor<days>(tp);
  auto tod = tp - day;
  year_month_day ymd{day};
  year_month ym = year_month{ymd.year(), ymd.month()} - std::chrono::months{months};
  auto last = year_month_day_last{ym.year(), month_day_last{ym.month()}}.day();
  auto d = ymd.day() > last ? last : ymd.day();
  return duration_cast<milliseconds>((sys_days(ym / d) + tod).time_since_epoch()).count();
}

int64_t RetentionDueAt(int64_t last_active_ms, int months) {
  using namespace std::chrono;
  // MonthsBefore maps T back to the same day and time `months` earlier, so
  // the answer is 1 ms past the last activity, `months` later; when that day
  // does not exist in the later month (Jan 31 + 1), every day of that month
  // maps back before it, and the first instant of the next month is due.
  last_active_ms = std::clamp(last_active_ms, -kAsOfMsMax, kAsOfMsMax);
  months = std::clamp(months, 0, kMonthsBackMax);
  sys_time<milliseconds> tp{milliseconds{last_active_ms + 1}};
  auto day = floor<days>(tp);
  auto tod = tp - day;
  year_month_day ymd{day};
  year_month ym = year_month{ymd.year(), ymd.month()} + std::chrono::months{months};
  auto last = year_month_day_last{ym.year(), month_day_last{ym.month()}}.day();
  if (ymd.day() > last) {
    year_month next = ym + std::chrono::months{1};
    return duration_cast<milliseconds>(sys_days(next / std::chrono::day{1}).time_since_epoch()).count();
  }
  return duration_cast<milliseconds>((sys_days(ym / ymd.day()) + tod).time_since_epoch()).count();
}

Status ReadBitmap(Ledger& ledger, std::string_view key, Roaring64Map* out, size_t* bytes) {
  std::string v;
  Status s = ledger.Get(Cf::kActivity, key, &v);
  if (s.Is(Status::Code::kNotFound)) {
    *out = Roaring64Map();
    if (bytes) *bytes = 0;
    return Status::OK();
  }
  ACC_RETURN_IF_ERROR(s);
  if (v.empty() || v[0] != 'B' || !DecodeBitmap(v, out))
    return Status::Corruption("activity row " + std::string(key) + " is not a ledger bitmap");
  if (bytes) *bytes = v.size();
  return Status::OK();
}

Status InactiveCandidates(Ledger& ledger, int64_t as_of_ms, int months, Roaring64Map* out,
                          size_t* bitmap_bytes) {
  size_t total = 0, n = 0;
  ACC_RETURN_IF_ERROR(ReadBitmap(ledger, kActivityLiveKey, out, &n));
  total += n;
  const int first = MonthIndex(MonthsBefore(as_of_ms, months)) + 1;
  const int last = MonthIndex(as_of_ms);
  Roaring64Map active;
  for (int m = first; m <= last; ++m) {
    Roaring64Map month;
    ACC_RETURN_IF_ERROR(ReadBitmap(ledger, MonthKeyFromIndex(m), &month, &n));
    total += n;
    active |= month;
  }
  *out -= active;
  if (bitmap_bytes) *bitmap_bytes = total;
  return Status::OK();
}

}  // namespace accountable
