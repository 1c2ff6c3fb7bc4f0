#include "projections/validate/validate.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <memory>
#include <string>
#include <vector>


namespace accountable::validate {

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
    else return false;
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    static constexpr std::array<uint32_t, 4> kMin = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

Status Text(std::string_view field, std::string_view value, size_t max_bytes, bool optional) {
  std::string f(field);
  if (value.empty()) return optional ? Status::OK() : Status::InvalidArgument(f + ": required");
  if (value.size() > max_bytes)
    return Status::InvalidArgument(f + ": longer than " + std::to_string(max_bytes) + " bytes");
  if (!IsValidUtf8(value)) return Status::InvalidArgument(f + ": not valid UTF-8");
  for (unsigned char c : value)
    if (c < 0x20 || c == 0x7F) return Status::InvalidArgument(f + ": contains control characters");
  return Status::OK();
}

namespace {

// Calls fn for each code point of valid UTF-8 until it returns true; says whether it did.
template <typename Fn>
bool AnyCodePoint(std::string_view s, Fn fn) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto n = static_cast<int32_t>(s.size());
  for (int32_t i = 0; i < n;) {
    UChar32 c;
    U8_NEXT(p, i, n, c);
    if (c < 0 || fn(c)) return true;
  }
  return false;
}

// Invisible: what renders as nothing or reorders text (U+00AD, U+200B..U+200F,
// U+202A..U+202E, U+2060..U+2064, U+2066..U+2069, U+FEFF, ...).
bool Invisible(UChar32 c) {
  return u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) || u_hasBinaryProperty(c, UCHAR_BIDI_CONTROL) ||
         u_charType(c) == U_FORMAT_CHAR;
}

// C0, DEL and C1 controls, and the Unicode line and paragraph separators.
bool Control(UChar32 c) {
  const int8_t t = u_charType(c);
  return t == U_CONTROL_CHAR || t == U_LINE_SEPARATOR || t == U_PARAGRAPH_SEPARATOR;
}

Status EmailCodePoints(std::string_view v) {
  if (AnyCodePoint(v, Control)) return Status::InvalidArgument("email: contains control characters");
  if (AnyCodePoint(v, Invisible))
    return Status::InvalidArgument("email: contains invisible or bidirectional control characters");
  // Unassigned code points may gain a case or a decomposition in a later
  // Unicode version, which would change an account's canonical form.
  if (AnyCodePoint(v, [](UChar32 c) {
        const int8_t t = u_charType(c);
        return t == U_UNASSIGNED || t == U_PRIVATE_USE_CHAR || t == U_SURROGATE;
      }))
    return Status::InvalidArgument("email: contains unassigned or private-use characters");
  return Status::OK();
}

Status NfkcCasefold(std::string_view v, std::string* out) {
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFKCCasefoldInstance(err);
  if (U_FAILURE(err)) return Status::IOError("email: Unicode normalization data unavailable");
  icu::UnicodeString folded =
      n->normalize(icu::UnicodeString::fromUTF8(icu::StringPiece(v.data(), static_cast<int32_t>(v.size()))), err);
  if (U_FAILURE(err)) return Status::InvalidArgument("email: cannot be normalized");
  out->clear();
  folded.toUTF8String(*out);
  return Status::OK();
}

// A host name of LDH labels (letters, digits, hyphens; no hyphen at either end).
bool AsciiHostName(std::string_view d) {
  if (d.size() < 3 || d.size() > 253 || d.find('.') == std::string_view::npos) return false;
  size_t begin = 0;
  while (begin <= d.size()) {
    const size_t dot = std::min(d.find('.', begin), d.size());
    const std::string_view label = d.substr(begin, dot - begin);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    begin = dot + 1;
  }
  return true;
}

Status AsciiDomain(const std::string& domain, std::string* out) {
  const auto bad = [] { return Status::InvalidArgument("email: domain must be a dotted host name"); };
  if (domain.empty() || domain.size() > 253) return bad();
  // libidn2 drops some ASCII (an '_') instead of failing: that would give two
  // addresses one account, so the ASCII part of a domain is LDH or refused.
  for (unsigned char c : domain)
    if (c < 0x80 && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return bad();
  char* ascii = nullptr;
  const int rc = idn2_to_ascii_8z(domain.c_str(), &ascii, IDN2_NONTRANSITIONAL | IDN2_USE_STD3_ASCII_RULES);
  std::unique_ptr<char, decltype(&idn2_free)> owned(ascii, &idn2_free);
  if (rc != IDN2_OK || !ascii)
    return Status::InvalidArgument("email: domain is not a valid internationalized domain name");
  out->assign(ascii);
  for (char& c : *out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return AsciiHostName(*out) ? Status::OK() : bad();
}

}  // namespace

Status CanonicalEmail(std::string_view v, std::string* canonical) {
  ACC_RETURN_IF_ERROR(Text("email", v, kEmailBytesMax));
  ACC_RETURN_IF_ERROR(EmailCodePoints(v));
  std::string folded;
  ACC_RETURN_IF_ERROR(NfkcCasefold(v, &folded));
  // Split after folding: compatibility forms such as U+FF20 fold to '@'.
  const size_t at = folded.find('@');
  if (at == std::string::npos || at == 0 || folded.find('@', at + 1) != std::string::npos)
    return Status::InvalidArgument("email: must be local@domain");
  const std::string local = folded.substr(0, at);
  if (local.size() > 64) return Status::InvalidArgument("email: local part longer than 64 bytes");
  for (unsigned char c : local)
    if (c <= ' ' || c == '<' || c == '>' || c == ',' || c == ';' || c == ':' || c == '"' || c == '\\' ||
        c == '(' || c == ')' || c == '[' || c == ']')
      return Status::InvalidArgument("email: contains a character not allowed in an address");
  std::string domain;
  ACC_RETURN_IF_ERROR(AsciiDomain(folded.substr(at + 1), &domain));
  *canonical = local + "@" + domain;
  if (canonical->size() > kEmailBytesMax)
    return Status::InvalidArgument("email: longer than " + std::to_string(kEmailBytesMax) + " bytes once canonical");
  return Status::OK();
}

Status Email(std::string_view v) {
  std::string canonical;
  return CanonicalEmail(v, &canonical);
}

Status Nickname(std::string_view v) {
  ACC_RETURN_IF_ERROR(Text("nickname", v, kNicknameBytesMax));
  if (AnyCodePoint(v, Control)) return Status::InvalidArgument("nickname: contains control characters");
  if (AnyCodePoint(v, [](UChar32 c) { return u_hasBinaryProperty(c, UCHAR_BIDI_CONTROL) != 0; }))
    return Status::InvalidArgument("nickname: contains bidirectional control characters");
  if (!AnyCodePoint(v, [](UChar32 c) { return !u_isUWhiteSpace(c) && !Invisible(c); }))
    return Status::InvalidArgument("nickname: blank once invisible characters are removed");
  return Status::OK();
}

Status Gender(std::string_view v) {
  for (std::string_view g : {"female", "male", "diverse", "unspecified"})
    if (v == g) return Status::OK();
  return Status::InvalidArgument("gender: must be one of female, male, diverse, unspecified");
}

Status Birthdate(std::string_view v, int64_t today_ms) {
  auto bad = [] { return Status::InvalidArgument("birthdate: must be a real date YYYY-MM-DD"); };
  if (v.size() != 10 || v[4] != '-' || v[7] != '-') return bad();
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (v[i] < '0' || v[i] > '9') return bad();
  int y = std::stoi(std::string(v.substr(0, 4)));
  unsigned m = std::stoul(std::string(v.substr(5, 2)));
  unsigned d = std::stoul(std::string(v.substr(8, 2)));
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{m}, day{d}};
  if (!ymd.ok()) return bad();
  if (y < 1900) return Status::InvalidArgument("birthdate: before 1900");
  auto days = sys_days(ymd).time_since_epoch().count();
  if (days * 86400000LL > today_ms) return Status::InvalidArgument("birthdate: in the future");
  return Status::OK();
}

Status Ip(std::string_view v) {
  std::string s(v);
  unsigned char buf[16];
  if (!s.empty() && (inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1))
    return Status::OK();
  return Status::InvalidArgument("ip: not an IPv4 or IPv6 address");
}

Status Password(std::string_view v) {
  if (v.size() < kPasswordBytesMin)
    return Status::InvalidArgument("password: shorter than " + std::to_string(kPasswordBytesMin) + " bytes");
  if (v.size() > kPasswordBytesMax)
    return Status::InvalidArgument("password: longer than " + std::to_string(kPasswordBytesMax) + " bytes");
  if (!IsValidUtf8(v)) return Status::InvalidArgument("password: not valid UTF-8");
  return Status::OK();
}

}  // namespace accountable::validate
