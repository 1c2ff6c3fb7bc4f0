// ReportPage: one worker thread, one page, a bounded queue of waiters.
#include "server/daemon/report_page.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

namespace accountable {

namespace {

constexpr int64_t kIntervalMsMax = 86'400'000;
constexpr int64_t kWaitMsMax = 600'000;
constexpr size_t kWaitersMax = 64;
constexpr int kRetryAfterUnknownS = 5;
constexpr int kRetryAfterMaxS = 3600;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Status ReportPage::CheckOptions(const Options& o) {
  if (o.min_interval_ms < 0 || o.min_interval_ms > kIntervalMsMax)
    return Status::InvalidArgument("--report-min-interval-ms must be 0..86400000");
  if (o.wait_ms < 0 || o.wait_ms > kWaitMsMax) return Status::InvalidArgument("--report-wait-ms must be 0..600000");
  if (o.waiters_max > kWaitersMax) return Status::InvalidArgument("--report-waiters-max must be 0..64");
  return Status::OK();
}

ReportPage::ReportPage(const Options& o, Accounts* accounts) : opt_(o), accounts_(accounts) {
  ACC_ASSERT(CheckOptions(o).ok() && accounts != nullptr, "ReportPage options are checked by the caller");
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "acc-report");  // its CPU shows apart in top -H and the benchmark
    Loop();
  });
}

void ReportPage::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  done_cv_.notify_all();
}

ReportPage::~ReportPage() {
  Stop();
  thread_.join();  // waits for a computation under way: it cannot be cut short
}

uint64_t ReportPage::computations() const {
  std::lock_guard<std::mutex> l(mu_);
  return done_count_;
}

bool ReportPage::Fresh(int64_t now_ms) const {
  if (!page_ || !last_error_.ok()) return false;
  return now_ms - page_at_ms_ < opt_.min_interval_ms || accounts_->ledger().LastSeq() == page_seq_;
}

ReportPage::Reply ReportPage::Get() {
  std::unique_lock<std::mutex> l(mu_);
  if (Fresh(SteadyMs())) return {.status = 200, .html = page_, .seq = page_seq_};
  Reply busy{.status = 503, .retry_after_s = kRetryAfterUnknownS};
  if (stopping_) return busy;
  if (!computing_ && !wanted_) {
    wanted_ = true;
    work_cv_.notify_one();
  }
  if (last_cost_ms_ > 0) busy.retry_after_s = int(std::min<int64_t>(kRetryAfterMaxS, last_cost_ms_ / 1000 + 1));
  if (waiters_ >= opt_.waiters_max) return busy;
  ++waiters_;
  // The next computation to finish: the one running now (started before
  // this request, on an older snapshot) is shared as it is.
  const uint64_t seen = done_count_;
  const bool done = done_cv_.wait_for(l, std::chrono::milliseconds(opt_.wait_ms),
                                      [&] { return done_count_ > seen || stopping_; });
  --waiters_;
  if (!done || stopping_) return busy;
  if (!last_error_.ok()) return {.status = 500, .error = last_error_.ToString()};
  return {.status = 200, .html = page_, .seq = page_seq_};
}

void ReportPage::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    work_cv_.wait(l, [&] { return stopping_ || wanted_; });
    if (stopping_) return;
    wanted_ = false;
    computing_ = true;
    l.unlock();
    Compute();
    l.lock();
    computing_ = false;
    ++done_count_;
    done_cv_.notify_all();
  }
}

void ReportPage::Compute() {
  const int64_t t0 = SteadyMs();
  std::unique_ptr<Ledger> snap;
  Status s = accounts_->ledger().Snapshot(&snap);
  const int64_t now_ms = accounts_->NowMs();
  audit::ReportOptions o{.as_of_ms = now_ms, .now_ms = now_ms, .public_key = accounts_->public_key(),
                         .access_log_days = accounts_->access_log_days()};
  auto html = std::make_shared<std::string>();
  uint64_t seq = 0;
  if (s.ok()) {
    seq = snap->LastSeq();
    s = live_.Render(*snap, o, html.get());
  }
  snap.reset();  // releases the snapshot before anyone is answered
  if (!s.ok()) spdlog::warn("report: {}", s.ToString());
  std::lock_guard<std::mutex> l(mu_);
  last_error_ = s;
  last_cost_ms_ = std::max<int64_t>(1, SteadyMs() - t0);
  if (!s.ok()) return;
  page_ = std::move(html);
  page_seq_ = seq;
  page_at_ms_ = SteadyMs();
}

}  // namespace accountable
