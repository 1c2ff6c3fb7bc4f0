// Stats: lock-free counters and fixed-bucket histograms that the ledger, the
// service and the server bump on their hot paths, and that a metrics
// exporter (server/daemon/metrics.h) reads when it is scraped. Nothing here
// knows about Prometheus: core must not depend on server.
//
//   LedgerStats stats;                         // outlives the Ledger
//   LedgerOptions o{.dir = "data/events"};
//   o.stats = &stats;
//   ...
//   stats.fsync_us.Observe(830);              // from the writer thread
//   HistogramSnapshot h = stats.fsync_us.Snapshot();   // from a scrape
//
// Cost: one relaxed fetch_add per counter and two or three per histogram
// observation (a bucket found by a scan of at most kBucketsMax bounds); no
// lock, no allocation after construction.
//
// Thread safety: every member may be bumped and read from any thread at
// once. A snapshot is not atomic across fields (count and sum may disagree
// by an observation in flight), which Prometheus tolerates.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "events/assert.h"

namespace accountable {

struct HistogramSnapshot {
  static constexpr size_t kBucketsMax = 24;
  std::array<uint64_t, kBucketsMax> bounds{};  // inclusive upper bounds, ascending
  std::array<uint64_t, kBucketsMax + 1> counts{};  // per bucket, not cumulative; last: above every bound
  size_t buckets = 0;                            // bounds in use
  uint64_t count = 0;
  uint64_t sum = 0;
};

// Observations are integers in the histogram's own unit (microseconds,
// events); the exporter scales them (e.g. to seconds).
class AtomicHistogram {
 public:
  static constexpr size_t kBucketsMax = HistogramSnapshot::kBucketsMax;
  AtomicHistogram(std::initializer_list<uint64_t> bounds) {
    ACC_ASSERT(bounds.size() >= 1 && bounds.size() <= kBucketsMax, "1..kBucketsMax histogram bounds");
    for (uint64_t b : bounds) {
      ACC_ASSERT(buckets_ == 0 || b > bounds_[buckets_ - 1], "histogram bounds ascend");
      bounds_[buckets_++] = b;
    }
  }
  AtomicHistogram(const AtomicHistogram&) = delete;
  AtomicHistogram& operator=(const AtomicHistogram&) = delete;

  void Observe(uint64_t value) {
    size_t i = 0;
    while (i < buckets_ && value > bounds_[i]) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
  }

  HistogramSnapshot Snapshot() const {
    HistogramSnapshot s;
    s.buckets = buckets_;
    for (size_t i = 0; i < buckets_; ++i) s.bounds[i] = bounds_[i];
    // Buckets first, count last: a reader never sees more in the buckets than in count.
    for (size_t i = 0; i <= buckets_; ++i) s.counts[i] = counts_[i].load(std::memory_order_relaxed);
    s.sum = sum_.load(std::memory_order_relaxed);
    s.count = count_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::array<uint64_t, kBucketsMax> bounds_{};
  size_t buckets_ = 0;
  std::array<std::atomic<uint64_t>, kBucketsMax + 1> counts_{};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// Request and fsync latency, in microseconds: 50 us .. 10 s.
inline AtomicHistogram LatencyUsHistogram() {
  return {50, 100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000, 50'000, 100'000, 250'000, 500'000,
          1'000'000, 2'500'000, 10'000'000};
}
// An erasure pass, in microseconds: 1 ms .. 5 min (compactions and a byte scan of the vault).
inline AtomicHistogram PassUsHistogram() {
  return {1'000, 10'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000,
          30'000'000, 60'000'000, 300'000'000};
}

inline constexpr size_t kPayloadTypesMax = 64;  // fb::Payload values counted; the rest share the last slot

// The ledger writer's figures (LedgerOptions::stats).
struct LedgerStats {
  // Durable events by payload type (fb::Payload value; values at or above
  // kPayloadTypesMax - 1 are counted in the last slot). Duplicates and
  // refused batches are not appends.
  std::array<std::atomic<uint64_t>, kPayloadTypesMax> appends_by_type{};
  // Events per durable group commit (one WriteBatch, one fsync).
  AtomicHistogram group_events{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192};
  // The synced WriteBatch write of one group: the WAL append and its fsync.
  AtomicHistogram fsync_us = LatencyUsHistogram();
  std::atomic<uint64_t> storage_errors{0};       // failed group writes
  // The writer's request id checks that read RocksDB; the others were
  // answered in memory (Ledger::Command::absent_through_seq, fresh ids).
  std::atomic<uint64_t> request_id_reads{0};
};

// Erasure passes (AccountsOptions::erasure_stats): Accounts::Sweep (timer,
// deletion deadline, admin request) and Accounts::Erase (admin, immediate).
struct ErasureStats {
  AtomicHistogram sweep_us = PassUsHistogram();
  AtomicHistogram erase_us = PassUsHistogram();
  std::atomic<uint64_t> sweep_failures{0}, erase_failures{0};
  std::atomic<uint64_t> accounts_erased{0};      // AccountErased appended
  std::atomic<uint64_t> days_shredded{0};        // access-log day keys destroyed
  // The vault byte scan that proves a shred (Vault::ShredReport), summed
  // over passes; hits count key bytes still found (each one fails the pass).
  std::atomic<uint64_t> scans{0}, scan_files{0}, scan_bytes{0}, scan_hits{0};
};

}  // namespace accountable
