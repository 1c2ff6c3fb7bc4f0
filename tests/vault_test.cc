// crypto primitives and the Vault: sealing, the KEK file, account keys, the
// email blind index, opening account PII, and password hashing.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/crypto.h"
#include "core/vault.h"
#include "tests/test_util.h"

namespace accountable {
namespace {

namespace fs = std::filesystem;

const crypto::PasswordCost kCheapCost{1, 8u * 1024 * 1024};

struct VaultPaths {
  test::TempDir dir;
  VaultOptions options{dir.Sub("vault"), dir.Sub("keys/kek")};
};

std::unique_ptr<Vault> OpenVault(const VaultOptions& o) {
  std::unique_ptr<Vault> v;
  Status s = Vault::Open(o, &v);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return v;
}

Status TryOpen(const VaultOptions& o) {
  std::unique_ptr<Vault> v;
  return Vault::Open(o, &v);
}

bool SameKey(const crypto::Key32& a, const crypto::Key32& b) { return a.view() == b.view(); }

std::string Seal(std::string_view plain, std::string_view ad, const crypto::Key32& key) {
  return crypto::Seal(key, plain, ad);
}

Status OpenBox(const crypto::Key32& key, std::string_view box, std::string_view ad) {
  std::string out;
  return crypto::Open(key, box, ad, &out);
}

TEST_CASE("crypto: seal and open round trip", "[crypto]") {
  REQUIRE(crypto::InitCrypto().ok());
  const crypto::Key32 key = crypto::RandomKey();
  for (std::string plain : {std::string(), std::string("x"), std::string(1000, '\0'), std::string("hello pii")}) {
    const std::string box = Seal(plain, "ad", key);
    CHECK(box.size() == plain.size() + crypto::kSealOverheadBytes);
    std::string back = "junk";
    REQUIRE(crypto::Open(key, box, "ad", &back).ok());
    CHECK(back == plain);
  }
  // Random nonces: the same plaintext seals differently each time.
  CHECK(Seal("same", "ad", key) != Seal("same", "ad", key));
  CHECK(Seal("secret plaintext", "ad", key).find("secret plaintext") == std::string::npos);
}

TEST_CASE("crypto: open refuses a wrong key, tampering, wrong ad and truncation", "[crypto]") {
  REQUIRE(crypto::InitCrypto().ok());
  const crypto::Key32 key = crypto::RandomKey();
  const std::string box = Seal("personal data", "account-1", key);
  CHECK(OpenBox(crypto::RandomKey(), box, "account-1").Is(Status::Code::kCorruption));
  CHECK(OpenBox(key, box, "account-2").Is(Status::Code::kCorruption));
  CHECK(OpenBox(key, box, "").Is(Status::Code::kCorruption));
  // Any flipped byte: nonce, ciphertext or tag.
  for (size_t i = 0; i < box.size(); ++i) {
    std::string bad = box;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    INFO("byte " << i);
    CHECK(OpenBox(key, bad, "account-1").Is(Status::Code::kCorruption));
  }
  for (size_t len : {size_t{0}, size_t{1}, crypto::kSealOverheadBytes - 1, crypto::kSealOverheadBytes,
                     box.size() - 1}) {
    INFO("length " << len);
    CHECK(OpenBox(key, box.substr(0, len), "account-1").Is(Status::Code::kCorruption));
  }
  CHECK(OpenBox(key, box + "x", "account-1").Is(Status::Code::kCorruption));
  std::string untouched;
  CHECK_FALSE(crypto::Open(key, box, "account-2", &untouched).ok());
  CHECK(untouched.empty());
}

TEST_CASE("crypto: keyed hashes, digests and keys", "[crypto]") {
  REQUIRE(crypto::InitCrypto().ok());
  const crypto::Key32 k1 = crypto::RandomKey(), k2 = crypto::RandomKey();
  CHECK_FALSE(SameKey(k1, k2));
  CHECK(crypto::KeyedHash(k1, "email", "a@b") == crypto::KeyedHash(k1, "email", "a@b"));
  CHECK(crypto::KeyedHash(k1, "email", "a@b").size() == 32);
  CHECK(crypto::KeyedHash(k1, "email", "a@b") != crypto::KeyedHash(k2, "email", "a@b"));
  CHECK(crypto::KeyedHash(k1, "email", "a@b") != crypto::KeyedHash(k1, "dek", "a@b"));
  // The domain length is hashed too: ("ab", "c") is not ("a", "bc").
  CHECK(crypto::KeyedHash(k1, "ab", "c") != crypto::KeyedHash(k1, "a", "bc"));
  CHECK(crypto::ToHex(crypto::Sha256("")) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(crypto::ToHex(crypto::Sha256("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(crypto::ToHex(std::string("\x00\xff\x10", 3)) == "00ff10");
  std::string bin;
  CHECK(crypto::FromHex("00ff10", 3, &bin));
  CHECK(bin == std::string("\x00\xff\x10", 3));
  CHECK_FALSE(crypto::FromHex("00ff1", 3, &bin));     // odd length
  CHECK_FALSE(crypto::FromHex("00ff", 3, &bin));      // too short: never padded
  CHECK_FALSE(crypto::FromHex("00ff1g", 3, &bin));    // not hex
  crypto::Key32 copy = k1;
  CHECK(SameKey(copy, k1));
  copy = k2;
  CHECK(SameKey(copy, k2));
  CHECK(crypto::RandomBytes(24).size() == 24);
  CHECK(crypto::RandomBytes(24) != crypto::RandomBytes(24));
}

// Expected tags from Python's hmac module (an implementation of its own).
TEST_CASE("crypto: HMAC-SHA-256 under a precomputed key matches known tags, call after call", "[crypto]") {
  REQUIRE(crypto::InitCrypto().ok());
  crypto::Key32 key;
  for (size_t i = 0; i < crypto::kKeyBytes; ++i) key.data()[i] = static_cast<uint8_t>(i);
  const crypto::HmacSha256Key mac(key);
  std::string long_message;  // four SHA-256 blocks: the state is not reused across blocks wrongly
  for (int i = 0; i < 200; ++i) long_message.push_back(static_cast<char>(i % 251));
  for (int round = 0; round < 2; ++round) {  // Mac leaves the precomputed state as it was
    CHECK(crypto::ToHex(mac.Mac("")) == "d38b42096d80f45f826b44a9d5607de72496a415d3f4a1a8c88e3bb9da8dc1cb");
    CHECK(crypto::ToHex(mac.Mac(std::string("request-id\0abc", 14))) ==
          "be9ad3a1dee6adf9bb4bcc34286610eae38f2d443368b848543157b1e45b7db5");
    CHECK(crypto::ToHex(mac.Mac(long_message)) == "c4d78316aa3de9ce6bd0b2e61c4f4dd6bdf0ec95aab84ab87fc2a11903991ad3");
  }
  CHECK(crypto::HmacSha256Key(crypto::RandomKey()).Mac("") != mac.Mac(""));
}

TEST_CASE("crypto: password hashing and verification", "[crypto]") {
  REQUIRE(crypto::InitCrypto().ok());
  std::string encoded, other;
  REQUIRE(crypto::HashPassword("correct horse", kCheapCost, &encoded).ok());
  REQUIRE(crypto::HashPassword("correct horse", kCheapCost, &other).ok());
  CHECK(encoded.rfind("$argon2id$", 0) == 0);
  CHECK(encoded.find("correct horse") == std::string::npos);
  CHECK(encoded != other);  // salted
  CHECK(crypto::VerifyPassword(encoded, "correct horse"));
  CHECK(crypto::VerifyPassword(other, "correct horse"));
  CHECK_FALSE(crypto::VerifyPassword(encoded, "correct horsE"));
  CHECK_FALSE(crypto::VerifyPassword(encoded, ""));
  CHECK_FALSE(crypto::VerifyPassword("", "correct horse"));
  CHECK_FALSE(crypto::VerifyPassword("$argon2id$garbage", "correct horse"));
  std::string tampered = encoded;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  CHECK_FALSE(crypto::VerifyPassword(tampered, "correct horse"));
}

TEST_CASE("vault: a new vault creates its KEK file 0600 with 32 bytes", "[vault]") {
  VaultPaths p;
  auto v = OpenVault(p.options);
  REQUIRE(fs::exists(p.options.kek_path));
  CHECK(fs::file_size(p.options.kek_path) == crypto::kKeyBytes);
  struct stat st {};
  REQUIRE(::stat(p.options.kek_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // The key never lands inside the vault directory.
  CHECK(fs::path(p.options.kek_path).parent_path() != fs::path(p.options.dir));
}

TEST_CASE("vault: reopening with the same KEK keeps every key", "[vault]") {
  VaultPaths p;
  crypto::Key32 dek;
  {
    auto v = OpenVault(p.options);
    REQUIRE(v->CreateAccountKey(7, &dek).ok());
    REQUIRE(v->PutEmail("ann@example.org", 7).ok());
    REQUIRE(v->Close().ok());
  }
  const auto kek_before = fs::last_write_time(p.options.kek_path);
  auto v = OpenVault(p.options);
  CHECK(fs::last_write_time(p.options.kek_path) == kek_before);
  crypto::Key32 again;
  REQUIRE(v->GetAccountKey(7, &again).ok());
  CHECK(SameKey(again, dek));
  uint64_t id = 0;
  REQUIRE(v->LookupEmail("ann@example.org", &id).ok());
  CHECK(id == 7);
}

TEST_CASE("vault: a different KEK is refused at open", "[vault]") {
  VaultPaths p;
  { OpenVault(p.options); }
  const std::string other_kek = p.dir.Sub("other/kek");
  { OpenVault({p.dir.Sub("other-vault"), other_kek}); }  // makes a valid, unrelated KEK
  Status s = TryOpen({p.options.dir, other_kek});
  CHECK(s.Is(Status::Code::kCorruption));
  CHECK(s.message().find("does not belong") != std::string::npos);

  test::WriteSecretFile(p.dir.Sub("short-kek"), std::string(31, 'k'));
  CHECK(TryOpen({p.options.dir, p.dir.Sub("short-kek")}).Is(Status::Code::kCorruption));
  test::WriteSecretFile(p.dir.Sub("long-kek"), std::string(33, 'k'));
  CHECK(TryOpen({p.options.dir, p.dir.Sub("long-kek")}).Is(Status::Code::kCorruption));
  CHECK(TryOpen(p.options).ok());  // the right one still works
}

TEST_CASE("vault: a KEK file that group or others may read is refused, naming file and mode", "[vault][issue11]") {
  VaultPaths p;
  { OpenVault(p.options); }
  std::filesystem::permissions(p.options.kek_path, std::filesystem::perms(0640), std::filesystem::perm_options::replace);
  Status s = TryOpen(p.options);
  INFO(s.ToString());
  CHECK(s.Is(Status::Code::kInvalidArgument));
  CHECK(s.message().find(p.options.kek_path) != std::string::npos);
  CHECK(s.message().find("mode 0640") != std::string::npos);
  std::filesystem::permissions(p.options.kek_path, std::filesystem::perms(0600), std::filesystem::perm_options::replace);
  CHECK(TryOpen(p.options).ok());  // nothing was lost or replaced
}

TEST_CASE("vault: a missing KEK for an existing vault is never replaced", "[vault]") {
  VaultPaths p;
  { OpenVault(p.options); }
  const std::string moved = p.dir.Sub("kek.moved");
  fs::rename(p.options.kek_path, moved);
  Status s = TryOpen(p.options);
  // vault.h: "A missing KEK for an existing vault -> IOError (never silently replaced)".
  CHECK(s.Is(Status::Code::kIOError));
  CHECK(s.message().find("missing") != std::string::npos);
  CHECK_FALSE(fs::exists(p.options.kek_path));  // no new KEK was made
  fs::rename(moved, p.options.kek_path);
  CHECK(TryOpen(p.options).ok());
}

TEST_CASE("vault: a vault directory open twice is busy", "[vault]") {
  VaultPaths p;
  auto v = OpenVault(p.options);
  CHECK(TryOpen(p.options).Is(Status::Code::kBusy));
}

TEST_CASE("vault: account keys are created once and read back", "[vault]") {
  VaultPaths p;
  auto v = OpenVault(p.options);
  crypto::Key32 dek, got, second;
  CHECK(v->GetAccountKey(1, &got).Is(Status::Code::kNotFound));
  REQUIRE(v->CreateAccountKey(1, &dek).ok());
  CHECK_FALSE(SameKey(dek, crypto::Key32()));
  Status again = v->CreateAccountKey(1, &second);
  CHECK(again.Is(Status::Code::kRefused));
  REQUIRE(v->GetAccountKey(1, &got).ok());
  CHECK(SameKey(got, dek));  // the refused call did not replace it
  REQUIRE(v->CreateAccountKey(2, &second).ok());
  CHECK_FALSE(SameKey(second, dek));
  CHECK(v->GetAccountKey(3, &got).Is(Status::Code::kNotFound));
}

TEST_CASE("vault: concurrent creation of one account key has one winner", "[vault]") {
  VaultPaths p;
  auto v = OpenVault(p.options);
  std::atomic<int> created{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      crypto::Key32 k;
      Status s = v->CreateAccountKey(99, &k);
      (s.ok() ? created : refused)++;
    });
  for (auto& t : threads) t.join();
  CHECK(created == 1);
  CHECK(refused == 7);
}

TEST_CASE("vault: the email blind index", "[vault]") {
  VaultPaths p;
  auto v = OpenVault(p.options);
  uint64_t id = 0;
  CHECK(v->LookupEmail("ann@example.org", &id).Is(Status::Code::kNotFound));
  REQUIRE(v->PutEmail("ann@example.org", 11).ok());
  REQUIRE(v->PutEmail("bob@example.org", 12).ok());
  REQUIRE(v->LookupEmail("ann@example.org", &id).ok());
  CHECK(id == 11);
  REQUIRE(v->LookupEmail("bob@example.org", &id).ok());
  CHECK(id == 12);
  REQUIRE(v->PutEmail("ann@example.org", 13).ok());  // re-pointed (stale reservation)
  REQUIRE(v->LookupEmail("ann@example.org", &id).ok());
  CHECK(id == 13);
  REQUIRE(v->DeleteEmail("ann@example.org").ok());
  CHECK(v->LookupEmail("ann@example.org", &id).Is(Status::Code::kNotFound));
  REQUIRE(v->LookupEmail("bob@example.org", &id).ok());
  CHECK(id == 12);
  REQUIRE(v->PutEmail("ann@example.org", 14).ok());  // usable again after delete
  REQUIRE(v->Close().ok());

  auto reopened = OpenVault(p.options);
  REQUIRE(reopened->LookupEmail("ann@example.org", &id).ok());
  CHECK(id == 14);
  // Rows are keyed hashes: no email appears in any vault file.
  for (const auto& f : fs::recursive_directory_iterator(p.options.dir)) {
    if (!f.is_regular_file()) continue;
    std::ifstream in(f.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(bytes.find("example.org") == std::string::npos);
  }
}

TEST_CASE("vault: account PII opens only under its account, type and request", "[vault]") {
  VaultPaths p;
  auto v = OpenVault(p.options);
  crypto::Key32 dek, dek2;
  REQUIRE(v->CreateAccountKey(5, &dek).ok());
  REQUIRE(v->CreateAccountKey(6, &dek2).ok());
  const std::string box = SealForAccount(dek, 5, fb::Payload::Registered, "req-1", "pii bytes");
  std::string plain;
  REQUIRE(OpenForAccount(*v, 5, fb::Payload::Registered, "req-1", box, &plain).ok());
  CHECK(plain == "pii bytes");
  auto open = [&](uint64_t account, fb::Payload type, std::string_view rid, std::string_view b) {
    std::string out;
    return OpenForAccount(*v, account, type, rid, b, &out).code();
  };
  CHECK(open(5, fb::Payload::ProfileUpdated, "req-1", box) == Status::Code::kCorruption);
  CHECK(open(5, fb::Payload::Registered, "req-2", box) == Status::Code::kCorruption);
  CHECK(open(5, fb::Payload::Registered, "req-", box) == Status::Code::kCorruption);
  CHECK(open(6, fb::Payload::Registered, "req-1", box) == Status::Code::kCorruption);
  CHECK(open(5, fb::Payload::Registered, "req-1", box.substr(0, 10)) == Status::Code::kCorruption);
  CHECK(open(77, fb::Payload::Registered, "req-1", box) == Status::Code::kShredded);
  // The AD binds exactly these three things, in a fixed layout.
  CHECK(AccountAd(5, fb::Payload::Registered, "r") != AccountAd(6, fb::Payload::Registered, "r"));
  CHECK(AccountAd(5, fb::Payload::Registered, "r") != AccountAd(5, fb::Payload::LoginFailed, "r"));
  CHECK(AccountAd(5, fb::Payload::Registered, "r").size() == 8 + 1 + 1);
}

}  // namespace
}  // namespace accountable
