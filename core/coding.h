// Fixed-width big-endian integers: keys built from them sort numerically,
// so RocksDB iteration order is seq / account order.
#pragma once

#include "events/assert.h"
#include <cstdint>
#include <string>
#include <string_view>

namespace accountable {

inline std::string EncodeBE64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i) {
    s[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return s;
}

inline uint64_t DecodeBE64(std::string_view s) {
  ACC_ASSERT(s.size() >= 8, "a BE64 field holds 8 bytes");
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}

}  // namespace accountable
