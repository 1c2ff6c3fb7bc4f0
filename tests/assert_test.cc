// ACC_ASSERT stays on in every build type (this suite builds as Release,
// with NDEBUG) and stops the process with the invariant's name, not a value.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <string>

#include "events/assert.h"
#include "tests/child_process.h"

namespace {

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
  const int status = accountable::test::RunChild([] { Broken(); return 0; }, &text);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  CHECK(text.find("assertion failed: leaves > 1") != std::string::npos);
  CHECK(text.find("a split needs two or more leaves") != std::string::npos);
  CHECK(text.find("assert_test.cc") != std::string::npos);
}

TEST_CASE("assert: ACC_ASSERT on a true condition does nothing", "[assert]") {
  std::string text;
  const int status = accountable::test::RunChild([] { Holds(); return 0; }, &text);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(text.empty());
}
