// Sha256: SHA-256 for the Merkle tree's leaf and node hashes, with the x86
// SHA extensions (SHA-NI) when the CPU has them and libsodium otherwise.
//
// libsodium 1.0.18's SHA-256 is portable C (~4x slower than SHA-NI here). The
// tree hashes every envelope on the single writer thread and again in every
// audit, so this is on the hot path of both. The output is plain SHA-256: the
// tests compare it with libsodium on thousands of random inputs.
//
//   Sha256 h;
//   h.Update(&prefix, 1);
//   h.Update(data, size);
//   Digest d = h.Final();      // 32 bytes; h must not be used again
//
//   Digest leaf = Sha256Of(0x00, envelope, {});   // one call, no allocation
//
// Thread safety: a Sha256 object is not; the free functions are (the CPU
// check runs once, thread-safely, on first use).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <sodium.h>

namespace accountable {

using Digest = std::array<uint8_t, 32>;

inline std::string_view View(const Digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

// True if hashing uses SHA-NI on this CPU (cpuid: SHA, SSSE3, SSE4.1).
bool Sha256HasShaNi();

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size_bytes);
  Digest Final();

 private:
  static constexpr size_t kBlockBytes = 64;
  bool sha_ni_;
  // SHA-NI path: our own state and partial block.
  uint32_t state_[8];
  uint8_t block_[kBlockBytes];
  size_t block_used_bytes_ = 0;
  uint64_t total_bytes_ = 0;
  // Fallback path.
  crypto_hash_sha256_state sodium_;
};

// SHA-256(prefix || a || b): the shape of both RFC 6962 hashes.
Digest Sha256Of(uint8_t prefix, std::string_view a, std::string_view b);

}  // namespace accountable
