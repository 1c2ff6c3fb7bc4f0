// ACC_ASSERT: a check for programmer errors that stays on in every build type.
//
// Operating errors (bad input, a refusing rule, a failing disk) are Status
// values; a broken invariant of our own code is not something a caller can
// handle, so it stops the process before it can write a wrong byte. Unlike
// <cassert>, NDEBUG does not remove it: Release is what runs in production.
//
//   uint64_t SplitPoint(uint64_t n) {
//     ACC_ASSERT(n > 1, "a split needs two or more leaves");
//     ...
//   }
//
// The message is a fixed string literal: it names the invariant, never a
// value, so no personal data can reach stderr or a core file through it.
//
// Thread safety: stateless; safe from any thread.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace accountable::detail {

[[noreturn]] inline void AssertFailed(const char* condition, const char* why, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: assertion failed: %s (%s)\n", file, line, condition, why);
  std::fflush(stderr);
  std::abort();
}

}  // namespace accountable::detail

#define ACC_ASSERT(condition, why)                                                        \
  do {                                                                                    \
    if (!(condition)) [[unlikely]]                                                        \
      ::accountable::detail::AssertFailed(#condition, why, __FILE__, __LINE__);           \
  } while (0)
