// ACC_ASSERT stays on in every build type (this suite builds as Release,
// with NDEBUG) and stops the process with the invariant's name, not a value.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <string>

#include "events/assert.h"

namespace {

// Runs fn in a child whose stderr goes to a pipe; returns the wait status.
int RunChild(void (*fn)(), std::string* stderr_text) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    fn();
    _exit(0);
  }
  close(fds[1]);
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) stderr_text->append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return status;
}

void Broken() {
  const int leaves = 0;
  ACC_ASSERT(leaves > 1, "a split needs two or more leaves");
}

void Holds() { ACC_ASSERT(2 > 1, "arithmetic holds"); }

}  // namespace

TEST_CASE("assert: ACC_ASSERT aborts with the invariant in every build type", "[assert]") {
#ifdef NDEBUG
  INFO("built with NDEBUG: <cassert> would be off here");
#endif
  std::string text;
  const int status = RunChild(Broken, &text);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  CHECK(text.find("assertion failed: leaves > 1") != std::string::npos);
  CHECK(text.find("a split needs two or more leaves") != std::string::npos);
  CHECK(text.find("assert_test.cc") != std::string::npos);
}

TEST_CASE("assert: ACC_ASSERT on a true condition does nothing", "[assert]") {
  std::string text;
  const int status = RunChild(Holds, &text);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(text.empty());
}
