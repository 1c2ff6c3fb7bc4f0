// TreeFrontier: the ledger writer's running edge of the RFC 6962 tree.
//
// It keeps the last completed node of each level, so new leaves find their
// left siblings in memory and an append reads no tree rows. AddLeaves hands
// back the rows to store for one group commit (one leaf run, plus the nodes
// at stored levels; core/merkle.h) for the group's own WriteBatch. After a
// restart, or a failed write, a missing sibling is read once from the ledger
// (merkle::LedgerNodes: stored, or folded from leaves).
//
//   TreeFrontier tree(&ledger);
//   std::vector<Digest> leaves = ...;              // of seqs first_seq, first_seq + 1, ...
//   tree.AddLeaves(first_seq - 1, leaves,
//                  [&](std::string_view key, std::string_view value) { batch.Put(key, value); });
//   tree.Reset();                                  // if the batch then failed to write
//
// Thread safety: none; the ledger's single writer thread owns it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "core/sha256.h"

namespace accountable {

class Ledger;

class TreeFrontier {
 public:
  using PutRow = std::function<void(std::string_view key, std::string_view value)>;

  explicit TreeFrontier(Ledger* ledger) : ledger_(ledger) {}

  // Adds leaves first_index, first_index + 1, ... and every perfect subtree
  // they complete: one node hash per leaf on average, one put() for the
  // leaf run and one per node at a stored level (1 in 2^(kStoredLevelMin-1)).
  void AddLeaves(uint64_t first_index, const std::vector<Digest>& leaves, const PutRow& put);
  // The root of the first `size` leaves, all of them added (or committed)
  // already: the frontier's nodes, or stored ones after a Reset. False if
  // a node is missing (a gap, reported by merkle::RootAt too).
  bool Root(uint64_t size, Digest* root);
  // Forget everything (the group's write failed); reloaded from the DB as needed.
  void Reset() { last_.fill(std::nullopt); }

 private:
  using Node = std::optional<std::pair<uint64_t, Digest>>;  // (index, hash)
  void AddLeaf(uint64_t index, Digest hash, const PutRow& put);
  bool LeftSibling(uint8_t level, uint64_t index, Digest* hash);

  Ledger* ledger_;
  std::array<Node, 64> last_;  // per level; 64 levels hold 2^64 leaves
};

}  // namespace accountable
