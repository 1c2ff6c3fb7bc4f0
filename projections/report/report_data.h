// ReportData: the aggregates of the compliance report (docs/audit.md,
// "Report"), computed from the log alone as of a point in time. No vault,
// no KEK: only plaintext metadata of the events is read, so the report can
// hold no personal data, and every number an auditor sees is one the log
// itself proves (the integrity section checks that log first).
//
//   audit::ReportOptions o{.as_of_ms = now, .public_key = pk};
//   audit::ReportData d;
//   Status s = audit::BuildReportData(ledger, o, &d);   // then RenderReportHtml(d)
//
// Counting rule: a cell that counts events of 1..4 distinct accounts is
// suppressed ("< 5"); Cell keeps the distinct-account count to decide it.
//
// Thread safety: stateless; reads the log up to a seq fixed when it starts,
// so it may run beside a live writer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/ledger.h"
#include "events/status.h"

namespace accountable::audit {

// Cells counting fewer distinct accounts than this (and more than 0) are
// shown as "< 5" and left out of the charts.
inline constexpr uint64_t kSuppressBelowAccounts = 5;
// Time series show at most this many months (the newest); older events
// still count in the running totals.
inline constexpr int kReportMonthsMax = 120;
inline constexpr int kRetentionMonths = 36;
inline constexpr int kDueMonthsAhead = 12;

struct Cell {
  uint64_t n = 0;          // what is counted (events or accounts)
  uint64_t accounts = 0;   // distinct accounts behind n; 0 = not about accounts
  bool Suppressed() const { return accounts > 0 && accounts < kSuppressBelowAccounts; }
};

struct Series {
  std::string label;
  std::vector<Cell> cells;  // one per column
};

// One chart and the table with the same numbers.
struct Table {
  std::string id;              // HTML id, [a-z0-9-]
  std::string title;
  std::string note;            // how it is computed
  std::string chart;           // "bar", "stacked", "line" or "" (table only)
  std::string column_head;     // what a column is ("month", "recipient", ...)
  std::vector<std::string> columns;
  std::vector<Series> series;
  std::vector<std::pair<size_t, std::string>> markers;  // column index, label (policy versions)
  std::string column_notes_label;                        // an extra table row of text per column
  std::vector<std::string> column_notes;
};

struct Section {
  std::string id, title;
  std::vector<std::string> facts;  // "name: value" lines shown above the tables
  std::vector<Table> tables;
};

struct Integrity {
  uint64_t tree_size = 0;          // events in the whole log
  std::string root_b64;            // root of the whole log
  uint64_t as_of_seq = 0;          // last event recorded by as_of
  std::string as_of_root_b64;      // root of the tree at as_of_seq
  bool verified = false;           // full VerifyTree result
  std::string verify_error;
  bool head_checked = false, head_ok = false;
  std::string head_detail;         // signed head size/time, or why it failed
  int64_t checked_at_ms = 0;
};

struct ReportData {
  int64_t as_of_ms = 0;
  int access_log_days = 30;
  Integrity integrity;
  std::vector<Section> sections;
};

struct ReportOptions {
  int64_t as_of_ms = 0;            // events recorded up to then
  int64_t now_ms = 0;              // time of the check
  std::string public_key;          // 32 bytes; empty: the signed head is not checked
  int access_log_days = 30;        // the server's --access-log-days
};

// InvalidArgument for an as_of outside [kAsOfMsMin, kAsOfMsMax] or a window
// outside 1..3650 days. A failed verify is reported in the data, not as an
// error: the report says so first.
Status BuildReportData(Ledger& ledger, const ReportOptions& options, ReportData* out);
// The option checks BuildReportData makes.
Status CheckReportOptions(const ReportOptions& options);

// "2024-05" for the UTC month of ms; month numbers are year * 12 + month - 1.
int MonthNumber(int64_t ms);
// The count as shown: "< 5" when it counts 1..4 accounts.
std::string ShownAccounts(uint64_t n);
std::string MonthLabel(int month_number);
int64_t MonthStartMs(int month_number);

}  // namespace accountable::audit
