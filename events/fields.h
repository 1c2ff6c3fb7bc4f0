// Fields: reading string fields of FlatBuffers tables (events and wire
// messages) without repeating the null check at every use.
//
// FlatBuffers stores no bytes for a string field that was never set, and its
// accessor then returns nullptr rather than an empty string. Most readers
// treat "absent" and "empty" alike; a few (a profile update, where an absent
// field means "leave it as it is") must keep them apart.
//
//   const fb::Registered* p = env->payload_as_Registered();
//   std::string policy = events::StringOrEmpty(p->policy_version());
//   std::optional<std::string> email = events::OptionalString(body->email());  // wire::Update
//
// Thread safety: stateless; safe from any thread (the buffer must outlive the call).
#pragma once

#include <optional>
#include <string>

#include <flatbuffers/flatbuffers.h>

namespace accountable::events {

// The field's bytes, or "" when the field was never set.
inline std::string StringOrEmpty(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

// The field's bytes, or nullopt when the field was never set: for readers
// where an absent field means something else than an empty one.
inline std::optional<std::string> OptionalString(const flatbuffers::String* s) {
  return s ? std::optional<std::string>(s->str()) : std::nullopt;
}

}  // namespace accountable::events
