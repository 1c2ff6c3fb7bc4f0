// DisableCoreDumps: called first thing by the server and the CLI. A core
// dump would hold keys, token digests, passwords in flight and personal
// data, and would land wherever the system's core pattern says.
#pragma once

#include <sys/prctl.h>
#include <sys/resource.h>

namespace accountable {

// RLIMIT_CORE 0 (soft and hard, so the process cannot raise it again) and
// PR_SET_DUMPABLE 0, which also keeps other processes of the same user from
// attaching with ptrace or reading its memory through /proc. Returns false
// if either call failed; the caller logs it and goes on (the data is no
// worse off than before).
inline bool DisableCoreDumps() {
  const rlimit none{0, 0};
  const bool limited = ::setrlimit(RLIMIT_CORE, &none) == 0;
  const bool undumpable = ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0;
  return limited && undumpable;
}

}  // namespace accountable
