#include "core/merkle.h"

#include <array>
#include <bit>
#include <cstring>

#include "core/coding.h"
#include "core/crypto.h"
#include "core/ledger.h"
#include "events/assert.h"

namespace accountable::merkle {
namespace {

// Largest power of two strictly below n (n > 1).
uint64_t SplitPoint(uint64_t n) {
  ACC_ASSERT(n > 1, "a split needs two or more leaves");
  return std::bit_floor(n - 1);
}

// Hash of leaves [start, start + size): stored if it is a perfect aligned
// subtree, else split as RFC 6962 does. O(log size) reads.
Status Range(const NodeReader& read, uint64_t start, uint64_t size, std::string* out) {
  ACC_ASSERT(size >= 1, "a range hash covers at least one leaf");
  if (std::has_single_bit(size) && start % size == 0)
    return read(static_cast<uint8_t>(std::countr_zero(size)), start / size, out);
  const uint64_t k = SplitPoint(size);
  std::string left, right;
  ACC_RETURN_IF_ERROR(Range(read, start, k, &left));
  ACC_RETURN_IF_ERROR(Range(read, start + k, size - k, &right));
  *out = NodeHash(left, right);
  return Status::OK();
}

Status Path(const NodeReader& read, uint64_t m, uint64_t start, uint64_t n, std::vector<std::string>* proof) {
  ACC_ASSERT(m < n, "the proven leaf lies inside the subtree");
  if (n <= 1) return Status::OK();
  const uint64_t k = SplitPoint(n);
  std::string sibling;
  if (m < k) {
    ACC_RETURN_IF_ERROR(Path(read, m, start, k, proof));
    ACC_RETURN_IF_ERROR(Range(read, start + k, n - k, &sibling));
  } else {
    ACC_RETURN_IF_ERROR(Path(read, m - k, start + k, n - k, proof));
    ACC_RETURN_IF_ERROR(Range(read, start, k, &sibling));
  }
  proof->push_back(std::move(sibling));
  return Status::OK();
}

Status SubProof(const NodeReader& read, uint64_t m, uint64_t start, uint64_t n, bool complete,
                std::vector<std::string>* proof) {
  ACC_ASSERT(m >= 1 && m <= n, "a consistency subproof needs 0 < m <= n");
  std::string h;
  if (m == n) {
    if (complete) return Status::OK();
    ACC_RETURN_IF_ERROR(Range(read, start, n, &h));
    proof->push_back(std::move(h));
    return Status::OK();
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    ACC_RETURN_IF_ERROR(SubProof(read, m, start, k, complete, proof));
    ACC_RETURN_IF_ERROR(Range(read, start + k, n - k, &h));
  } else {
    ACC_RETURN_IF_ERROR(SubProof(read, m - k, start + k, n - k, false, proof));
    ACC_RETURN_IF_ERROR(Range(read, start, k, &h));
  }
  proof->push_back(std::move(h));
  return Status::OK();
}

bool Sized(std::string_view h) { return h.size() == kHashBytes; }

}  // namespace

std::string LeafHash(std::string_view leaf) { return std::string(View(LeafDigest(leaf))); }

// Streamed, so neither side is copied.
std::string NodeHash(std::string_view left, std::string_view right) {
  return std::string(View(Sha256Of(0x01, left, right)));
}

std::string EmptyRoot() { return crypto::Sha256(""); }

std::string LeafRunKey(uint64_t last_index) {
  std::string k(1, kLeafRunTag);
  k += EncodeBE64(last_index);
  return k;
}

std::string NodeKey(uint8_t level, uint64_t index) {
  // Keyed by the last leaf so the nodes an append completes sort after all
  // earlier ones; levels past 63 cannot occur (2^64 leaves).
  std::string k(1, kNodeTag);
  k += EncodeBE64(((index + 1) << level) - 1);
  k.push_back(static_cast<char>(level));
  return k;
}

Status ScanLeaves(Ledger& ledger, uint64_t from_index,
                  const std::function<bool(uint64_t index, std::string_view hash)>& fn) {
  uint64_t next = from_index;
  return ledger.ScanFrom(Cf::kMerkle, LeafRunKey(from_index), [&](std::string_view k, std::string_view v) {
    if (k.size() != 9 || k[0] != kLeafRunTag || v.empty() || v.size() % kHashBytes != 0) return false;
    const uint64_t last = DecodeBE64(k.substr(1)), count = v.size() / kHashBytes;
    if (last + 1 < count) return false;
    const uint64_t first = last + 1 - count;
    if (first > next) return false;  // a gap: leaf `next` is missing
    for (uint64_t i = next; i <= last; ++i, ++next)
      if (!fn(i, v.substr((i - first) * kHashBytes, kHashBytes))) return false;
    return true;
  });
}

namespace {

Status Missing(uint8_t level, uint64_t index) {
  return Status::Corruption("tree node " + std::to_string(level) + "/" + std::to_string(index) + " is missing");
}

// A leaf or a node of an unstored level: fold its 2^level leaves (one
// bounded scan) pairwise, as a binary counter does.
Status FoldFromLeaves(Ledger& ledger, uint8_t level, uint64_t index, std::string* out) {
  const uint64_t first = index << level, count = uint64_t{1} << level;
  std::array<Digest, 64> stack;
  std::array<uint8_t, 64> height;
  size_t depth = 0;
  uint64_t next = first;
  Status s = ScanLeaves(ledger, first, [&](uint64_t i, std::string_view h) {
    if (i != next) return false;
    std::memcpy(stack[depth].data(), h.data(), kHashBytes);
    height[depth++] = 0;
    while (depth >= 2 && height[depth - 1] == height[depth - 2]) {
      stack[depth - 2] = NodeDigest(stack[depth - 2], stack[depth - 1]);
      ++height[depth - 2];
      --depth;
    }
    return ++next < first + count;
  });
  ACC_RETURN_IF_ERROR(s);
  if (next != first + count) return Missing(0, next);
  *out = std::string(View(stack[0]));
  return Status::OK();
}

}  // namespace

NodeReader LedgerNodes(Ledger& ledger) {
  return [&ledger](uint8_t level, uint64_t index, std::string* h) {
    if (!IsStoredLevel(level)) return FoldFromLeaves(ledger, level, index, h);
    Status s = ledger.Get(Cf::kMerkle, NodeKey(level, index), h);
    if (s.Is(Status::Code::kNotFound)) return Missing(level, index);
    return s;
  };
}

Status RootAt(const NodeReader& read, uint64_t size, std::string* root) {
  if (size == 0) {
    *root = EmptyRoot();
    return Status::OK();
  }
  return Range(read, 0, size, root);
}

Status InclusionProof(const NodeReader& read, uint64_t index, uint64_t size, std::vector<std::string>* proof) {
  proof->clear();
  if (index >= size) return Status::InvalidArgument("leaf index must be below the tree size");
  return Path(read, index, 0, size, proof);
}

Status ConsistencyProof(const NodeReader& read, uint64_t old_size, uint64_t new_size,
                        std::vector<std::string>* proof) {
  proof->clear();
  if (old_size == 0 || old_size > new_size)
    return Status::InvalidArgument("consistency needs 0 < old size <= new size");
  if (old_size == new_size) return Status::OK();
  return SubProof(read, old_size, 0, new_size, true, proof);
}

Status VerifyInclusion(uint64_t index, uint64_t size, std::string_view leaf_hash,
                       const std::vector<std::string>& proof, std::string_view root) {
  const Status bad = Status::Corruption("inclusion proof does not verify");
  if (index >= size || !Sized(leaf_hash) || !Sized(root)) return bad;
  uint64_t fn = index, sn = size - 1;
  std::string r(leaf_hash);
  for (const auto& p : proof) {
    if (!Sized(p) || sn == 0) return bad;
    if ((fn & 1) || fn == sn) {
      r = NodeHash(p, r);
      if (!(fn & 1))
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root ? Status::OK() : bad;
}

Status VerifyConsistency(uint64_t m, uint64_t n, std::string_view old_root, std::string_view new_root,
                         const std::vector<std::string>& proof) {
  const Status bad = Status::Corruption("consistency proof does not verify");
  if (m == 0 || m > n) return bad;  // nothing is consistent with the empty tree
  // Equal sizes: the proof is empty and the roots are the same bytes (as the
  // published vectors expect, whatever their length).
  if (m == n) return proof.empty() && old_root == new_root ? Status::OK() : bad;
  if (!Sized(old_root) || !Sized(new_root)) return bad;
  if (proof.empty()) return bad;
  for (const auto& p : proof)
    if (!Sized(p)) return bad;
  std::vector<std::string> path = proof;
  // If the old size is a power of two, the old root is the first node.
  if (std::has_single_bit(m)) path.insert(path.begin(), std::string(old_root));
  if (path.empty()) return bad;
  uint64_t fn = m - 1, sn = n - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  std::string fr = path[0], sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    if (sn == 0) return bad;
    const std::string& c = path[i];
    if ((fn & 1) || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      if (!(fn & 1))
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == old_root && sr == new_root ? Status::OK() : bad;
}

}  // namespace accountable::merkle
