// crypto: the few libsodium primitives the ledger uses, behind typed errors.
//
//   Key32 dek = RandomKey();
//   std::string box = Seal(dek, plaintext, ad);           // nonce || ct || tag
//   std::string back;
//   Status s = Open(dek, box, ad, &back);                 // Corruption on any mismatch
//
// Keys live in locked memory (core/key_arena.h) and are wiped on
// destruction. DEKs are always random, never derived: a derived key could be
// re-derived and so never shredded.
// Thread safety: all functions are thread-safe after InitCrypto().
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "events/status.h"

namespace accountable::crypto {

inline constexpr size_t kKeyBytes = 32;
inline constexpr size_t kNonceBytes = 24;  // XChaCha20: random nonces are safe
inline constexpr size_t kTagBytes = 16;
inline constexpr size_t kSealOverheadBytes = kNonceBytes + kTagBytes;

// A 32-byte secret in locked memory: a handle to a slot of the key arena
// (core/key_arena.h), wiped when the Key32 is destroyed. A copy gets a slot
// of its own; a move trades slots, so no key bytes are copied.
class Key32 {
 public:
  Key32();  // 32 zero bytes
  ~Key32();
  Key32(const Key32& other);
  Key32& operator=(const Key32& other);
  Key32& operator=(Key32&& other) noexcept;
  // Writing through data() into a read-only key faults (SIGSEGV): its page
  // is read-only. Assigning to one is a programmer error (ACC_ASSERT).
  uint8_t* data() { return bytes_; }
  const uint8_t* data() const { return bytes_; }
  std::string_view view() const { return {reinterpret_cast<const char*>(bytes_), kKeyBytes}; }
  // For keys that live as long as an open store (KEK, index key, request
  // secret): moves the key to a page of its own and makes it read-only
  // (sodium_mprotect_readonly), so that no stray write can change it. Its
  // copies are ordinary keys. Idempotent.
  void MakeReadOnly();
  bool read_only() const { return read_only_; }

 private:
  uint8_t* bytes_;  // an arena slot, or a read-only region
  bool read_only_ = false;
};

// A long-lived secret of any size (the 64-byte Ed25519 signing key) in a
// region of its own: guard pages, mlock, no core dump, wiped when destroyed,
// read-only once MakeReadOnly has run.
class LockedBytes {
 public:
  explicit LockedBytes(size_t size);  // size zero bytes
  ~LockedBytes();
  LockedBytes(const LockedBytes&) = delete;
  LockedBytes& operator=(const LockedBytes&) = delete;
  uint8_t* data() { return bytes_; }  // a write faults once read-only
  const uint8_t* data() const { return bytes_; }
  size_t size() const { return size_; }
  std::string_view view() const { return {reinterpret_cast<const char*>(bytes_), size_}; }
  void MakeReadOnly();

 private:
  uint8_t* bytes_;
  size_t size_;
  bool read_only_ = false;
};

// Must run once before any other function (idempotent, thread-safe).
Status InitCrypto();

Key32 RandomKey();
std::string RandomBytes(size_t n);
// Random bytes for values that are public once used (AEAD nonces, request
// ids), never for keys or tokens: served from a per-thread buffer that one
// getrandom call refills every kPublicRandomPoolBytes, because a syscall
// per nonce was 2% of the server's CPU (docs/performance.md). Served
// bytes are wiped from the buffer. n <= kPublicRandomPoolBytes.
inline constexpr size_t kPublicRandomPoolBytes = 4096;
void PublicRandom(uint8_t* out, size_t n);

// XChaCha20-Poly1305-IETF with a random nonce; output is nonce || ciphertext || tag.
std::string Seal(const Key32& key, std::string_view plaintext, std::string_view ad);
// Corruption if the box is malformed or fails authentication (wrong key, tampered bytes, wrong ad).
Status Open(const Key32& key, std::string_view box, std::string_view ad, std::string* plaintext);

// Sealed payloads hide their length: the plaintext is padded (ISO/IEC
// 7816-4: 0x80 then zeros, libsodium sodium_pad) to a power-of-two bucket of
// at least kPadBucketMinBytes, so a box tells only its bucket.
inline constexpr size_t kPadBucketMinBytes = 256;
// The bucket a plaintext of n bytes is padded to (always > n: the 0x80 marker).
size_t PaddedSize(size_t n);
std::string SealPadded(const Key32& key, std::string_view plaintext, std::string_view ad);
// Corruption when the box fails authentication or its padding is malformed.
Status OpenPadded(const Key32& key, std::string_view box, std::string_view ad, std::string* plaintext);

// HMAC-SHA-256 (request-id and request-content digests under the server
// secret) under one long-lived key, its padded key blocks hashed once:
// a short message then costs two SHA-256 blocks instead of four (the two
// digests of every request were ~15% of an I/O thread's samples). The
// precomputed state forges MACs as well as the key does, so it is kept like
// one: LockedBytes, read-only.
//
//   const HmacSha256Key mac(secret);
//   std::string tag = mac.Mac(message);
//
// Thread safety: Mac is const and may run on any number of threads at once.
class HmacSha256Key {
 public:
  explicit HmacSha256Key(const Key32& key);
  std::string Mac(std::string_view message) const;

 private:
  LockedBytes state_;  // a crypto_auth_hmacsha256_state after init
};

// Keyed BLAKE2b-256, for row keys and blind indexes that must not be testable without the key.
std::string KeyedHash(const Key32& key, std::string_view domain, std::string_view message);
// Unkeyed SHA-256 (policy text digests, Merkle leaves).
std::string Sha256(std::string_view message);

// Argon2id via crypto_pwhash_str. Costs are libsodium opslimit/memlimit.
struct PasswordCost {
  unsigned long long ops = 2;                   // crypto_pwhash_OPSLIMIT_INTERACTIVE
  size_t mem_bytes = 64ull * 1024 * 1024;       // crypto_pwhash_MEMLIMIT_INTERACTIVE
};
Status HashPassword(std::string_view password, const PasswordCost& cost, std::string* encoded);
bool VerifyPassword(std::string_view encoded, std::string_view password);

// Reads a key or token file of at most bytes_max bytes. A file that group or
// others may access at all (mode & 077) is refused with InvalidArgument
// naming the file and its mode: a secret others can read is not a secret.
// NotFound when the file does not exist; IOError when it cannot be read or
// is larger than bytes_max.
Status ReadSecretFile(const std::string& path, size_t bytes_max, std::string* out);

// A client's token file: its first whitespace-separated word, with the
// checks of ReadSecretFile. NotFound when the file is missing or holds no word.
Status ReadTokenFile(const std::string& path, std::string* token);

// Wipes a string's bytes (sodium_memzero) and empties it: for passwords and
// tokens once they have been hashed or sent.
void Wipe(std::string* s);

// Wipes up to two strings when the scope ends, on every path out of it: the
// one place that keeps a password from outliving an early return.
//
//   Registration r = ...;
//   crypto::ScopedWipe wipe(&r.password);
class ScopedWipe {
 public:
  explicit ScopedWipe(std::string* a, std::string* b = nullptr) : secrets_{a, b} {}
  ~ScopedWipe() {
    for (std::string* s : secrets_)
      if (s != nullptr) Wipe(s);
  }
  ScopedWipe(const ScopedWipe&) = delete;
  ScopedWipe& operator=(const ScopedWipe&) = delete;

 private:
  std::array<std::string*, 2> secrets_;
};

// The same for every string of a vector (raw keys collected for a scan).
class ScopedWipeAll {
 public:
  explicit ScopedWipeAll(std::vector<std::string>* secrets) : secrets_(secrets) {}
  ~ScopedWipeAll() {
    for (std::string& s : *secrets_) Wipe(&s);
  }
  ScopedWipeAll(const ScopedWipeAll&) = delete;
  ScopedWipeAll& operator=(const ScopedWipeAll&) = delete;

 private:
  std::vector<std::string>* secrets_;
};

std::string ToHex(std::string_view bytes);
// Exactly `bytes` bytes from 2 * bytes hex digits, or false: a short key or
// root must never pass as a valid one.
bool FromHex(std::string_view hex, size_t bytes, std::string* out);

}  // namespace accountable::crypto
