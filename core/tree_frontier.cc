#include "core/tree_frontier.h"

#include <algorithm>
#include <string>

#include "core/merkle.h"
#include "events/assert.h"

namespace accountable {

void TreeFrontier::AddLeaves(uint64_t first_index, const std::vector<Digest>& leaves, const PutRow& put) {
  if (leaves.empty()) return;
  ACC_ASSERT(first_index + leaves.size() > first_index, "leaf indexes never wrap");
  std::string run;
  run.reserve(leaves.size() * merkle::kHashBytes);
  for (const Digest& d : leaves) run.append(View(d));
  put(merkle::LeafRunKey(first_index + leaves.size() - 1), run);
  for (size_t i = 0; i < leaves.size(); ++i) AddLeaf(first_index + i, leaves[i], put);
}

void TreeFrontier::AddLeaf(uint64_t index, Digest hash, const PutRow& put) {
  for (uint8_t level = 0;; ++level, index >>= 1) {
    if (merkle::IsStoredLevel(level)) put(merkle::NodeKey(level, index), View(hash));
    Digest left;
    // A missing sibling means a log written before the tree existed; no
    // parent can be computed, and RootAt will report the gap.
    const bool parent = (index & 1) && LeftSibling(level, index - 1, &left);
    ACC_ASSERT(!last_[level] || last_[level]->first < index, "the frontier only moves right");
    last_[level] = std::make_pair(index, hash);
    if (!parent) return;
    hash = merkle::NodeDigest(left, hash);
  }
}

bool TreeFrontier::LeftSibling(uint8_t level, uint64_t index, Digest* hash) {
  const Node& f = last_[level];
  if (f && f->first == index) {
    *hash = f->second;
    return true;
  }
  std::string stored;
  if (!merkle::LedgerNodes(*ledger_)(level, index, &stored).ok() || stored.size() != hash->size()) return false;
  std::copy(stored.begin(), stored.end(), hash->begin());
  return true;
}

bool TreeFrontier::Root(uint64_t size, Digest* root) {
  if (size == 0) return false;  // the empty root needs no frontier (merkle::EmptyRoot)
  // RFC 6962: the perfect subtrees of size's set bits, smallest last, folded
  // right to left. At level l the latest completed node is (size >> l) - 1,
  // which is that subtree when bit l is set.
  bool have = false;
  for (uint8_t level = 0; level < 64; ++level) {
    if (!((size >> level) & 1)) continue;
    Digest node;
    if (!LeftSibling(level, (size >> level) - 1, &node)) return false;
    *root = have ? merkle::NodeDigest(node, *root) : node;
    have = true;
  }
  return true;
}

}  // namespace accountable
