// Shared by the benchmark programs: argument lists. Not a test, not a library.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace accountable::bench {

// "1,4,16" -> {1, 4, 16}; nullopt on anything else (or a 0 unless allowed),
// so each program can print its own usage.
inline std::optional<std::vector<size_t>> ParseList(const std::string& s, bool allow_zero = false) {
  std::vector<size_t> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    char* end = nullptr;
    const std::string item = s.substr(pos, comma - pos);
    const unsigned long v = std::strtoul(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || (v == 0 && !allow_zero)) return std::nullopt;
    out.push_back(v);
    pos = comma + 1;
  }
  return out;
}

}  // namespace accountable::bench
