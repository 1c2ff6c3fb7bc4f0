// LiveReport: the compliance report kept up to date beside a running
// ledger, for accountabled's GET /report. It keeps what BuildReportData
// throws away after one pass (the verify's running root, the tallies) and
// so, on each Render, reads and checks only the events appended since the
// last one: a request costs the new events, not the whole log. The page is
// byte for byte what RenderReportHtml(BuildReportData(...)) gives for the
// same snapshot and times (tests/report_live_test.cc checks it).
//
//   LiveReport live;
//   std::unique_ptr<Ledger> snap;
//   Status s = ledger.Snapshot(&snap);
//   audit::ReportOptions o{.as_of_ms = now, .now_ms = now, .public_key = pk};
//   std::string html;
//   s = live.Render(*snap, o, &html);
//
// Memory: one AccountState per account and one bitmap of account ids per
// counted cell (as BuildReportData), kept between calls.
// Thread safety: none; one thread at a time (server/daemon/report_page.h
// runs it on its own thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/ledger.h"
#include "projections/report/report_data.h"

namespace accountable::audit {

class LiveReport {
 public:
  LiveReport();
  ~LiveReport();
  LiveReport(const LiveReport&) = delete;
  LiveReport& operator=(const LiveReport&) = delete;

  // The page as of o.as_of_ms from snapshot, which must be a snapshot of
  // the same ledger each time (a later one or the same). A verify failure
  // is in the page, as in the file; errors are read errors and bad options.
  Status Render(Ledger& snapshot, const ReportOptions& o, std::string* html);
  // The last seq the tallies have seen (the page's "events up to the
  // report's time").
  uint64_t tallied_seq() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace accountable::audit
