// TokenFile: the server's list of access tokens (KEY_DIR/tokens), shared by
// accountabled (which reads it at start-up and on SIGHUP) and the
// `accountable token` commands (which edit it). Only a SHA-256 digest of each
// token is stored, one line per token (docs/protocol.md, "Token file"):
//
//   sha256:<64 lowercase hex> <role> <name>
//
//   std::vector<tokens::Entry> entries;
//   size_t converted = 0;
//   Status s = tokens::Load(path, &entries, &converted);   // NotFound if missing
//   std::string token;                                      // shown once, then wiped
//   s = tokens::Add(path, wire::Role::Writer, "web-1", &token);
//   s = tokens::Revoke(path, "web-1");
//
// An older file of plaintext "TOKEN ROLE" lines is converted by Load: it is
// rewritten hashed (names <role>-<n>) and *converted says how many lines
// were. Every rewrite is atomic (a 0600 temp file, fsync, rename, fsync of
// the directory) and writers are serialized by an flock on PATH.lock, so two
// `token add` at once both land. Error messages name the file and line,
// never a token or a line's text.
//
// Thread safety: stateless functions; concurrent callers (threads or
// processes) are serialized by the lock file where they write.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "events/status.h"
#include "server/client/wire.h"

namespace accountable::tokens {

inline constexpr size_t kTokenBytesMin = 16;        // of a plaintext token (legacy lines)
inline constexpr size_t kNewTokenRandomBytes = 32;  // Add's tokens: 64 hex digits
inline constexpr size_t kNameBytesMax = 64;
inline constexpr size_t kEntriesMax = 10'000;
inline constexpr size_t kFileBytesMax = 1 << 20;

struct Entry {
  std::string digest;  // Digest(token): 32 raw bytes
  wire::Role role = wire::Role::None;
  std::string name;    // [A-Za-z0-9._-], 1..kNameBytesMax bytes, unique in the file
};

// SHA-256 of a token. Tokens carry at least 16 random bytes, so an unkeyed
// digest reveals nothing useful.
std::string Digest(std::string_view token);

// "writer" | "auditor" | "admin" (wire::RoleName's words); InvalidArgument
// naming the allowed values otherwise.
Status ParseRole(std::string_view text, wire::Role* out);
// InvalidArgument unless name is 1..kNameBytesMax of [A-Za-z0-9._-].
Status CheckName(std::string_view name);

// Reads path (mode 0600 or stricter, crypto::ReadSecretFile). Converts a
// plaintext file as described above. NotFound if it does not exist;
// InvalidArgument (file and line number) for a bad line, a duplicate name or
// token, more than kEntriesMax entries.
Status Load(const std::string& path, std::vector<Entry>* out, size_t* converted);

// Replaces path atomically with entries (mode 0600). Call under Lock.
Status Save(const std::string& path, const std::vector<Entry>& entries);

// A fresh token: kNewTokenRandomBytes from libsodium, hex-encoded.
std::string NewToken();

// Adds a new token of role under name (InvalidArgument if the name is taken
// or bad) and returns it in *token: the caller shows it once and wipes it.
// Creates the file if it does not exist.
Status Add(const std::string& path, wire::Role role, const std::string& name, std::string* token);
// Removes name's line; NotFound if no line has that name.
Status Revoke(const std::string& path, const std::string& name);

}  // namespace accountable::tokens
