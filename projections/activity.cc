#include "projections/activity.h"

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
  char buf[16];
  std::snprintf(buf, sizeof buf, "m/%04d%02d", index / 12, index % 12 + 1);
  return buf;
}

std::string Operand(char kind, uint64_t account_id) {
  Roaring64Map b;
  b.add(account_id);
  std::string out(1, kind);
  out.resize(1 + b.getSizeInBytes(true));
  b.write(out.data() + 1, true);
  return out;
}

}  // namespace

int MonthIndex(int64_t ms) {
  auto ymd = Ymd(ms);
  return int(ymd.year()) * 12 + int(unsigned(ymd.month())) - 1;
}

std::string MonthKey(int64_t ms) { return MonthKeyFromIndex(MonthIndex(ms)); }

std::string AddOperand(uint64_t id) { return Operand('+', id); }
std::string RemoveOperand(uint64_t id) { return Operand('-', id); }

std::string EncodeBitmap(const Roaring64Map& b) {
  std::string out(1, 'B');
  out.resize(1 + b.getSizeInBytes(true));
  b.write(out.data() + 1, true);
  return out;
}

// Walks the portable layout (u64 count, then per entry a u32 key and one
// 32-bit bitmap) and checks that every inner bitmap's recomputed size equals
// the bytes it occupies. CRoaring 0.2.66's readSafe advances by the recomputed
// size, not by what it read, so only bytes that pass this walk are safe for it.
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
    const size_t recomputed = roaring_bitmap_portable_size_in_bytes(r);
    roaring_bitmap_free(r);
    if (recomputed != used) return false;
    p += used;
    remaining -= used;
  }
  return remaining == 0;
}

bool DecodeBitmap(std::string_view bytes, Roaring64Map* out) {
  // readSafe reads an 8-byte count before it checks any length, and does not
  // count those 8 bytes against maxbytes: check and subtract them here.
  if (bytes.size() < 1 + sizeof(uint64_t) || !WalkPortable(bytes.substr(1))) return false;
  try {
    *out = Roaring64Map::readSafe(bytes.data() + 1, bytes.size() - 1 - sizeof(uint64_t));
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
  for (std::string_view op : operands) {
    Roaring64Map b;
    if (op.empty() || (op[0] != '+' && op[0] != '-') || !DecodeBitmap(op, &b)) return false;
    if (op[0] == '+') acc |= b;
    else acc -= b;
  }
  acc.runOptimize();
  *out = EncodeBitmap(acc);
  return true;
}

bool PartialMergeActivity(const std::vector<std::string_view>& operands, std::string* out) {
  Roaring64Map acc;
  for (std::string_view op : operands) {
    Roaring64Map b;
    if (op.empty() || op[0] != '+' || !DecodeBitmap(op, &b)) return false;
    acc |= b;
  }
  acc.runOptimize();
  *out = EncodeBitmap(acc);
  (*out)[0] = '+';
  return true;
}

int64_t MonthsBefore(int64_t ms, int months) {
  using namespace std::chrono;
  sys_time<milliseconds> tp{milliseconds{ms}};
  auto day = floor<days>(tp);
  auto tod = tp - day;
  year_month_day ymd{day};
  year_month ym = year_month{ymd.year(), ymd.month()} - std::chrono::months{months};
  auto last = year_month_day_last{ym.year(), month_day_last{ym.month()}}.day();
  auto d = ymd.day() > last ? last : ymd.day();
  return duration_cast<milliseconds>((sys_days(ym / d) + tod).time_since_epoch()).count();
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
