// CLI commands the account holder (or an admin for them) causes:
// login, consent, update, change-password, touch, request-deletion,
// cancel-deletion.
#include <iostream>

#include "projections/service/describe.h"
#include "core/crypto.h"
#include "server/cli/cli_commands.h"

namespace accountable::cli {
namespace {

using Json = nlohmann::ordered_json;

struct Common {
  std::string request_id;
  std::string by = "holder";
  std::string reason;
};

void AddCommon(CLI::App* c, Common* f, bool with_by) {
  c->add_option("--request-id", f->request_id, "idempotency key (random if omitted)");
  if (!with_by) return;
  c->add_option("--by", f->by, "who acts: holder | admin")->check(OneOf({"holder", "admin"}));
  c->add_option("--reason", f->reason, "required when --by admin");
}

Context ContextOf(const Common& f) {
  Context c;
  c.actor = f.by == "admin" ? fb::Actor::Admin : fb::Actor::Holder;
  c.request_id = f.request_id;
  c.reason = f.reason;
  return c;
}

// Opens the data directory, runs fn, prints the receipt.
int RunReceipt(const Globals& g, uint64_t id, std::string_view what,
               const std::function<Status(Backend&, Receipt*)>& fn) {
  std::unique_ptr<Backend> b;
  Status s = OpenBackend(g, &b);
  if (!s.ok()) return Fail(g, s);
  Receipt r;
  s = fn(*b, &r);
  if (!s.ok()) return Fail(g, s);
  Print(g, Json{{"ok", true}, {"account_id", id}, {"event", what}, {"seq", r.seq}, {"duplicate", r.duplicate}});
  return 0;
}

struct LoginFlags {
  std::string email, ip, user_agent;
  uint64_t account = 0;
  bool password_stdin = false;
  Common common;
};

int RunLogin(const Globals& g, const LoginFlags& f) {
  LoginRequest r{f.email, f.account, "", f.ip, f.user_agent, false, ContextOf(f.common)};
  crypto::ScopedWipe wipe(&r.password);
  Status s = ReadPassword(f.password_stdin, &r.password);
  if (!s.ok()) return Fail(g, s);
  std::unique_ptr<Backend> b;
  s = OpenBackend(g, &b);
  if (!s.ok()) return Fail(g, s);
  LoginResult out;
  s = b->Login(r, &out);
  if (!s.ok()) return Fail(g, s);
  Print(g, Json{{"ok", true}, {"account_id", out.account_id}, {"seq", out.seq},
                {"implicit_policy_acceptance", out.implicit_acceptance}});
  return 0;
}

struct ConsentFlags {
  uint64_t account = 0;
  std::string give, withdraw;
  Common common;
};

int RunConsent(const Globals& g, const ConsentFlags& f) {
  if (f.give.empty() == f.withdraw.empty())
    return Fail(g, Status::InvalidArgument("consent: give exactly one of --give or --withdraw"));
  auto purpose = events::ParsePurpose(f.give.empty() ? f.withdraw : f.give);
  if (!purpose)
    return Fail(g, Status::InvalidArgument(
                       "purpose: one of privacy_policy, cookies_preferences, cookies_analytics_marketing, "
                       "surveys, notifications, third_party_forwarding"));
  const bool give = !f.give.empty();
  return RunReceipt(g, f.account, give ? "consent_given" : "consent_withdrawn", [&](Backend& b, Receipt* r) {
    return b.Consent(f.account, *purpose, give, ContextOf(f.common), r);
  });
}

struct PasswordFlags {
  uint64_t account = 0;
  bool password_stdin = false;
  Common common;
};

// The holder gives the old password on the first line of stdin and the new
// one on the second; an admin reset (--by admin) reads only the new one.
int RunChangePassword(const Globals& g, const PasswordFlags& f) {
  PasswordChange c;
  crypto::ScopedWipe wipe(&c.old_password, &c.new_password);
  const Context ctx = ContextOf(f.common);
  Status s = ctx.actor == fb::Actor::Admin ? Status::OK() : ReadPassword(f.password_stdin, &c.old_password);
  if (s.ok()) s = ReadPassword(f.password_stdin, &c.new_password);
  if (!s.ok()) return Fail(g, s);
  return RunReceipt(g, f.account, "credentials_changed", [&](Backend& b, Receipt* r) {
    return b.ChangePassword(f.account, c, ctx, r);
  });
}

int RunTouch(const Globals& g, uint64_t id, const Common& common) {
  std::unique_ptr<Backend> b;
  Status s = OpenBackend(g, &b);
  if (!s.ok()) return Fail(g, s);
  Receipt r;
  s = b->Touch(id, ContextOf(common), &r);
  if (!s.ok()) return Fail(g, s);
  // recorded=false: the holder's activity of this UTC day was already on record.
  Print(g, Json{{"ok", true}, {"account_id", id}, {"event", "activity_recorded"},
                {"recorded", r.seq != 0 && !r.duplicate}, {"seq", r.seq}, {"duplicate", r.duplicate}});
  return 0;
}

struct UpdateFlags {
  uint64_t account = 0;
  std::optional<std::string> nickname, email, company, gender, birthdate;
  Common common;
};

// change-password and touch: what the forum calls day to day for its holders.
void AttachForumCommands(CLI::App& app, Globals& g, Selected* selected) {
  auto pf = std::make_shared<PasswordFlags>();
  auto* pw = app.add_subcommand("change-password", "set a new password (holder: old then new password on stdin)");
  pw->add_option("ACCOUNT_ID", pf->account)->check(kDecimal)->required();
  pw->add_flag("--password-stdin", pf->password_stdin, "read the passwords from stdin, one per line");
  pw->add_option("--by", pf->common.by, "holder | admin (a reset without the old password)")
      ->check(OneOf({"holder", "admin"}));
  AddCommon(pw, &pf->common, false);
  pw->callback([&g, selected, pf] { *selected = [&g, pf] { return RunChangePassword(g, *pf); }; });

  auto tid = std::make_shared<uint64_t>(0);
  auto tc = std::make_shared<Common>();
  auto* touch = app.add_subcommand("touch", "record that the holder used the forum today (once per UTC day)");
  touch->add_option("ACCOUNT_ID", *tid)->check(kDecimal)->required();
  AddCommon(touch, tc.get(), false);
  touch->callback([&g, selected, tid, tc] { *selected = [&g, tid, tc] { return RunTouch(g, *tid, *tc); }; });
}

}  // namespace

void AttachLifecycleCommands(CLI::App& app, Globals& g, Selected* selected) {
  auto lf = std::make_shared<LoginFlags>();
  auto* login = app.add_subcommand("login", "verify a password and record the login (exit 5 on failure)");
  auto* by_email = login->add_option("--email", lf->email);
  login->add_option("--account", lf->account)->check(kDecimal)->excludes(by_email);
  login->add_flag("--password-stdin", lf->password_stdin, "read the password from the first line of stdin");
  login->add_option("--ip", lf->ip)->required();
  login->add_option("--user-agent", lf->user_agent);
  AddCommon(login, &lf->common, false);
  login->callback([&g, selected, lf] { *selected = [&g, lf] { return RunLogin(g, *lf); }; });

  auto cf = std::make_shared<ConsentFlags>();
  auto* consent = app.add_subcommand("consent", "give or withdraw consent for one purpose");
  consent->add_option("ACCOUNT_ID", cf->account)->check(kDecimal)->required();
  consent->add_option("--give", cf->give, "purpose");
  consent->add_option("--withdraw", cf->withdraw, "purpose");
  AddCommon(consent, &cf->common, false);
  consent->callback([&g, selected, cf] { *selected = [&g, cf] { return RunConsent(g, *cf); }; });

  auto uf = std::make_shared<UpdateFlags>();
  auto* update = app.add_subcommand("update", "change profile fields (admins: nickname, email, company)");
  update->add_option("ACCOUNT_ID", uf->account)->check(kDecimal)->required();
  update->add_option("--nickname", uf->nickname);
  update->add_option("--email", uf->email);
  update->add_option("--company", uf->company);
  update->add_option("--gender", uf->gender);
  update->add_option("--birthdate", uf->birthdate);
  AddCommon(update, &uf->common, true);
  update->callback([&g, selected, uf] {
    *selected = [&g, uf] {
      ProfileChange c{uf->nickname, uf->email, uf->company, uf->gender, uf->birthdate};
      return RunReceipt(g, uf->account, "profile_updated", [&](Backend& b, Receipt* r) {
        return b.Update(uf->account, c, ContextOf(uf->common), r);
      });
    };
  });

  for (bool request : {true, false}) {
    auto id = std::make_shared<uint64_t>(0);
    auto common = std::make_shared<Common>();
    auto* c = app.add_subcommand(request ? "request-deletion" : "cancel-deletion",
                                 request ? "start the grace period before erasure" : "cancel within the grace period");
    c->add_option("ACCOUNT_ID", *id)->check(kDecimal)->required();
    AddCommon(c, common.get(), false);
    c->callback([&g, selected, id, common, request] {
      *selected = [&g, id, common, request] {
        return RunReceipt(g, *id, request ? "deletion_requested" : "deletion_cancelled",
                          [&](Backend& b, Receipt* r) { return b.Deletion(*id, request, ContextOf(*common), r); });
      };
    });
  }
  AttachForumCommands(app, g, selected);
}

}  // namespace accountable::cli
