#include "events/event.h"

#include <array>
#include "events/assert.h"
#include <cstring>

namespace accountable::events {

EnvelopeBuilder::EnvelopeBuilder() : fbb_(512) {}

flatbuffers::Offset<fb::Sealed> EnvelopeBuilder::Sealed(fb::KeyKind kind, std::string_view box) {
  auto vec = fbb_.CreateVector(reinterpret_cast<const uint8_t*>(box.data()), box.size());
  return fb::CreateSealed(fbb_, kind, vec);
}

std::string EnvelopeBuilder::Finish(const Header& h, fb::Payload type,
                                    flatbuffers::Offset<void> payload) {
  auto rid = fbb_.CreateString(h.request_id);
  auto pv = fbb_.CreateString(h.policy_version);
  fb::EnvelopeBuilder eb(fbb_);
  // Zero-valued scalars are omitted by default; seq and recorded_at must be
  // physically present so the sequencer can patch them in place.
  fbb_.ForceDefaults(true);
  eb.add_seq(0);
  eb.add_recorded_at_ms(0);
  fbb_.ForceDefaults(false);
  eb.add_account_id(h.account_id);
  eb.add_occurred_at_ms(h.occurred_at_ms);
  eb.add_actor(h.actor);
  eb.add_request_id(rid);
  eb.add_policy_version(pv);
  eb.add_payload_type(type);
  eb.add_payload(payload);
  fb::FinishEnvelopeBuffer(fbb_, eb.Finish());
  std::string out(reinterpret_cast<const char*>(fbb_.GetBufferPointer()), fbb_.GetSize());
  fbb_.Clear();
  return out;
}

bool PatchSequence(std::string* bytes, uint64_t seq, int64_t recorded_at_ms) {
  auto* env = fb::GetMutableEnvelope(bytes->data());
  return env->mutate_seq(seq) && env->mutate_recorded_at_ms(recorded_at_ms);
}

Status EventView::Parse(std::string_view bytes, EventView* out) {
  if (bytes.size() > kEnvelopeBytesMax) return Status::Corruption("envelope larger than the limit");
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (!fb::VerifyEnvelopeBuffer(v)) return Status::Corruption("envelope failed verification");
  const fb::Envelope* env = fb::GetEnvelope(bytes.data());
  auto t = env->payload_type();
  if (t == fb::Payload::NONE || t > fb::Payload::MAX || env->payload() == nullptr)
    return Status::Corruption("envelope has no known payload");
  out->env_ = env;
  out->bytes_ = bytes;
  return Status::OK();
}

EventView EventView::FromVerified(std::string_view bytes) {
  EventView v;
  v.env_ = fb::GetEnvelope(bytes.data());
  v.bytes_ = bytes;
  ACC_ASSERT(v.env_->payload() != nullptr, "FromVerified takes only bytes Parse accepted");
  return v;
}

const fb::Sealed* EventView::sealed() const {
  switch (type()) {
    case fb::Payload::Registered: return env_->payload_as_Registered()->pii();
    case fb::Payload::LoginSucceeded: return env_->payload_as_LoginSucceeded()->pii();
    case fb::Payload::LoginFailed: return env_->payload_as_LoginFailed()->pii();
    case fb::Payload::ProfileUpdated: return env_->payload_as_ProfileUpdated()->pii();
    case fb::Payload::CredentialsChanged: return env_->payload_as_CredentialsChanged()->pii();
    case fb::Payload::AccessLogged: return env_->payload_as_AccessLogged()->pii();
    case fb::Payload::DisclosureRecorded: return env_->payload_as_DisclosureRecorded()->pii();
    default: return nullptr;
  }
}

std::string_view PayloadName(fb::Payload t) {
  static constexpr std::array<std::string_view, 23> kNames = {
      "none",           "registered",          "login_succeeded",     "login_failed",
      "consent_given",  "consent_withdrawn",   "profile_updated",     "credentials_changed",
      "access_requested", "deletion_requested", "deletion_cancelled", "account_erased",
      "erasure_verified", "disclosure_recorded", "policy_published",  "access_logged",
      "recipient_registered", "activity_recorded", "retention_notice_sent", "kek_rotated",
      "signing_key_rotated", "replica_joined", "replica_erasure_verified"};
  auto i = static_cast<size_t>(t);
  return i < kNames.size() ? kNames[i] : "unknown";
}

static constexpr std::array<std::string_view, 6> kPurposes = {
    "privacy_policy", "cookies_preferences", "cookies_analytics_marketing",
    "surveys",        "notifications",       "third_party_forwarding"};

std::string_view PurposeName(fb::Purpose p) {
  auto i = static_cast<size_t>(p);
  return i < kPurposes.size() ? kPurposes[i] : "unknown";
}

std::optional<fb::Purpose> ParsePurpose(std::string_view name) {
  for (size_t i = 0; i < kPurposes.size(); ++i)
    if (kPurposes[i] == name) return static_cast<fb::Purpose>(i);
  return std::nullopt;
}

std::string_view ActorName(fb::Actor a) {
  switch (a) {
    case fb::Actor::Holder: return "holder";
    case fb::Actor::Admin: return "admin";
    case fb::Actor::System: return "system";
    case fb::Actor::Import: return "import";
    case fb::Actor::ImportAdmin: return "import_admin";
  }
  return "unknown";
}

std::string_view ErasureReasonName(fb::ErasureReason r) {
  switch (r) {
    case fb::ErasureReason::UserRequest: return "user_request";
    case fb::ErasureReason::RetentionInactive: return "retention_inactive";
    case fb::ErasureReason::Admin: return "admin";
  }
  return "unknown";
}

}  // namespace accountable::events
