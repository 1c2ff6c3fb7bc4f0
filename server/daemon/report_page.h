// ReportPage: the compliance report (docs/audit.md, "Report") as
// accountabled serves it on GET /report of the metrics listener. One thread
// of its own computes the page from a RocksDB snapshot (never the ledger
// writer, the TCP I/O threads or the HTTP threads), with LiveReport, which
// keeps its tallies and running root between computations, so each one
// reads and checks only the events appended since the last.
//
// Cost bounds (docs/operations.md, "Metrics"):
//   - one computation at a time; a request that finds one running waits for
//     its result (shares it);
//   - a page is reused while no event was appended since, and for at least
//     min_interval_ms after it was computed even if some were;
//   - at most waiters_max requests wait at once, each at most wait_ms;
//     others get 503 with Retry-After (the computation goes on, and its page
//     serves the retry).
//
//   ReportPage::Options o;                 // defaults
//   auto page = std::make_unique<ReportPage>(o, accounts.get());
//   ReportPage::Reply r = page->Get();     // r.status 200 (r.html), 503 (r.retry_after_s) or 500
//   page.reset();                          // stops the thread; before accounts goes
//
// Thread safety: Get from any thread; the Accounts must outlive it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "projections/report/report_live.h"
#include "projections/service/accounts.h"

namespace accountable {

class ReportPage {
 public:
  struct Options {
    int64_t min_interval_ms = 60'000;   // --report-min-interval-ms
    int64_t wait_ms = 10'000;           // --report-wait-ms
    size_t waiters_max = 1;             // --report-waiters-max
  };
  struct Reply {
    int status = 200;                   // 200, 500 or 503
    std::shared_ptr<const std::string> html;  // the page when 200
    std::string error;                  // when 500: no personal data, Status text
    int retry_after_s = 0;              // when 503
    uint64_t seq = 0;                   // the page's snapshot: events in it
  };

  // InvalidArgument for an option out of its range (ranges: CheckOptions).
  static Status CheckOptions(const Options& o);
  ReportPage(const Options& o, Accounts* accounts);
  ~ReportPage();
  ReportPage(const ReportPage&) = delete;
  ReportPage& operator=(const ReportPage&) = delete;

  Reply Get();
  // Answers every waiting request 503 at once and refuses new ones; the
  // destructor then waits for a computation under way. Before the HTTP
  // listener stops, so its threads are not held by waiters.
  void Stop();
  // Computations run so far (tests, the benchmark).
  uint64_t computations() const;

 private:
  bool Fresh(int64_t now_ms) const;  // with mu_ held
  void Loop();
  void Compute();

  const Options opt_;
  Accounts* const accounts_;
  audit::LiveReport live_;  // the worker thread's only

  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  bool stopping_ = false, wanted_ = false, computing_ = false;
  size_t waiters_ = 0;
  uint64_t done_count_ = 0;                 // computations finished
  std::shared_ptr<const std::string> page_;
  uint64_t page_seq_ = 0;
  int64_t page_at_ms_ = 0;                  // steady clock, when computed
  int64_t last_cost_ms_ = 0;                // how long the last computation took
  Status last_error_;
  std::thread thread_;
};

}  // namespace accountable
