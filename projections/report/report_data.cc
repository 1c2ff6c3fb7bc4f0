// BuildReportData: integrity first (the same checks as `accountable-audit
// verify`), then one pass over the log up to the report's time.
#include "projections/report/report_data.h"

#include <algorithm>

#include "core/merkle.h"
#include "events/vocabulary.h"
#include "projections/fold/activity.h"
#include "projections/report/report_tally.h"
#include "projections/service/log_checks.h"

namespace accountable::audit {

namespace {

constexpr uint64_t kReportPageEvents = 4096;
constexpr int kAccessLogDaysMax = 3650;

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

void AssembleReport(Ledger& ledger, const ReportOptions& o, uint64_t last_seq, uint64_t as_of_seq,
                    const Status& verified, const ReportTally& tally, ReportData* out) {
  out->as_of_ms = o.as_of_ms;
  out->access_log_days = o.access_log_days;
  Integrity& in = out->integrity;
  in.checked_at_ms = o.now_ms;
  in.as_of_seq = as_of_seq;
  in.verified = verified.ok();
  if (!verified.ok()) in.verify_error = verified.ToString();
  in.tree_size = last_seq;
  Json head;
  if (last_seq > 0 && TreeHead(ledger, last_seq, &head).ok()) in.root_b64 = head.value("root", std::string());
  if (last_seq == 0) in.root_b64 = B64(merkle::EmptyRoot());
  Json at;
  if (as_of_seq > 0 && TreeHead(ledger, as_of_seq, &at).ok()) in.as_of_root_b64 = at.value("root", std::string());
  tally.Finish(o.as_of_ms, o.access_log_days, &out->sections);
  if (o.public_key.empty()) return;
  in.head_checked = true;
  Json sh;
  Status s = VerifySignedHead(ledger, o.public_key, &sh);
  in.head_ok = s.ok();
  if (!s.ok()) {
    in.head_detail = s.ToString();
    return;
  }
  const Json& h = sh["signed_head"];
  in.head_detail = "signed head of size " + std::to_string(h.value("treeSize", uint64_t{0})) + " signed at " +
                   events::FormatTime(h.value("timestamp_ms", int64_t{0})) + ", root " +
                   h.value("root", std::string()) + ": signature valid, root matches the log";
}

Status TallyEvents(Ledger& ledger, uint64_t from_seq, uint64_t to_seq, ReportTally* tally) {
  std::vector<Ledger::Stored> page;
  for (uint64_t from = from_seq; from <= to_seq; from += kReportPageEvents) {
    ACC_RETURN_IF_ERROR(ledger.ReadRange(from, std::min(kReportPageEvents, to_seq - from + 1), &page));
    for (auto& st : page) {
      events::EventView v;
      ACC_RETURN_IF_ERROR(events::EventView::Parse(st.envelope, &v));
      tally->Apply(v);
    }
  }
  return Status::OK();
}

Status CheckReportOptions(const ReportOptions& o) {
  ACC_RETURN_IF_ERROR(CheckAsOfMs(o.as_of_ms));
  if (o.access_log_days < 1 || o.access_log_days > kAccessLogDaysMax)
    return Status::InvalidArgument("--access-log-days must be 1.." + std::to_string(kAccessLogDaysMax));
  return Status::OK();
}

Status BuildReportData(Ledger& ledger, const ReportOptions& o, ReportData* out) {
  ACC_RETURN_IF_ERROR(CheckReportOptions(o));
  const uint64_t last_seq = ledger.LastSeq();
  uint64_t as_of_seq = 0;
  ACC_RETURN_IF_ERROR(SeqAtTime(ledger, o.as_of_ms, &as_of_seq));
  as_of_seq = std::min(as_of_seq, last_seq);
  LogVerifier verifier;
  const Status verified = verifier.Advance(ledger, last_seq);
  ReportTally tally;
  ACC_RETURN_IF_ERROR(TallyEvents(ledger, 1, as_of_seq, &tally));
  AssembleReport(ledger, o, last_seq, as_of_seq, verified, tally, out);
  return Status::OK();
}

}  // namespace accountable::audit
