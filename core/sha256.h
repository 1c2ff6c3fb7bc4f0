// Sha256: SHA-256 for the Merkle tree's leaf and node hashes, on OpenSSL 3's
// EVP interface (which uses the x86 SHA extensions when the CPU has them).
//
// The tree hashes every envelope on the single writer thread and again in
// every audit, so this is on the hot path of both. One-shot hashes reuse one
// EVP_MD_CTX per thread and one fetched EVP_MD per process: an EVP context
// made per hash, or SHA256(), costs 1.2-3x more at the tree's sizes
// (docs/performance.md, "SHA-256").
//
//   Sha256 h;
//   h.Update(&prefix, 1);
//   h.Update(data, size);
//   Digest d = h.Final();      // 32 bytes; h must not be used again
//
//   Digest leaf = Sha256Of(0x00, envelope, {});   // one call, no allocation
//
// Thread safety: a Sha256 object is not; Sha256Of is (its context is
// thread_local). An OpenSSL failure here is an out-of-memory or a broken
// installation, not an input error: it aborts through ACC_ASSERT.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace accountable {

using Digest = std::array<uint8_t, 32>;

inline std::string_view View(const Digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size_bytes);
  Digest Final();

 private:
  void* ctx_;  // EVP_MD_CTX*, owned; kept opaque so callers need no OpenSSL headers
};

// SHA-256(prefix || a || b): the shape of both RFC 6962 hashes.
Digest Sha256Of(uint8_t prefix, std::string_view a, std::string_view b);

}  // namespace accountable
