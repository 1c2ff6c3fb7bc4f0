// LiveReport: BuildReportData in steps, on the snapshots of one ledger.
#include "projections/report/report_live.h"

#include <algorithm>

#include "projections/report/report_html.h"
#include "projections/report/report_tally.h"
#include "projections/service/log_checks.h"

namespace accountable::audit {

struct LiveReport::State {
  LogVerifier verifier;
  ReportTally tally;
  uint64_t tallied_seq = 0;
};

LiveReport::LiveReport() : state_(std::make_unique<State>()) {}
LiveReport::~LiveReport() = default;
uint64_t LiveReport::tallied_seq() const { return state_->tallied_seq; }

Status LiveReport::Render(Ledger& snapshot, const ReportOptions& o, std::string* html) {
  ACC_RETURN_IF_ERROR(CheckReportOptions(o));
  State& st = *state_;
  const uint64_t last_seq = snapshot.LastSeq();
  uint64_t as_of_seq = 0;
  ACC_RETURN_IF_ERROR(SeqAtTime(snapshot, o.as_of_ms, &as_of_seq));
  // The tallies only go forward: an as_of before what they hold (a clock
  // stepped back) keeps what they hold.
  as_of_seq = std::max(std::min(as_of_seq, last_seq), st.tallied_seq);
  const Status verified = st.verifier.Advance(snapshot, last_seq);
  if (as_of_seq > st.tallied_seq) {
    Status s = TallyEvents(snapshot, st.tallied_seq + 1, as_of_seq, &st.tally);
    if (!s.ok()) {
      state_ = std::make_unique<State>();  // part of a range is in the tallies: start over next time
      return s;
    }
    st.tallied_seq = as_of_seq;
  }
  ReportData data;
  AssembleReport(snapshot, o, last_seq, as_of_seq, verified, st.tally, &data);
  *html = RenderReportHtml(data);
  return Status::OK();
}

}  // namespace accountable::audit
