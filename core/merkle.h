// Merkle: the RFC 6962 / 9162 tree over the log's envelopes.
//
// leaf = SHA-256(0x00 || envelope bytes); node = SHA-256(0x01 || left || right);
// the root of n > 1 leaves splits at k, the largest power of two below n.
// The ledger stores the hash of every perfect subtree (Cf::kMerkle, key =
// level byte || BE64 index) in the same WriteBatch as the event, so a root,
// an inclusion proof or a consistency proof at any size costs O(log n) reads.
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

#include "events/status.h"

namespace accountable {
class Ledger;
}

namespace accountable::merkle {

inline constexpr size_t kHashBytes = 32;

std::string LeafHash(std::string_view leaf_bytes);
std::string NodeHash(std::string_view left, std::string_view right);
std::string EmptyRoot();

// Row key of the perfect subtree of 2^level leaves starting at index * 2^level.
std::string NodeKey(uint8_t level, uint64_t index);

// Reads a stored perfect-subtree hash by (level, index).
using NodeReader = std::function<Status(uint8_t level, uint64_t index, std::string* hash)>;

// Reads the tree the ledger stores (Cf::kMerkle). A missing node is a gap in
// the tree, reported as Corruption.
NodeReader LedgerNodes(Ledger& ledger);

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
