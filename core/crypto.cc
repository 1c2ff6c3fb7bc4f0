#include "core/crypto.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "events/assert.h"

namespace accountable::crypto {

Status InitCrypto() {
  if (sodium_init() < 0) return Status::IOError("libsodium failed to initialize");
  return Status::OK();
}

Key32 RandomKey() {
  Key32 k;
  randombytes_buf(k.data(), kKeyBytes);
  return k;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  randombytes_buf(out.data(), n);
  return out;
}

namespace {

// One per thread, so no lock; a thread's pool dies (wiped) with the thread.
struct PublicRandomPool {
  uint8_t bytes[kPublicRandomPoolBytes];
  size_t used = kPublicRandomPoolBytes;  // empty until the first draw
  ~PublicRandomPool() { sodium_memzero(bytes, sizeof bytes); }
};

}  // namespace

void PublicRandom(uint8_t* out, size_t n) {
  ACC_ASSERT(n <= kPublicRandomPoolBytes, "a public random draw fits the pool");
  thread_local PublicRandomPool pool;
  if (kPublicRandomPoolBytes - pool.used < n) {
    randombytes_buf(pool.bytes, kPublicRandomPoolBytes);
    pool.used = 0;
  }
  std::memcpy(out, pool.bytes + pool.used, n);
  sodium_memzero(pool.bytes + pool.used, n);  // a byte is handed out once
  pool.used += n;
}

std::string Seal(const Key32& key, std::string_view plaintext, std::string_view ad) {
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<uint8_t*>(out.data());
  PublicRandom(nonce, kNonceBytes);
  unsigned long long box_bytes = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + kNonceBytes, &box_bytes, reinterpret_cast<const uint8_t*>(plaintext.data()), plaintext.size(),
      reinterpret_cast<const uint8_t*>(ad.data()), ad.size(), nullptr, nonce, key.data());
  ACC_ASSERT(box_bytes == plaintext.size() + kTagBytes, "an AEAD box is plaintext plus one tag");
  return out;
}

Status Open(const Key32& key, std::string_view box, std::string_view ad, std::string* plaintext) {
  if (box.size() < kSealOverheadBytes) return Status::Corruption("sealed box too short");
  const auto* nonce = reinterpret_cast<const uint8_t*>(box.data());
  std::string out(box.size() - kSealOverheadBytes, '\0');
  unsigned long long plain_bytes = 0;
  int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      reinterpret_cast<uint8_t*>(out.data()), &plain_bytes, nullptr, nonce + kNonceBytes, box.size() - kNonceBytes,
      reinterpret_cast<const uint8_t*>(ad.data()), ad.size(), nonce, key.data());
  if (rc != 0) {
    sodium_memzero(out.data(), out.size());
    return Status::Corruption("sealed box failed authentication");
  }
  *plaintext = std::move(out);
  return Status::OK();
}

size_t PaddedSize(size_t n) {
  size_t bucket = kPadBucketMinBytes;
  while (bucket <= n) bucket *= 2;
  return bucket;
}

std::string SealPadded(const Key32& key, std::string_view plaintext, std::string_view ad) {
  const size_t bucket = PaddedSize(plaintext.size());
  std::string buf(bucket, '\0');
  std::memcpy(buf.data(), plaintext.data(), plaintext.size());
  size_t padded = 0;
  // One block of the bucket's size: the result is exactly the bucket.
  const int rc = sodium_pad(&padded, reinterpret_cast<unsigned char*>(buf.data()), plaintext.size(), bucket, bucket);
  ACC_ASSERT(rc == 0 && padded == bucket, "padding fills exactly one bucket");
  std::string box = Seal(key, buf, ad);
  sodium_memzero(buf.data(), buf.size());
  return box;
}

Status OpenPadded(const Key32& key, std::string_view box, std::string_view ad, std::string* plaintext) {
  std::string buf;
  ACC_RETURN_IF_ERROR(Open(key, box, ad, &buf));
  size_t unpadded = 0;
  if (buf.size() < kPadBucketMinBytes ||
      sodium_unpad(&unpadded, reinterpret_cast<const unsigned char*>(buf.data()), buf.size(), buf.size()) != 0) {
    sodium_memzero(buf.data(), buf.size());
    return Status::Corruption("sealed box has malformed padding");
  }
  sodium_memzero(buf.data() + unpadded, buf.size() - unpadded);
  buf.resize(unpadded);
  *plaintext = std::move(buf);
  return Status::OK();
}

HmacSha256Key::HmacSha256Key(const Key32& key) : state_(sizeof(crypto_auth_hmacsha256_state)) {
  auto* st = reinterpret_cast<crypto_auth_hmacsha256_state*>(state_.data());
  crypto_auth_hmacsha256_init(st, key.data(), kKeyBytes);
  state_.MakeReadOnly();
}

std::string HmacSha256Key::Mac(std::string_view message) const {
  crypto_auth_hmacsha256_state st;
  std::memcpy(&st, state_.data(), sizeof st);
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const uint8_t*>(message.data()), message.size());
  std::string out(crypto_auth_hmacsha256_BYTES, '\0');
  crypto_auth_hmacsha256_final(&st, reinterpret_cast<uint8_t*>(out.data()));
  sodium_memzero(&st, sizeof st);  // a copy of the keyed state: as secret as the key
  return out;
}

std::string KeyedHash(const Key32& key, std::string_view domain, std::string_view message) {
  // Domain separation: the same key derives account row keys and blind
  // indexes, and the two must never collide.
  crypto_generichash_state st;
  crypto_generichash_init(&st, key.data(), kKeyBytes, 32);
  uint8_t dlen = static_cast<uint8_t>(domain.size());
  crypto_generichash_update(&st, &dlen, 1);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(domain.data()), domain.size());
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(message.data()), message.size());
  std::string out(32, '\0');
  crypto_generichash_final(&st, reinterpret_cast<uint8_t*>(out.data()), out.size());
  sodium_memzero(&st, sizeof st);  // the state is keyed
  return out;
}

std::string Sha256(std::string_view message) {
  std::string out(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256(reinterpret_cast<uint8_t*>(out.data()),
                     reinterpret_cast<const uint8_t*>(message.data()), message.size());
  return out;
}

Status HashPassword(std::string_view password, const PasswordCost& cost, std::string* encoded) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), cost.ops, cost.mem_bytes) != 0)
    return Status::IOError("password hashing ran out of memory");
  *encoded = out;
  return Status::OK();
}

bool VerifyPassword(std::string_view encoded, std::string_view password) {
  std::string z(encoded);  // crypto_pwhash_str_verify needs a NUL-terminated string
  return crypto_pwhash_str_verify(z.c_str(), password.data(), password.size()) == 0;
}

std::string ToHex(std::string_view bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const uint8_t*>(bytes.data()),
                 bytes.size());
  out.pop_back();
  return out;
}

bool FromHex(std::string_view hex, size_t bytes, std::string* out) {
  if (hex.size() != 2 * bytes) return false;
  out->assign(bytes, '\0');
  size_t decoded_bytes = 0;
  return sodium_hex2bin(reinterpret_cast<unsigned char*>(out->data()), bytes, hex.data(), hex.size(), nullptr,
                        &decoded_bytes, nullptr) == 0 &&
         decoded_bytes == bytes;
}

Status ReadSecretFile(const std::string& path, size_t bytes_max, std::string* out) {
  out->clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("cannot open " + path + ": no such file");
    return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Status::IOError("cannot stat " + path);
  }
  // fstat on the open descriptor: the mode checked is the file's that is read.
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::InvalidArgument(path + " has mode " + mode +
                                   ": key and token files must not be accessible to group or others (chmod 600)");
  }
  out->resize(bytes_max + 1);
  size_t got = 0;
  ssize_t n = 0;
  while (got < out->size() && (n = ::read(fd, out->data() + got, out->size() - got)) > 0) got += size_t(n);
  ::close(fd);
  out->resize(got);
  if (n < 0) {
    Wipe(out);
    return Status::IOError("cannot read " + path);
  }
  if (got > bytes_max) {
    Wipe(out);
    return Status::IOError(path + " is larger than " + std::to_string(bytes_max) + " bytes");
  }
  return Status::OK();
}

Status ReadTokenFile(const std::string& path, std::string* token) {
  constexpr size_t kTokenFileBytesMax = 64 << 10;
  std::string text;
  Status s = ReadSecretFile(path, kTokenFileBytesMax, &text);
  if (s.Is(Status::Code::kNotFound)) return Status::NotFound("cannot read a token from " + path);
  ACC_RETURN_IF_ERROR(s);
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  const size_t from = text.find_first_not_of(kSpace);
  if (from == std::string::npos) {
    Wipe(&text);
    return Status::NotFound("cannot read a token from " + path);
  }
  const size_t to = std::min(text.find_first_of(kSpace, from), text.size());
  token->assign(text, from, to - from);
  Wipe(&text);
  return Status::OK();
}

void Wipe(std::string* s) {
  sodium_memzero(s->data(), s->size());
  s->clear();
}

}  // namespace accountable::crypto
