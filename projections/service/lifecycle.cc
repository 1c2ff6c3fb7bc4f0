// Accounts: the lifecycle commands after registration (login, consent,
// profile, deletion, disclosure, access logs, policy, export).
#include <algorithm>
#include <cctype>
#include <chrono>

#include "events/fields.h"
#include "events/vocabulary.h"
#include "projections/fold/activity.h"
#include "projections/fold/policy.h"
#include "projections/service/accounts.h"
#include "projections/service/describe.h"
#include "projections/validate/validate.h"

namespace accountable {
namespace {

constexpr size_t kDisclosureFieldBytesMax = 256;
constexpr size_t kAccessFieldBytesMax = 1024;

// A changed field is marked present ("+" before its value) so that setting
// a field to "" differs from leaving it alone.
std::string ChangeContent(const ProfileChange& c, const std::string& reason) {
  auto f = [](const std::optional<std::string>& v) { return v ? "+" + *v : std::string(); };
  return ContentFields({f(c.nickname), f(c.email), f(c.company), f(c.gender), f(c.birthdate), reason});
}

flatbuffers::Offset<flatbuffers::String> OptString(flatbuffers::FlatBufferBuilder& fbb,
                                                   const std::optional<std::string>& v) {
  return v ? fbb.CreateString(*v) : 0;
}

}  // namespace

const std::string& Accounts::DummyCredential() {
  std::call_once(dummy_once_, [this] {
    if (!crypto::HashPassword(crypto::ToHex(crypto::RandomBytes(16)), opt_.password_cost, &dummy_credential_).ok())
      dummy_credential_.clear();
  });
  return dummy_credential_;
}

// One event read instead of the account's whole history.
Status Accounts::ReadCredential(uint64_t id, uint64_t seq, std::string* credential) {
  std::vector<Ledger::Stored> ev;
  ACC_RETURN_IF_ERROR(ledger_->ReadRange(seq, 1, &ev));
  events::EventView v;
  if (ev.empty() || ev[0].seq != seq) return Status::Corruption("credential event " + std::to_string(seq) + " is missing");
  ACC_RETURN_IF_ERROR(events::EventView::Parse(ev[0].envelope, &v));
  const fb::Sealed* sealed = v.sealed();
  if (!sealed || !sealed->box() || v.envelope()->account_id() != id)
    return Status::Corruption("event " + std::to_string(seq) + " holds no credential of this account");
  std::string_view box(reinterpret_cast<const char*>(sealed->box()->data()), sealed->box()->size());
  std::string plain;
  ACC_RETURN_IF_ERROR(OpenForAccount(*vault_, id, v.type(), v.envelope()->request_id()->str(), box, &plain));
  if (v.type() == fb::Payload::Registered) {
    const fb::RegistrationPii* p;
    ACC_RETURN_IF_ERROR(events::ReadPii(plain, &p));
    *credential = events::StringOrEmpty(p->credential());
  } else {
    const fb::CredentialPii* p;
    ACC_RETURN_IF_ERROR(events::ReadPii(plain, &p));
    *credential = events::StringOrEmpty(p->credential());
  }
  std::fill(plain.begin(), plain.end(), '\0');
  return Status::OK();
}

Status Accounts::ActiveState(uint64_t id, AccountState* out) {
  ACC_RETURN_IF_ERROR(ReadAccount(*ledger_, id, out));
  if (out->status == AccountStatus::kErased)
    return Status::Refused("account " + std::to_string(id) + " was erased");
  return Status::OK();
}

Status Accounts::Commit(uint64_t id, const Context& ctx, fb::Payload type, const EventBuild& build, ReceiptDone done,
                        std::string_view content) {
  const std::string raw = ctx.request_id.empty() ? NewRequestId() : ctx.request_id;
  ACC_RETURN_IF_ERROR(validate::Text("request id", raw, events::kRequestIdBytesMax));
  const std::string rid = RequestKey(raw);
  events::EnvelopeBuilder b;
  auto payload = build(b, rid);
  events::Header h{id, ctx.occurred_at_ms ? ctx.occurred_at_ms : NowMs(), ctx.actor, rid,
                   CurrentPolicyVersion()};
  std::vector<Ledger::Command> batch(1);
  batch[0].envelope = b.Finish(h, type, payload);
  batch[0].content_digest = ContentDigest(id, ctx, type, content);
  // The writer's idempotency check, done here where threads run in parallel.
  if (ctx.request_id.empty()) batch[0].fresh_request_id = true;
  else batch[0].absent_through_seq = AbsentThrough(rid);
  ledger_->AppendAsync(std::move(batch), [done = std::move(done)](Status s, std::vector<Ledger::Appended> res) {
    const Receipt r = s.ok() ? Receipt{res[0].seq, res[0].duplicate} : Receipt{};
    done(std::move(s), r);
  });
  return Status::OK();
}

uint64_t Accounts::AbsentThrough(const std::string& rid) {
  const uint64_t last = ledger_->LastSeq();
  uint64_t seq = 0;
  // Found, or a failed read: the writer looks again and answers for itself.
  return ledger_->LookupRequest(rid, &seq).Is(Status::Code::kNotFound) ? last : 0;
}

Status Accounts::PriorReceipt(uint64_t id, const Context& ctx, fb::Payload type, std::string_view content,
                              Receipt* out, bool* found) {
  *found = false;
  if (ctx.request_id.empty()) return Status::OK();
  ACC_RETURN_IF_ERROR(validate::Text("request id", ctx.request_id, events::kRequestIdBytesMax));
  uint64_t prior_seq = 0;
  std::string prior_digest;
  Status ls = ledger_->LookupRequest(RequestKey(ctx.request_id), &prior_seq, &prior_digest);
  if (ls.Is(Status::Code::kNotFound)) return Status::OK();
  ACC_RETURN_IF_ERROR(ls);
  if (prior_digest != ContentDigest(id, ctx, type, content))
    return Status::RequestReused("request id was used before for a different request");
  *out = {prior_seq, true};
  *found = true;
  return Status::OK();
}

Status Accounts::CheckOccurredAt(int64_t at_ms, int64_t now_ms) {
  constexpr int64_t kClockSkewMs = 5 * 60 * 1000;
  if (at_ms > now_ms + kClockSkewMs) return Status::InvalidArgument("occurred_at: in the future");
  return Status::OK();
}

Status Accounts::CheckLogin(const LoginRequest& r) {
  ACC_RETURN_IF_ERROR(validate::Ip(r.ip));
  ACC_RETURN_IF_ERROR(validate::Text("user agent", r.user_agent, validate::kUserAgentBytesMax, true));
  if (r.email.empty() == (r.account_id == 0))
    return Status::InvalidArgument("login: give exactly one of email or account id");
  if (!r.email.empty()) ACC_RETURN_IF_ERROR(validate::Email(r.email));
  if (!r.recorded_fact) ACC_RETURN_IF_ERROR(validate::Text("password", r.password, validate::kPasswordBytesMax));
  if (r.recorded_failure && !r.recorded_fact)
    return Status::InvalidArgument("login: only a recorded fact can be recorded as failed");
  return Status::OK();
}

Status Accounts::Login(const LoginRequest& r, Done<LoginResult> done) {
  const Status fail = Status::AuthFailed("login failed: unknown account or wrong password");
  ACC_RETURN_IF_ERROR(CheckLogin(r));
  // Unknown and erased accounts cost one Argon2id verification too, so the
  // answer's timing does not tell them apart from a wrong password.
  auto refuse = [&] {
    if (!r.recorded_fact) crypto::VerifyPassword(DummyCredential(), r.password);
    return fail;
  };
  uint64_t id = r.account_id;
  std::string email;
  if (!r.email.empty()) ACC_RETURN_IF_ERROR(validate::CanonicalEmail(r.email, &email));
  if (!email.empty() && !vault_->LookupEmail(email, &id).ok()) return refuse();
  AccountState st;
  if (!ReadAccount(*ledger_, id, &st).ok() || st.status == AccountStatus::kErased) return refuse();
  bool ok = !r.recorded_failure;
  if (!r.recorded_fact) {
    std::string credential;
    ACC_RETURN_IF_ERROR(ReadCredential(id, st.credential_seq, &credential));
    ok = crypto::VerifyPassword(credential, r.password);
  }
  crypto::Key32 dek;
  ACC_RETURN_IF_ERROR(vault_->GetAccountKey(id, &dek));
  const fb::Payload type = ok ? fb::Payload::LoginSucceeded : fb::Payload::LoginFailed;
  const fb::LoginMethod method = r.email.empty() ? fb::LoginMethod::AccountId : fb::LoginMethod::Email;
  const std::string raw = r.ctx.request_id.empty() ? NewRequestId() : r.ctx.request_id;
  ACC_RETURN_IF_ERROR(validate::Text("request id", raw, events::kRequestIdBytesMax - 9));  // room for "/implicit"
  const std::string rid = RequestKey(raw);
  // What the caller asked, not what it led to: a retry with the right
  // password under a failed login's request id is a different request.
  const std::string digest = ContentDigest(
      r.account_id, r.ctx, fb::Payload::LoginSucceeded,
      ContentFields({r.email, r.password, r.ip, r.user_agent, r.recorded_fact ? "fact" : "live"}));
  const std::string current = CurrentPolicyVersion();
  const int64_t at_ms = r.ctx.occurred_at_ms ? r.ctx.occurred_at_ms : NowMs();

  flatbuffers::FlatBufferBuilder pf(128);
  std::string plain = events::FinishPii(pf, fb::CreateLoginPiiDirect(pf, r.ip.c_str(), r.user_agent.c_str()));
  std::string box = SealForAccount(dek, id, type, rid, plain);
  events::EnvelopeBuilder b;
  auto sealed = b.Sealed(fb::KeyKind::AccountDek, box);
  auto payload = ok ? fb::CreateLoginSucceeded(b.fbb(), method, sealed).Union()
                    : fb::CreateLoginFailed(b.fbb(), method, sealed).Union();
  std::vector<Ledger::Command> batch(1);
  batch[0].envelope = b.Finish({id, at_ms, r.ctx.actor, rid, current}, type, payload);
  batch[0].content_digest = digest;
  // "By continuing the use ... after an update ... you accept the revised policy."
  // Not for imported logins: the old system's record says nothing about a
  // policy version that may not even have existed at the time.
  const bool implicit = ok && !r.recorded_fact && st.accepted_policy_version != current;
  if (implicit) {
    events::EnvelopeBuilder cb;
    auto cp = fb::CreateConsentGiven(cb.fbb(), fb::Purpose::PrivacyPolicy, cb.fbb().CreateString(current), true);
    batch.push_back({cb.Finish({id, at_ms, r.ctx.actor, RequestKey(raw + "/implicit"), current},
                               fb::Payload::ConsentGiven, cp.Union()), std::nullopt, digest});
  }
  const bool wrong_password = !ok && !r.recorded_fact;
  ledger_->AppendAsync(std::move(batch), [id, implicit, wrong_password, fail,
                                          done = std::move(done)](Status as, std::vector<Ledger::Appended> res) {
    // A recorded failure is the fact the caller asked to record: not an error.
    // A wrong password hears only "failed", even when the account is past its
    // deletion deadline (the projector refused the LoginFailed record).
    if (wrong_password) return done(as.ok() || as.Is(Status::Code::kRefused) ? fail : as, LoginResult{});
    if (!as.ok()) return done(std::move(as), LoginResult{});
    done(Status::OK(), LoginResult{id, res[0].seq, implicit && !res[0].duplicate, res[0].duplicate});
  });
  return Status::OK();
}

// Live consents name the current version; imported ones the version that
// was in effect at their time (the projector checks either).
Status Accounts::ConsentPolicy(const Context& ctx, std::string* version) {
  if (ctx.actor != fb::Actor::Import) {
    *version = CurrentPolicyVersion();
    return Status::OK();
  }
  std::optional<std::string> in_effect;
  ACC_RETURN_IF_ERROR(policy::InEffectAt(*ledger_, ctx.occurred_at_ms ? ctx.occurred_at_ms : NowMs(), &in_effect));
  *version = in_effect.value_or("");
  return Status::OK();
}

Status Accounts::GiveConsent(uint64_t id, fb::Purpose p, const Context& ctx, ReceiptDone done) {
  AccountState st;
  ACC_RETURN_IF_ERROR(ActiveState(id, &st));
  std::string current;
  ACC_RETURN_IF_ERROR(ConsentPolicy(ctx, &current));
  return Commit(id, ctx, fb::Payload::ConsentGiven, [&](events::EnvelopeBuilder& b, const std::string&) {
    return fb::CreateConsentGiven(b.fbb(), p, b.fbb().CreateString(current), false).Union();
  }, std::move(done), events::PurposeName(p));
}

Status Accounts::WithdrawConsent(uint64_t id, fb::Purpose p, const Context& ctx, ReceiptDone done) {
  AccountState st;
  ACC_RETURN_IF_ERROR(ActiveState(id, &st));
  std::string current;
  ACC_RETURN_IF_ERROR(ConsentPolicy(ctx, &current));
  return Commit(id, ctx, fb::Payload::ConsentWithdrawn, [&](events::EnvelopeBuilder& b, const std::string&) {
    return fb::CreateConsentWithdrawn(b.fbb(), p, b.fbb().CreateString(current)).Union();
  }, std::move(done), events::PurposeName(p));
}

Status Accounts::CheckChange(const ProfileChange& c, const Context& ctx, int64_t now_ms) {
  if (!c.nickname && !c.email && !c.company && !c.gender && !c.birthdate)
    return Status::InvalidArgument("update: give at least one field to change");
  if (c.nickname) ACC_RETURN_IF_ERROR(validate::Nickname(*c.nickname));
  if (c.email) ACC_RETURN_IF_ERROR(validate::Email(*c.email));
  if (c.company) ACC_RETURN_IF_ERROR(validate::Text("company", *c.company, validate::kCompanyBytesMax, true));
  if (c.gender) ACC_RETURN_IF_ERROR(validate::Gender(*c.gender));
  if (c.birthdate) ACC_RETURN_IF_ERROR(validate::Birthdate(*c.birthdate, now_ms));
  ACC_RETURN_IF_ERROR(validate::Text("reason", ctx.reason, validate::kReasonBytesMax, true));
  if (IsAdminActor(ctx.actor)) {
    if (ctx.reason.empty()) return Status::Refused("an admin update needs a reason");
    // The policy lets admins change name, e-mail and company on request, nothing else.
    if (c.gender || c.birthdate) return Status::Refused("an admin may change only nickname, email and company");
  }
  return Status::OK();
}

Status Accounts::CommitProfile(uint64_t id, const ProfileChange& c, const Context& ctx, const crypto::Key32& dek,
                              ReceiptDone done) {
  std::vector<fb::ProfileField> fields;
  if (c.nickname) fields.push_back(fb::ProfileField::Nickname);
  if (c.email) fields.push_back(fb::ProfileField::Email);
  if (c.company) fields.push_back(fb::ProfileField::Company);
  if (c.gender) fields.push_back(fb::ProfileField::Gender);
  if (c.birthdate) fields.push_back(fb::ProfileField::Birthdate);
  return Commit(id, ctx, fb::Payload::ProfileUpdated, [&](events::EnvelopeBuilder& b, const std::string& rid) {
    flatbuffers::FlatBufferBuilder pf(256);
    const std::optional<std::string> reason = ctx.reason.empty() ? std::nullopt : std::optional(ctx.reason);
    auto pii = fb::CreateProfilePii(pf, OptString(pf, c.nickname), OptString(pf, c.email),
                                    OptString(pf, c.company), OptString(pf, c.gender), OptString(pf, c.birthdate),
                                    OptString(pf, reason));
    std::string plain = events::FinishPii(pf, pii);
    std::string box = SealForAccount(dek, id, fb::Payload::ProfileUpdated, rid, plain);
    std::fill(plain.begin(), plain.end(), '\0');
    auto fv = b.fbb().CreateVector(fields);
    // The reason is free text, so sealed; only that there is one stays plaintext.
    return fb::CreateProfileUpdated(b.fbb(), fv, b.Sealed(fb::KeyKind::AccountDek, box), reason.has_value()).Union();
  }, std::move(done), ChangeContent(c, ctx.reason));
}

Status Accounts::UpdateKey(uint64_t id, const ProfileChange& c, const Context& ctx, crypto::Key32* dek) {
  ACC_RETURN_IF_ERROR(CheckChange(c, ctx, ctx.occurred_at_ms ? ctx.occurred_at_ms : NowMs()));
  AccountState st;
  ACC_RETURN_IF_ERROR(ActiveState(id, &st));
  return vault_->GetAccountKey(id, dek);
}

Status Accounts::Update(uint64_t id, const ProfileChange& c, const Context& ctx, ReceiptDone done) {
  ACC_ASSERT(!c.email, "an email change takes the blocking Update (its blind-index row moves after the append)");
  crypto::Key32 dek;
  ACC_RETURN_IF_ERROR(UpdateKey(id, c, ctx, &dek));
  return CommitProfile(id, c, ctx, dek, std::move(done));
}

Status Accounts::Update(uint64_t id, const ProfileChange& c, const Context& ctx, Receipt* out) {
  crypto::Key32 dek;
  ACC_RETURN_IF_ERROR(UpdateKey(id, c, ctx, &dek));
  // Only an email change needs the current email (the account's history is
  // read to find it); other updates stay one state read and one append.
  Pii old;
  std::string old_email, new_email;
  if (c.email) {
    ACC_RETURN_IF_ERROR(ReadPii(id, &old));
    ACC_RETURN_IF_ERROR(validate::CanonicalEmail(*c.email, &new_email));
    // The current email passed the same rules when it was stored.
    ACC_RETURN_IF_ERROR(validate::CanonicalEmail(old.email, &old_email));
  }
  const bool moves = new_email != old_email;
  if (moves) ACC_RETURN_IF_ERROR(ReserveEmail(new_email, id));
  Status s = Await([&](ReceiptDone d) { return CommitProfile(id, c, ctx, dek, std::move(d)); }, out);
  // The blind index follows the email: the new row stays on success, the old one goes.
  if (moves) {
    EndReservation(new_email, id, s.ok());
    if (s.ok()) {
      std::lock_guard<std::mutex> l(email_mu_);
      uint64_t holder = 0;
      if (vault_->LookupEmail(old_email, &holder).ok() && holder == id)
        ACC_RETURN_IF_ERROR(vault_->DeleteEmail(old_email));
    }
  }
  return s;
}

Status Accounts::RequestDeletion(uint64_t id, const Context& ctx, ReceiptDone done) {
  AccountState st;
  ACC_RETURN_IF_ERROR(ActiveState(id, &st));
  const int64_t deadline_ms = (ctx.occurred_at_ms ? ctx.occurred_at_ms : NowMs()) + opt_.grace_period_ms;
  return Commit(id, ctx, fb::Payload::DeletionRequested, [&](events::EnvelopeBuilder& b, const std::string&) {
    return fb::CreateDeletionRequested(b.fbb(), deadline_ms).Union();
  }, std::move(done));
}

Status Accounts::CancelDeletion(uint64_t id, const Context& ctx, ReceiptDone done) {
  AccountState st;
  ACC_RETURN_IF_ERROR(ActiveState(id, &st));
  return Commit(id, ctx, fb::Payload::DeletionCancelled, [&](events::EnvelopeBuilder& b, const std::string&) {
    return fb::CreateDeletionCancelled(b.fbb(), st.deletion_deadline_ms).Union();
  }, std::move(done));
}

Status Accounts::CheckDisclosure(const Disclosure& d) {
  ACC_RETURN_IF_ERROR(validate::Text("recipient", d.recipient, kRecipientNameBytesMax));
  ACC_RETURN_IF_ERROR(validate::Text("purpose", d.purpose, kDisclosureFieldBytesMax));
  ACC_RETURN_IF_ERROR(validate::Text("reference", d.reference, kDisclosureFieldBytesMax, true));
  if (!d.country.empty() && !events::IsCountryCode(d.country))
    return Status::InvalidArgument("country: must be an assigned ISO 3166-1 alpha-2 code such as DE");
  if (!events::ParseSafeguard(d.safeguard))
    return Status::InvalidArgument("safeguard: must be one of none, adequacy_decision, standard_contractual_clauses, "
                                   "binding_corporate_rules, explicit_consent, legal_obligation");
  if (d.legal_basis != "consent" && d.legal_basis != "legal_obligation")
    return Status::InvalidArgument("legal basis: must be consent or legal_obligation");
  return Status::OK();
}

// Recipient id, country, basis and safeguard stay plaintext for accountability
// after erasure; purpose and reference are the caller's free text, so sealed.
Status Accounts::Disclose(uint64_t id, const Disclosure& d, const Context& ctx, ReceiptDone done) {
  ACC_RETURN_IF_ERROR(CheckDisclosure(d));
  const auto basis = d.legal_basis == "consent" ? fb::LegalBasis::Consent : fb::LegalBasis::LegalObligation;
  const fb::Safeguard safeguard = *events::ParseSafeguard(d.safeguard);
  Recipient to;
  ACC_RETURN_IF_ERROR(FindRecipient(d.recipient, &to));
  const std::string country = d.country.empty() ? to.country : d.country;
  AccountState st;
  ACC_RETURN_IF_ERROR(ActiveState(id, &st));
  crypto::Key32 dek;
  ACC_RETURN_IF_ERROR(vault_->GetAccountKey(id, &dek));
  const std::string content = ContentFields({std::to_string(to.id), country, d.purpose, d.legal_basis,
                                             events::SafeguardName(safeguard), d.reference});
  return Commit(id, ctx, fb::Payload::DisclosureRecorded, [&](events::EnvelopeBuilder& b, const std::string& rid) {
    flatbuffers::FlatBufferBuilder pf(256);
    std::string plain = events::FinishPii(pf, fb::CreateDisclosurePiiDirect(pf, d.purpose.c_str(), d.reference.c_str()));
    std::string box = SealForAccount(dek, id, fb::Payload::DisclosureRecorded, rid, plain);
    std::fill(plain.begin(), plain.end(), '\0');
    auto& f = b.fbb();
    auto sealed = b.Sealed(fb::KeyKind::AccountDek, box);
    auto c = f.CreateString(country);
    fb::DisclosureRecordedBuilder db(f);
    db.add_country(c);
    db.add_legal_basis(basis);
    db.add_recipient_id(to.id);
    db.add_safeguard_kind(safeguard);
    db.add_has_reference(!d.reference.empty());
    db.add_pii(sealed);
    return db.Finish().Union();
  }, std::move(done), content);
}

Status Accounts::CheckAccessLog(const AccessLog& log) {
  ACC_RETURN_IF_ERROR(validate::Ip(log.ip));
  for (auto [name, v] : {std::pair{"browser", &log.browser}, {"isp", &log.isp}, {"referrer", &log.referrer},
                         {"os", &log.os}, {"path", &log.path}})
    ACC_RETURN_IF_ERROR(validate::Text(name, *v, kAccessFieldBytesMax, true));
  return Status::OK();
}

Status Accounts::RecordAccess(const AccessLog& log, const Context& ctx, ReceiptDone done) {
  ACC_RETURN_IF_ERROR(CheckAccessLog(log));
  const int64_t at_ms = ctx.occurred_at_ms ? ctx.occurred_at_ms : NowMs();
  ACC_RETURN_IF_ERROR(CheckOccurredAt(at_ms, NowMs()));
  const uint32_t day = DayOf(at_ms);
  crypto::Key32 key;
  ACC_RETURN_IF_ERROR(vault_->GetOrCreateDayKey(day, &key));
  Context c = ctx;
  // Only the day in plaintext: a precise time could link the line to an
  // account's login at the same instant. The exact time is sealed (at_ms).
  constexpr int64_t kDayMs = 24LL * 3600 * 1000;
  c.occurred_at_ms = at_ms - at_ms % kDayMs;
  // Never linked to an account: account id 0, and the day key, not a DEK.
  return Commit(0, c, fb::Payload::AccessLogged, [&](events::EnvelopeBuilder& b, const std::string& rid) {
    flatbuffers::FlatBufferBuilder pf(256);
    auto pii = fb::CreateAccessLogPiiDirect(pf, log.ip.c_str(), log.browser.c_str(), log.isp.c_str(),
                                            log.referrer.c_str(), log.os.c_str(), log.path.c_str(), at_ms);
    std::string plain = events::FinishPii(pf, pii);
    std::string box = crypto::SealPadded(key, plain, AccountAd(day, fb::Payload::AccessLogged, rid));
    std::fill(plain.begin(), plain.end(), '\0');
    return fb::CreateAccessLogged(b.fbb(), day, b.Sealed(fb::KeyKind::DayKey, box)).Union();
  }, std::move(done), ContentFields({log.ip, log.browser, log.isp, log.referrer, log.os, log.path}));
}

Status Accounts::CheckPolicyDraft(const PolicyDraft& d) {
  ACC_RETURN_IF_ERROR(policy::CheckVersion(d.version));
  if (d.text.empty() || d.text.size() > policy::kTextBytesMax)
    return Status::InvalidArgument("policy text: must be 1.." + std::to_string(policy::kTextBytesMax) + " bytes");
  if (!validate::IsValidUtf8(d.text)) return Status::InvalidArgument("policy text: not valid UTF-8");
  ACC_RETURN_IF_ERROR(validate::Text("summary", d.summary, policy::kSummaryBytesMax, true));
  if (d.effective_at_ms < 0) return Status::InvalidArgument("effective date: before 1970");
  return Status::OK();
}

Status Accounts::PublishPolicy(const PolicyDraft& d, const Context& ctx, Receipt* out) {
  ACC_RETURN_IF_ERROR(CheckPolicyDraft(d));
  const std::string digest = crypto::Sha256(d.text);
  const int64_t at_ms = ctx.occurred_at_ms ? ctx.occurred_at_ms : NowMs();
  const int64_t effective_at_ms = d.effective_at_ms ? d.effective_at_ms : at_ms;
  // The projector refuses a version that is not newer or takes effect earlier
  // than the current one (projections/fold/policy.h).
  return Commit(0, ctx, fb::Payload::PolicyPublished, [&](events::EnvelopeBuilder& b, const std::string&) {
    auto& f = b.fbb();
    return fb::CreatePolicyPublished(f, f.CreateString(d.version), at_ms,
                                     f.CreateVector(reinterpret_cast<const uint8_t*>(digest.data()), digest.size()),
                                     f.CreateString(d.text), effective_at_ms, f.CreateString(d.summary))
        .Union();
  }, out, ContentFields({d.version, digest, d.summary, std::to_string(effective_at_ms)}));
}

}  // namespace accountable
