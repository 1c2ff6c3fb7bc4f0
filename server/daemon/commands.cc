// The commands that append one event, run without waiting for their append:
// each starts an Accounts Done form and answers from its completion.
#include "core/crypto.h"
#include "events/fields.h"
#include "events/vocabulary.h"
#include "server/daemon/dispatch.h"
#include "server/daemon/dispatch_internal.h"

namespace accountable::dispatch_internal {
namespace {

using events::StringOrEmpty;
using wire::Body;
using Replier = std::function<void(std::string)>;

// The wire bodies as the service's arguments. An unset string field reads as "".
Registration RegistrationOf(const wire::Request* r) {
  auto* b = r->body_as_Register();
  return {StringOrEmpty(b->nickname()),   StringOrEmpty(b->email()),     StringOrEmpty(b->password()),
          StringOrEmpty(b->gender()),     StringOrEmpty(b->birthdate()), StringOrEmpty(b->ip()),
          StringOrEmpty(b->user_agent()), StringOrEmpty(b->company()),   StringOrEmpty(b->accept_policy()),
          StringOrEmpty(r->request_id())};
}

LoginRequest LoginOf(const wire::Request* r) {
  auto* b = r->body_as_Login();
  return {StringOrEmpty(b->email()), b->account_id(), StringOrEmpty(b->password()), StringOrEmpty(b->ip()),
          StringOrEmpty(b->user_agent()), false, ContextOf(r)};
}

Disclosure DisclosureOf(const wire::Disclose* b) {
  return {StringOrEmpty(b->recipient()),   StringOrEmpty(b->country()),   StringOrEmpty(b->purpose()),
          StringOrEmpty(b->legal_basis()), StringOrEmpty(b->safeguard()), StringOrEmpty(b->reference())};
}

AccessLog AccessLogOf(const wire::RecordAccess* b) {
  return {StringOrEmpty(b->ip()),       StringOrEmpty(b->browser()), StringOrEmpty(b->isp()),
          StringOrEmpty(b->referrer()), StringOrEmpty(b->os()),      StringOrEmpty(b->path())};
}

// Starts one command; a refusal (done never called) is answered at once,
// the completion later. account(result) names the account in the receipt.
template <typename R, typename Start, typename AccountOf>
void Run(uint64_t corr, const Replier& reply, Start&& start, AccountOf account) {
  Status s = start(Done<R>([corr, reply, account](Status st, R result) {
    reply(ReceiptFrame(corr, st, account(result), {result.seq, result.duplicate}));
  }));
  if (!s.ok()) reply(ReceiptFrame(corr, s, account(R{}), {}));
}

template <typename Start>
void RunReceipt(uint64_t corr, uint64_t account, const Replier& reply, Start&& start) {
  Run<Receipt>(corr, reply, std::forward<Start>(start), [account](const Receipt&) { return account; });
}

void StartRegisterOrLogin(Accounts& a, const wire::Request* r, const Replier& reply) {
  const uint64_t corr = r->correlation_id();
  if (r->body_type() == Body::Register) {
    Registration reg = RegistrationOf(r);
    crypto::ScopedWipe wipe(&reg.password);
    return Run<RegisterResult>(corr, reply, [&](Done<RegisterResult> d) { return a.Register(reg, std::move(d)); },
                               [](const RegisterResult& x) { return x.account_id; });
  }
  LoginRequest login = LoginOf(r);
  crypto::ScopedWipe wipe(&login.password);
  Run<LoginResult>(corr, reply, [&](Done<LoginResult> d) { return a.Login(login, std::move(d)); },
                   [](const LoginResult& x) { return x.account_id; });
}

void StartChangePassword(Accounts& a, wire::Role role, const wire::Request* r, const Replier& reply) {
  auto* b = r->body_as_ChangePassword();
  // Without the old password only an admin may set a new one.
  if (b->by_admin() && role != wire::Role::Admin)
    return reply(wire::ResponseFrame(r->correlation_id(), static_cast<uint8_t>(wire::ProtocolCode::kForbidden),
                                     "role " + std::string(wire::RoleName(role)) + " may not reset a password"));
  PasswordChange pc{StringOrEmpty(b->old_password()), StringOrEmpty(b->new_password())};
  crypto::ScopedWipe wipe(&pc.old_password, &pc.new_password);
  const Context c = ContextOf(r, b->by_admin() ? fb::Actor::Admin : fb::Actor::Holder);
  RunReceipt(r->correlation_id(), b->account_id(), reply,
             [&](ReceiptDone d) { return a.ChangePassword(b->account_id(), pc, c, std::move(d)); });
}

// Consent, deletion and its cancellation, update without an email change.
void StartAccountCommand(Accounts& a, const wire::Request* r, const Replier& reply) {
  const uint64_t corr = r->correlation_id();
  switch (r->body_type()) {
    case Body::Consent: {
      auto* b = r->body_as_Consent();
      auto p = events::ParsePurpose(StringOrEmpty(b->purpose()));
      if (!p) return reply(wire::ResponseFrame(corr, Status::InvalidArgument("purpose: unknown")));
      const uint64_t id = b->account_id();
      return RunReceipt(corr, id, reply, [&](ReceiptDone d) {
        return b->give() ? a.GiveConsent(id, *p, ContextOf(r), std::move(d))
                         : a.WithdrawConsent(id, *p, ContextOf(r), std::move(d));
      });
    }
    case Body::Update: {
      auto* b = r->body_as_Update();
      Context c = ContextOf(r, b->by_admin() ? fb::Actor::Admin : fb::Actor::Holder);
      c.reason = StringOrEmpty(b->reason());
      return RunReceipt(corr, b->account_id(), reply,
                        [&](ReceiptDone d) { return a.Update(b->account_id(), ProfileChangeOf(b), c, std::move(d)); });
    }
    case Body::RequestDeletion: {
      const uint64_t id = r->body_as_RequestDeletion()->account_id();
      return RunReceipt(corr, id, reply, [&](ReceiptDone d) { return a.RequestDeletion(id, ContextOf(r), std::move(d)); });
    }
    default: {  // CancelDeletion
      const uint64_t id = r->body_as_CancelDeletion()->account_id();
      return RunReceipt(corr, id, reply, [&](ReceiptDone d) { return a.CancelDeletion(id, ContextOf(r), std::move(d)); });
    }
  }
}

// Disclosures, access-log lines, the forum's daily touch, retention notices.
void StartRecordCommand(Accounts& a, const wire::Request* r, const Replier& reply) {
  const uint64_t corr = r->correlation_id();
  switch (r->body_type()) {
    case Body::Disclose: {
      auto* b = r->body_as_Disclose();
      const Disclosure d = DisclosureOf(b);
      return RunReceipt(corr, b->account_id(), reply, [&](ReceiptDone done) {
        return a.Disclose(b->account_id(), d, ContextOf(r, fb::Actor::Admin), std::move(done));
      });
    }
    case Body::RecordAccess: {
      const AccessLog log = AccessLogOf(r->body_as_RecordAccess());
      return RunReceipt(corr, 0, reply,
                        [&](ReceiptDone d) { return a.RecordAccess(log, ContextOf(r, fb::Actor::System), std::move(d)); });
    }
    case Body::Touch: {
      const uint64_t id = r->body_as_Touch()->account_id();
      return RunReceipt(corr, id, reply, [&](ReceiptDone d) { return a.Touch(id, ContextOf(r), std::move(d)); });
    }
    default: {  // RetentionNotice
      const uint64_t id = r->body_as_RetentionNotice()->account_id();
      return RunReceipt(corr, id, reply, [&](ReceiptDone d) {
        return a.RecordRetentionNotice(id, ContextOf(r, fb::Actor::System), std::move(d));
      });
    }
  }
}

}  // namespace

void StartCommand(Accounts& a, wire::Role role, const wire::Request* r, const Replier& reply) {
  switch (r->body_type()) {
    case Body::Register:
    case Body::Login:
      return StartRegisterOrLogin(a, r, reply);
    case Body::ChangePassword:
      return StartChangePassword(a, role, r, reply);
    case Body::Consent:
    case Body::Update:
    case Body::RequestDeletion:
    case Body::CancelDeletion:
      return StartAccountCommand(a, r, reply);
    default:
      return StartRecordCommand(a, r, reply);
  }
}

}  // namespace accountable::dispatch_internal
