#include "projections/fold/policy.h"

#include <algorithm>

#include "core/coding.h"
#include "core/crypto.h"
#include "events/event.h"
#include "events/fields.h"
#include "events/vocabulary.h"
#include "projections/fold/projector.h"

namespace accountable::policy {

Status ParseVersion(std::string_view v, std::vector<uint32_t>* out) {
  const auto bad = [] {
    return Status::InvalidArgument("policy version: 1.." + std::to_string(kVersionComponentsMax) +
                                   " dot-separated numbers of 1.." + std::to_string(kComponentDigitsMax) +
                                   " digits, such as 1.02");
  };
  out->clear();
  size_t begin = 0;
  while (true) {
    const size_t dot = std::min(v.find('.', begin), v.size());
    const std::string_view part = v.substr(begin, dot - begin);
    if (part.empty() || part.size() > kComponentDigitsMax || out->size() == kVersionComponentsMax) return bad();
    uint32_t n = 0;
    for (char c : part) {
      if (c < '0' || c > '9') return bad();
      n = n * 10 + static_cast<uint32_t>(c - '0');
    }
    out->push_back(n);
    if (dot == v.size()) return Status::OK();
    begin = dot + 1;
  }
}

Status CheckVersion(std::string_view v) {
  std::vector<uint32_t> components;
  return ParseVersion(v, &components);
}

int CompareVersions(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const uint32_t x = i < a.size() ? a[i] : 0, y = i < b.size() ? b[i] : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

// seq, published_at_ms, effective_at_ms (BE64 each), then the 32-byte digest.
constexpr size_t kRowBytes = 3 * 8 + 32;

std::string EncodeRow(const Row& r) {
  std::string out = EncodeBE64(r.seq) + EncodeBE64(static_cast<uint64_t>(r.published_at_ms)) +
                    EncodeBE64(static_cast<uint64_t>(r.effective_at_ms));
  out += r.text_sha256;
  return out;
}

Status DecodeRow(std::string_view b, Row* r) {
  if (b.size() != kRowBytes) return Status::Corruption("policy row of " + std::to_string(b.size()) + " bytes");
  r->seq = DecodeBE64(b.substr(0, 8));
  r->published_at_ms = static_cast<int64_t>(DecodeBE64(b.substr(8, 8)));
  r->effective_at_ms = static_cast<int64_t>(DecodeBE64(b.substr(16, 8)));
  r->text_sha256 = std::string(b.substr(24));
  return Status::OK();
}

Status CheckSuccessor(std::string_view current_version, const Row& current, std::string_view version,
                      int64_t effective_at_ms) {
  std::vector<uint32_t> cur, next;
  ACC_RETURN_IF_ERROR(ParseVersion(current_version, &cur));
  ACC_RETURN_IF_ERROR(ParseVersion(version, &next));
  const std::string names = "policy version " + std::string(version) + " and the current version " +
                            std::string(current_version);
  const int c = CompareVersions(next, cur);
  if (c == 0) return Status::Refused(names + " are the same version (components compare as integers)");
  if (c < 0) return Status::Refused(names + ": versions only go forward");
  if (effective_at_ms < current.effective_at_ms)
    return Status::Refused("policy version " + std::string(version) + " would take effect before the current version " +
                           std::string(current_version) + " (" + events::FormatTime(current.effective_at_ms) + ")");
  return Status::OK();
}

namespace {

// Reads the PolicyPublished event a row points to.
Status ReadEvent(Ledger& ledger, const std::string& version, const Row& row, bool with_text, Info* out) {
  std::vector<Ledger::Stored> ev;
  ACC_RETURN_IF_ERROR(ledger.ReadRange(row.seq, 1, &ev));
  events::EventView v;
  if (ev.empty() || ev[0].seq != row.seq || !events::EventView::Parse(ev[0].envelope, &v).ok() ||
      v.type() != fb::Payload::PolicyPublished)
    return Status::Corruption("policy version " + version + ": event " + std::to_string(row.seq) + " is unreadable");
  auto* p = v.envelope()->payload_as_PolicyPublished();
  out->version = version;
  out->row = row;
  out->summary = events::StringOrEmpty(p->summary());
  out->text = with_text ? events::StringOrEmpty(p->text()) : "";
  return Status::OK();
}

}  // namespace

Status Read(Ledger& ledger, std::string_view version, bool with_text, Info* out) {
  std::string v(version);
  // Checked before any lookup so that whatever a caller typed (it could be
  // anything, an e-mail address included) is never echoed in the error.
  std::vector<uint32_t> components;
  if (!v.empty()) ACC_RETURN_IF_ERROR(ParseVersion(v, &components));
  if (v.empty()) {
    Status s = ledger.Get(Cf::kMeta, kMetaPolicyCurrent, &v);
    if (s.Is(Status::Code::kNotFound)) return Status::NotFound("no policy version was published");
    ACC_RETURN_IF_ERROR(s);
  }
  std::string bytes;
  Status s = ledger.Get(Cf::kMeta, std::string(kMetaPolicyPrefix) + v, &bytes);
  if (s.Is(Status::Code::kNotFound)) return Status::NotFound("policy version " + v + " was never published");
  ACC_RETURN_IF_ERROR(s);
  Row row;
  ACC_RETURN_IF_ERROR(DecodeRow(bytes, &row));
  return ReadEvent(ledger, v, row, with_text, out);
}

namespace {

Status Rows(Ledger& ledger, std::vector<std::pair<std::string, Row>>* out) {
  Status bad;
  ACC_RETURN_IF_ERROR(ledger.Scan(Cf::kMeta, kMetaPolicyPrefix, [&](std::string_view k, std::string_view v) {
    Row row;
    bad = DecodeRow(v, &row);
    if (!bad.ok()) return false;
    out->emplace_back(std::string(k.substr(kMetaPolicyPrefix.size())), row);
    return true;
  }));
  ACC_RETURN_IF_ERROR(bad);
  // Publication order is version order: the projector lets versions only go forward.
  std::sort(out->begin(), out->end(), [](const auto& a, const auto& b) { return a.second.seq < b.second.seq; });
  return Status::OK();
}

}  // namespace

Status List(Ledger& ledger, std::vector<Info>* out) {
  std::vector<std::pair<std::string, Row>> rows;
  ACC_RETURN_IF_ERROR(Rows(ledger, &rows));
  out->clear();
  if (rows.size() > kListMax) rows.erase(rows.begin(), rows.end() - static_cast<std::ptrdiff_t>(kListMax));
  for (const auto& [version, row] : rows) {
    Info info;
    ACC_RETURN_IF_ERROR(ReadEvent(ledger, version, row, false, &info));
    out->push_back(std::move(info));
  }
  return Status::OK();
}

Status InEffectAt(Ledger& ledger, int64_t at_ms, std::optional<std::string>* version) {
  std::vector<std::pair<std::string, Row>> rows;
  ACC_RETURN_IF_ERROR(Rows(ledger, &rows));
  version->reset();
  for (const auto& [v, row] : rows)
    if (row.effective_at_ms <= at_ms) *version = v;
  return Status::OK();
}

nlohmann::ordered_json Describe(const Info& info, bool with_text) {
  nlohmann::ordered_json j{{"version", info.version},
                           {"effective_at", events::FormatTime(info.row.effective_at_ms)},
                           {"published_at", events::FormatTime(info.row.published_at_ms)},
                           {"summary", info.summary},
                           {"text_sha256", crypto::ToHex(info.row.text_sha256)},
                           {"seq", info.row.seq}};
  if (with_text) j["text"] = info.text;
  return j;
}

}  // namespace accountable::policy
