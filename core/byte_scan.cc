#include "core/byte_scan.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>

namespace accountable {

Status ScanDirectory(const std::string& dir, const std::vector<std::string>& needles, ScanReport* out) {
  *out = ScanReport();
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(dir, ec), end;
  if (ec) return Status::IOError("cannot list " + dir);
  for (; it != end; it.increment(ec)) {
    if (ec) return Status::IOError("cannot list " + dir);
    if (!it->is_regular_file(ec)) continue;
    std::ifstream f(it->path(), std::ios::binary);
    if (!f) continue;  // deleted between listing and opening
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    ++out->files_scanned;
    out->bytes_scanned += bytes.size();
    std::string_view hay(bytes);
    uint64_t file_hits = 0;
    for (const auto& n : needles) {
      if (n.empty()) continue;
      for (size_t pos = hay.find(n); pos != std::string_view::npos; pos = hay.find(n, pos + 1))
        ++file_hits;
    }
    if (file_hits) {
      out->hits += file_hits;
      out->hit_files.push_back(it->path().filename().string());
    }
  }
  return Status::OK();
}

}  // namespace accountable
