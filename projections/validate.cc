#include "projections/validate.h"

#include <arpa/inet.h>

#include <array>
#include <cctype>
#include <chrono>
#include <string>

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

Status Email(std::string_view v) {
  ACC_RETURN_IF_ERROR(Text("email", v, kEmailBytesMax));
  size_t at = v.find('@');
  if (at == std::string_view::npos || at == 0 || v.find('@', at + 1) != std::string_view::npos)
    return Status::InvalidArgument("email: must be local@domain");
  std::string_view local = v.substr(0, at), domain = v.substr(at + 1);
  if (local.size() > 64) return Status::InvalidArgument("email: local part longer than 64 bytes");
  if (domain.size() < 3 || domain.find('.') == std::string_view::npos || domain.front() == '.' ||
      domain.back() == '.' || domain.find("..") != std::string_view::npos)
    return Status::InvalidArgument("email: domain must be a dotted host name");
  for (unsigned char c : v)
    if (c == ' ' || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' || c == '\\')
      return Status::InvalidArgument("email: contains a character not allowed in an address");
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

Status PolicyVersion(std::string_view v) {
  if (v.empty() || v.size() > kPolicyVersionBytesMax)
    return Status::InvalidArgument("policy version: 1.." + std::to_string(kPolicyVersionBytesMax) + " bytes");
  for (char c : v)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-'))
      return Status::InvalidArgument("policy version: only letters, digits, '.' and '-'");
  return Status::OK();
}

}  // namespace accountable::validate
