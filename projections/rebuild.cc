#include "projections/rebuild.h"

#include <map>
#include <vector>

#include "core/crypto.h"
#include "projections/activity.h"
#include "projections/projector.h"

namespace accountable {
namespace {

constexpr size_t kReplayPageEvents = 4096;
constexpr std::string_view kMetaFormatKey = "format_version";  // written by core, not the projector
constexpr std::string_view kMetaHeadKey = "sth/latest";        // a signature over the log, not a projection

// A GroupTx over plain maps; merges are folded at once with the same function the DB uses.
class MemoryTx final : public GroupTx {
 public:
  Status Get(Cf cf, std::string_view key, std::string* value) override {
    auto& m = rows_[static_cast<size_t>(cf)];
    auto it = m.find(std::string(key));
    if (it == m.end()) return Status::NotFound("no such row");
    *value = it->second;
    return Status::OK();
  }
  void Put(Cf cf, std::string_view key, std::string_view value) override {
    rows_[static_cast<size_t>(cf)][std::string(key)] = std::string(value);
  }
  void Delete(Cf cf, std::string_view key) override { rows_[static_cast<size_t>(cf)].erase(std::string(key)); }
  void Merge(Cf cf, std::string_view key, std::string_view operand) override {
    auto& m = rows_[static_cast<size_t>(cf)];
    auto it = m.find(std::string(key));
    std::string out;
    if (!MergeActivity(it == m.end() ? nullptr : &it->second, {operand}, &out)) merge_failed_ = true;
    m[std::string(key)] = std::move(out);
  }
  const std::map<std::string, std::string>& rows(Cf cf) const { return rows_[static_cast<size_t>(cf)]; }
  bool merge_failed() const { return merge_failed_; }

 private:
  std::map<std::string, std::string> rows_[4];
  bool merge_failed_ = false;
};

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

Status Compare(Ledger& ledger, const MemoryTx& tx, Cf cf, const char* name, uint64_t* rows, std::string* diff) {
  const auto& want = tx.rows(cf);
  auto it = want.begin();
  Status s = ledger.Scan(cf, "", [&](std::string_view k, std::string_view v) {
    if (cf == Cf::kMeta && (k == kMetaFormatKey || k == kMetaHeadKey)) return true;
    ++*rows;
    if (it == want.end() || it->first != k) {
      *diff = std::string(name) + ": live has a row the replay does not (key " + crypto::ToHex(k) + ")";
      return false;
    }
    if (!SameRow(cf, it->second, v)) {
      *diff = std::string(name) + ": row " + crypto::ToHex(k) + " differs";
      return false;
    }
    ++it;
    return true;
  });
  ACC_RETURN_IF_ERROR(s);
  if (diff->empty() && it != want.end())
    *diff = std::string(name) + ": replay has a row live does not (key " + crypto::ToHex(it->first) + ")";
  return Status::OK();
}

}  // namespace

Status RebuildCheck(Ledger& ledger, RebuildReport* out) {
  *out = RebuildReport();
  Projector projector;
  MemoryTx tx;
  std::vector<Ledger::Stored> page;
  for (uint64_t from = 1;; from += page.size()) {
    ACC_RETURN_IF_ERROR(ledger.ReadRange(from, kReplayPageEvents, &page));
    for (auto& st : page) {
      events::EventView v;
      ACC_RETURN_IF_ERROR(events::EventView::Parse(st.envelope, &v));
      Status s = projector.Apply(v, tx);
      if (!s.ok()) return Status::Corruption("replay refused event " + std::to_string(st.seq) + ": " + s.message());
      ++out->events;
    }
    if (page.size() < kReplayPageEvents) break;
  }
  if (tx.merge_failed()) return Status::Corruption("replay produced an unreadable activity operand");
  ACC_RETURN_IF_ERROR(Compare(ledger, tx, Cf::kAccounts, "accounts", &out->accounts, &out->first_difference));
  if (out->first_difference.empty())
    ACC_RETURN_IF_ERROR(Compare(ledger, tx, Cf::kActivity, "activity", &out->activity_rows, &out->first_difference));
  if (out->first_difference.empty())
    ACC_RETURN_IF_ERROR(Compare(ledger, tx, Cf::kMeta, "meta", &out->meta_rows, &out->first_difference));
  if (!out->first_difference.empty()) return Status::Corruption("projections differ: " + out->first_difference);
  return Status::OK();
}

}  // namespace accountable
