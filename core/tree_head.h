// TreeHead: signed statements "the log had `size` events with this root".
//
// Ed25519 (libsodium) over "accountable-sth-v1" || BE64 size || root (32
// bytes) || BE64 timestamp_ms. The signing key lives in the key directory
// (never in a DB); auditors get only the 32-byte public key. A head an
// auditor saved today lets them check tomorrow, with a consistency proof,
// that the log only grew.
//
//   SigningKey key;
//   Status s = LoadOrCreateSigningKey("data/keys/signing", &key);  // 0600, plus signing.pub
//   SignedTreeHead h = Sign(key, size, root, now_ms);
//   bool ok = VerifyHead(public_key, h).ok();
//
// Thread safety: pure functions; SigningKey is immutable after loading.
// Sign needs a loaded key (ACC_ASSERT).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/crypto.h"
#include "events/status.h"

namespace accountable {

struct SigningKey {
  // 64 bytes (libsodium Ed25519 secret key) in locked, read-only memory
  // (crypto::LockedBytes); copies of a SigningKey share it, never copy it.
  std::shared_ptr<const crypto::LockedBytes> secret;
  std::string public_key;  // 32 bytes
};

struct SignedTreeHead {
  uint64_t size = 0;
  std::string root;       // 32 bytes
  int64_t timestamp_ms = 0;
  std::string signature;  // 64 bytes
};

// Creates the key (mode 0600) and `path`.pub (the public key, hex) on first use.
Status LoadOrCreateSigningKey(const std::string& path, SigningKey* out);
SignedTreeHead Sign(const SigningKey& key, uint64_t size, const std::string& root, int64_t timestamp_ms);
// The 64-byte Ed25519 signature of message: for documents that carry their
// own domain prefix (erasure certificates); tree heads go through Sign.
std::string SignDetached(const SigningKey& key, std::string_view message);
Status VerifyHead(const std::string& public_key, const SignedTreeHead& head);
// Checks a SignDetached signature; Corruption if it does not verify.
Status VerifyDetached(const std::string& public_key, std::string_view message, std::string_view signature);

// Fixed-width encoding for storage: BE64 size || root || BE64 time || signature.
std::string EncodeHead(const SignedTreeHead& h);
Status DecodeHead(std::string_view bytes, SignedTreeHead* out);

}  // namespace accountable
