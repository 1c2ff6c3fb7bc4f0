// fuzz-envelope: the stored-event reader. The bytes are an event DB value as
// RocksDB hands it back: placed at an offset the first byte chooses (a block
// slice need not be 8-aligned), copied to aligned storage if needed
// (core/rocks_util.h Aligned), verified by events::EventView::Parse, then read
// the way every consumer reads a stored event: the account-state fold, the
// JSON description (which touches every field of every payload), the leaf
// hash. What must hold: nothing past Parse reads out of bounds or trips
// UBSan, whatever Parse accepts describes and folds, and the folded state
// reads back from its row encoding unchanged.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/merkle.h"
#include "core/rocks_util.h"
#include "events/event.h"
#include "projections/fold/account_state.h"
#include "projections/service/describe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accountable;
  if (size < 1 || size - 1 > events::kEnvelopeBytesMax) return -1;
  const size_t offset = data[0] % 8;
  std::string block(offset + size - 1, '\0');
  if (size > 1) std::memcpy(block.data() + offset, data + 1, size - 1);
  std::string scratch;
  const std::string_view value = Aligned(std::string_view(block).substr(offset), &scratch);
  events::EventView v;
  if (!events::EventView::Parse(value, &v).ok()) return 0;
  AccountState state, decoded;
  Apply(state, v);
  // The folded state is stored as a row; it must read back as itself.
  if (!DecodeState(EncodeState(state), &decoded).ok() || !(decoded == state)) std::abort();
  (void)IsHolderActivity(v);
  (void)v.sealed();
  (void)RenderLine(DescribeEvent(v));
  (void)merkle::LeafHash(v.bytes());
  return 0;
}
