#include "events/vocabulary.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>

namespace accountable::events {
namespace {

// ISO 3166-1 alpha-2, officially assigned codes as of the 2024 list (same as
// Debian iso-codes and tzdata iso3166.tab), sorted for binary search.
constexpr std::array<std::string_view, kCountryCodeCount> kCountries = {
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
};

constexpr std::array<std::string_view, 6> kSafeguards = {
    "none", "adequacy_decision", "standard_contractual_clauses", "binding_corporate_rules",
    "explicit_consent", "legal_obligation"};

}  // namespace

bool IsCountryCode(std::string_view code) {
  return code.size() == 2 && std::binary_search(kCountries.begin(), kCountries.end(), code);
}

std::string_view SafeguardName(fb::Safeguard s) {
  auto i = static_cast<size_t>(s);
  return i < kSafeguards.size() ? kSafeguards[i] : "unknown";
}

std::optional<fb::Safeguard> ParseSafeguard(std::string_view name) {
  for (size_t i = 0; i < kSafeguards.size(); ++i)
    if (kSafeguards[i] == name) return static_cast<fb::Safeguard>(i);
  return std::nullopt;
}

std::string FormatTime(int64_t ms) {
  using namespace std::chrono;
  if (ms < kFormatTimeMsMin || ms > kFormatTimeMsMax) return std::to_string(ms) + "ms";
  sys_time<milliseconds> tp{milliseconds{ms}};
  auto day = floor<days>(tp);
  year_month_day ymd{day};
  hh_mm_ss<milliseconds> t{tp - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02lld.%03lldZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), long(t.hours().count()),
                long(t.minutes().count()), static_cast<long long>(t.seconds().count()),
                static_cast<long long>(t.subseconds().count()));
  return buf;
}

std::optional<int64_t> ParseTime(std::string_view s) {
  using namespace std::chrono;
  auto num = [&](size_t pos, size_t len, int* out) {
    if (pos + len > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int y, mo, d, h = 0, mi = 0, se = 0, ms = 0;
  if (!num(0, 4, &y) || s.size() < 10 || s[4] != '-' || !num(5, 2, &mo) || s[7] != '-' ||
      !num(8, 2, &d))
    return std::nullopt;
  if (s.size() > 10) {
    if (s.size() < 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s.back() != 'Z' ||
        !num(11, 2, &h) || !num(14, 2, &mi) || !num(17, 2, &se))
      return std::nullopt;
    if (s.size() == 24) {
      if (s[19] != '.' || !num(20, 3, &ms)) return std::nullopt;
    } else if (s.size() != 20) {
      return std::nullopt;
    }
  }
  year_month_day ymd{year{y}, month{unsigned(mo)}, day{unsigned(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 59) return std::nullopt;
  auto tp = sys_days(ymd) + hours{h} + minutes{mi} + seconds{se} + milliseconds{ms};
  return duration_cast<milliseconds>(tp.time_since_epoch()).count();
}

bool IsNodeName(std::string_view name) {
  if (name.empty() || name.size() > kNodeNameBytesMax) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-'))
      return false;
  return true;
}

}  // namespace accountable::events
