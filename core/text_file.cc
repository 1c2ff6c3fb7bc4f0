#include "core/text_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

namespace accountable {
namespace {

Status WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IOError(std::strerror(errno));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

}  // namespace

Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open directory " + dir + ": " + std::strerror(errno));
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::OK() : Status::IOError("cannot fsync directory " + dir);
}

Status WriteFileAtomically(const std::string& path, std::string_view bytes, mode_t mode) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const std::string dir = parent.empty() ? "." : parent.string();
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // left by a crash in the middle of an earlier write
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return Status::IOError("cannot write " + path + ": cannot create " + tmp + ": " + std::strerror(errno));
  // fchmod: the mode asked for, whatever the umask.
  Status s = ::fchmod(fd, mode) == 0 ? WriteAll(fd, bytes) : Status::IOError(std::strerror(errno));
  if (s.ok() && ::fsync(fd) != 0) s = Status::IOError(std::strerror(errno));
  ::close(fd);
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) s = Status::IOError(std::strerror(errno));
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return Status::IOError("cannot write " + path + ": " + s.message());
  }
  return SyncDirectory(dir);
}

namespace textdoc {

bool ParseU64(std::string_view text, uint64_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size() &&
         text.find_first_not_of("0123456789") == std::string_view::npos;
}

// "name value" with exactly this name; the value may hold spaces (erasure lines).
bool Field(std::string_view line, std::string_view name, std::string_view* value) {
  if (line.size() <= name.size() || line.substr(0, name.size()) != name || line[name.size()] != ' ') return false;
  *value = line.substr(name.size() + 1);
  return true;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
  return lines;
}

}  // namespace textdoc
}  // namespace accountable
