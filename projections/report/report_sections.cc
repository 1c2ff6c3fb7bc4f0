// ReportTally's sections: the counters turned into tables (and charts).
// What each one shows and how it is computed: docs/audit.md, "Report".
#include <algorithm>

#include "events/vocabulary.h"
#include "projections/fold/activity.h"
#include "projections/report/report_tally.h"

namespace accountable::audit {

namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kHourMs = 3'600'000;
// Charts with more columns than this are left as tables (a bar per recipient
// of 4096 says nothing).
constexpr size_t kChartColumnsMax = 40;

Cell AccountsCell(int64_t n) {
  const uint64_t u = n > 0 ? uint64_t(n) : 0;
  return {u, u};
}

std::vector<std::string> MonthColumns(int first, int last) {
  std::vector<std::string> cols;
  for (int m = first; m <= last; ++m) cols.push_back(MonthLabel(m));
  return cols;
}

std::string Day(int64_t ms) { return events::FormatTime(ms).substr(0, 10); }

// One table from counters keyed by name, in key order.
Table ByName(std::string id, std::string title, std::string head, const std::map<std::string, Count>& m) {
  Table t{.id = std::move(id), .title = std::move(title), .chart = "bar", .column_head = std::move(head)};
  t.series.push_back({"disclosures", {}});
  for (auto& [name, c] : m) {
    t.columns.push_back(name);
    t.series[0].cells.push_back(c.ToCell());
  }
  if (t.columns.size() > kChartColumnsMax) t.chart.clear();
  return t;
}

}  // namespace

void ReportTally::Finish(int64_t as_of_ms, int access_log_days, std::vector<Section>* out) const {
  const int last = MonthNumber(as_of_ms);
  int first = first_month_ == 0 ? last : std::min(first_month_, last);
  first = std::max(first, last - kReportMonthsMax + 1);
  out->push_back(Accounts(first, last));
  out->push_back(Retention(as_of_ms));
  out->push_back(Erasures(first, last));
  out->push_back(Consents(first, last));
  out->push_back(Disclosures());
  out->push_back(AccessLogs(as_of_ms, access_log_days));
}

Section ReportTally::Accounts(int first, int last) const {
  Section s{.id = "accounts", .title = "Accounts"};
  Table status{.id = "accounts-status", .title = "Accounts by status at the end of each month",
               .note = "Each account's status folded from its events (occurred_at); the current month ends at the "
                       "report's time.",
               .chart = "line", .column_head = "month", .columns = MonthColumns(first, last)};
  Table regs{.id = "accounts-registered", .title = "Registrations per month", .chart = "bar",
             .column_head = "month", .columns = status.columns};
  status.series = {{"active", {}}, {"pending deletion", {}}, {"erased", {}}};
  regs.series = {{"registrations", {}}};
  std::array<int64_t, 4> running{};
  auto delta = status_delta_.begin();
  for (int m = first; m <= last; ++m) {
    for (; delta != status_delta_.end() && delta->first <= m; ++delta)
      for (size_t k = 0; k < running.size(); ++k) running[k] += delta->second[k];
    for (size_t k = 0; k < 3; ++k) status.series[k].cells.push_back(AccountsCell(running[k + 1]));
    auto r = registrations_.find(m);
    regs.series[0].cells.push_back(AccountsCell(r == registrations_.end() ? 0 : int64_t(r->second)));
  }
  s.facts = {"accounts in the log: " + ShownAccounts(accounts_.size())};
  s.tables = {std::move(status), std::move(regs)};
  return s;
}

Section ReportTally::Retention(int64_t as_of_ms) const {
  Section s{.id = "retention", .title = "Retention pipeline"};
  const int now = MonthNumber(as_of_ms);
  Table t{.id = "retention-due", .title = "Active accounts that become due for erasure, by month",
          .note = "Due = the first instant at which the account has been inactive for 36 months "
                  "(RetentionDueAt of its last holder activity, as the sweep decides). The current month "
                  "counts from the report's time on.",
          .chart = "bar", .column_head = "month", .columns = MonthColumns(now, now + kDueMonthsAhead - 1)};
  t.column_notes_label = "last holder activity";
  for (int m = now; m < now + kDueMonthsAhead; ++m)
    t.column_notes.push_back("from " + Day(MonthsBefore(MonthStartMs(m), kRetentionMonths)) + " to before " +
                             Day(MonthsBefore(MonthStartMs(m + 1), kRetentionMonths)));
  std::vector<int64_t> due(kDueMonthsAhead, 0);
  int64_t overdue = 0, pending = 0;
  for (auto& [id, st] : accounts_) {
    if (st.status == AccountStatus::kPendingDeletion) ++pending;
    if (st.status != AccountStatus::kActive) continue;
    const int64_t due_ms = RetentionDueAt(std::max(st.last_active_at_ms, st.registered_at_ms), kRetentionMonths);
    if (due_ms <= as_of_ms) ++overdue;
    else if (MonthNumber(due_ms) - now < kDueMonthsAhead) ++due[size_t(MonthNumber(due_ms) - now)];
  }
  t.series = {{"accounts due", {}}};
  for (int64_t n : due) t.series[0].cells.push_back(AccountsCell(n));
  auto shown = [](int64_t n) { return ShownAccounts(uint64_t(std::max<int64_t>(n, 0))); };
  s.facts = {"rule: erased after 36 months without holder activity (policy; docs/compliance.md)",
             "active accounts already due, awaiting the next sweep: " + shown(overdue),
             "accounts with a deletion pending (3-day grace period): " + shown(pending)};
  s.tables.push_back(std::move(t));
  return s;
}

Section ReportTally::Erasures(int first, int last) const {
  Section s{.id = "erasures", .title = "Erasures"};
  Table t{.id = "erasures-month", .title = "Erasures per month by reason, verified or not",
          .note = "AccountErased by its reason; verified = an ErasureVerified for it is in the log by the report's "
                  "time.",
          .chart = "stacked", .column_head = "month", .columns = MonthColumns(first, last)};
  const char* reasons[] = {"holder request", "retention", "admin"};
  for (const char* r : reasons) {
    t.series.push_back({std::string(r) + ", verified", {}});
    t.series.push_back({std::string(r) + ", not verified", {}});
  }
  std::vector<std::vector<int64_t>> n(t.series.size(), std::vector<int64_t>(t.columns.size(), 0));
  // Buckets of the time from the holder's request to the verified erasure.
  Table dist{.id = "erasures-delay", .title = "Time from a holder's deletion request to its verified erasure",
             .note = "DeletionRequested (occurred_at) to ErasureVerified (recorded_at); the policy's grace period "
                     "is 3 days, so 3 days is the earliest possible.",
             .chart = "bar", .column_head = "time",
             .columns = {"< 3 d", "3 d to 3 d 1 h", "3 d 1 h to 4 d", "4 d to 7 d", "7 d or more", "not verified"}};
  std::vector<int64_t> buckets(dist.columns.size(), 0);
  for (auto& [seq, e] : erasures_) {
    const bool verified = e.verified_ms >= 0;
    if (e.month >= first && e.month <= last && e.reason >= 0 && e.reason < 3)
      ++n[size_t(e.reason * 2 + (verified ? 0 : 1))][size_t(e.month - first)];
    if (e.reason != int(fb::ErasureReason::UserRequest) || e.requested_ms == 0) continue;
    const int64_t d = verified ? e.verified_ms - e.requested_ms : -1;
    const size_t b = !verified ? 5 : d < 3 * kDayMs ? 0 : d < 3 * kDayMs + kHourMs ? 1 : d < 4 * kDayMs ? 2
                                 : d < 7 * kDayMs ? 3 : 4;
    ++buckets[b];
  }
  for (size_t k = 0; k < n.size(); ++k)
    for (int64_t x : n[k]) t.series[k].cells.push_back(AccountsCell(x));
  dist.series = {{"erasures", {}}};
  for (int64_t x : buckets) dist.series[0].cells.push_back(AccountsCell(x));
  s.facts = {"erasures in the log: " + ShownAccounts(erasures_.size())};
  s.tables = {std::move(t), std::move(dist)};
  return s;
}

Section ReportTally::Consents(int first, int last) const {
  Section s{.id = "consents", .title = "Consents and policy versions"};
  const char* dir_title[] = {"Consents given per month, by purpose", "Consents withdrawn per month, by purpose"};
  const char* dir_id[] = {"consents-given", "consents-withdrawn"};
  for (size_t dir = 0; dir < 2; ++dir) {
    Table t{.id = dir_id[dir], .title = dir_title[dir],
            .note = dir == 0 ? "ConsentGiven, explicit and implicit, and the consents given at registration; "
                               "the dashed lines mark the month each policy version took effect."
                             : "ConsentWithdrawn; the dashed lines mark policy versions taking effect.",
            .chart = "stacked", .column_head = "month", .columns = MonthColumns(first, last)};
    for (size_t p = 0; p < kPurposeCount; ++p) {
      Series se{std::string(events::PurposeName(fb::Purpose(p))), {}};
      for (int m = first; m <= last; ++m) {
        auto it = consents_.find(m);
        se.cells.push_back(it == consents_.end() ? Cell{} : it->second[dir][p].ToCell());
      }
      t.series.push_back(std::move(se));
    }
    for (auto& p : policies_) {
      const int m = MonthNumber(p.effective_ms);
      if (m >= first && m <= last) t.markers.push_back({size_t(m - first), p.version});
    }
    s.tables.push_back(std::move(t));
  }
  Table acc{.id = "policy-acceptance", .title = "Acceptance of each policy version",
            .note = "Explicit: accepted at registration or by the holder's consent; implicit: the first login "
                    "after the version was published (continued use).",
            .chart = "stacked", .column_head = "policy version"};
  acc.series = {{"explicit", {}}, {"implicit", {}}};
  for (auto& p : policies_) {
    acc.columns.push_back(p.version);
    acc.column_notes.push_back("in effect from " + Day(p.effective_ms));
    acc.series[0].cells.push_back(p.explicit_accept.ToCell());
    acc.series[1].cells.push_back(p.implicit_accept.ToCell());
  }
  acc.column_notes_label = "effective";
  s.tables.push_back(std::move(acc));
  return s;
}

Section ReportTally::Disclosures() const {
  Section s{.id = "disclosures", .title = "Disclosures to third parties"};
  std::map<std::string, Count> by_recipient;
  for (auto& [seq, r] : recipients_)
    if (r.disclosures.n > 0) by_recipient[r.name + " (" + r.country + ")"] = r.disclosures;
  Count total;
  for (auto& [k, c] : by_country_) {
    total.n += c.n;
    total.accounts |= c.accounts;
  }
  const Cell all = total.ToCell();
  s.facts = {"recipients registered: " + std::to_string(recipients_.size()),
             "disclosures in the log: " + (all.Suppressed() ? std::string("< 5") : std::to_string(all.n)) +
                 " (cells count disclosures; a cell about fewer than 5 accounts shows \"< 5\")"};
  s.tables = {ByName("disclosures-recipient", "By recipient (registered organisation, its country)", "recipient",
                     by_recipient),
              ByName("disclosures-country", "By destination country (ISO 3166-1)", "country", by_country_),
              ByName("disclosures-basis", "By legal basis", "legal basis", by_basis_),
              ByName("disclosures-safeguard", "By transfer safeguard", "safeguard", by_safeguard_)};
  return s;
}

Section ReportTally::AccessLogs(int64_t as_of_ms, int access_log_days) const {
  Section s{.id = "access-logs", .title = "Access logs: day keys"};
  const uint32_t oldest_kept = DayOf(std::max<int64_t>(as_of_ms - int64_t(access_log_days) * kDayMs, 0));
  std::map<int, std::array<uint64_t, 2>> by_month;  // month -> alive, past the window
  uint64_t alive = 0, past = 0;
  for (uint32_t d : access_days_) {
    const int m = int(d / 10000) * 12 + int(d / 100 % 100) - 1;
    const bool kept = d >= oldest_kept;
    ++by_month[m][kept ? 0 : 1];
    ++(kept ? alive : past);
  }
  Table t{.id = "access-days", .title = "Days with access logs, by month: within the window or past it",
          .note = "A day key past the window is shredded by the next sweep, with the whole day's logs "
                  "(AccessLogged events stay, sealed under a key that no longer exists). Counts are days, "
                  "not accounts: access logs are linked to no account.",
          .chart = "stacked", .column_head = "month"};
  t.series = {{"days alive (within the window)", {}}, {"days past the window (shredded)", {}}};
  for (auto& [m, c] : by_month) {
    t.columns.push_back(MonthLabel(m));
    t.series[0].cells.push_back({c[0], 0});
    t.series[1].cells.push_back({c[1], 0});
  }
  if (t.columns.size() > kChartColumnsMax) t.chart.clear();
  s.facts = {"window: " + std::to_string(access_log_days) + " days (--access-log-days)",
             "oldest day kept: " + std::to_string(oldest_kept),
             "days with access logs within the window: " + std::to_string(alive),
             "days past the window (their keys are shredded by the sweep): " + std::to_string(past)};
  s.tables.push_back(std::move(t));
  return s;
}

}  // namespace accountable::audit
