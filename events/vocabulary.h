// Vocabulary: the closed sets of values that events may hold in plaintext
// beside the schema's enums: ISO 3166-1 alpha-2 country codes and the names
// of transfer safeguards; and the text form of times. A value outside these sets is refused at input, so
// nothing a caller types can reach the log through these fields.
//
//   if (!events::IsCountryCode("DE")) return Status::InvalidArgument(...);
//   auto s = events::ParseSafeguard("standard_contractual_clauses");  // Safeguard::StandardContractualClauses
//
// Thread safety: pure functions over constant tables.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "accountable_generated.h"

namespace accountable::events {

// Exactly the 249 officially assigned ISO 3166-1 alpha-2 codes (upper case).
// Reserved, user-assigned and withdrawn codes (EU, UK, XK, ZZ, AN...) are not.
bool IsCountryCode(std::string_view code);
inline constexpr size_t kCountryCodeCount = 249;

std::string_view SafeguardName(fb::Safeguard s);
std::optional<fb::Safeguard> ParseSafeguard(std::string_view name);

// A copy's node name (docs/replication.md): 1..64 of [A-Za-z0-9._-], so
// it can be written to the log as it is and never carries free text.
inline constexpr size_t kNodeNameBytesMax = 64;
bool IsNodeName(std::string_view name);

// The one text form of a time: RFC 3339 UTC with milliseconds,
// 2026-11-29T05:36:27.000Z, so that logs, JSON and errors sort and compare alike.
// Years 0000..9999 only: no command accepts a time outside them, but a stored
// or received envelope may carry any int64, and calendar arithmetic on it
// would overflow. Such a time is written as its number and "ms"
// ("-9223372036854775808ms"): shown as it is, never as a wrong date.
inline constexpr int64_t kFormatTimeMsMin = -62167219200000;  // 0000-01-01T00:00:00.000Z
inline constexpr int64_t kFormatTimeMsMax = 253402300799999;  // 9999-12-31T23:59:59.999Z
std::string FormatTime(int64_t ms);
// Accepts YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ and YYYY-MM-DDTHH:MM:SS.sssZ.
std::optional<int64_t> ParseTime(std::string_view text);

}  // namespace accountable::events
