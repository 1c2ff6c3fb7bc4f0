// Input validation for lifecycle commands. Every check names the field, never
// echoes its value: values may be PII and must not reach logs or errors.
//
//   std::string canonical;
//   Status s = validate::CanonicalEmail(email, &canonical);  // InvalidArgument("email: ...")
//
// Identity rules (docs/compliance.md): an e-mail address is compared in its
// canonical form, Unicode NFKC with case folding (ICU) and the domain as IDNA
// A-labels (libidn2, UTS #46 non-transitional, STD3 rules); addresses with
// controls, invisible (default-ignorable, format) or bidi control characters,
// unassigned or private-use code points are refused rather than cleaned, since
// a cleaned form would let two different-looking inputs name one account.
//
// Thread safety: pure functions (ICU's normalizer instance is immutable and shared).
#pragma once

#include <cstdint>
#include <string_view>

#include "events/status.h"

namespace accountable::validate {

// Limits on field sizes, in bytes of UTF-8.
inline constexpr size_t kNicknameBytesMax = 64;
inline constexpr size_t kEmailBytesMax = 254;        // RFC 5321 path limit
inline constexpr size_t kCompanyBytesMax = 128;
inline constexpr size_t kUserAgentBytesMax = 512;
inline constexpr size_t kPasswordBytesMin = 8;
inline constexpr size_t kPasswordBytesMax = 1024;
inline constexpr size_t kReasonBytesMax = 512;

bool IsValidUtf8(std::string_view s);

// Canonical e-mail: the key of uniqueness and of login by email. Fails for
// anything Email refuses; the same input always gives the same output.
Status CanonicalEmail(std::string_view value, std::string* canonical);

// Text: valid UTF-8, no control characters, 1..max bytes (0 allowed if optional).
Status Text(std::string_view field, std::string_view value, size_t max_bytes, bool optional = false);
Status Email(std::string_view value);
// Text, and no C1 controls, bidi controls or line separators, and not blank
// once white space and invisible characters are set aside.
Status Nickname(std::string_view value);
// female | male | diverse | unspecified
Status Gender(std::string_view value);
// YYYY-MM-DD, a real calendar day, not before 1900-01-01 and not after today_ms.
Status Birthdate(std::string_view value, int64_t today_ms);
// IPv4 or IPv6 literal.
Status Ip(std::string_view value);
Status Password(std::string_view value);

}  // namespace accountable::validate
