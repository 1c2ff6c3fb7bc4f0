// The signing keyring and the rotation of the signing key (core/signing_keyring.h).
#include "core/signing_keyring.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/coding.h"
#include "core/crash_point.h"
#include "core/crypto.h"
#include "core/text_file.h"

namespace accountable {
namespace {

constexpr std::string_view kEndorsementDomain = "accountable-keyring-v1";
constexpr size_t kKeyringFields = 6;

std::string EndorsedBytes(std::string_view public_key, uint64_t from_size, int64_t from_ms) {
  std::string m(kEndorsementDomain);
  m += public_key;
  m += EncodeBE64(from_size);
  m += EncodeBE64(static_cast<uint64_t>(from_ms));
  return m;
}


Status ParseLine(std::string_view line, KeyringEntry* e) {
  std::vector<std::string_view> f;
  for (size_t p = 0; f.size() <= kKeyringFields;) {
    const size_t q = line.find(' ', p);
    f.push_back(line.substr(p, q == std::string_view::npos ? std::string_view::npos : q - p));
    if (q == std::string_view::npos) break;
    p = q + 1;
  }
  if (f.size() != kKeyringFields) return Status::Corruption("expected 6 fields separated by single spaces");
  e->key_id = std::string(f[0]);
  if (!crypto::FromHex(f[1], 32, &e->public_key)) return Status::Corruption("public key is not 64 hex digits");
  if (e->key_id != SigningKeyId(e->public_key)) return Status::Corruption("key id does not match the public key");
  uint64_t from_ms = 0;
  if (!textdoc::ParseU64(f[2], &e->from_size) || !textdoc::ParseU64(f[4], &from_ms) || from_ms > INT64_MAX)
    return Status::Corruption("FROM_SIZE and FROM_MS must be decimal numbers");
  e->from_ms = static_cast<int64_t>(from_ms);
  e->open_ended = f[3] == "-";
  if (!e->open_ended && (!textdoc::ParseU64(f[3], &e->until_size) || e->until_size < e->from_size))
    return Status::Corruption("UNTIL_SIZE must be '-' or a decimal number not below FROM_SIZE");
  e->endorsement.clear();
  if (f[5] != "-" && !crypto::FromHex(f[5], crypto_sign_BYTES, &e->endorsement))
    return Status::Corruption("endorsement must be '-' or 128 hex digits");
  return Status::OK();
}

Status CheckChain(const KeyringEntry& prev, const KeyringEntry& e) {
  if (prev.open_ended || prev.until_size != e.from_size)
    return Status::Corruption("FROM_SIZE must equal the UNTIL_SIZE of the line before");
  if (e.endorsement.empty()) return Status::Corruption("a later key needs an endorsement by the key before it");
  const std::string m = EndorsedBytes(e.public_key, e.from_size, e.from_ms);
  if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(e.endorsement.data()),
                                  reinterpret_cast<const unsigned char*>(m.data()), m.size(),
                                  reinterpret_cast<const unsigned char*>(prev.public_key.data())) != 0)
    return Status::Corruption("the endorsement does not verify under the key of the line before");
  return Status::OK();
}

}  // namespace

std::string SigningKeyId(std::string_view public_key) {
  return crypto::ToHex(crypto::Sha256(public_key).substr(0, 8));
}

Status ParseKeyring(std::string_view text, std::vector<KeyringEntry>* out) {
  ACC_RETURN_IF_ERROR(crypto::InitCrypto());
  out->clear();
  if (text.size() > kKeyringBytesMax) return Status::Corruption("keyring: larger than any keyring");
  size_t n = 0;
  for (size_t p = 0; p < text.size();) {
    const size_t q = text.find('\n', p);
    const std::string_view line = text.substr(p, q == std::string_view::npos ? std::string_view::npos : q - p);
    p = q == std::string_view::npos ? text.size() : q + 1;
    ++n;
    KeyringEntry e;
    Status s = ParseLine(line, &e);
    if (s.ok() && out->empty() && !e.endorsement.empty()) s = Status::Corruption("the first key has no endorsement");
    if (s.ok() && !out->empty()) s = CheckChain(out->back(), e);
    if (!s.ok()) return Status::Corruption("keyring line " + std::to_string(n) + ": " + s.message());
    out->push_back(std::move(e));
  }
  if (out->empty()) return Status::Corruption("keyring: no keys");
  if (!out->back().open_ended) return Status::Corruption("keyring: the last key must be the current one (UNTIL '-')");
  return Status::OK();
}

Status LoadKeyring(const std::string& path, std::vector<KeyringEntry>* out) {
  // Public, unlike the key files: auditors get a copy.
  std::error_code ec;
  const uintmax_t bytes = std::filesystem::file_size(path, ec);
  if (ec) return Status::NotFound("no keyring at " + path);
  if (bytes > kKeyringBytesMax) return Status::Corruption(path + ": larger than any keyring");
  std::ifstream f(path, std::ios::binary);
  std::string text(bytes, '\0');
  if (!f.read(text.data(), static_cast<std::streamsize>(bytes))) return Status::IOError("cannot read " + path);
  return ParseKeyring(text, out);
}

Status TrustedPublicKeys(const std::string& key_dir, const std::string& current_public_key,
                         std::vector<std::string>* out) {
  *out = {current_public_key};
  std::vector<KeyringEntry> ring;
  Status s = LoadKeyring(KeyringPath(key_dir), &ring);
  if (s.Is(Status::Code::kNotFound)) return Status::OK();
  ACC_RETURN_IF_ERROR(s);
  for (const KeyringEntry& e : ring)
    if (e.public_key != current_public_key) out->push_back(e.public_key);
  return Status::OK();
}

std::string FormatKeyring(const std::vector<KeyringEntry>& ring) {
  std::string t;
  for (const auto& e : ring) {
    t += e.key_id + " " + crypto::ToHex(e.public_key) + " " + std::to_string(e.from_size) + " " +
         (e.open_ended ? std::string("-") : std::to_string(e.until_size)) + " " + std::to_string(e.from_ms) + " " +
         (e.endorsement.empty() ? std::string("-") : crypto::ToHex(e.endorsement)) + "\n";
  }
  return t;
}

const KeyringEntry* KeyForSize(const std::vector<KeyringEntry>& ring, uint64_t size) {
  for (auto it = ring.rbegin(); it != ring.rend(); ++it)
    if (size >= it->from_size && (it->open_ended || size <= it->until_size)) return &*it;
  return nullptr;
}

const KeyringEntry* KeyByPublicKey(const std::vector<KeyringEntry>& ring, std::string_view public_key) {
  for (const auto& e : ring)
    if (e.public_key == public_key) return &e;
  return nullptr;
}

namespace {

// signing.next: a new key pair written whole (tmp + rename), or the one an
// interrupted rotation left.
Status PrepareNextSigningKey(const std::string& next_path, SigningKey* next, bool* resumed) {
  *resumed = std::filesystem::exists(next_path);
  if (!*resumed) {
    crypto::LockedBytes sk(crypto_sign_SECRETKEYBYTES);
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_keypair(pk, sk.data());
    ACC_RETURN_IF_ERROR(WriteFileAtomically(next_path, sk.view(), 0600));
    CrashPoint("rotate-signing:after_next_written");
  }
  return LoadOrCreateSigningKey(next_path, next);
}

KeyringEntry Entry(const SigningKey& k, uint64_t from_size, int64_t from_ms) {
  KeyringEntry e;
  e.key_id = SigningKeyId(k.public_key);
  e.public_key = k.public_key;
  e.from_size = from_size;
  e.from_ms = from_ms;
  return e;
}

}  // namespace

Status RotateSigningKey(const std::string& key_dir, int64_t now_ms, const RecordSigningRotation& record,
                        SigningRotationReport* out) {
  const std::string path = key_dir + "/signing", next_path = path + ".next", ring_path = KeyringPath(key_dir);
  if (!std::filesystem::exists(path)) return Status::NotFound("no signing key at " + path);
  SigningKey cur, next;
  ACC_RETURN_IF_ERROR(LoadOrCreateSigningKey(path, &cur));
  ACC_RETURN_IF_ERROR(PrepareNextSigningKey(next_path, &next, &out->resumed));
  std::vector<KeyringEntry> ring;
  Status ls = LoadKeyring(ring_path, &ring);
  if (ls.Is(Status::Code::kNotFound)) ring = {Entry(cur, 0, 0)};  // the first rotation starts the keyring
  else ACC_RETURN_IF_ERROR(ls);
  // A rerun after the keyring was written finds the next key on its last line.
  const bool appended = ring.back().public_key == next.public_key;
  if (!appended && ring.back().public_key != cur.public_key)
    return Status::Corruption(ring_path + ": its current key is not the one in " + path);
  out->old_key_id = SigningKeyId(cur.public_key);
  out->new_key_id = SigningKeyId(next.public_key);
  out->old_public_key = cur.public_key;
  out->new_public_key = next.public_key;
  out->valid_from_ms = appended ? ring.back().from_ms : now_ms;
  ACC_RETURN_IF_ERROR(record(*out, &out->from_size));
  CrashPoint("rotate-signing:after_record");
  if (!appended) {
    ring.back().open_ended = false;
    ring.back().until_size = out->from_size;
    KeyringEntry e = Entry(next, out->from_size, out->valid_from_ms);
    e.endorsement = SignDetached(cur, EndorsedBytes(e.public_key, e.from_size, e.from_ms));
    ring.push_back(std::move(e));
    ACC_RETURN_IF_ERROR(WriteFileAtomically(ring_path, FormatKeyring(ring), 0644));
  }
  CrashPoint("rotate-signing:after_keyring");
  // signing.pub first: until the rename below, a rerun resumes from signing.next.
  ACC_RETURN_IF_ERROR(WriteFileAtomically(path + ".pub", crypto::ToHex(next.public_key) + "\n", 0644));
  if (std::rename(next_path.c_str(), path.c_str()) != 0) return Status::IOError("cannot rename " + next_path);
  return WriteFileAtomically(ring_path, FormatKeyring(ring), 0644);  // also syncs the directory after the rename
}

}  // namespace accountable
