// BuildReportData: integrity first (the same checks as `accountable-audit
// verify`), then one pass over the log up to the report's time.
#include "replay/report_data.h"

#include <algorithm>

#include "events/vocabulary.h"
#include "projections/fold/activity.h"
#include "replay/proofs.h"
#include "replay/report_tally.h"
#include "replay/reports.h"

namespace accountable::audit {

namespace {

constexpr uint64_t kReportPageEvents = 4096;
constexpr int kAccessLogDaysMax = 3650;

void CheckIntegrity(Ledger& ledger, const ReportOptions& o, uint64_t as_of_seq, Integrity* out) {
  out->checked_at_ms = o.now_ms;
  out->as_of_seq = as_of_seq;
  Json j;
  Status s = VerifyTree(ledger, &j);
  out->verified = s.ok();
  if (!s.ok()) out->verify_error = s.ToString();
  Json head;
  if (TreeHead(ledger, 0, &head).ok()) {
    out->tree_size = head.value("treeSize", uint64_t{0});
    out->root_b64 = head.value("root", std::string());
  }
  Json at;
  if (as_of_seq > 0 && TreeHead(ledger, as_of_seq, &at).ok()) out->as_of_root_b64 = at.value("root", std::string());
  if (o.public_key.empty()) return;
  out->head_checked = true;
  Json sh;
  s = VerifySignedHead(ledger, o.public_key, &sh);
  out->head_ok = s.ok();
  if (!s.ok()) {
    out->head_detail = s.ToString();
    return;
  }
  const Json& h = sh["signed_head"];
  out->head_detail = "signed head of size " + std::to_string(h.value("treeSize", uint64_t{0})) + " signed at " +
                     events::FormatTime(h.value("timestamp_ms", int64_t{0})) + ", root " +
                     h.value("root", std::string()) + ": signature valid, root matches the log";
}

}  // namespace

int MonthNumber(int64_t ms) {
  // occurred_at is the caller's: clamp it to the years the report can print.
  const std::string t = events::FormatTime(std::clamp(ms, kAsOfMsMin, kAsOfMsMax));  // YYYY-MM-DDTHH:MM:SS.sssZ
  return std::stoi(t.substr(0, 4)) * 12 + std::stoi(t.substr(5, 2)) - 1;
}

std::string MonthLabel(int month_number) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d", month_number / 12, month_number % 12 + 1);
  return buf;
}

int64_t MonthStartMs(int month_number) {
  auto ms = events::ParseTime(MonthLabel(month_number) + "-01");
  return ms ? *ms : 0;
}

std::string ShownAccounts(uint64_t n) {
  return n > 0 && n < kSuppressBelowAccounts ? std::string("< 5") : std::to_string(n);
}

Status BuildReportData(Ledger& ledger, const ReportOptions& o, ReportData* out) {
  ACC_RETURN_IF_ERROR(CheckAsOfMs(o.as_of_ms));
  if (o.access_log_days < 1 || o.access_log_days > kAccessLogDaysMax)
    return Status::InvalidArgument("--access-log-days must be 1.." + std::to_string(kAccessLogDaysMax));
  out->as_of_ms = o.as_of_ms;
  out->access_log_days = o.access_log_days;
  uint64_t as_of_seq = 0;
  ACC_RETURN_IF_ERROR(SeqAtTime(ledger, o.as_of_ms, &as_of_seq));
  CheckIntegrity(ledger, o, as_of_seq, &out->integrity);
  ReportTally tally;
  std::vector<Ledger::Stored> page;
  for (uint64_t from = 1; from <= as_of_seq; from += kReportPageEvents) {
    ACC_RETURN_IF_ERROR(ledger.ReadRange(from, std::min(kReportPageEvents, as_of_seq - from + 1), &page));
    for (auto& st : page) {
      events::EventView v;
      ACC_RETURN_IF_ERROR(events::EventView::Parse(st.envelope, &v));
      tally.Apply(v);
    }
  }
  tally.Finish(o.as_of_ms, o.access_log_days, &out->sections);
  return Status::OK();
}

}  // namespace accountable::audit
