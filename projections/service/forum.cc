// Accounts: what the forum needs to honour the policy day to day
// (change-password, touch, retention notices). Rules that depend on state
// are the Projector's (CheckAccountRules); these only build the events.
#include <algorithm>

#include "projections/service/accounts.h"
#include "projections/fold/activity.h"
#include "projections/validate/validate.h"

namespace accountable {
namespace {

// The holder's activity of `at_ms`'s UTC day is already on record, and the
// account still takes activity (not erased, not past a deletion deadline).
bool DayRecorded(const AccountState& st, int64_t at_ms) {
  const bool live = st.status == AccountStatus::kActive ||
                    (st.status == AccountStatus::kPendingDeletion && at_ms < st.deletion_deadline_ms);
  return live && DayOf(st.last_active_at_ms) >= DayOf(at_ms);
}

}  // namespace

Status Accounts::ChangePassword(uint64_t id, const PasswordChange& c, const Context& ctx, ReceiptDone done) {
  const bool reset = ctx.actor == fb::Actor::Admin;
  if (!reset && ctx.actor != fb::Actor::Holder)
    return Status::InvalidArgument("change-password: only the holder or an admin changes a password");
  ACC_RETURN_IF_ERROR(validate::Password(c.new_password));
  if (!reset) ACC_RETURN_IF_ERROR(validate::Text("old password", c.old_password, validate::kPasswordBytesMax));
  // A retry of a change that landed must get its receipt, not "wrong
  // password": the old password no longer matches.
  const std::string content = ContentFields({c.new_password});
  bool landed = false;
  Receipt prior;
  ACC_RETURN_IF_ERROR(PriorReceipt(id, ctx, fb::Payload::CredentialsChanged, content, &prior, &landed));
  if (landed) {
    done(Status::OK(), prior);
    return Status::OK();
  }
  AccountState st;
  ACC_RETURN_IF_ERROR(ActiveState(id, &st));
  if (!reset) {
    std::string current;
    ACC_RETURN_IF_ERROR(ReadCredential(id, st.credential_seq, &current));
    const bool ok = crypto::VerifyPassword(current, c.old_password);
    std::fill(current.begin(), current.end(), '\0');
    if (!ok) return Status::AuthFailed("change-password: wrong password");
  }
  std::string credential;
  ACC_RETURN_IF_ERROR(crypto::HashPassword(c.new_password, opt_.password_cost, &credential));
  crypto::Key32 dek;
  ACC_RETURN_IF_ERROR(vault_->GetAccountKey(id, &dek));
  Status s = Commit(id, ctx, fb::Payload::CredentialsChanged, [&](events::EnvelopeBuilder& b, const std::string& rid) {
    flatbuffers::FlatBufferBuilder pf(256);
    std::string plain = events::FinishPii(pf, fb::CreateCredentialPiiDirect(pf, credential.c_str()));
    std::string box = SealForAccount(dek, id, fb::Payload::CredentialsChanged, rid, plain);
    std::fill(plain.begin(), plain.end(), '\0');
    return fb::CreateCredentialsChanged(b.fbb(), b.Sealed(fb::KeyKind::AccountDek, box)).Union();
  }, std::move(done), content);
  std::fill(credential.begin(), credential.end(), '\0');
  return s;
}

Status Accounts::Touch(uint64_t id, const Context& ctx, ReceiptDone done) {
  AccountState st;
  ACC_RETURN_IF_ERROR(ActiveState(id, &st));
  Context c = ctx;
  c.occurred_at_ms = ctx.occurred_at_ms ? ctx.occurred_at_ms : NowMs();
  ACC_RETURN_IF_ERROR(CheckOccurredAt(c.occurred_at_ms, NowMs()));
  if (DayRecorded(st, c.occurred_at_ms)) {
    done(Status::OK(), Receipt());
    return Status::OK();
  }
  const uint32_t day = DayOf(c.occurred_at_ms);
  const int64_t at_ms = c.occurred_at_ms;
  auto then = [this, id, at_ms, done = std::move(done)](Status s, Receipt r) {
    // A touch of the same day (or a login) landed between the read and the
    // append, and the projector refused this one: the day is on record.
    AccountState now;
    if (s.Is(Status::Code::kRefused) && ReadAccount(*ledger_, id, &now).ok() && DayRecorded(now, at_ms))
      return done(Status::OK(), Receipt());
    done(std::move(s), r);
  };
  return Commit(id, c, fb::Payload::ActivityRecorded, [&](events::EnvelopeBuilder& b, const std::string&) {
    return fb::CreateActivityRecorded(b.fbb(), day).Union();
  }, std::move(then));
}

Status Accounts::RecordRetentionNotice(uint64_t id, const Context& ctx, ReceiptDone done) {
  AccountState st;
  ACC_RETURN_IF_ERROR(ActiveState(id, &st));
  const int64_t due_ms = RetentionDueAt(st.last_active_at_ms, opt_.retention_months);
  return Commit(id, ctx, fb::Payload::RetentionNoticeSent, [&](events::EnvelopeBuilder& b, const std::string&) {
    return fb::CreateRetentionNoticeSent(b.fbb(), due_ms).Union();
  }, std::move(done));
}

}  // namespace accountable
