// SHA-256 block function with the x86 SHA extensions (Intel's published
// instruction sequence: sha256rnds2 does two rounds, sha256msg1/2 extend the
// message schedule), plus FIPS 180-4 padding. Own code; libsodium otherwise.
#include "core/sha256.h"

#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define ACCOUNTABLE_SHA_NI 1
#endif

namespace accountable {
namespace {

constexpr uint32_t kInitialState[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

#ifdef ACCOUNTABLE_SHA_NI
alignas(16) constexpr uint32_t kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

// Processes `blocks` 64-byte blocks. The state lives in two registers in the
// order the instructions want (ABEF, CDGH); four message words per step.
__attribute__((target("sha,sse4.1,ssse3"))) void CompressShaNi(uint32_t state[8], const uint8_t* data,
                                                                 size_t blocks) {
  const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(&state[0])), 0xB1);  // CDAB
  __m128i s1 = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(&state[4])), 0x1B);   // EFGH
  __m128i s0 = _mm_alignr_epi8(tmp, s1, 8);   // ABEF
  s1 = _mm_blend_epi16(s1, tmp, 0xF0);        // CDGH
  for (; blocks > 0; --blocks, data += 64) {
    const __m128i abef = s0, cdgh = s1;
    __m128i w[4];  // the last four groups of four schedule words, a ring
#pragma GCC unroll 16
    for (int g = 0; g < 16; ++g) {
      __m128i m;
      if (g < 4) {
        m = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16 * g)), byte_swap);
      } else {
        // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time.
        m = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
        m = _mm_add_epi32(m, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
        m = _mm_sha256msg2_epu32(m, w[(g + 3) & 3]);
      }
      w[g & 3] = m;
      __m128i k = _mm_add_epi32(m, _mm_load_si128(reinterpret_cast<const __m128i*>(&kRound[4 * g])));
      s1 = _mm_sha256rnds2_epu32(s1, s0, k);
      s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(k, 0x0E));
    }
    s0 = _mm_add_epi32(s0, abef);
    s1 = _mm_add_epi32(s1, cdgh);
  }
  tmp = _mm_shuffle_epi32(s0, 0x1B);    // FEBA
  s1 = _mm_shuffle_epi32(s1, 0xB1);     // DCHG
  s0 = _mm_blend_epi16(tmp, s1, 0xF0);  // DCBA
  s1 = _mm_alignr_epi8(s1, tmp, 8);     // HGFE
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&state[0]), s0);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&state[4]), s1);
}

bool DetectShaNi() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool ssse3 = c & (1u << 9), sse41 = c & (1u << 19);
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool sha = b & (1u << 29);
  return ssse3 && sse41 && sha;
}
#else
void CompressShaNi(uint32_t*, const uint8_t*, size_t) {}
bool DetectShaNi() { return false; }
#endif

}  // namespace

bool Sha256HasShaNi() {
  static const bool has = DetectShaNi();
  return has;
}

Sha256::Sha256() : sha_ni_(Sha256HasShaNi()) {
  if (sha_ni_) std::memcpy(state_, kInitialState, sizeof(state_));
  else crypto_hash_sha256_init(&sodium_);
}

void Sha256::Update(const void* data, size_t size_bytes) {
  const auto* p = static_cast<const uint8_t*>(data);
  if (!sha_ni_) {
    crypto_hash_sha256_update(&sodium_, p, size_bytes);
    return;
  }
  // memcpy with a null source is undefined even for 0 bytes, and callers pass
  // (nullptr, 0) for an empty field: nothing to add.
  if (size_bytes == 0) return;
  total_bytes_ += size_bytes;
  if (block_used_bytes_ > 0) {
    const size_t take = std::min(size_bytes, kBlockBytes - block_used_bytes_);
    std::memcpy(block_ + block_used_bytes_, p, take);
    block_used_bytes_ += take;
    p += take;
    size_bytes -= take;
    if (block_used_bytes_ < kBlockBytes) return;
    CompressShaNi(state_, block_, 1);
    block_used_bytes_ = 0;
  }
  if (size_bytes >= kBlockBytes) {
    CompressShaNi(state_, p, size_bytes / kBlockBytes);
    p += size_bytes / kBlockBytes * kBlockBytes;
    size_bytes %= kBlockBytes;
  }
  std::memcpy(block_, p, size_bytes);
  block_used_bytes_ = size_bytes;
}

Digest Sha256::Final() {
  Digest out;
  if (!sha_ni_) {
    crypto_hash_sha256_final(&sodium_, out.data());
    return out;
  }
  // FIPS 180-4 5.1.1: 0x80, zeros, then the message length in bits (BE64).
  const uint64_t bits = total_bytes_ * 8;
  block_[block_used_bytes_++] = 0x80;
  if (block_used_bytes_ > kBlockBytes - 8) {
    std::memset(block_ + block_used_bytes_, 0, kBlockBytes - block_used_bytes_);
    CompressShaNi(state_, block_, 1);
    block_used_bytes_ = 0;
  }
  std::memset(block_ + block_used_bytes_, 0, kBlockBytes - 8 - block_used_bytes_);
  for (int i = 0; i < 8; ++i) block_[kBlockBytes - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
  CompressShaNi(state_, block_, 1);
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<uint8_t>(state_[i] >> (24 - 8 * j));
  return out;
}

Digest Sha256Of(uint8_t prefix, std::string_view a, std::string_view b) {
  Sha256 h;
  h.Update(&prefix, 1);
  h.Update(a.data(), a.size());
  h.Update(b.data(), b.size());
  return h.Final();
}

}  // namespace accountable
