// Activity index: one Roaring64Map of account ids per UTC calendar month in
// which the holder was active, plus the set of live (not erased) accounts.
// Rows live in the event DB (Cf::kActivity) and change only through merge
// operands written in the same WriteBatch as the event that caused them.
//
//   tx.Merge(Cf::kActivity, MonthKey(at_ms), AddOperand(id));       // projector
//   Roaring64Map candidates;
//   InactiveCandidates(ledger, now_ms, 36, &candidates);            // retention
//
// Row format: value = 'B' || Roaring64Map portable serialization; operand =
// '+' or '-' || the same. Only bytes the ledger wrote are ever deserialized
// (CRoaring does not validate content), lengths are checked first.
//
// Thread safety: pure functions plus reads through the thread-safe Ledger.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <roaring/roaring64map.hh>

#include "core/ledger.h"

namespace accountable {

inline constexpr std::string_view kActivityLiveKey = "live";

// "yyyymmdd" of the UTC day containing ms, as a number (ActivityRecorded.day).
uint32_t DayOf(int64_t ms);

// "m/yyyymm" of the UTC month containing ms.
std::string MonthKey(int64_t ms);
// The same, plus that month's instants [*first_ms, *end_ms), so that a
// caller on a hot path can reuse the key for every ms in between.
std::string MonthKey(int64_t ms, int64_t* first_ms, int64_t* end_ms);
int MonthIndex(int64_t ms);  // yyyy*12 + (mm-1), for month arithmetic

std::string AddOperand(uint64_t account_id);
std::string RemoveOperand(uint64_t account_id);
std::string EncodeBitmap(const Roaring64Map& b);
bool DecodeBitmap(std::string_view bytes, Roaring64Map* out);

// LedgerOptions::activity_partial_merge: a run of '+' operands becomes one
// '+' operand (their union); any '-' in the run: false (order matters).
bool PartialMergeActivity(const std::vector<std::string_view>& operands, std::string* out);

// The merge function for LedgerOptions::activity_merge.
bool MergeActivity(const std::string* existing, const std::vector<std::string_view>& operands,
                   std::string* out);

// The instants a sweep or an inactivity query may be asked about: 1970-01-01
// through 9999-12-31T23:59:59.999Z. Month and day arithmetic on anything
// further out would overflow; CheckAsOfMs refuses it with a clear error.
inline constexpr int64_t kAsOfMsMin = 0;
inline constexpr int64_t kAsOfMsMax = 253402300799999;
Status CheckAsOfMs(int64_t as_of_ms);

// The same instant `months` calendar months earlier (day clamped to the
// month's length): the retention boundary. ms is clamped to
// [-kAsOfMsMax, kAsOfMsMax] and months to 0..kMonthsBackMax, so no input
// overflows.
inline constexpr int kMonthsBackMax = 12 * 10000;
int64_t MonthsBefore(int64_t ms, int months);

// The first instant at which an account last active at last_active_ms is
// inactive for `months` (MonthsBefore(due, months) > last_active_ms): the
// date retention erases it, as the sweep decides. Clamped like MonthsBefore.
int64_t RetentionDueAt(int64_t last_active_ms, int months);

// live AND NOT (union of the months after the cutoff month, up to as_of's):
// a superset of the accounts inactive since MonthsBefore(as_of, months). The
// caller applies the exact boundary with each account's last activity time.
Status InactiveCandidates(Ledger& ledger, int64_t as_of_ms, int months, Roaring64Map* out,
                          size_t* bitmap_bytes = nullptr);

Status ReadBitmap(Ledger& ledger, std::string_view key, Roaring64Map* out, size_t* bytes = nullptr);

}  // namespace accountable
