#include "projections/service/describe.h"

#include <cstdio>

#include "events/fields.h"
#include "events/vocabulary.h"

namespace accountable {

namespace {

using events::StringOrEmpty;

// Key rotations (key ids and public keys only, never a secret) and replication.
void DescribeKeyPayload(const events::EventView& e, nlohmann::ordered_json& j) {
  const fb::Envelope* env = e.envelope();
  auto hex = [](const flatbuffers::Vector<uint8_t>* v) {
    return v ? crypto::ToHex({reinterpret_cast<const char*>(v->data()), v->size()}) : std::string();
  };
  if (e.type() == fb::Payload::KekRotated) {
    auto* p = env->payload_as_KekRotated();
    j["old_kek_id"] = StringOrEmpty(p->old_kek_id());
    j["new_kek_id"] = StringOrEmpty(p->new_kek_id());
    j["rewrapped"] = p->rewrapped();
    j["files_scanned"] = p->files_scanned();
    j["hits"] = p->hits();
  } else if (e.type() == fb::Payload::SigningKeyRotated) {
    auto* p = env->payload_as_SigningKeyRotated();
    j["old_key_id"] = StringOrEmpty(p->old_key_id());
    j["new_key_id"] = StringOrEmpty(p->new_key_id());
    j["old_public_key"] = hex(p->old_public_key());
    j["new_public_key"] = hex(p->new_public_key());
    j["valid_from"] = events::FormatTime(p->valid_from_ms());
  } else if (e.type() == fb::Payload::ReplicaJoined) {
    j["node"] = StringOrEmpty(env->payload_as_ReplicaJoined()->node());
  } else if (e.type() == fb::Payload::ReplicaErasureVerified) {
    auto* p = env->payload_as_ReplicaErasureVerified();
    j["node"] = StringOrEmpty(p->node());
    j["erased_seq"] = p->erased_seq();
    j["files_scanned"] = p->files_scanned();
    j["bytes_scanned"] = p->bytes_scanned();
    j["hits"] = p->hits();
    j["compaction_passes"] = p->compaction_passes();
  }
}

void DescribeLifecyclePayload(const events::EventView& e, nlohmann::ordered_json& j);

// Payloads the account holder causes.
void DescribePayload(const events::EventView& e, nlohmann::ordered_json& j) {
  const fb::Envelope* env = e.envelope();
  switch (e.type()) {
    case fb::Payload::Registered: {
      auto* p = env->payload_as_Registered();
      j["accepted_policy"] = StringOrEmpty(p->policy_version());
      nlohmann::ordered_json c = nlohmann::ordered_json::array();
      if (p->consents())
        for (auto x : *p->consents()) c.push_back(events::PurposeName(x));
      j["consents"] = c;
      break;
    }
    case fb::Payload::LoginSucceeded:
      j["method"] = env->payload_as_LoginSucceeded()->method() == fb::LoginMethod::Email ? "email" : "account_id";
      break;
    case fb::Payload::LoginFailed:
      j["method"] = env->payload_as_LoginFailed()->method() == fb::LoginMethod::Email ? "email" : "account_id";
      break;
    case fb::Payload::ConsentGiven: {
      auto* p = env->payload_as_ConsentGiven();
      j["purpose"] = events::PurposeName(p->purpose());
      j["under_policy"] = StringOrEmpty(p->policy_version());
      j["implicit"] = p->implicit();
      break;
    }
    case fb::Payload::ConsentWithdrawn: {
      auto* p = env->payload_as_ConsentWithdrawn();
      j["purpose"] = events::PurposeName(p->purpose());
      j["under_policy"] = StringOrEmpty(p->policy_version());
      break;
    }
    case fb::Payload::ProfileUpdated: {
      auto* p = env->payload_as_ProfileUpdated();
      static constexpr const char* kFields[] = {"nickname", "email", "company", "gender", "birthdate"};
      nlohmann::ordered_json f = nlohmann::ordered_json::array();
      if (p->fields())
        for (auto x : *p->fields()) {
          auto i = static_cast<size_t>(x);
          f.push_back(i < 5 ? kFields[i] : "unknown");
        }
      j["fields"] = f;
      // The reason is sealed with the profile (DescribeEventPii opens it).
      if (p->has_reason()) j["reason"] = "sealed";
      break;
    }
    default:
      DescribeLifecyclePayload(e, j);
      break;
  }
}

// Payloads the ledger or staff cause (deletion, erasure, disclosure, policy, access logs).
void DescribeLifecyclePayload(const events::EventView& e, nlohmann::ordered_json& j) {
  const fb::Envelope* env = e.envelope();
  switch (e.type()) {
    case fb::Payload::DeletionRequested:
      j["grace_deadline"] = events::FormatTime(env->payload_as_DeletionRequested()->grace_deadline_ms());
      break;
    case fb::Payload::DeletionCancelled:
      j["grace_deadline"] = events::FormatTime(env->payload_as_DeletionCancelled()->grace_deadline_ms());
      break;
    case fb::Payload::AccountErased:
      j["reason"] = events::ErasureReasonName(env->payload_as_AccountErased()->reason());
      break;
    case fb::Payload::ErasureVerified: {
      auto* p = env->payload_as_ErasureVerified();
      j["erased_seq"] = p->erased_seq();
      j["files_scanned"] = p->files_scanned();
      j["bytes_scanned"] = p->bytes_scanned();
      j["hits"] = p->hits();
      j["compaction_passes"] = p->compaction_passes();
      break;
    }
    case fb::Payload::DisclosureRecorded: {
      auto* p = env->payload_as_DisclosureRecorded();
      j["recipient_id"] = p->recipient_id();
      j["country"] = StringOrEmpty(p->country());
      j["legal_basis"] = p->legal_basis() == fb::LegalBasis::Consent ? "consent" : "legal_obligation";
      j["safeguard"] = events::SafeguardName(p->safeguard_kind());
      // Free text is sealed under the account's key: readable with the vault
      // until erasure (DescribeEventPii), never from the log.
      j["purpose"] = "sealed";
      if (p->has_reference()) j["reference"] = "sealed";
      break;
    }
    case fb::Payload::RecipientRegistered: {
      auto* p = env->payload_as_RecipientRegistered();
      j["recipient_id"] = env->seq();
      j["name"] = StringOrEmpty(p->name());
      j["country"] = StringOrEmpty(p->country());
      break;
    }
    case fb::Payload::PolicyPublished: {
      auto* p = env->payload_as_PolicyPublished();
      j["version"] = StringOrEmpty(p->version());
      j["published_at"] = events::FormatTime(p->published_at_ms());
      j["effective_at"] = events::FormatTime(p->effective_at_ms() ? p->effective_at_ms() : p->published_at_ms());
      if (p->summary()) j["summary"] = p->summary()->str();
      if (p->text()) j["text_bytes"] = p->text()->size();  // `policy show VERSION` prints the text
      if (p->text_sha256())
        j["text_sha256"] = crypto::ToHex({reinterpret_cast<const char*>(p->text_sha256()->data()),
                                          p->text_sha256()->size()});
      break;
    }
    case fb::Payload::AccessLogged:
      j["day"] = env->payload_as_AccessLogged()->day();
      break;
    case fb::Payload::ActivityRecorded:
      j["day"] = env->payload_as_ActivityRecorded()->day();
      break;
    case fb::Payload::RetentionNoticeSent:
      j["due_at"] = events::FormatTime(env->payload_as_RetentionNoticeSent()->due_at_ms());
      break;
    default:
      DescribeKeyPayload(e, j);
      break;
  }
}

}  // namespace

nlohmann::ordered_json DescribeEvent(const events::EventView& e) {
  const fb::Envelope* env = e.envelope();
  nlohmann::ordered_json j;
  j["seq"] = env->seq();
  j["type"] = events::PayloadName(e.type());
  j["account_id"] = env->account_id();
  j["actor"] = events::ActorName(env->actor());
  j["occurred_at"] = events::FormatTime(env->occurred_at_ms());
  j["recorded_at"] = events::FormatTime(env->recorded_at_ms());
  j["request_id"] = StringOrEmpty(env->request_id());
  j["policy_version"] = StringOrEmpty(env->policy_version());
  DescribePayload(e, j);
  if (const fb::Sealed* s = e.sealed()) j["sealed_bytes"] = s->box() ? s->box()->size() : 0;
  return j;
}

nlohmann::ordered_json DescribeAccount(const AccountView& v) {
  const AccountState& s = v.state;
  nlohmann::ordered_json j;
  j["account_id"] = s.account_id;
  j["status"] = StatusName(s.status);
  j["display_name"] = v.display_name;
  j["registered_at"] = events::FormatTime(s.registered_at_ms);
  j["last_active_at"] = events::FormatTime(s.last_active_at_ms);
  j["accepted_policy"] = s.accepted_policy_version;
  j["stream_version"] = v.stream_version;
  if (s.status == AccountStatus::kPendingDeletion) j["deletion_deadline"] = events::FormatTime(s.deletion_deadline_ms);
  if (s.status == AccountStatus::kErased) {
    j["erased_at"] = events::FormatTime(s.erased_at_ms);
    j["erasure_reason"] = s.erasure_reason;
    j["erasure_verified"] = s.erasure_verified;
  }
  nlohmann::ordered_json consents = nlohmann::ordered_json::object();
  for (size_t i = 0; i < kPurposeCount; ++i) {
    const ConsentState& c = s.consents[i];
    if (c.changed_at_ms == 0) continue;
    consents[std::string(events::PurposeName(static_cast<fb::Purpose>(i)))] = {
        {"given", c.given}, {"implicit", c.implicit}, {"policy_version", c.policy_version},
        {"at", events::FormatTime(c.changed_at_ms)}};
  }
  j["consents"] = consents;
  if (v.pii) {
    j["pii"] = {{"nickname", v.pii->nickname}, {"email", v.pii->email}, {"gender", v.pii->gender},
                {"birthdate", v.pii->birthdate}, {"company", v.pii->company}, {"ip", v.pii->ip},
                {"user_agent", v.pii->user_agent}};
  } else {
    j["pii"] = nullptr;
  }
  return j;
}

std::string RenderLine(const nlohmann::ordered_json& j) {
  std::string out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!out.empty()) out += ' ';
    out += it.key();
    out += '=';
    out += it->is_string() ? it->get<std::string>()
                           : it->dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
  return out;
}

}  // namespace accountable
