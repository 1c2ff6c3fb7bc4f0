// CrashPoint: fault injection for the crash-recovery tests.
//
//   CrashPoint("erase:after_delete");   // dies here if told to, else no-op
//
// When the environment variable ACCOUNTABLE_CRASH_AT equals the point's
// name, the process sends itself SIGKILL at that point: no destructors, no
// flush, exactly like power loss after the preceding fsync. Tests use it to
// prove that every multi-step sequence (such as docs/architecture.md,
// "Erasure") is finished at next open.
// Unset in production, where each call is one getenv and a compare.
//
// FaultPoint is for points on a hot path that a test reaches many times
// before the fault is wanted (the server's read loop, say):
//
//   if (FaultPoint("session:throw")) throw std::logic_error("injected");
//
// It is true when ACCOUNTABLE_CRASH_AT is "name@N" and this is the N-th time
// (counted from 1, over all threads) the point is reached; "name" alone means
// "name@1". The caller decides what the fault is. The variable is read once
// per process, so unset it costs a compare of a cached pointer.
//
// Thread safety: thread-safe.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace accountable {

inline void CrashPoint(const char* name) {
  const char* want = std::getenv("ACCOUNTABLE_CRASH_AT");
  if (want != nullptr && std::strcmp(want, name) == 0) ::kill(::getpid(), SIGKILL);
}

namespace crash_point_internal {
inline bool FaultPointSlow(const char* want, const char* name) {
  const size_t n = std::strlen(name);
  if (std::strncmp(want, name, n) != 0) return false;
  uint64_t nth = 1;
  if (want[n] == '@') {
    nth = std::strtoull(want + n + 1, nullptr, 10);
  } else if (want[n] != '\0') {
    return false;
  }
  static std::atomic<uint64_t> reached{0};
  return reached.fetch_add(1) + 1 == nth;
}
}  // namespace crash_point_internal

inline bool FaultPoint(const char* name) {
  static const char* const want = std::getenv("ACCOUNTABLE_CRASH_AT");
  return want != nullptr && crash_point_internal::FaultPointSlow(want, name);
}

}  // namespace accountable
