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
// Thread safety: thread-safe.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace accountable {

inline void CrashPoint(const char* name) {
  const char* want = std::getenv("ACCOUNTABLE_CRASH_AT");
  if (want != nullptr && std::strcmp(want, name) == 0) ::kill(::getpid(), SIGKILL);
}

}  // namespace accountable
