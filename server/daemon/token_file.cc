// TokenFile: parsing, the plaintext-to-digest conversion, atomic rewrites.
#include "server/daemon/token_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "core/crypto.h"
#include "core/text_file.h"

namespace accountable::tokens {

namespace {

constexpr std::string_view kPrefix = "sha256:";
constexpr size_t kDigestBytes = 32;
constexpr std::string_view kHeader =
    "# accountabled tokens, one per line: sha256:<digest of the token> <role> <name>.\n"
    "# Edit with `accountable token add|list|revoke`, then SIGHUP accountabled.\n";

// The next whitespace-separated word of *line, consumed.
std::string_view NextWord(std::string_view* line) {
  const size_t from = line->find_first_not_of(" \t\r");
  if (from == std::string_view::npos) {
    *line = {};
    return {};
  }
  line->remove_prefix(from);
  const size_t to = std::min(line->find_first_of(" \t\r"), line->size());
  std::string_view word = line->substr(0, to);
  line->remove_prefix(to);
  return word;
}

Status LineError(const std::string& path, size_t n, const std::string& what) {
  return Status::InvalidArgument(path + " line " + std::to_string(n) + ": " + what);
}

// One line that is neither blank nor a comment. The text is never quoted:
// a plaintext line holds a token.
Status ParseLine(std::string_view line, const std::string& path, size_t n, Entry* e, bool* legacy) {
  const std::string_view first = NextWord(&line);
  const std::string_view role = NextWord(&line);
  *legacy = first.substr(0, kPrefix.size()) != kPrefix;
  if (!ParseRole(role, &e->role).ok()) return LineError(path, n, "role must be writer, auditor or admin");
  if (*legacy) {  // "TOKEN ROLE [ignored words]": the format before digests
    if (first.size() < kTokenBytesMin) return LineError(path, n, "token shorter than 16 bytes");
    e->digest = Digest(first);
    return Status::OK();
  }
  const std::string_view name = NextWord(&line);
  if (name.empty() || !NextWord(&line).empty())
    return LineError(path, n, "expected exactly three words: sha256:<64 hex digits> ROLE NAME");
  if (!crypto::FromHex(first.substr(kPrefix.size()), kDigestBytes, &e->digest))
    return LineError(path, n, "the digest must be 64 hex digits after sha256:");
  if (!CheckName(name).ok()) return LineError(path, n, "bad name (1..64 of A-Z a-z 0-9 . _ -)");
  e->name = std::string(name);
  return Status::OK();
}

// Every entry of text; *legacy lists the indexes of plaintext lines (no name yet).
Status ParseAll(std::string_view text, const std::string& path, std::vector<Entry>* out,
                std::vector<size_t>* legacy) {
  std::map<std::string, size_t> line_of_digest;
  std::set<std::string> names;
  for (size_t n = 1; !text.empty(); ++n) {
    const size_t eol = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(std::min(eol + 1, text.size()));
    std::string_view probe = line;
    const std::string_view first = NextWord(&probe);
    if (first.empty() || first[0] == '#') continue;
    Entry e;
    bool is_legacy = false;
    ACC_RETURN_IF_ERROR(ParseLine(line, path, n, &e, &is_legacy));
    if (out->size() >= kEntriesMax) return LineError(path, n, "more than 10000 tokens");
    auto [it, fresh] = line_of_digest.emplace(e.digest, n);
    if (!fresh) return LineError(path, n, "the same token as line " + std::to_string(it->second));
    if (!is_legacy && !names.insert(e.name).second) return LineError(path, n, "the name is used by another line");
    if (is_legacy) legacy->push_back(out->size());
    out->push_back(std::move(e));
  }
  return Status::OK();
}

Status Read(const std::string& path, std::vector<Entry>* out, std::vector<size_t>* legacy) {
  std::string text;
  Status s = crypto::ReadSecretFile(path, kFileBytesMax, &text);
  if (s.Is(Status::Code::kNotFound)) return Status::NotFound("token file " + path + " does not exist");
  ACC_RETURN_IF_ERROR(s);
  s = ParseAll(text, path, out, legacy);
  crypto::Wipe(&text);  // a plaintext file's tokens
  return s;
}

// Names converted lines <role>-<n>, the lowest n not taken.
void NameLegacy(std::vector<Entry>* entries, const std::vector<size_t>& legacy) {
  std::set<std::string> taken;
  for (const Entry& e : *entries) taken.insert(e.name);
  for (size_t i : legacy) {
    Entry& e = (*entries)[i];
    for (size_t n = 1; e.name.empty() || !taken.insert(e.name).second; ++n)
      e.name = std::string(wire::RoleName(e.role)) + "-" + std::to_string(n);
  }
}

// An exclusive flock on path.lock, held while the object lives.
class WriteLock {
 public:
  explicit WriteLock(const std::string& path) {
    fd_ = ::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      status_ = Status::IOError("cannot open " + path + ".lock: " + std::strerror(errno));
      return;
    }
    int r;
    while ((r = ::flock(fd_, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (r != 0) status_ = Status::IOError("cannot lock " + path + ".lock: " + std::strerror(errno));
  }
  ~WriteLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;
  const Status& status() const { return status_; }

 private:
  int fd_ = -1;
  Status status_;
};

// Read, converting a plaintext file. The caller holds the WriteLock.
Status LoadLocked(const std::string& path, std::vector<Entry>* out, size_t* converted) {
  std::vector<size_t> legacy;
  ACC_RETURN_IF_ERROR(Read(path, out, &legacy));
  *converted = legacy.size();
  if (legacy.empty()) return Status::OK();
  NameLegacy(out, legacy);
  return Save(path, *out);
}

}  // namespace

std::string Digest(std::string_view token) { return crypto::Sha256(token); }

Status ParseRole(std::string_view text, wire::Role* out) {
  *out = text == "writer" ? wire::Role::Writer : text == "auditor" ? wire::Role::Auditor
         : text == "admin" ? wire::Role::Admin : wire::Role::None;
  if (*out == wire::Role::None) return Status::InvalidArgument("role must be writer, auditor or admin");
  return Status::OK();
}

Status CheckName(std::string_view name) {
  const bool ok = !name.empty() && name.size() <= kNameBytesMax &&
                  name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
                      std::string_view::npos;
  if (!ok) return Status::InvalidArgument("a token name is 1 to 64 of A-Z a-z 0-9 . _ -");
  return Status::OK();
}

Status Load(const std::string& path, std::vector<Entry>* out, size_t* converted) {
  std::vector<Entry> entries;
  std::vector<size_t> legacy;
  ACC_RETURN_IF_ERROR(Read(path, &entries, &legacy));
  *converted = 0;
  if (!legacy.empty()) {  // rare (once per old file): read again under the lock, then rewrite
    WriteLock lock(path);
    ACC_RETURN_IF_ERROR(lock.status());
    entries.clear();
    ACC_RETURN_IF_ERROR(LoadLocked(path, &entries, converted));
  }
  *out = std::move(entries);
  return Status::OK();
}

Status Save(const std::string& path, const std::vector<Entry>& entries) {
  std::string text(kHeader);
  for (const Entry& e : entries)
    text += std::string(kPrefix) + crypto::ToHex(e.digest) + " " + std::string(wire::RoleName(e.role)) + " " + e.name + "\n";
  return WriteFileAtomically(path, text, 0600);
}

std::string NewToken() {
  std::string raw = crypto::RandomBytes(kNewTokenRandomBytes);
  std::string token = crypto::ToHex(raw);
  crypto::Wipe(&raw);
  return token;
}

Status Add(const std::string& path, wire::Role role, const std::string& name, std::string* token) {
  ACC_RETURN_IF_ERROR(CheckName(name));
  if (role == wire::Role::None) return Status::InvalidArgument("role must be writer, auditor or admin");
  // A first token before the server's first start: the key directory too.
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (!ec) std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    if (ec) return Status::IOError("cannot create directory " + dir.string() + ": " + ec.message());
  }
  WriteLock lock(path);
  ACC_RETURN_IF_ERROR(lock.status());
  std::vector<Entry> entries;
  size_t converted = 0;
  Status s = LoadLocked(path, &entries, &converted);
  if (!s.ok() && !s.Is(Status::Code::kNotFound)) return s;
  for (const Entry& e : entries)
    if (e.name == name) return Status::InvalidArgument("a token named " + name + " exists already in " + path);
  if (entries.size() >= kEntriesMax) return Status::InvalidArgument(path + " holds 10000 tokens already");
  *token = NewToken();
  entries.push_back(Entry{Digest(*token), role, name});
  s = Save(path, entries);
  if (!s.ok()) crypto::Wipe(token);
  return s;
}

Status Revoke(const std::string& path, const std::string& name) {
  ACC_RETURN_IF_ERROR(CheckName(name));
  WriteLock lock(path);
  ACC_RETURN_IF_ERROR(lock.status());
  std::vector<Entry> entries;
  size_t converted = 0;
  ACC_RETURN_IF_ERROR(LoadLocked(path, &entries, &converted));
  const auto it = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.name == name; });
  if (it == entries.end()) return Status::NotFound("no token named " + name + " in " + path);
  entries.erase(it);
  return Save(path, entries);
}

}  // namespace accountable::tokens
