// Policy versions: their ordering, the meta row each published version
// leaves behind, and the reads (one version with its text, or all of them)
// that the CLI and the server share.
//
// Ordering (docs/events.md, "Policy versions"): a version is 1..8
// dot-separated components of 1..9 decimal digits, compared component by
// component as integers, a missing component counting as 0. So 1.2 < 1.10,
// and 1.01, 1.1 and 1.1.0 are one version written three ways: a second
// spelling of a published version is refused, never taken for a new one.
//
//   std::vector<uint32_t> a, b;
//   if (policy::ParseVersion("1.2", &a).ok() && policy::ParseVersion("1.10", &b).ok())
//     assert(policy::CompareVersions(a, b) < 0);
//   policy::Info p;
//   Status s = policy::Read(ledger, "", true, &p);   // the current version, with its text
//
// Thread safety: pure functions, and readers over the Ledger's thread-safe reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/ledger.h"
#include "events/status.h"

namespace accountable::policy {

// The text travels inside one envelope (events::kEnvelopeBytesMax, 64 KiB).
inline constexpr size_t kTextBytesMax = 48 * 1024;
inline constexpr size_t kSummaryBytesMax = 1024;
inline constexpr size_t kVersionComponentsMax = 8;
inline constexpr size_t kComponentDigitsMax = 9;  // fits uint32_t
// List returns at most this many (the newest), so that the list fits one
// wire frame; a ledger publishes a handful of versions a year.
inline constexpr size_t kListMax = 500;

// InvalidArgument unless v follows the grammar above.
Status ParseVersion(std::string_view v, std::vector<uint32_t>* components);
// ParseVersion without the components: input validation.
Status CheckVersion(std::string_view v);
// <0, 0, >0 as a is older than, the same version as, or newer than b.
int CompareVersions(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b);

// The meta row "policy/v/<version>" (Cf::kMeta), written by the Projector.
struct Row {
  uint64_t seq = 0;                // the PolicyPublished event
  int64_t published_at_ms = 0;
  int64_t effective_at_ms = 0;
  std::string text_sha256;         // 32 bytes
};
std::string EncodeRow(const Row& row);
Status DecodeRow(std::string_view bytes, Row* row);

// The rule for a new version after `current` (Refused with the reason):
// greater under the ordering, and in effect no earlier than the current one.
Status CheckSuccessor(std::string_view current_version, const Row& current, std::string_view version,
                      int64_t effective_at_ms);

struct Info {
  std::string version;
  Row row;
  std::string summary;
  std::string text;                // empty unless asked for
};

// One version (empty: the current one); NotFound if never published.
Status Read(Ledger& ledger, std::string_view version, bool with_text, Info* out);
// Every version (the newest kListMax), in publication order, which is also
// version order, without texts.
Status List(Ledger& ledger, std::vector<Info>* out);
// The newest version in effect at at_ms (effective date <= at_ms); nullopt if none.
Status InEffectAt(Ledger& ledger, int64_t at_ms, std::optional<std::string>* version);
// The JSON shape of `policy show` / `policy list` and of the wire reads.
nlohmann::ordered_json Describe(const Info& info, bool with_text);

}  // namespace accountable::policy
