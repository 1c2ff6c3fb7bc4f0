#include "projections/fold/projector.h"

#include "core/crypto.h"
#include "events/vocabulary.h"
#include "projections/fold/activity.h"
#include "projections/fold/policy.h"
#include "projections/validate/validate.h"

namespace accountable {

std::string AccountKey(uint64_t account_id) { return EncodeBE64(account_id); }

std::string RecipientNameKey(std::string_view name) {
  std::string k(kMetaRecipientNamePrefix);
  for (char c : name) k.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return k;
}

std::string DeletionKey(int64_t deadline_ms, uint64_t account_id) {
  return std::string(kMetaDeletionPrefix) + EncodeBE64(static_cast<uint64_t>(deadline_ms)) +
         EncodeBE64(account_id);
}

namespace {

std::string Id(uint64_t id) { return "account " + std::to_string(id); }

// The policy version a registration or consent event names.
const flatbuffers::String* NamedPolicy(const events::EventView& e) {
  switch (e.type()) {
    case fb::Payload::Registered: return e.envelope()->payload_as_Registered()->policy_version();
    case fb::Payload::ConsentGiven: return e.envelope()->payload_as_ConsentGiven()->policy_version();
    case fb::Payload::ConsentWithdrawn: return e.envelope()->payload_as_ConsentWithdrawn()->policy_version();
    default: return nullptr;
  }
}

// Imported history names the version in force back then: it must have been
// published, and in effect (effective date <= occurred_at) at the event's time.
Status CheckNamedPolicy(const events::EventView& e, std::optional<int64_t> effective_at_ms, std::string_view what) {
  const flatbuffers::String* named = NamedPolicy(e);
  if (!named || named->size() == 0)
    return Status::Refused(std::string(what) + " at " + events::FormatTime(e.envelope()->occurred_at_ms()) +
                           ": no policy version was in effect then");
  if (!effective_at_ms) return Status::Refused(std::string(what) + " names a policy version that was never published");
  if (*effective_at_ms > e.envelope()->occurred_at_ms())
    return Status::Refused(std::string(what) + " at " + events::FormatTime(e.envelope()->occurred_at_ms()) +
                           " names a policy version in effect only from " + events::FormatTime(*effective_at_ms));
  return Status::OK();
}

Status DeletionDue(uint64_t id, int64_t deadline_ms) {
  return Status::Refused(Id(id) + ": deletion due since " + events::FormatTime(deadline_ms) + "; it is being erased");
}

Status CheckRegistration(const AccountState& s, const events::EventView& e,
                         const std::string& current, std::optional<int64_t> named_effective_at_ms) {
  const uint64_t id = e.envelope()->account_id();
  if (id == 0 || id > kAccountIdMax)
    return Status::InvalidArgument("account id: must be 1.." + std::to_string(kAccountIdMax));
  if (s.status != AccountStatus::kNone) return Status::Refused("account id " + std::to_string(id) + " is already taken");
  auto* accepted = e.envelope()->payload_as_Registered()->policy_version();
  if (e.envelope()->actor() == fb::Actor::Import) return CheckNamedPolicy(e, named_effective_at_ms, "registration");
  if (!accepted || accepted->str() != current)
    return Status::Refused("registration must accept the current policy version " + current);
  return Status::OK();
}

Status CheckConsent(const AccountState& s, const events::EventView& e, const std::string& current,
                    std::optional<int64_t> named_effective_at_ms) {
  const fb::Envelope* env = e.envelope();
  const bool imported = env->actor() == fb::Actor::Import;
  if (imported) ACC_RETURN_IF_ERROR(CheckNamedPolicy(e, named_effective_at_ms, "consent"));
  if (e.type() == fb::Payload::ConsentGiven) {
    auto* p = env->payload_as_ConsentGiven();
    // An imported acceptance names the version in effect then, checked above.
    if (p->purpose() == fb::Purpose::PrivacyPolicy && !imported &&
        (!p->policy_version() || p->policy_version()->str() != current))
      return Status::Refused("the privacy policy can only be accepted in its current version " + current);
    return Status::OK();
  }
  auto* p = env->payload_as_ConsentWithdrawn();
  if (p->purpose() == fb::Purpose::PrivacyPolicy)
    return Status::Refused("the privacy_policy consent cannot be withdrawn on its own: "
                           "not accepting the policy means requesting deletion (request-deletion)");
  auto i = static_cast<size_t>(p->purpose());
  if (i >= kPurposeCount || !s.consents[i].given)
    return Status::Refused("consent " + std::string(events::PurposeName(p->purpose())) + " is not given");
  return Status::OK();
}

Status CheckDisclosure(const AccountState& s, const events::EventView& e, bool pending) {
  auto* p = e.envelope()->payload_as_DisclosureRecorded();
  if (!p->country() || !events::IsCountryCode(p->country()->string_view()))
    return Status::InvalidArgument("disclosure without an assigned ISO 3166-1 country code");
  if (p->legal_basis() == fb::LegalBasis::LegalObligation) {
    if (!p->has_reference())
      return Status::Refused("a disclosure under legal obligation needs its reference");
    return Status::OK();
  }
  // A holder who asked to be erased has taken back any wish to be shared.
  if (pending)
    return Status::Refused(Id(e.envelope()->account_id()) +
                           " has a deletion pending: no disclosure under consent, only under legal_obligation");
  // The consent must have been in force when the disclosure happened, not
  // only when it is recorded (an imported or late record is backdated).
  const ConsentState& c = s.consents[static_cast<size_t>(fb::Purpose::ThirdPartyForwarding)];
  if (!c.given || c.changed_at_ms > e.envelope()->occurred_at_ms())
    return Status::Refused("disclosure needs the third_party_forwarding consent at its time or a legal obligation");
  return Status::OK();
}

// What an admin may do for a holder, live or imported alike: change
// nickname, email and company, with a reason; withdraw a consent; request or
// cancel a deletion. Never give a consent: that is the holder's own act
// (an implicit acceptance is the holder's login, so its actor is the holder's).
Status CheckAdminAct(const events::EventView& e) {
  const fb::Envelope* env = e.envelope();
  if (e.type() == fb::Payload::ConsentGiven)
    return Status::Refused("an admin cannot give a consent for the holder");
  if (e.type() != fb::Payload::ProfileUpdated) return Status::OK();
  auto* p = env->payload_as_ProfileUpdated();
  if (!p->has_reason()) return Status::Refused("an admin update needs a reason");
  if (p->fields())
    for (fb::ProfileField f : *p->fields())
      if (f != fb::ProfileField::Nickname && f != fb::ProfileField::Email && f != fb::ProfileField::Company)
        return Status::Refused("an admin may change only nickname, email and company");
  return Status::OK();
}

Status CheckActivity(const AccountState& s, const events::EventView& e) {
  const int64_t at_ms = e.envelope()->occurred_at_ms();
  if (e.envelope()->payload_as_ActivityRecorded()->day() != DayOf(at_ms))
    return Status::InvalidArgument("activity: day does not match occurred_at");
  // One event per UTC day is all retention needs; more would only grow the log.
  if (DayOf(s.last_active_at_ms) >= DayOf(at_ms))
    return Status::Refused(Id(e.envelope()->account_id()) + ": activity of this day is already recorded");
  return Status::OK();
}

// From its deadline on, an account waiting for erasure takes nothing that
// its holder or staff would do with it, whether or not a sweep ran yet.
bool RefusedWhenDue(fb::Payload t) {
  switch (t) {
    case fb::Payload::LoginSucceeded:
    case fb::Payload::LoginFailed:
    case fb::Payload::ConsentGiven:
    case fb::Payload::ConsentWithdrawn:
    case fb::Payload::ProfileUpdated:
    case fb::Payload::CredentialsChanged:
    case fb::Payload::AccessRequested:
    case fb::Payload::DeletionCancelled:
    case fb::Payload::ActivityRecorded:
    case fb::Payload::RetentionNoticeSent:
      return true;
    default:
      return false;
  }
}

// A copy's verification names the account's erasure and a well-formed copy.
Status CheckReplicaVerified(const AccountState& s, const events::EventView& e) {
  auto* p = e.envelope()->payload_as_ReplicaErasureVerified();
  if (!p->node() || !events::IsNodeName(p->node()->string_view()))
    return Status::InvalidArgument("replica verification: the node name must be 1..64 of [A-Za-z0-9._-]");
  if (p->erased_seq() != s.erased_seq)
    return Status::Refused(Id(s.account_id) + " was erased at seq " + std::to_string(s.erased_seq) + ", not at seq " +
                           std::to_string(p->erased_seq()));
  return Status::OK();
}

}  // namespace

Status CheckAccountRules(const AccountState& s, const events::EventView& e,
                         const std::string& current, std::optional<int64_t> named_effective_at_ms) {
  const uint64_t id = e.envelope()->account_id();
  const fb::Payload t = e.type();
  if (t == fb::Payload::Registered) return CheckRegistration(s, e, current, named_effective_at_ms);
  if (s.status == AccountStatus::kNone) return Status::NotFound(Id(id) + " does not exist");
  if (s.status == AccountStatus::kErased) {
    if (t == fb::Payload::ErasureVerified) return Status::OK();
    if (t == fb::Payload::ReplicaErasureVerified) return CheckReplicaVerified(s, e);
    return Status::Refused(Id(id) + " was erased");
  }
  if (t == fb::Payload::ErasureVerified || t == fb::Payload::ReplicaErasureVerified)
    return Status::Refused(Id(id) + " is not erased");
  if (IsAdminActor(e.envelope()->actor())) ACC_RETURN_IF_ERROR(CheckAdminAct(e));
  const bool pending = s.status == AccountStatus::kPendingDeletion;
  // Due at the deadline itself: a cancel must come strictly before it.
  if (pending && e.envelope()->occurred_at_ms() >= s.deletion_deadline_ms && RefusedWhenDue(t))
    return DeletionDue(id, s.deletion_deadline_ms);
  switch (t) {
    case fb::Payload::ConsentGiven:
      // Implicit acceptance by continued use is recorded even while a deletion
      // is pending: refusing it would refuse the login that carries it.
      if (pending && !e.envelope()->payload_as_ConsentGiven()->implicit())
        return Status::Refused(Id(id) + " has a deletion pending; cancel it first");
      return CheckConsent(s, e, current, named_effective_at_ms);
    case fb::Payload::ConsentWithdrawn:
      // always allowed, a pending deletion included
      return CheckConsent(s, e, current, named_effective_at_ms);
    case fb::Payload::ProfileUpdated:
    case fb::Payload::CredentialsChanged:
      if (pending) return Status::Refused(Id(id) + " has a deletion pending; cancel it first");
      return Status::OK();
    case fb::Payload::DeletionRequested:
      if (pending) return Status::Refused(Id(id) + " already has a deletion request pending");
      return Status::OK();
    case fb::Payload::DeletionCancelled:
      if (!pending) return Status::Refused(Id(id) + " has no deletion request pending");
      return Status::OK();
    case fb::Payload::DisclosureRecorded:
      return CheckDisclosure(s, e, pending);
    case fb::Payload::ActivityRecorded:
      return CheckActivity(s, e);
    default:
      return Status::OK();
  }
}

Status Projector::Apply(const events::EventView& e, GroupTx& tx) {
  if (e.type() == fb::Payload::PolicyPublished) return ApplyPolicy(e, tx);
  if (e.type() == fb::Payload::RecipientRegistered) return ApplyRecipient(e, tx);
  if (e.type() == fb::Payload::ReplicaJoined) return ApplyReplicaJoined(e, tx);
  if (e.envelope()->account_id() != 0) return ApplyAccountEvent(e, tx);
  return Status::OK();
}

// Known copies, for erasure certificates: kMetaReplicaPrefix + node -> BE64 seq.
Status Projector::ApplyReplicaJoined(const events::EventView& e, GroupTx& tx) {
  auto* p = e.envelope()->payload_as_ReplicaJoined();
  if (e.envelope()->account_id() != 0) return Status::InvalidArgument("a copy's announcement names no account");
  if (!p->node() || !events::IsNodeName(p->node()->string_view()))
    return Status::InvalidArgument("copy announcement: the node name must be 1..64 of [A-Za-z0-9._-]");
  const std::string key = std::string(kMetaReplicaPrefix) + p->node()->str();
  Status s = tx.Get(Cf::kMeta, key, &policy_row_);
  if (s.ok()) return Status::Refused("copy " + p->node()->str() + " was already announced");
  if (!s.Is(Status::Code::kNotFound)) return s;
  tx.Put(Cf::kMeta, key, EncodeBE64(e.envelope()->seq()));
  return Status::OK();
}

Status Projector::ApplyPolicy(const events::EventView& e, GroupTx& tx) {
  auto* p = e.envelope()->payload_as_PolicyPublished();
  if (!p->version() || p->version()->size() == 0)
    return Status::InvalidArgument("policy publication without a version");
  const std::string version = p->version()->str();
  std::vector<uint32_t> components;
  ACC_RETURN_IF_ERROR(policy::ParseVersion(version, &components));
  const std::string key = std::string(kMetaPolicyPrefix) + version;
  Status s = tx.Get(Cf::kMeta, key, &policy_row_);
  if (s.ok()) return Status::Refused("policy version " + version + " was already published");
  if (!s.Is(Status::Code::kNotFound)) return s;
  policy::Row row{e.envelope()->seq(), p->published_at_ms(),
                  p->effective_at_ms() ? p->effective_at_ms() : p->published_at_ms(),
                  p->text_sha256() ? std::string(reinterpret_cast<const char*>(p->text_sha256()->data()),
                                                 p->text_sha256()->size())
                                   : std::string()};
  if (row.text_sha256.size() != 32) return Status::InvalidArgument("policy publication without its 32-byte digest");
  if (p->text() && crypto::Sha256(p->text()->string_view()) != row.text_sha256)
    return Status::InvalidArgument("policy text does not match its digest");
  s = tx.Get(Cf::kMeta, kMetaPolicyCurrent, &current_);
  if (s.ok()) {
    policy::Row current;
    ACC_RETURN_IF_ERROR(tx.Get(Cf::kMeta, std::string(kMetaPolicyPrefix) + current_, &policy_row_));
    ACC_RETURN_IF_ERROR(policy::DecodeRow(policy_row_, &current));
    ACC_RETURN_IF_ERROR(policy::CheckSuccessor(current_, current, version, row.effective_at_ms));
  } else if (!s.Is(Status::Code::kNotFound)) {
    return s;
  }
  tx.Put(Cf::kMeta, key, policy::EncodeRow(row));
  tx.Put(Cf::kMeta, kMetaPolicyCurrent, version);
  return Status::OK();
}

// The registry is checked here, in seq order, so two admins racing to
// publish the same name cannot both succeed.
Status Projector::ApplyRecipient(const events::EventView& e, GroupTx& tx) {
  auto* p = e.envelope()->payload_as_RecipientRegistered();
  const std::string name = p->name() ? p->name()->str() : std::string();
  const std::string country = p->country() ? p->country()->str() : std::string();
  ACC_RETURN_IF_ERROR(CheckRecipient(name, country));
  if (e.envelope()->account_id() != 0) return Status::InvalidArgument("a recipient belongs to no account");
  std::string v;
  Status s = tx.Get(Cf::kMeta, RecipientNameKey(name), &v);
  if (s.ok()) return Status::Refused("a recipient of that name is already registered");
  if (!s.Is(Status::Code::kNotFound)) return s;
  uint64_t count = 0;
  s = tx.Get(Cf::kMeta, kMetaRecipientCount, &v);
  if (s.ok()) count = DecodeBE64(v);
  else if (!s.Is(Status::Code::kNotFound)) return s;
  if (count >= kRecipientsMax) return Status::Refused("the recipient registry is full");
  const std::string id = EncodeBE64(e.envelope()->seq());
  tx.Put(Cf::kMeta, std::string(kMetaRecipientPrefix) + id, country + name);
  tx.Put(Cf::kMeta, RecipientNameKey(name), id);
  tx.Put(Cf::kMeta, kMetaRecipientCount, EncodeBE64(count + 1));
  return Status::OK();
}

namespace {

// Only registrations and consent changes are checked against the policy in
// force: the other events need not read it.
bool NeedsCurrentPolicy(fb::Payload t) {
  return t == fb::Payload::Registered || t == fb::Payload::ConsentGiven || t == fb::Payload::ConsentWithdrawn;
}

// The effective date of the version the event names, if it was published.
Status NamedEffectiveAt(const events::EventView& e, GroupTx& tx, std::string* scratch,
                        std::optional<int64_t>* out) {
  out->reset();
  const flatbuffers::String* v = NamedPolicy(e);
  if (!v) return Status::OK();
  Status s = tx.Get(Cf::kMeta, std::string(kMetaPolicyPrefix) + v->str(), scratch);
  if (s.Is(Status::Code::kNotFound)) return Status::OK();
  ACC_RETURN_IF_ERROR(s);
  policy::Row row;
  ACC_RETURN_IF_ERROR(policy::DecodeRow(*scratch, &row));
  *out = row.effective_at_ms;
  return Status::OK();
}

// Sweep indexes and bitmaps that follow from the transition old -> new
// (only the old status and deadline matter, so no copy of the whole state).
// `month`: the activity row of the event's month if the holder caused it, else empty.
void WriteIndexes(AccountStatus old_status, int64_t old_deadline_ms, const AccountState& now,
                  std::string_view month, const events::EventView& e, GroupTx& tx) {
  const uint64_t id = now.account_id;
  if (!month.empty()) tx.Merge(Cf::kActivity, month, AddOperand(id));
  if (e.type() == fb::Payload::Registered) tx.Merge(Cf::kActivity, kActivityLiveKey, AddOperand(id));
  if (old_status == AccountStatus::kPendingDeletion && now.deletion_deadline_ms != old_deadline_ms)
    tx.Delete(Cf::kMeta, DeletionKey(old_deadline_ms, id));
  if (now.status == AccountStatus::kPendingDeletion && now.deletion_deadline_ms != old_deadline_ms)
    tx.Put(Cf::kMeta, DeletionKey(now.deletion_deadline_ms, id), "");
  if (e.type() == fb::Payload::AccountErased) {
    tx.Merge(Cf::kActivity, kActivityLiveKey, RemoveOperand(id));
    tx.Put(Cf::kMeta, std::string(kMetaErasurePendingPrefix) + EncodeBE64(id), EncodeBE64(e.envelope()->seq()));
  }
  if (e.type() == fb::Payload::ErasureVerified)
    tx.Delete(Cf::kMeta, std::string(kMetaErasurePendingPrefix) + EncodeBE64(id));
}

}  // namespace

Status Projector::ApplyAccountEvent(const events::EventView& e, GroupTx& tx) {
  const uint64_t id = e.envelope()->account_id();
  const fb::Payload type = e.type();
  const std::string key = AccountKey(id);
  // row_, state_, current_ keep their capacity from event to event: this
  // runs once per event on the writer thread.
  AccountState& state = state_;
  Status s = tx.Get(Cf::kAccounts, key, &row_);
  if (s.ok()) {
    ACC_RETURN_IF_ERROR(DecodeState(row_, &state));
  } else if (s.Is(Status::Code::kNotFound)) {
    state = AccountState();
  } else {
    return s;
  }
  current_.clear();
  if (NeedsCurrentPolicy(type)) {
    Status ps = tx.Get(Cf::kMeta, kMetaPolicyCurrent, &current_);
    if (!ps.ok() && !ps.Is(Status::Code::kNotFound)) return ps;
  }
  std::optional<int64_t> named_effective_at_ms;
  ACC_RETURN_IF_ERROR(NamedEffectiveAt(e, tx, &policy_row_, &named_effective_at_ms));
  ACC_RETURN_IF_ERROR(CheckAccountRules(state, e, current_, named_effective_at_ms));
  if (type == fb::Payload::DisclosureRecorded) {
    std::string r;
    Status rs = tx.Get(Cf::kMeta, std::string(kMetaRecipientPrefix) +
                                      EncodeBE64(e.envelope()->payload_as_DisclosureRecorded()->recipient_id()), &r);
    if (rs.Is(Status::Code::kNotFound)) return Status::NotFound("the disclosure names no registered recipient");
    ACC_RETURN_IF_ERROR(rs);
  }
  if (type == fb::Payload::Registered) {
    std::string max_id;
    Status ms = tx.Get(Cf::kMeta, kMetaMaxAccountId, &max_id);
    if (!ms.ok() && !ms.Is(Status::Code::kNotFound)) return ms;
    if (!ms.ok() || DecodeBE64(max_id) < id) tx.Put(Cf::kMeta, kMetaMaxAccountId, EncodeBE64(id));
  }
  const AccountStatus old_status = state.status;
  const int64_t old_deadline_ms = state.deletion_deadline_ms;
  accountable::Apply(state, e);
  const std::string_view month = IsHolderActivity(e) ? MonthKeyOf(e.envelope()->occurred_at_ms()) : "";
  WriteIndexes(old_status, old_deadline_ms, state, month, e, tx);
  EncodeState(state, &row_);
  tx.Put(Cf::kAccounts, key, row_);
  return Status::OK();
}

std::string_view Projector::MonthKeyOf(int64_t ms) {
  // Events come in time order, nearly always: one calendar computation per month.
  if (ms < month_first_ms_ || ms >= month_end_ms_) month_key_ = MonthKey(ms, &month_first_ms_, &month_end_ms_);
  return month_key_;
}

Status ReadAccount(Ledger& ledger, uint64_t account_id, AccountState* out) {
  // 0 is no account (NotFound below); above the range no id can ever be.
  if (account_id > kAccountIdMax)
    return Status::InvalidArgument("account id: must be 1.." + std::to_string(kAccountIdMax));
  std::string row;
  Status s = ledger.Get(Cf::kAccounts, AccountKey(account_id), &row);
  if (s.Is(Status::Code::kNotFound))
    return Status::NotFound("account " + std::to_string(account_id) + " does not exist");
  ACC_RETURN_IF_ERROR(s);
  return DecodeState(row, out);
}

Status CheckRecipient(const std::string& name, const std::string& country) {
  ACC_RETURN_IF_ERROR(validate::Text("recipient name", name, kRecipientNameBytesMax));
  // A name of digits only would be taken for an id wherever a recipient is named.
  if (name.find_first_not_of("0123456789") == std::string::npos)
    return Status::InvalidArgument("recipient name: must not be a number");
  if (!events::IsCountryCode(country))
    return Status::InvalidArgument("country: must be an assigned ISO 3166-1 alpha-2 code such as DE");
  return Status::OK();
}

}  // namespace accountable
