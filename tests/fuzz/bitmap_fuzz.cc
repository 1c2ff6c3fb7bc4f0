// fuzz-bitmap: the activity index's Roaring reader (projections/fold/
// activity.h). The bytes are a stored row or merge operand: DecodeBitmap
// (the portable-layout walk, then CRoaring's readSafe), and the merge
// functions RocksDB calls with rows and operands. What must hold: no crash or
// sanitizer report in our code or in what ASan sees of CRoaring (its memcpy
// calls), a decoded bitmap encodes and decodes to the same bytes, and a merge
// that succeeds leaves a row that decodes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "projections/fold/activity.h"

namespace {

void Require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz-bitmap: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accountable;
  if (size > (1 << 20)) return -1;
  // A std::string: RocksDB values are not aligned either, and DecodeBitmap
  // must cope; the offset-1 body after the prefix byte is never aligned.
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  Roaring64Map b;
  if (DecodeBitmap(bytes, &b)) {
    // Compared by encoding: Roaring64Map::operator== of CRoaring 0.2.66 reads
    // past the end of its map when one holds an empty inner bitmap (see
    // projections/fold/rebuild.cc), and a run-encoded input may hold billions.
    const std::string encoded = EncodeBitmap(b);
    Roaring64Map again;
    Require(DecodeBitmap(encoded, &again) && EncodeBitmap(again) == encoded, "a decoded bitmap does not round-trip");
  }
  std::string row;
  if (MergeActivity(&bytes, {}, &row)) {
    Roaring64Map merged;
    Require(DecodeBitmap(row, &merged), "a merged row does not decode");
  }
  const std::string base = EncodeBitmap(Roaring64Map());
  const std::vector<std::string_view> ops = {bytes};
  if (MergeActivity(&base, ops, &row)) {
    Roaring64Map merged;
    Require(DecodeBitmap(row, &merged), "a merged row does not decode");
  }
  (void)PartialMergeActivity(ops, &row);
  return 0;
}
