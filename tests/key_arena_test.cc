// Key memory (core/key_arena.h): every Key32 in the locked arena, freed
// slots wiped, copies independent, read-only keys really read-only, many
// threads at once, the caps as assertions, and unlockable memory used with
// one warning.
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <csignal>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/crypto.h"
#include "core/key_arena.h"
#include "core/tree_head.h"
#include "core/vault.h"
#include "tests/child_process.h"
#include "tests/test_util.h"

namespace accountable {
namespace {

using test::RunChild;

// AddressSanitizer (make check) makes mlock a no-op that reports success, so
// whether key memory is locked can be seen only in a build without it.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kMlockObservable = false;
#else
constexpr bool kMlockObservable = true;
#endif

// A child that reached a cap, said so, and then aborted on one more, naming the cap.
void ExpectAbortAtCap(int status, const std::string& err, const std::string& cap_message) {
  INFO(err);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  CHECK(err.find("reached the cap") != std::string::npos);
  CHECK(err.find(cap_message) != std::string::npos);
}

// The VmFlags of the mapping that holds p, from /proc/self/smaps.
std::string VmFlags(const void* p) {
  std::ifstream in("/proc/self/smaps");
  std::string line;
  bool ours = false;
  const auto at = reinterpret_cast<uintptr_t>(p);
  while (std::getline(in, line)) {
    unsigned long from = 0, to = 0;
    char dash = 0;
    std::istringstream head(line);
    if (line.find(':') > line.find(' ') && (head >> std::hex >> from >> dash >> to) && dash == '-')
      ours = from <= at && at < to;
    else if (ours && line.rfind("VmFlags:", 0) == 0)
      return line;
  }
  return "";
}

bool AllZero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

// Drops CAP_IPC_LOCK (tests may run as root) so that RLIMIT_MEMLOCK binds.
void DropIpcLock() {
  __user_cap_header_struct head{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &head, data) != 0) return;
  data[0].effective &= ~(1u << CAP_IPC_LOCK);
  data[0].permitted &= ~(1u << CAP_IPC_LOCK);
  syscall(SYS_capset, &head, data);
}

}  // namespace

TEST_CASE("key arena: every Key32 lives in the arena and copies are independent", "[crypto][keys]") {
  REQUIRE(crypto::InitCrypto().ok());
  const size_t live_before = crypto::GetKeyArenaStats().keys_live;
  crypto::Key32 a = crypto::RandomKey();
  const std::string saved(a.view());
  int on_stack = 0;
  const std::string on_heap(64, 'x');
  CHECK(crypto::IsKeyMemory(a.data()));
  CHECK(crypto::IsKeyMemory(a.data() + crypto::kKeyBytes - 1));
  CHECK_FALSE(crypto::IsKeyMemory(&on_stack));
  CHECK_FALSE(crypto::IsKeyMemory(on_heap.data()));
  {
    crypto::Key32 b = a;  // a slot of its own
    CHECK(crypto::IsKeyMemory(b.data()));
    CHECK(b.data() != a.data());
    CHECK(b.view() == a.view());
    b.data()[0] ^= 1;
    CHECK(b.view() != a.view());
    CHECK(a.view() == saved);
    crypto::Key32 c;
    CHECK(AllZero(c.data(), crypto::kKeyBytes));
    c = a;
    CHECK(c.view() == saved);
    CHECK(crypto::GetKeyArenaStats().keys_live == live_before + 3);
    const uint8_t* slot_of_a = a.data();
    crypto::Key32 d;
    d = std::move(a);  // trades slots: no key bytes copied
    CHECK(d.data() == slot_of_a);
    CHECK(d.view() == saved);
    CHECK(crypto::IsKeyMemory(a.data()));
    CHECK(crypto::GetKeyArenaStats().keys_live == live_before + 4);
  }
  CHECK(crypto::GetKeyArenaStats().keys_live == live_before + 1);
}

TEST_CASE("key arena: a freed slot holds only zeros", "[crypto][keys]") {
  REQUIRE(crypto::InitCrypto().ok());
  const uint8_t* slot = nullptr;
  {
    crypto::Key32 k = crypto::RandomKey();
    slot = k.data();
    REQUIRE_FALSE(AllZero(slot, crypto::kKeyBytes));
  }
  // The slab stays mapped, so the freed slot can be read: it was wiped.
  REQUIRE(crypto::IsKeyMemory(slot));
  CHECK(AllZero(slot, crypto::kKeyBytes));
  const crypto::KeyArenaStats s = crypto::GetKeyArenaStats();
  CHECK(s.keys_free + s.keys_live == s.slabs * (crypto::kSlabBytes / crypto::kKeyBytes));
}

TEST_CASE("key arena: key memory is locked and left out of core dumps", "[crypto][keys]") {
  REQUIRE(crypto::InitCrypto().ok());
  crypto::Key32 slab_key = crypto::RandomKey();
  crypto::Key32 long_lived = crypto::RandomKey();
  long_lived.MakeReadOnly();
  const crypto::KeyArenaStats s = crypto::GetKeyArenaStats();
  for (const uint8_t* p : {slab_key.data(), long_lived.data()}) {
    const std::string flags = VmFlags(p);
    INFO(flags);
    REQUIRE_FALSE(flags.empty());
    CHECK(flags.find(" dd") != std::string::npos);  // MADV_DONTDUMP
    // Locked unless the arena said it could not lock (a low RLIMIT_MEMLOCK).
    if (kMlockObservable && s.slabs_unlocked == 0 && s.regions_unlocked == 0)
      CHECK(flags.find(" lo") != std::string::npos);
  }
}

TEST_CASE("key arena: a read-only key keeps its value and cannot be written", "[crypto][keys]") {
  REQUIRE(crypto::InitCrypto().ok());
  const size_t regions_before = crypto::GetKeyArenaStats().regions;
  {
    crypto::Key32 kek = crypto::RandomKey();
    const std::string saved(kek.view());
    kek.MakeReadOnly();
    kek.MakeReadOnly();  // idempotent
    CHECK(kek.read_only());
    CHECK(kek.view() == saved);
    CHECK(crypto::IsKeyMemory(kek.data()));
    CHECK(crypto::GetKeyArenaStats().regions == regions_before + 1);
    crypto::Key32 copy = kek;  // an ordinary, writable key
    CHECK_FALSE(copy.read_only());
    copy.data()[0] ^= 1;
    CHECK(kek.view() == saved);
    std::string err;
    int status = RunChild([&] { kek.data()[0] ^= 1; return 0; }, &err);
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV));
    err.clear();
    status = RunChild([&] { kek = copy; return 0; }, &err);
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT));
    CHECK(err.find("a read-only key is never assigned") != std::string::npos);
    err.clear();
    status = RunChild([&] { kek = crypto::RandomKey(); return 0; }, &err);  // a move is an assignment too
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT));
  }
  CHECK(crypto::GetKeyArenaStats().regions == regions_before);
}

TEST_CASE("key arena: locked bytes for the signing key", "[crypto][keys]") {
  REQUIRE(crypto::InitCrypto().ok());
  crypto::LockedBytes secret(64);
  CHECK(secret.size() == 64);
  CHECK(AllZero(secret.data(), 64));
  CHECK(crypto::IsKeyMemory(secret.data()));
  CHECK(crypto::IsKeyMemory(secret.data() + 63));
  std::memset(secret.data(), 7, 64);
  secret.MakeReadOnly();
  CHECK(secret.view() == std::string(64, '\7'));
  std::string err;
  const int status = RunChild([&] { secret.data()[1] = 0; return 0; }, &err);
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV));
}

TEST_CASE("key arena: the KEK, the index key and the signing key are read-only regions", "[crypto][keys]") {
  REQUIRE(crypto::InitCrypto().ok());
  test::TempDir dir;
  const size_t regions_before = crypto::GetKeyArenaStats().regions;
  {
    std::unique_ptr<Vault> vault;
    REQUIRE(Vault::Open({dir.Sub("vault"), dir.Sub("keys/kek")}, &vault).ok());
    CHECK(crypto::GetKeyArenaStats().regions == regions_before + 2);
    SigningKey signing;
    REQUIRE(LoadOrCreateSigningKey(dir.Sub("keys/signing"), &signing).ok());
    CHECK(crypto::GetKeyArenaStats().regions == regions_before + 3);
    REQUIRE(signing.secret != nullptr);
    CHECK(crypto::IsKeyMemory(signing.secret->data()));
    const std::string flags = VmFlags(signing.secret->data());
    CHECK(flags.find("VmFlags: rd ") == 0);
    CHECK(flags.find(" wr ") == std::string::npos);  // the page is read-only
    SigningKey shared = signing;  // copies share the secret
    CHECK(shared.secret == signing.secret);
    CHECK(crypto::GetKeyArenaStats().regions == regions_before + 3);
    CHECK(VerifyHead(signing.public_key, Sign(shared, 1, std::string(32, 'r'), 5)).ok());
    REQUIRE(vault->Close().ok());
  }
  CHECK(crypto::GetKeyArenaStats().regions == regions_before);
}

TEST_CASE("key arena: keys from many threads at once stay distinct and intact", "[crypto][keys]") {
  REQUIRE(crypto::InitCrypto().ok());
  const size_t live_before = crypto::GetKeyArenaStats().keys_live;
  constexpr int kThreads = 8, kRounds = 2000, kWindow = 48;
  std::vector<int> bad(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &bad] {
      std::vector<crypto::Key32> keys(kWindow);
      for (int r = 0; r < kRounds; ++r) {
        const size_t i = size_t(r % kWindow);
        // The previous owner of this position wrote (t, r - kWindow): still there?
        if (r >= kWindow && (keys[i].data()[0] != t || keys[i].data()[1] != uint8_t(r - kWindow))) ++bad[size_t(t)];
        keys[i] = crypto::Key32();  // free one slot, take another
        if (!AllZero(keys[i].data(), crypto::kKeyBytes)) ++bad[size_t(t)];
        std::memset(keys[i].data(), t, crypto::kKeyBytes);
        keys[i].data()[1] = uint8_t(r);
        if (r % 7 == 0) keys.emplace_back(keys[i]), keys.pop_back();  // copies come and go
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) CHECK(bad[size_t(t)] == 0);
  CHECK(crypto::GetKeyArenaStats().keys_live == live_before);
}

TEST_CASE("key arena: more keys alive than kKeysMax is an assertion", "[crypto][keys]") {
  REQUIRE(crypto::InitCrypto().ok());
  std::string err;
  const int status = RunChild(
      [] {
        std::vector<crypto::Key32> keys;
        keys.reserve(crypto::kKeysMax + 1);
        while (crypto::GetKeyArenaStats().keys_live < crypto::kKeysMax) keys.emplace_back();
        if (crypto::GetKeyArenaStats().slabs != crypto::kSlabsMax) return 3;
        std::fprintf(stderr, "reached the cap\n");
        keys.emplace_back();  // one more
        return 4;
      },
      &err);
  ExpectAbortAtCap(status, err, "keys alive at once are bounded");
}

TEST_CASE("key arena: more long-lived regions than kRegionsMax is an assertion", "[crypto][keys]") {
  REQUIRE(crypto::InitCrypto().ok());
  std::string err;
  const int status = RunChild(
      [] {
        std::vector<std::unique_ptr<crypto::LockedBytes>> regions;
        while (crypto::GetKeyArenaStats().regions < crypto::kRegionsMax)
          regions.push_back(std::make_unique<crypto::LockedBytes>(64));
        std::fprintf(stderr, "reached the cap\n");
        regions.push_back(std::make_unique<crypto::LockedBytes>(64));
        return 4;
      },
      &err);
  ExpectAbortAtCap(status, err, "long-lived key regions are bounded");
}

TEST_CASE("key arena: memory that cannot be locked is used, with one warning and no key bytes",
          "[crypto][keys]") {
  if (!kMlockObservable) {
    WARN("not run under AddressSanitizer: its mlock never fails");
    return;
  }
  REQUIRE(crypto::InitCrypto().ok());
  const crypto::Key32 probe = crypto::RandomKey();
  std::string err;
  const int status = RunChild(
      [&probe] {
        DropIpcLock();
        const rlimit none{0, 0};
        if (setrlimit(RLIMIT_MEMLOCK, &none) != 0) return 2;
        const crypto::KeyArenaStats before = crypto::GetKeyArenaStats();
        // Take every free slot, then two slabs more: both new slabs unlocked.
        std::vector<crypto::Key32> keys(before.keys_free + 2 * crypto::kSlabBytes / crypto::kKeyBytes);
        crypto::LockedBytes secret(64);
        const crypto::KeyArenaStats after = crypto::GetKeyArenaStats();
        if (after.slabs_unlocked != before.slabs_unlocked + 2) return 3;
        if (after.regions_unlocked != before.regions_unlocked + 1) return 4;
        keys.back() = probe;  // an unlocked slot still holds a working key
        std::string plain;
        const std::string box = crypto::Seal(keys.back(), "still works", "ad");
        if (!crypto::Open(probe, box, "ad", &plain).ok() || plain != "still works") return 5;
        return 0;
      },
      &err);
  INFO(err);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  const std::string warning = "cannot lock key memory";
  const size_t first = err.find(warning);
  CHECK(first != std::string::npos);
  CHECK(err.find(warning, first + 1) == std::string::npos);  // once per process
  CHECK(err.find("RLIMIT_MEMLOCK") != std::string::npos);
  CHECK(err.find(std::string(probe.view())) == std::string::npos);
  CHECK(err.find(crypto::ToHex(probe.view())) == std::string::npos);
}

}  // namespace accountable
