#include "projections/service/json_fields.h"

namespace accountable::json_fields {

template <class Json>
const Json& MemberOrNull(const Json& j, const char* key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

template <class Json>
bool HasMemberOfType(const Json& j, const char* key, ValueType type) {
  const Json& m = MemberOrNull(j, key);
  if (m.type() == type && !m.is_null()) return true;
  return type == ValueType::number_unsigned && m.is_number_integer() && m.template get<int64_t>() >= 0;
}

template <class Json>
std::string StringOrEmpty(const Json& j, const char* key) {
  const Json& m = MemberOrNull(j, key);
  return m.is_string() ? m.template get<std::string>() : std::string();
}

template <class Json>
std::optional<std::string> StringIfPresent(const Json& j, const char* key) {
  const Json& m = MemberOrNull(j, key);
  if (!m.is_string()) return std::nullopt;
  return m.template get<std::string>();
}

template <class Json>
uint64_t UnsignedOrZero(const Json& j, const char* key) {
  const Json& m = MemberOrNull(j, key);
  return m.is_number_unsigned() ? m.template get<uint64_t>() : 0;
}

template <class Json>
Status GetOptionalString(const Json& j, const char* key, std::optional<std::string>* out) {
  out->reset();
  if (!j.is_object() || !j.contains(key)) return Status::OK();
  const Json& m = j.at(key);
  if (!m.is_string()) return Status::InvalidArgument(std::string(key) + ": must be a string");
  *out = m.template get<std::string>();
  return Status::OK();
}

template <class Json>
Status GetRequiredPositive(const Json& j, const char* key, uint64_t* out) {
  const Json& m = MemberOrNull(j, key);
  if (!m.is_number_unsigned() || m.template get<uint64_t>() == 0)
    return Status::InvalidArgument(std::string(key) + ": required, a positive integer");
  *out = m.template get<uint64_t>();
  return Status::OK();
}

// The two JSON types the code uses; the definitions stay here so the header
// stays light.
#define ACC_JSON_FIELDS_INSTANTIATE(Json)                                                   \
  template const Json& MemberOrNull(const Json&, const char*);                              \
  template bool HasMemberOfType(const Json&, const char*, ValueType);                       \
  template std::string StringOrEmpty(const Json&, const char*);                             \
  template std::optional<std::string> StringIfPresent(const Json&, const char*);            \
  template uint64_t UnsignedOrZero(const Json&, const char*);                               \
  template Status GetOptionalString(const Json&, const char*, std::optional<std::string>*); \
  template Status GetRequiredPositive(const Json&, const char*, uint64_t*);

ACC_JSON_FIELDS_INSTANTIATE(nlohmann::json)
ACC_JSON_FIELDS_INSTANTIATE(nlohmann::ordered_json)

#undef ACC_JSON_FIELDS_INSTANTIATE

}  // namespace accountable::json_fields
