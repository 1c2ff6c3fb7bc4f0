// SHA-256 through OpenSSL's EVP interface. The algorithm is fetched once
// (EVP_MD_fetch is a provider lookup under a lock; EVP_sha256() would repeat
// it implicitly on every init) and contexts are reused, because per-hash
// setup costs more than hashing a 65-byte node.
#include "core/sha256.h"

#include <openssl/evp.h>

#include "events/assert.h"

namespace accountable {
namespace {

const EVP_MD* Md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  ACC_ASSERT(md != nullptr, "OpenSSL has no SHA256 in its default provider");
  return md;
}

EVP_MD_CTX* NewStartedCtx() {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ACC_ASSERT(ctx != nullptr, "EVP_MD_CTX_new failed (out of memory)");
  ACC_ASSERT(EVP_DigestInit_ex(ctx, Md(), nullptr) == 1, "EVP_DigestInit_ex(SHA256) failed");
  return ctx;
}

void Add(EVP_MD_CTX* ctx, const void* data, size_t size_bytes) {
  // Callers pass (nullptr, 0) for an empty field; nothing to add.
  if (size_bytes == 0) return;
  ACC_ASSERT(EVP_DigestUpdate(ctx, data, size_bytes) == 1, "EVP_DigestUpdate failed");
}

Digest Finish(EVP_MD_CTX* ctx) {
  Digest out;
  unsigned size = 0;
  ACC_ASSERT(EVP_DigestFinal_ex(ctx, out.data(), &size) == 1, "EVP_DigestFinal_ex failed");
  ACC_ASSERT(size == out.size(), "SHA-256 gave a digest that is not 32 bytes");
  return out;
}

// One context per thread, freed at thread exit.
struct ThreadCtx {
  EVP_MD_CTX* ctx = NewStartedCtx();
  ~ThreadCtx() { EVP_MD_CTX_free(ctx); }
};

}  // namespace

Sha256::Sha256() : ctx_(NewStartedCtx()) {}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::Update(const void* data, size_t size_bytes) { Add(static_cast<EVP_MD_CTX*>(ctx_), data, size_bytes); }

Digest Sha256::Final() { return Finish(static_cast<EVP_MD_CTX*>(ctx_)); }

Digest Sha256Of(uint8_t prefix, std::string_view a, std::string_view b) {
  thread_local ThreadCtx t;
  // Re-init with the same fetched md keeps the provider context: no lookup.
  ACC_ASSERT(EVP_DigestInit_ex(t.ctx, Md(), nullptr) == 1, "EVP_DigestInit_ex(SHA256) failed");
  Add(t.ctx, &prefix, 1);
  Add(t.ctx, a.data(), a.size());
  Add(t.ctx, b.data(), b.size());
  return Finish(t.ctx);
}

}  // namespace accountable
