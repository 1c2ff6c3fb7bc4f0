#include "projections/fold/rebuild.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "core/crypto.h"
#include "core/scratch_store.h"
#include "projections/fold/activity.h"
#include "projections/fold/projector.h"

namespace accountable {
namespace {

// Events between two writes of the scratch store: each write costs one
// memtable insert per row the page changed, whatever the number of events.
constexpr size_t kReplayPageEvents = 65536;
constexpr std::string_view kMetaFormatKey = "format_version";  // written by core, not the projector
constexpr std::string_view kMetaHeadKey = "sth/latest";        // a signature over the log, not a projection

bool SameRow(Cf cf, const std::string& a, std::string_view b) {
  if (cf != Cf::kActivity) return a == b;
  // Encodings may differ in container choice: compare contents. Not with
  // Roaring64Map::operator== or its iterators: in CRoaring 0.2.66 both read
  // past the end when a bitmap holds an emptied inner bitmap (the `live` row
  // after every account was erased).
  Roaring64Map x, y;
  if (!DecodeBitmap(a, &x) || !DecodeBitmap(b, &y) || x.cardinality() != y.cardinality()) return false;
  std::vector<uint64_t> xs(x.cardinality()), ys(y.cardinality());
  x.toUint64Array(xs.data());
  y.toUint64Array(ys.data());
  return xs == ys;
}

bool Excluded(Cf cf, std::string_view key) {
  return cf == Cf::kMeta && (key == kMetaFormatKey || key == kMetaHeadKey);
}

// Every rebuilt row is live and equal, then every live row was rebuilt:
// two key-ordered scans with point lookups, so memory stays O(one row).
Status Compare(Ledger& ledger, ScratchStore& rebuilt, Cf cf, const char* name, uint64_t* rows, std::string* diff) {
  Status inner;
  ACC_RETURN_IF_ERROR(rebuilt.Scan(cf, [&](std::string_view k, std::string_view v) {
    std::string live;
    inner = ledger.Get(cf, k, &live);
    if (inner.Is(Status::Code::kNotFound)) {
      inner = Status::OK();
      *diff = std::string(name) + ": replay has a row live does not (key " + crypto::ToHex(k) + ")";
    } else if (inner.ok() && !SameRow(cf, live, v)) {
      *diff = std::string(name) + ": row " + crypto::ToHex(k) + " differs";
    }
    return inner.ok() && diff->empty();
  }));
  ACC_RETURN_IF_ERROR(inner);
  if (!diff->empty()) return Status::OK();
  ACC_RETURN_IF_ERROR(ledger.Scan(cf, "", [&](std::string_view k, std::string_view) {
    if (Excluded(cf, k)) return true;
    ++*rows;
    std::string ignored;
    inner = rebuilt.Get(cf, k, &ignored);
    if (inner.Is(Status::Code::kNotFound)) {
      inner = Status::OK();
      *diff = std::string(name) + ": live has a row the replay does not (key " + crypto::ToHex(k) + ")";
    }
    return inner.ok() && diff->empty();
  }));
  return inner;
}

std::string ScratchDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "accountable-rebuild-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return "";
  std::filesystem::remove(tmpl);  // ScratchStore creates it itself
  return tmpl;
}

// Events 1..last through one Projector into `rebuilt`, flushed every page.
// One read-ahead scan, no copy of any envelope: the Projector, not reading,
// should bound the replay.
Status Replay(Ledger& ledger, uint64_t last, uint64_t page_events, ScratchStore& rebuilt, uint64_t* events) {
  Projector projector;
  uint64_t next = 1;
  Status inner;
  auto flush = [&] {
    Status fs = rebuilt.Flush();
    return fs.ok() ? fs : Status::Corruption("replay: " + fs.message());
  };
  ACC_RETURN_IF_ERROR(ledger.ScanEvents(1, [&](uint64_t seq, std::string_view envelope) {
    if (seq > last) return false;
    if (seq != next) {
      inner = Status::Corruption("seq " + std::to_string(next) + " is missing");
      return false;
    }
    events::EventView v;
    inner = events::EventView::Parse(envelope, &v);
    if (!inner.ok()) return false;
    Status s = projector.Apply(v, rebuilt);
    if (!s.ok()) {
      inner = Status::Corruption("replay refused event " + std::to_string(seq) + ": " + s.message());
      return false;
    }
    ++next;
    if (seq % page_events == 0) inner = flush();
    return inner.ok();
  }));
  ACC_RETURN_IF_ERROR(inner);
  if (next <= last) return Status::Corruption("seq " + std::to_string(next) + " is missing");
  *events = last;
  return flush();
}

}  // namespace

Status RebuildCheck(Ledger& ledger, RebuildReport* out, const std::string& scratch_dir, uint64_t page_events) {
  *out = RebuildReport();
  const std::string dir = scratch_dir.empty() ? ScratchDir() : scratch_dir;
  if (dir.empty()) return Status::IOError("cannot make a scratch directory for the rebuild");
  std::unique_ptr<ScratchStore> rebuilt;
  ACC_RETURN_IF_ERROR(ScratchStore::Open({.dir = dir, .activity_merge = MergeActivity}, &rebuilt));
  const uint64_t last = ledger.LastSeq();  // fixed at the start: a live writer may go on
  ACC_RETURN_IF_ERROR(Replay(ledger, last, page_events == 0 ? kReplayPageEvents : page_events, *rebuilt, &out->events));
  const std::pair<Cf, const char*> cfs[] = {{Cf::kAccounts, "accounts"}, {Cf::kActivity, "activity"}, {Cf::kMeta, "meta"}};
  uint64_t* counts[] = {&out->accounts, &out->activity_rows, &out->meta_rows};
  for (size_t i = 0; i < 3 && out->first_difference.empty(); ++i)
    ACC_RETURN_IF_ERROR(Compare(ledger, *rebuilt, cfs[i].first, cfs[i].second, counts[i], &out->first_difference));
  if (!out->first_difference.empty()) return Status::Corruption("projections differ: " + out->first_difference);
  return Status::OK();
}

}  // namespace accountable
