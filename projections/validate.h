// Input validation for lifecycle commands. Every check names the field, never
// echoes its value: values may be PII and must not reach logs or errors.
//
//   Status s = ValidateEmail(email);   // InvalidArgument("email: ...") on failure
//
// Thread safety: pure functions.
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
inline constexpr size_t kPolicyVersionBytesMax = 32;

bool IsValidUtf8(std::string_view s);

// Text: valid UTF-8, no control characters, 1..max bytes (0 allowed if optional).
Status Text(std::string_view field, std::string_view value, size_t max_bytes, bool optional = false);
Status Email(std::string_view value);
// female | male | diverse | unspecified
Status Gender(std::string_view value);
// YYYY-MM-DD, a real calendar day, not before 1900-01-01 and not after today_ms.
Status Birthdate(std::string_view value, int64_t today_ms);
// IPv4 or IPv6 literal.
Status Ip(std::string_view value);
Status Password(std::string_view value);
Status PolicyVersion(std::string_view value);

}  // namespace accountable::validate
