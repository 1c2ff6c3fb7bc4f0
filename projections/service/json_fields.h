// JsonFields: typed reads of one member of a JSON object, for documents that
// come from outside (import lines, certificates, the server's answers), so
// that no reader indexes a missing key or trusts a member's type.
//
// Two families:
//  - Get*: a Status naming the field (InvalidArgument) when it is missing or
//    of the wrong type; for input a person wrote and must correct.
//  - *Or* / *IfPresent / MemberOrNull: a neutral value when the member is
//    missing or of another type; for readers that check the shape elsewhere
//    or whose check of the result catches a neutral value.
//
//   uint64_t id;
//   ACC_RETURN_IF_ERROR(json_fields::GetRequiredPositive(line, "account_id", &id));
//   std::string ip = json_fields::StringOrEmpty(line, "ip");
//
// A message names the key and never echoes the value, which may be personal
// data; pass only keys the program chose (or has checked against its own
// list), since the key is echoed. Every function works on nlohmann::json and
// nlohmann::ordered_json, and on any value: a non-object has no members.
//
// Thread safety: stateless; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "events/status.h"

namespace accountable::json_fields {

using ValueType = nlohmann::json::value_t;

// The member, or a null value: a const object's operator[] on a missing key
// is undefined behaviour.
template <class Json>
const Json& MemberOrNull(const Json& j, const char* key);

// True when the member exists with that type (never for ValueType::null). A non-negative number_integer
// counts as number_unsigned: a document built in C++ from an int64_t holds
// one, and the same document parsed from text holds an unsigned.
template <class Json>
bool HasMemberOfType(const Json& j, const char* key, ValueType type);

template <class Json>
std::string StringOrEmpty(const Json& j, const char* key);

// nullopt when the member is missing or not a string.
template <class Json>
std::optional<std::string> StringIfPresent(const Json& j, const char* key);

// 0 when the member is missing or not an unsigned number.
template <class Json>
uint64_t UnsignedOrZero(const Json& j, const char* key);

// nullopt when missing; "<key>: must be a string" when of another type.
template <class Json>
Status GetOptionalString(const Json& j, const char* key, std::optional<std::string>* out);

// "<key>: required, a positive integer" when missing, not an unsigned number,
// or 0 (ids and seqs start at 1).
template <class Json>
Status GetRequiredPositive(const Json& j, const char* key, uint64_t* out);

}  // namespace accountable::json_fields
