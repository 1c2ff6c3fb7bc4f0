// Merkle: the RFC 6962 / 9162 tree over the log's envelopes.
//
// leaf = SHA-256(0x00 || envelope bytes); node = SHA-256(0x01 || left || right);
// the root of n > 1 leaves splits at k, the largest power of two below n.
// The ledger stores, in the same WriteBatch as the events (Cf::kMerkle):
//   - the leaf hashes of each group commit as one row, a "leaf run"
//     (LeafRunKey: 'L' || BE64 index of the run's last leaf; value: the
//     hashes, 32 bytes each, in order);
//   - the hash of every perfect subtree of level >= kStoredLevelMin
//     (NodeKey: 'N' || BE64 index of its last leaf || level byte).
// A leaf or a node of a level in between is folded from its at most
// 2^(kStoredLevelMin-1) leaves, read with one range scan of at most that many
// rows (usually one or two runs). So a root,
// an inclusion proof or a consistency proof at any size costs O(log n) reads,
// while a group of k events adds 1 + k/32 rows, not 2k (its cost on the
// writer: docs/performance.md, "Append throughput"). Both kinds of key only grow as the log does.
// Leaves hash ciphertext, never plaintext: erasure leaves every proof valid.
//
//   std::string root;
//   Status s = RootAt(reader, size, &root);
//   std::vector<std::string> proof;
//   s = InclusionProof(reader, index, size, &proof);
//   bool ok = VerifyInclusion(index, size, LeafHash(envelope), proof, root).ok();
//
// Thread safety: pure functions; the reader must be safe for the caller.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/sha256.h"
#include "events/status.h"

namespace accountable {
class Ledger;
}

namespace accountable::merkle {

inline constexpr size_t kHashBytes = 32;
// Levels 1 .. kStoredLevelMin-1 are not stored: at most 2^5 leaves (one or
// two rows) are read, and 31 hashes made, to get one of them back.
inline constexpr uint8_t kStoredLevelMin = 6;
inline constexpr bool IsStoredLevel(uint8_t level) { return level >= kStoredLevelMin; }

std::string LeafHash(std::string_view leaf_bytes);
std::string NodeHash(std::string_view left, std::string_view right);
std::string EmptyRoot();
// The same two hashes without allocating, for the append and verify paths.
inline Digest LeafDigest(std::string_view leaf_bytes) { return Sha256Of(0x00, leaf_bytes, {}); }
inline Digest NodeDigest(const Digest& left, const Digest& right) { return Sha256Of(0x01, View(left), View(right)); }

// Row key of the run of leaf hashes ending at leaf `last_index`.
std::string LeafRunKey(uint64_t last_index);
// Row key of the perfect subtree of 2^level leaves starting at index * 2^level
// (a stored level only).
std::string NodeKey(uint8_t level, uint64_t index);
inline constexpr char kLeafRunTag = 'L', kNodeTag = 'N';

// Reads a stored perfect-subtree hash by (level, index).
using NodeReader = std::function<Status(uint8_t level, uint64_t index, std::string* hash)>;

// Reads the tree the ledger stores (Cf::kMerkle), folding the unstored
// levels from leaves. A missing node or leaf is a gap in the tree, reported
// as Corruption.
NodeReader LedgerNodes(Ledger& ledger);
// Calls fn(index, leaf hash) for stored leaves from leaf `from_index` on, in
// order, until fn returns false or a run is malformed or missing (the next
// index is then simply not delivered). One range scan over the leaf runs.
Status ScanLeaves(Ledger& ledger, uint64_t from_index,
                  const std::function<bool(uint64_t index, std::string_view hash)>& fn);

Status RootAt(const NodeReader& read, uint64_t size, std::string* root);
// Audit path for leaf `index` in the tree of `size` leaves (RFC 6962 PATH).
Status InclusionProof(const NodeReader& read, uint64_t index, uint64_t size, std::vector<std::string>* proof);
// Proof that the tree of `old_size` is a prefix of the tree of `new_size` (RFC 6962 PROOF).
Status ConsistencyProof(const NodeReader& read, uint64_t old_size, uint64_t new_size,
                        std::vector<std::string>* proof);

// RFC 9162 2.1.3.2 and 2.1.4.2. Corruption on any mismatch or malformed input.
Status VerifyInclusion(uint64_t index, uint64_t size, std::string_view leaf_hash,
                       const std::vector<std::string>& proof, std::string_view root);
Status VerifyConsistency(uint64_t old_size, uint64_t new_size, std::string_view old_root,
                         std::string_view new_root, const std::vector<std::string>& proof);

}  // namespace accountable::merkle
