#include "core/tree_head.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/coding.h"
#include "core/crypto.h"
#include "events/assert.h"

namespace accountable {
namespace {

constexpr std::string_view kDomain = "accountable-sth-v1";
constexpr size_t kEncodedBytes = 8 + 32 + 8 + crypto_sign_BYTES;

std::string Message(uint64_t size, const std::string& root, int64_t timestamp_ms) {
  std::string m(kDomain);
  m += EncodeBE64(size);
  m += root;
  m += EncodeBE64(static_cast<uint64_t>(timestamp_ms));
  return m;
}

Status WriteFile(const std::string& path, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot create " + path);
  bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) && ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::OK() : Status::IOError("cannot write " + path);
}

}  // namespace

Status LoadOrCreateSigningKey(const std::string& path, SigningKey* out) {
  ACC_RETURN_IF_ERROR(crypto::InitCrypto());
  static_assert(crypto_sign_SECRETKEYBYTES == 64 && crypto_sign_PUBLICKEYBYTES == 32);
  auto secret = std::make_shared<crypto::LockedBytes>(crypto_sign_SECRETKEYBYTES);
  std::string sk, pk(crypto_sign_PUBLICKEYBYTES, '\0');
  // One byte more than a key, so that a long file reads as the wrong size.
  Status rs = crypto::ReadSecretFile(path, crypto_sign_SECRETKEYBYTES + 1, &sk);
  if (rs.ok()) {
    const bool exact = sk.size() == crypto_sign_SECRETKEYBYTES;
    if (exact) std::memcpy(secret->data(), sk.data(), sk.size());
    crypto::Wipe(&sk);
    if (!exact) return Status::Corruption("signing key " + path + " has the wrong size");
    pk.assign(secret->view().substr(32));  // libsodium keeps the public key in the second half
  } else {
    if (!rs.Is(Status::Code::kNotFound)) return rs;
    crypto_sign_keypair(reinterpret_cast<unsigned char*>(pk.data()), secret->data());
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    ACC_RETURN_IF_ERROR(WriteFile(path, secret->view()));
    Status ps = WriteFile(path + ".pub", crypto::ToHex(pk) + "\n");
    if (!ps.ok() && !ps.Is(Status::Code::kIOError)) return ps;
  }
  secret->MakeReadOnly();
  out->secret = std::move(secret);
  out->public_key = std::move(pk);
  return Status::OK();
}

SignedTreeHead Sign(const SigningKey& key, uint64_t size, const std::string& root, int64_t timestamp_ms) {
  return {size, root, timestamp_ms, SignDetached(key, Message(size, root, timestamp_ms))};
}

std::string SignDetached(const SigningKey& key, std::string_view message) {
  ACC_ASSERT(key.secret != nullptr, "a signing key is loaded before it signs");
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(), key.secret->data());
  return sig;
}

Status VerifyHead(const std::string& pk, const SignedTreeHead& h) {
  if (pk.size() != crypto_sign_PUBLICKEYBYTES || h.signature.size() != crypto_sign_BYTES || h.root.size() != 32)
    return Status::Corruption("tree head or public key has the wrong size");
  const std::string m = Message(h.size, h.root, h.timestamp_ms);
  if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(h.signature.data()),
                                  reinterpret_cast<const unsigned char*>(m.data()), m.size(),
                                  reinterpret_cast<const unsigned char*>(pk.data())) != 0)
    return Status::Corruption("tree head signature does not verify");
  return Status::OK();
}

Status VerifyDetached(const std::string& pk, std::string_view message, std::string_view signature) {
  if (pk.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES ||
      crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                  reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                                  reinterpret_cast<const unsigned char*>(pk.data())) != 0)
    return Status::Corruption("signature does not verify under the given public key");
  return Status::OK();
}

std::string EncodeHead(const SignedTreeHead& h) {
  return EncodeBE64(h.size) + h.root + EncodeBE64(static_cast<uint64_t>(h.timestamp_ms)) + h.signature;
}

Status DecodeHead(std::string_view b, SignedTreeHead* out) {
  if (b.size() != kEncodedBytes) return Status::Corruption("stored tree head has the wrong size");
  out->size = DecodeBE64(b.substr(0, 8));
  out->root = std::string(b.substr(8, 32));
  out->timestamp_ms = static_cast<int64_t>(DecodeBE64(b.substr(40, 8)));
  out->signature = std::string(b.substr(48));
  return Status::OK();
}

}  // namespace accountable
