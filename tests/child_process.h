// Tests that expect a process to die (an assertion, a read-only page) run
// the dying code in a forked child and look at how it ended.
//
//   std::string out;
//   const int status = test::RunChild([] { Broken(); return 0; }, &out);
//   CHECK(WIFSIGNALED(status));
//
// Not thread-safe with respect to other forks of the test process; the child
// runs only fn and never returns into Catch2.
#pragma once

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <functional>
#include <string>

namespace accountable::test {

// Runs fn in a child (its result is the exit code) with no core file and the
// default SIGSEGV/SIGABRT actions (Catch2's handlers would report an expected
// signal as a failure); the child's stdout and stderr go to *output. Returns
// the wait status.
inline int RunChild(const std::function<int()>& fn, std::string* output) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    std::signal(SIGSEGV, SIG_DFL);
    std::signal(SIGABRT, SIG_DFL);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    _exit(fn());
  }
  close(fds[1]);
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) output->append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return status;
}

}  // namespace accountable::test
