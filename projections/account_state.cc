#include "projections/account_state.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace accountable {

std::string_view StatusName(AccountStatus s) {
  switch (s) {
    case AccountStatus::kNone: return "none";
    case AccountStatus::kActive: return "active";
    case AccountStatus::kPendingDeletion: return "pending_deletion";
    case AccountStatus::kErased: return "erased";
  }
  return "unknown";
}

bool IsHolderActivity(const events::EventView& e) {
  const fb::Actor actor = e.envelope()->actor();
  // Imported history stands for what the holder did on the old system.
  if (actor != fb::Actor::Holder && actor != fb::Actor::Import) return false;
  switch (e.type()) {
    case fb::Payload::Registered:
    case fb::Payload::LoginSucceeded:
    case fb::Payload::ConsentGiven:
    case fb::Payload::ConsentWithdrawn:
    case fb::Payload::ProfileUpdated:
    case fb::Payload::CredentialsChanged:
    case fb::Payload::DeletionCancelled:
      return true;
    default:
      return false;
  }
}

namespace {

void SetConsent(AccountState& s, fb::Purpose p, bool given, bool implicit,
                const flatbuffers::String* version, int64_t at_ms) {
  auto i = static_cast<size_t>(p);
  if (i >= kPurposeCount) return;  // a purpose from a newer schema: not ours to fold
  s.consents[i] = {given, implicit, version ? version->str() : std::string(), at_ms};
}

}  // namespace

void Apply(AccountState& s, const events::EventView& e) {
  const fb::Envelope* env = e.envelope();
  const int64_t at = env->occurred_at_ms();
  s.last_seq = env->seq();
  if (IsHolderActivity(e)) s.last_active_at_ms = std::max(s.last_active_at_ms, at);
  switch (e.type()) {
    case fb::Payload::Registered: {
      auto* p = env->payload_as_Registered();
      s.status = AccountStatus::kActive;
      s.account_id = env->account_id();
      s.registered_at_ms = at;
      s.credential_seq = env->seq();
      s.accepted_policy_version = p->policy_version() ? p->policy_version()->str() : "";
      if (p->consents())
        for (auto c : *p->consents())
          SetConsent(s, static_cast<fb::Purpose>(c), true, false, p->policy_version(), at);
      break;
    }
    case fb::Payload::ConsentGiven: {
      auto* p = env->payload_as_ConsentGiven();
      SetConsent(s, p->purpose(), true, p->implicit(), p->policy_version(), at);
      if (p->purpose() == fb::Purpose::PrivacyPolicy && p->policy_version())
        s.accepted_policy_version = p->policy_version()->str();
      break;
    }
    case fb::Payload::ConsentWithdrawn: {
      auto* p = env->payload_as_ConsentWithdrawn();
      SetConsent(s, p->purpose(), false, false, p->policy_version(), at);
      break;
    }
    case fb::Payload::CredentialsChanged:
      s.credential_seq = env->seq();
      break;
    case fb::Payload::DeletionRequested:
      s.status = AccountStatus::kPendingDeletion;
      s.deletion_deadline_ms = env->payload_as_DeletionRequested()->grace_deadline_ms();
      break;
    case fb::Payload::DeletionCancelled:
      s.status = AccountStatus::kActive;
      s.deletion_deadline_ms = 0;
      break;
    case fb::Payload::AccountErased:
      s.status = AccountStatus::kErased;
      s.erased_at_ms = at;
      s.erasure_reason = events::ErasureReasonName(env->payload_as_AccountErased()->reason());
      s.erased_seq = env->seq();
      s.deletion_deadline_ms = 0;
      break;
    case fb::Payload::ErasureVerified:
      s.erasure_verified = true;
      break;
    default:
      break;
  }
}

std::string EncodeState(const AccountState& s) {
  nlohmann::json consents = nlohmann::json::array();
  for (auto& c : s.consents)
    consents.push_back({c.given, c.implicit, c.policy_version, c.changed_at_ms});
  nlohmann::json j = {{"v", 1},
                      {"st", static_cast<int>(s.status)},
                      {"id", s.account_id},
                      {"reg", s.registered_at_ms},
                      {"act", s.last_active_at_ms},
                      {"pol", s.accepted_policy_version},
                      {"dl", s.deletion_deadline_ms},
                      {"er", s.erased_at_ms},
                      {"why", s.erasure_reason},
                      {"eseq", s.erased_seq},
                      {"ev", s.erasure_verified},
                      {"seq", s.last_seq},
                      {"cred", s.credential_seq},
                      {"c", consents}};
  auto bytes = nlohmann::json::to_cbor(j);
  return std::string(bytes.begin(), bytes.end());
}

Status DecodeState(std::string_view bytes, AccountState* out) {
  auto j = nlohmann::json::from_cbor(bytes.begin(), bytes.end(), true, false);
  if (j.is_discarded() || !j.is_object() || j.value("v", 0) != 1)
    return Status::Corruption("account state row is not version 1 CBOR");
  try {
    AccountState s;
    s.status = static_cast<AccountStatus>(j.at("st").get<int>());
    s.account_id = j.at("id").get<uint64_t>();
    s.registered_at_ms = j.at("reg").get<int64_t>();
    s.last_active_at_ms = j.at("act").get<int64_t>();
    s.accepted_policy_version = j.at("pol").get<std::string>();
    s.deletion_deadline_ms = j.at("dl").get<int64_t>();
    s.erased_at_ms = j.at("er").get<int64_t>();
    s.erasure_reason = j.at("why").get<std::string>();
    s.erased_seq = j.at("eseq").get<uint64_t>();
    s.erasure_verified = j.at("ev").get<bool>();
    s.last_seq = j.at("seq").get<uint64_t>();
    s.credential_seq = j.at("cred").get<uint64_t>();
    const auto& cs = j.at("c");
    for (size_t i = 0; i < kPurposeCount && i < cs.size(); ++i)
      s.consents[i] = {cs[i][0].get<bool>(), cs[i][1].get<bool>(), cs[i][2].get<std::string>(),
                       cs[i][3].get<int64_t>()};
    *out = std::move(s);
  } catch (const nlohmann::json::exception&) {
    return Status::Corruption("account state row has a malformed field");
  }
  return Status::OK();
}

}  // namespace accountable
