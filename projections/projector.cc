#include "projections/projector.h"

#include "projections/activity.h"
#include "projections/describe.h"

namespace accountable {

std::string AccountKey(uint64_t account_id) { return EncodeBE64(account_id); }

std::string DeletionKey(int64_t deadline_ms, uint64_t account_id) {
  return std::string(kMetaDeletionPrefix) + EncodeBE64(static_cast<uint64_t>(deadline_ms)) +
         EncodeBE64(account_id);
}

namespace {

std::string Id(uint64_t id) { return "account " + std::to_string(id); }

Status DeletionDue(uint64_t id, int64_t deadline_ms) {
  return Status::Refused(Id(id) + ": deletion due since " + FormatTime(deadline_ms) + "; it is being erased");
}

Status CheckRegistration(const AccountState& s, const events::EventView& e,
                         const std::string& current, bool published) {
  const uint64_t id = e.envelope()->account_id();
  if (s.status != AccountStatus::kNone) return Status::Refused("account id " + std::to_string(id) + " is already taken");
  auto* accepted = e.envelope()->payload_as_Registered()->policy_version();
  // Imported history accepted whatever version was in force back then.
  if (e.envelope()->actor() == fb::Actor::Import) {
    if (!published) return Status::Refused("registration accepts a policy version that was never published");
    return Status::OK();
  }
  if (!accepted || accepted->str() != current)
    return Status::Refused("registration must accept the current policy version " + current);
  return Status::OK();
}

Status CheckConsent(const AccountState& s, const events::EventView& e, const std::string& current) {
  const fb::Envelope* env = e.envelope();
  if (e.type() == fb::Payload::ConsentGiven) {
    auto* p = env->payload_as_ConsentGiven();
    if (p->purpose() == fb::Purpose::PrivacyPolicy && (!p->policy_version() || p->policy_version()->str() != current))
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
  if (p->legal_basis() == fb::LegalBasis::LegalObligation) {
    if (!p->reference() || p->reference()->size() == 0)
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

Status CheckActivity(const AccountState& s, const events::EventView& e) {
  const int64_t at = e.envelope()->occurred_at_ms();
  if (e.envelope()->payload_as_ActivityRecorded()->day() != DayOf(at))
    return Status::InvalidArgument("activity: day does not match occurred_at");
  // One event per UTC day is all retention needs; more would only grow the log.
  if (DayOf(s.last_active_at_ms) >= DayOf(at))
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

}  // namespace

Status CheckAccountRules(const AccountState& s, const events::EventView& e,
                         const std::string& current, bool published) {
  const uint64_t id = e.envelope()->account_id();
  const fb::Payload t = e.type();
  if (t == fb::Payload::Registered) return CheckRegistration(s, e, current, published);
  if (s.status == AccountStatus::kNone) return Status::NotFound(Id(id) + " does not exist");
  if (s.status == AccountStatus::kErased) {
    if (t == fb::Payload::ErasureVerified) return Status::OK();
    return Status::Refused(Id(id) + " was erased");
  }
  if (t == fb::Payload::ErasureVerified) return Status::Refused(Id(id) + " is not erased");
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
      return CheckConsent(s, e, current);
    case fb::Payload::ConsentWithdrawn:
      return CheckConsent(s, e, current);  // always allowed, a pending deletion included
    case fb::Payload::ProfileUpdated:
    case fb::Payload::CredentialsChanged:
      if (pending) return Status::Refused(Id(id) + " has a deletion pending; cancel it first");
      if (e.envelope()->actor() == fb::Actor::Admin) {
        auto* p = e.envelope()->payload_as_ProfileUpdated();
        if (t == fb::Payload::ProfileUpdated && (!p->reason() || p->reason()->size() == 0))
          return Status::Refused("an admin update needs a reason");
      }
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
  if (e.envelope()->account_id() != 0) return ApplyAccountEvent(e, tx);
  return Status::OK();
}

Status Projector::ApplyPolicy(const events::EventView& e, GroupTx& tx) {
  auto* p = e.envelope()->payload_as_PolicyPublished();
  if (!p->version() || p->version()->size() == 0)
    return Status::InvalidArgument("policy publication without a version");
  const std::string key = std::string(kMetaPolicyPrefix) + p->version()->str();
  std::string existing;
  Status s = tx.Get(Cf::kMeta, key, &existing);
  if (s.ok()) return Status::Refused("policy version " + p->version()->str() + " was already published");
  if (!s.Is(Status::Code::kNotFound)) return s;
  std::string digest = p->text_sha256()
      ? std::string(reinterpret_cast<const char*>(p->text_sha256()->data()), p->text_sha256()->size())
      : std::string();
  tx.Put(Cf::kMeta, key, digest);
  tx.Put(Cf::kMeta, kMetaPolicyCurrent, p->version()->str());
  return Status::OK();
}

namespace {

// Only registrations and consent changes are checked against the policy in
// force: the other events need not read it.
bool NeedsCurrentPolicy(fb::Payload t) {
  return t == fb::Payload::Registered || t == fb::Payload::ConsentGiven || t == fb::Payload::ConsentWithdrawn;
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
  bool published = false;
  if (type == fb::Payload::Registered) {
    auto* v = e.envelope()->payload_as_Registered()->policy_version();
    std::string digest;
    published = v && tx.Get(Cf::kMeta, std::string(kMetaPolicyPrefix) + v->str(), &digest).ok();
  }
  ACC_RETURN_IF_ERROR(CheckAccountRules(state, e, current_, published));
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
  std::string row;
  Status s = ledger.Get(Cf::kAccounts, AccountKey(account_id), &row);
  if (s.Is(Status::Code::kNotFound))
    return Status::NotFound("account " + std::to_string(account_id) + " does not exist");
  ACC_RETURN_IF_ERROR(s);
  return DecodeState(row, out);
}

}  // namespace accountable
