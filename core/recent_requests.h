// Internal to core/ledger*.cc: the request ids of the newest appended
// events, kept by the writer so that it need not read RocksDB to learn that
// a new command's request id is absent.
//
// Every command's request id must be checked against the whole log, and an
// absent id (every new command) costs a RocksDB Get that consults the
// memtable and the filter of every SST. A caller that already looked the id
// up, and found it absent in a ledger whose LastSeq() was S before the
// lookup, leaves the writer only the events after S to check; when all of
// them are in this window, the check is a hash-set probe.
//
//   RecentRequests recent(1 << 16);
//   recent.Reset(last_seq);                      // window covers seqs > last_seq
//   if (recent.Covers(S) && !recent.MayContain(hash)) { /* absent: no Get */ }
//   recent.Add(hash, seq);                       // after the event is durable
//
// Ids are kept as 64-bit hashes: a collision only sends a command back to
// the RocksDB lookup, never lets a duplicate through.
//
// Thread safety: none; the ledger's writer thread alone uses it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "events/assert.h"

namespace accountable::ledger_internal {

class RecentRequests {
 public:
  // entries_max: how many of the newest events are kept (memory ~40 bytes each).
  explicit RecentRequests(size_t entries_max) : entries_max_(entries_max) {}

  static uint64_t Hash(std::string_view request_id) { return std::hash<std::string_view>()(request_id); }

  // True if every durable event after through_seq is in the window.
  bool Covers(uint64_t through_seq) const { return through_seq >= floor_seq_; }
  // False only if no event in the window has this id hash.
  bool MayContain(uint64_t hash) const { return counts_.find(hash) != counts_.end(); }

  // The next durable event: seqs strictly increase, with no gap.
  void Add(uint64_t hash, uint64_t seq) {
    ACC_ASSERT(seq == last_seq_ + 1, "recent request ids are added in seq order, without gaps");
    last_seq_ = seq;
    if (entries_max_ == 0) {
      floor_seq_ = seq;
      return;
    }
    if (ring_.size() < entries_max_) {
      ring_.emplace_back(hash, seq);
    } else {
      auto& oldest = ring_[next_];
      Forget(oldest.first);
      floor_seq_ = oldest.second;
      oldest = {hash, seq};
      next_ = (next_ + 1) % entries_max_;
    }
    ++counts_[hash];
  }

  // Empties the window: it covers only events after last_seq from now on.
  // For events that became durable without passing through Add (a
  // replicated group) or whose fate is unknown (a failed write).
  void Reset(uint64_t last_seq) {
    ring_.clear();
    counts_.clear();
    next_ = 0;
    floor_seq_ = last_seq;
    last_seq_ = last_seq;
  }

 private:
  void Forget(uint64_t hash) {
    auto it = counts_.find(hash);
    ACC_ASSERT(it != counts_.end() && it->second > 0, "an id in the ring is counted");
    if (--it->second == 0) counts_.erase(it);
  }

  const size_t entries_max_;
  std::vector<std::pair<uint64_t, uint64_t>> ring_;  // (hash, seq), oldest at next_ once full
  size_t next_ = 0;
  std::unordered_map<uint64_t, uint32_t> counts_;  // hash -> events in the ring with it
  uint64_t floor_seq_ = 0;  // every durable event with a greater seq is in the ring
  uint64_t last_seq_ = 0;
};

}  // namespace accountable::ledger_internal
