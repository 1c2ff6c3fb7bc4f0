// SigningKeyring: every tree-head signing key the ledger has used, so that
// heads and erasure certificates signed before a rotation still verify
// (docs/audit.md, "Keyring"). A text file, DATA/keys/signing.keyring, one
// line per key, oldest first:
//
//   KEY_ID PUBLIC_KEY_HEX FROM_SIZE UNTIL_SIZE|- FROM_MS ENDORSEMENT_HEX|-
//
// KEY_ID is SigningKeyId (16 hex digits of SHA-256 of the public key). A key
// signs heads of tree sizes FROM_SIZE..UNTIL_SIZE ("-": the current key, no
// end); the next line starts where the previous ends (the head that covers
// the signing_key_rotated event may be under either). Every key after the
// first carries an endorsement: the Ed25519 signature, by the key of the
// line before, of "accountable-keyring-v1" || public key || BE64 FROM_SIZE ||
// BE64 FROM_MS. ParseKeyring checks all of it; an edited line fails.
//
//   std::vector<KeyringEntry> ring;
//   Status s = LoadKeyring("data/keys/signing.keyring", &ring);  // Corruption names the line
//   const KeyringEntry* k = KeyForSize(ring, head.size);          // nullptr: no key covers it
//
// Thread safety: pure functions; RotateSigningKey as the CLI runs it, one at a
// time per key directory with nothing else holding the data directory open.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tree_head.h"
#include "events/status.h"

namespace accountable {

struct KeyringEntry {
  std::string key_id;       // 16 hex digits
  std::string public_key;   // 32 bytes
  uint64_t from_size = 0;
  uint64_t until_size = 0;  // with open_ended: none
  bool open_ended = true;
  int64_t from_ms = 0;
  std::string endorsement;  // 64 bytes; empty on the first line
};

inline constexpr size_t kKeyringBytesMax = 1 << 20;  // ~7,000 keys: far beyond any rotation schedule
inline std::string KeyringPath(const std::string& key_dir) { return key_dir + "/signing.keyring"; }

std::string SigningKeyId(std::string_view public_key);
Status ParseKeyring(std::string_view text, std::vector<KeyringEntry>* out);
Status LoadKeyring(const std::string& path, std::vector<KeyringEntry>* out);
std::string FormatKeyring(const std::vector<KeyringEntry>& ring);
// The newest key whose range covers a head of this tree size.
const KeyringEntry* KeyForSize(const std::vector<KeyringEntry>& ring, uint64_t size);
const KeyringEntry* KeyByPublicKey(const std::vector<KeyringEntry>& ring, std::string_view public_key);

// The keys a document of this ledger may be signed with: current_public_key
// and every key of KEY_DIR/signing.keyring (none if there is no keyring), so
// that an erasure list or backup manifest signed before a rotate-signing-key
// still verifies. Corruption if the keyring exists but does not verify; *out
// then holds the current key alone.
Status TrustedPublicKeys(const std::string& key_dir, const std::string& current_public_key,
                         std::vector<std::string>* out);

struct SigningRotationReport {
  std::string old_key_id, new_key_id, old_public_key, new_public_key;
  int64_t valid_from_ms = 0;
  uint64_t from_size = 0;  // seq of the signing_key_rotated event
  bool resumed = false;    // signing.next was there: an interrupted rotation went on
};
// Appends the signing_key_rotated event (signed under the old key) and sets
// *seq to its seq; must be idempotent per new key (a rerun gets the first seq).
using RecordSigningRotation = std::function<Status(const SigningRotationReport&, uint64_t* seq)>;

// KEY_DIR/signing.next (a new key pair, 0600) -> record -> the keyring line,
// endorsed by the old key -> signing.next renamed over signing, signing.pub
// replaced. A rerun after a crash resumes from signing.next. The next Open
// of the ledger signs its head with the new key.
Status RotateSigningKey(const std::string& key_dir, int64_t now_ms, const RecordSigningRotation& record,
                        SigningRotationReport* out);

}  // namespace accountable
