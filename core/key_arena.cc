// The key arena (core/key_arena.h) and the two key types built on it,
// crypto::Key32 and crypto::LockedBytes (core/crypto.h).
#include "core/key_arena.h"

#include <sodium.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "core/crypto.h"
#include "events/assert.h"

namespace accountable::crypto {
namespace {

constexpr size_t kSlotsPerSlab = kSlabBytes / kKeyBytes;
static_assert(kSlabBytes % kKeyBytes == 0, "a slab holds whole slots");

struct Block {
  uint8_t* bytes;
  size_t size;
  bool locked;
};

// One line, once per process, naming the cause and the fix; never key bytes.
void WarnUnlocked(int err) {
  static std::once_flag once;
  std::call_once(once, [err] {
    std::fprintf(stderr,
                 "accountable: cannot lock key memory (mlock: %s); keys may be written to swap. "
                 "Raise RLIMIT_MEMLOCK (ulimit -l) to keep them in RAM.\n",
                 std::strerror(err));
    std::fflush(stderr);
  });
}

// sodium_malloc: guard pages, a canary, MADV_DONTDUMP and an mlock whose
// failure it does not report; a second mlock of locked pages costs nothing
// against RLIMIT_MEMLOCK and tells whether they are locked.
Block NewBlock(size_t size) {
  ACC_ASSERT(sodium_init() >= 0, "libsodium initializes before the first key");
  auto* bytes = static_cast<uint8_t*>(sodium_malloc(size));
  ACC_ASSERT(bytes != nullptr, "the system maps a page for key memory");
  sodium_memzero(bytes, size);  // sodium_malloc fills with 0xdb; free slots are zeros
  const bool locked = sodium_mlock(bytes, size) == 0;
  if (!locked) WarnUnlocked(errno);
  return {bytes, size, locked};
}

bool Inside(const Block& b, const void* p) {
  const std::less_equal<const void*> le;
  return le(b.bytes, p) && !le(b.bytes + b.size, p);
}

class KeyArena {
 public:
  KeyArena() {
    slabs_.reserve(kSlabsMax);
    regions_.reserve(kRegionsMax);
  }

  uint8_t* AllocateSlot() {
    std::lock_guard<std::mutex> l(mu_);
    if (free_.empty()) AddSlab();
    uint8_t* slot = free_.back();
    free_.pop_back();
    ++live_;
    return slot;
  }

  void FreeSlot(uint8_t* slot) {
    sodium_memzero(slot, kKeyBytes);  // the slot is still ours: wipe outside the lock
    std::lock_guard<std::mutex> l(mu_);
    ACC_ASSERT(live_ > 0, "a slot is freed once");
    --live_;
    free_.push_back(slot);
  }

  uint8_t* AllocateRegion(size_t size) {
    std::lock_guard<std::mutex> l(mu_);
    ACC_ASSERT(regions_.size() < kRegionsMax, "long-lived key regions are bounded by the stores open");
    regions_.push_back(NewBlock(size));
    return regions_.back().bytes;
  }

  void FreeRegion(uint8_t* bytes) {
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = std::find_if(regions_.begin(), regions_.end(), [&](const Block& b) { return b.bytes == bytes; });
      ACC_ASSERT(it != regions_.end(), "a region is freed once");
      regions_.erase(it);
    }
    sodium_free(bytes);  // makes it writable, wipes, unlocks, unmaps
  }

  KeyArenaStats Stats() {
    std::lock_guard<std::mutex> l(mu_);
    KeyArenaStats s;
    s.slabs = slabs_.size();
    s.slabs_unlocked = size_t(std::count_if(slabs_.begin(), slabs_.end(), [](const Block& b) { return !b.locked; }));
    s.keys_live = live_;
    s.keys_free = free_.size();
    s.regions = regions_.size();
    s.regions_unlocked =
        size_t(std::count_if(regions_.begin(), regions_.end(), [](const Block& b) { return !b.locked; }));
    return s;
  }

  bool Contains(const void* p) {
    std::lock_guard<std::mutex> l(mu_);
    auto in = [p](const Block& b) { return Inside(b, p); };
    return std::any_of(slabs_.begin(), slabs_.end(), in) || std::any_of(regions_.begin(), regions_.end(), in);
  }

 private:
  void AddSlab() {
    ACC_ASSERT(slabs_.size() < kSlabsMax, "keys alive at once are bounded by the calls running (a leak?)");
    slabs_.push_back(NewBlock(kSlabBytes));
    // Highest slot first, so slots are handed out from the slab's start.
    free_.reserve(slabs_.size() * kSlotsPerSlab);
    for (size_t i = kSlotsPerSlab; i-- > 0;) free_.push_back(slabs_.back().bytes + i * kKeyBytes);
  }

  std::mutex mu_;
  std::vector<Block> slabs_;
  std::vector<Block> regions_;
  std::vector<uint8_t*> free_;
  size_t live_ = 0;
};

// Never destroyed: a Key32 may outlive static destruction (a static key in
// a test, a thread still unwinding at exit).
KeyArena& Arena() {
  static KeyArena* arena = new KeyArena();
  return *arena;
}

}  // namespace

KeyArenaStats GetKeyArenaStats() { return Arena().Stats(); }
bool IsKeyMemory(const void* p) { return Arena().Contains(p); }

namespace internal {
uint8_t* AllocateSlot() { return Arena().AllocateSlot(); }
void FreeSlot(uint8_t* slot) { Arena().FreeSlot(slot); }
uint8_t* AllocateRegion(size_t bytes) { return Arena().AllocateRegion(bytes); }
void FreeRegion(uint8_t* region) { Arena().FreeRegion(region); }
void ReadOnly(uint8_t* region) {
  const int rc = sodium_mprotect_readonly(region);
  ACC_ASSERT(rc == 0, "a key region can be made read-only");
}
}  // namespace internal

Key32::Key32() : bytes_(internal::AllocateSlot()) {}

Key32::~Key32() {
  if (read_only_)
    internal::FreeRegion(bytes_);
  else
    internal::FreeSlot(bytes_);
}

Key32::Key32(const Key32& other) : bytes_(internal::AllocateSlot()) {
  std::memcpy(bytes_, other.bytes_, kKeyBytes);
}

Key32& Key32::operator=(const Key32& other) {
  ACC_ASSERT(!read_only_, "a read-only key is never assigned");
  if (this != &other) std::memcpy(bytes_, other.bytes_, kKeyBytes);
  return *this;
}

Key32& Key32::operator=(Key32&& other) noexcept {
  // Trading slots moves no key bytes; a read-only key keeps its region.
  if (read_only_ || other.read_only_) return *this = other;
  std::swap(bytes_, other.bytes_);
  return *this;
}

void Key32::MakeReadOnly() {
  if (read_only_) return;
  uint8_t* region = internal::AllocateRegion(kKeyBytes);
  std::memcpy(region, bytes_, kKeyBytes);
  internal::ReadOnly(region);
  internal::FreeSlot(bytes_);
  bytes_ = region;
  read_only_ = true;
}

LockedBytes::LockedBytes(size_t size) : bytes_(internal::AllocateRegion(size)), size_(size) {}
LockedBytes::~LockedBytes() { internal::FreeRegion(bytes_); }

void LockedBytes::MakeReadOnly() {
  if (read_only_) return;
  internal::ReadOnly(bytes_);
  read_only_ = true;
}

}  // namespace accountable::crypto
