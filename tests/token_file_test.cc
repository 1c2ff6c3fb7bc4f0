// The token file (server/daemon/token_file.h) and `accountable token`:
// digests only at rest, the one-time conversion of a plaintext file, clear
// errors that never quote a token, and a refused edit that changes nothing.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/crypto.h"
#include "server/daemon/server.h"
#include "server/daemon/token_file.h"
#include "tests/server_test_util.h"

namespace {

using namespace accountable;
using Code = Status::Code;

std::string Hex(std::string_view token) { return crypto::ToHex(tokens::Digest(token)); }

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

TEST_CASE("tokens: a plaintext token file is converted to digests once", "[tokens]") {
  test::TempDir dir;
  const std::string path = dir.Sub("tokens");
  test::WriteSecretFile(path, "# old format\n" + test::kWriterToken + " writer\n" + test::kAuditorToken +
                                  " auditor extra words\n" + test::kAdminToken + " admin\n");
  std::vector<tokens::Entry> entries;
  size_t converted = 0;
  REQUIRE(tokens::Load(path, &entries, &converted).ok());
  CHECK(converted == 3);
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].name == "writer-1");
  CHECK(entries[1].name == "auditor-1");
  CHECK(entries[2].name == "admin-1");
  CHECK(entries[0].digest == tokens::Digest(test::kWriterToken));
  const std::string bytes = test::Slurp(path);
  for (const std::string& t : {test::kWriterToken, test::kAuditorToken, test::kAdminToken}) {
    CHECK_FALSE(test::Contains(bytes, t));
    CHECK(test::Contains(bytes, "sha256:" + Hex(t)));
  }
  CHECK(ModeOf(path) == 0600);
  // Read again: nothing left to convert, the same entries.
  std::vector<tokens::Entry> again;
  REQUIRE(tokens::Load(path, &again, &converted).ok());
  CHECK(converted == 0);
  REQUIRE(again.size() == 3);
  CHECK(again[1].digest == entries[1].digest);
  CHECK(test::Slurp(path) == bytes);
  // LoadTokens (the server's view) agrees.
  std::map<std::string, wire::Role> digests;
  REQUIRE(LoadTokens(path, &digests).ok());
  CHECK(digests.at(tokens::Digest(test::kAuditorToken)) == wire::Role::Auditor);
}

TEST_CASE("tokens: converted names skip names already taken", "[tokens]") {
  test::TempDir dir;
  const std::string path = dir.Sub("tokens");
  test::WriteSecretFile(path, "sha256:" + Hex("some-other-token-0123") + " writer writer-1\n" + test::kWriterToken +
                                  " writer\n");
  std::vector<tokens::Entry> entries;
  size_t converted = 0;
  REQUIRE(tokens::Load(path, &entries, &converted).ok());
  CHECK(converted == 1);
  REQUIRE(entries.size() == 2);
  CHECK(entries[1].name == "writer-2");
}

TEST_CASE("tokens: a bad line is refused by number, never quoted, and the file is left as it was", "[tokens]") {
  test::TempDir dir;
  const std::string path = dir.Sub("tokens");
  const std::string good = "sha256:" + Hex(test::kWriterToken) + " writer w\n";
  struct Case {
    std::string text, says;
  };
  const std::vector<Case> cases = {
      {good + test::kAdminToken + " root\n", "line 2: role must be writer, auditor or admin"},
      {good + "sha256:" + Hex(test::kAdminToken) + " admin\n", "line 2: expected exactly three words"},
      {good + "sha256:" + Hex(test::kAdminToken) + " admin a b\n", "line 2: expected exactly three words"},
      {good + "sha256:" + std::string(64, 'z') + " admin a\n", "line 2: the digest must be 64 hex digits"},
      {good + "sha256:" + Hex(test::kAdminToken).substr(2) + " admin a\n", "line 2: the digest must be"},
      {good + "sha256:" + Hex(test::kAdminToken) + " admin w\n", "line 2: the name is used by another line"},
      {good + "sha256:" + Hex(test::kAdminToken) + " admin bad/name\n", "line 2: bad name"},
      {good + "\n# a comment\n" + test::kWriterToken + " admin\n", "line 4: the same token as line 1"},
      {good + "short-token writer\n", "line 2: token shorter than 16 bytes"},
      {good + test::kAdminToken + "\n", "line 2: role must be"},
  };
  for (const Case& c : cases) {
    test::WriteSecretFile(path, c.text);
    std::vector<tokens::Entry> entries;
    size_t converted = 0;
    Status s = tokens::Load(path, &entries, &converted);
    INFO(c.text);
    INFO(s.ToString());
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(test::Contains(s.message(), path));
    CHECK(test::Contains(s.message(), c.says));
    CHECK_FALSE(test::Contains(s.message(), test::kAdminToken));
    CHECK_FALSE(test::Contains(s.message(), Hex(test::kAdminToken)));
    CHECK(test::Slurp(path) == c.text);  // not converted, not truncated
  }
  std::vector<tokens::Entry> entries;
  size_t converted = 0;
  CHECK(tokens::Load(dir.Sub("missing"), &entries, &converted).code() == Code::kNotFound);
}

TEST_CASE("tokens: Add, Revoke and Save keep a 0600 file of digests", "[tokens]") {
  test::TempDir dir;
  const std::string path = dir.Sub("keys/tokens");  // Add creates the directory
  std::string token;
  REQUIRE(tokens::Add(path, wire::Role::Auditor, "ci.audit-1", &token).ok());
  CHECK(token.size() == 2 * tokens::kNewTokenRandomBytes);
  CHECK(ModeOf(path) == 0600);
  CHECK(ModeOf(dir.Sub("keys")) == 0700);
  CHECK_FALSE(test::Contains(test::Slurp(path), token));
  std::string other;
  CHECK(tokens::Add(path, wire::Role::Writer, "ci.audit-1", &other).code() == Code::kInvalidArgument);
  CHECK(other.empty());
  CHECK(tokens::Add(path, wire::Role::None, "x", &other).code() == Code::kInvalidArgument);
  CHECK(tokens::Add(path, wire::Role::Writer, "", &other).code() == Code::kInvalidArgument);
  CHECK(tokens::Add(path, wire::Role::Writer, std::string(65, 'a'), &other).code() == Code::kInvalidArgument);
  REQUIRE(tokens::Add(path, wire::Role::Writer, "web", &other).ok());
  CHECK(other != token);
  std::vector<tokens::Entry> entries;
  size_t converted = 0;
  REQUIRE(tokens::Load(path, &entries, &converted).ok());
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].digest == tokens::Digest(token));
  CHECK(entries[1].role == wire::Role::Writer);
  CHECK(tokens::Revoke(path, "nobody").code() == Code::kNotFound);
  REQUIRE(tokens::Revoke(path, "ci.audit-1").ok());
  REQUIRE(tokens::Load(path, &entries, &converted).ok());
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].name == "web");
  CHECK_FALSE(test::Contains(test::Slurp(path), Hex(token)));
}

}  // namespace
