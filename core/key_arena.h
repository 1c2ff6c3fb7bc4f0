// key_arena: where key bytes live. Every crypto::Key32 is a handle to a
// 32-byte slot of one process-wide arena of locked memory; secrets that live
// as long as an open store (the KEK, the vault's index key, the request
// secret, the Ed25519 signing key) get a region of their own, made read-only
// once loaded (crypto::Key32::MakeReadOnly, crypto::LockedBytes).
//
// Why an arena and not one sodium_malloc per key: sodium_malloc puts each
// allocation between guard pages, behind a canary, mlocks it and marks it
// MADV_DONTDUMP, at the price of an mmap, two mprotects and an mlock per call
// and four pages of address space. Every sealed read or write unwraps an
// account DEK into a Key32, so that price would be paid per request. Slots
// are therefore carved from slabs of kSlabBytes, each slab one sodium_malloc
// allocation (guarded, locked, left out of core dumps); a free list under a
// mutex hands them out, and a freed slot is wiped (sodium_memzero) before it
// goes back, so every free slot is all zeros. Slabs are never returned: the
// arena stays at its high-water mark, a few KiB in the server.
// Regions for long-lived secrets cost a sodium_malloc each, paid once per
// open store, and buy a read-only page: a stray write cannot change the KEK
// that wraps every new DEK.
//
// Limits: at most kSlabsMax slabs (kKeysMax keys alive at once) and
// kRegionsMax regions. A Key32 is a local of one call or a member of an open
// store, so the keys alive are bounded by the threads running calls plus the
// stores open: a few dozen in the server. Reaching either cap can only be a
// leak (say, a key cache without a bound), a programmer error: ACC_ASSERT
// stops the process rather than hand out key memory that is not locked.
//
// mlock: sodium_malloc does not report a failed mlock, so the arena locks
// each slab and region again and looks at the result. Memory that cannot be
// locked (RLIMIT_MEMLOCK too low, as in many containers) is still used: the
// process writes one line to stderr (no key material) and goes on; those
// keys may then reach swap. Operators raise `ulimit -l` (docs/architecture.md,
// "Keys").
//
//   KeyArenaStats s = GetKeyArenaStats();    // s.keys_live, s.slabs_unlocked, ...
//   bool inside = IsKeyMemory(key.data());   // true for every Key32
//
// Thread safety: all functions are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace accountable::crypto {

inline constexpr size_t kSlabBytes = 4096;
inline constexpr size_t kSlabsMax = 256;
inline constexpr size_t kKeysMax = kSlabsMax * (kSlabBytes / 32);  // 32,768 keys, 1 MiB locked
inline constexpr size_t kRegionsMax = 256;

struct KeyArenaStats {
  size_t slabs = 0;             // slabs allocated, never returned
  size_t slabs_unlocked = 0;    // of those, slabs whose mlock failed
  size_t keys_live = 0;         // slots held by a Key32
  size_t keys_free = 0;         // wiped slots ready for reuse
  size_t regions = 0;           // live regions (read-only keys, LockedBytes)
  size_t regions_unlocked = 0;  // of those, regions whose mlock failed
};

KeyArenaStats GetKeyArenaStats();

// True when p points into a slab of the arena or a live region: memory that
// sodium_malloc guards and keeps out of core dumps (and locks, unless the
// stats say the mlock failed).
bool IsKeyMemory(const void* p);

namespace internal {
// For Key32 and LockedBytes only. A slot is 32 zero bytes; FreeSlot wipes it.
uint8_t* AllocateSlot();
void FreeSlot(uint8_t* slot);
// A region of `bytes` zero bytes; FreeRegion wipes and unmaps it (read-only
// or not). ReadOnly makes it read-only (sodium_mprotect_readonly).
uint8_t* AllocateRegion(size_t bytes);
void FreeRegion(uint8_t* region);
void ReadOnly(uint8_t* region);
}  // namespace internal

}  // namespace accountable::crypto
