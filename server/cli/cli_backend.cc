#include "server/cli/cli_backend.h"

#include <fstream>

#include "core/crypto.h"
#include "events/vocabulary.h"
#include "projections/fold/activity.h"
#include "projections/fold/policy.h"
#include "projections/service/describe.h"
#include "server/cli/cli_commands.h"
#include "server/client/client.h"
#include "server/client/tls_flags.h"

namespace accountable::cli {
namespace {

using Json = nlohmann::ordered_json;

class Embedded final : public Backend {
 public:
  explicit Embedded(std::unique_ptr<Accounts> a) : a_(std::move(a)) {}
  Status Register(const Registration& r, RegisterResult* out) override { return a_->Register(r, out); }
  Status Show(uint64_t id, Json* account) override {
    AccountView v;
    ACC_RETURN_IF_ERROR(a_->Show(id, &v));
    *account = DescribeAccount(v);
    return Status::OK();
  }
  Status Log(uint64_t from, size_t limit, std::optional<uint64_t> account, std::vector<Ledger::Stored>* out) override {
    return account ? a_->ledger().ReadStream(*account, from, limit, out) : a_->ledger().ReadRange(from, limit, out);
  }
  Status Login(const LoginRequest& r, LoginResult* out) override { return a_->Login(r, out); }
  Status Consent(uint64_t id, fb::Purpose p, bool give, const Context& ctx, Receipt* out) override {
    return give ? a_->GiveConsent(id, p, ctx, out) : a_->WithdrawConsent(id, p, ctx, out);
  }
  Status Update(uint64_t id, const ProfileChange& c, const Context& ctx, Receipt* out) override {
    return a_->Update(id, c, ctx, out);
  }
  Status Deletion(uint64_t id, bool request, const Context& ctx, Receipt* out) override {
    return request ? a_->RequestDeletion(id, ctx, out) : a_->CancelDeletion(id, ctx, out);
  }
  Status Disclose(uint64_t id, const Disclosure& d, const Context& ctx, Receipt* out) override {
    return a_->Disclose(id, d, ctx, out);
  }
  Status RecordAccess(const AccessLog& l, const Context& ctx, Receipt* out) override { return a_->RecordAccess(l, ctx, out); }
  Status PublishPolicy(const PolicyDraft& d, const Context& ctx, Receipt* out) override {
    return a_->PublishPolicy(d, ctx, out);
  }
  Status Policy(const std::string& version, Json* out) override {
    policy::Info info;
    ACC_RETURN_IF_ERROR(policy::Read(a_->ledger(), version, true, &info));
    *out = policy::Describe(info, true);
    return Status::OK();
  }
  Status Policies(std::vector<Json>* out) override {
    std::vector<policy::Info> infos;
    ACC_RETURN_IF_ERROR(policy::List(a_->ledger(), &infos));
    for (const auto& i : infos) out->push_back(policy::Describe(i, false));
    return Status::OK();
  }
  Status Export(uint64_t id, const Context& ctx, std::string* json) override { return a_->Export(id, ctx, json); }
  Status RegisterRecipient(const std::string& name, const std::string& country, const Context& ctx,
                           Receipt* out) override {
    return a_->RegisterRecipient(name, country, ctx, out);
  }
  Status ListRecipients(std::vector<Recipient>* out) override { return a_->ListRecipients(out); }
  Status Sweep(const SweepOptions& o, SweepReport* out) override { return a_->Sweep(o, out); }
  Status Inactive(int64_t as_of_ms, int months, std::vector<Json>* out) override {
    std::vector<uint64_t> ids;
    ACC_RETURN_IF_ERROR(a_->Inactive(as_of_ms ? as_of_ms : a_->NowMs(), months, &ids));
    for (uint64_t id : ids) {
      AccountState st;
      ACC_RETURN_IF_ERROR(ReadAccount(a_->ledger(), id, &st));
      out->push_back({{"account_id", id}, {"status", StatusName(st.status)}, {"last_active_at", events::FormatTime(st.last_active_at_ms)}});
    }
    return Status::OK();
  }
  Status Import(std::string_view bytes, ImportReport* out) override { return ImportJsonLines(*a_, bytes, out); }
  Status ChangePassword(uint64_t id, const PasswordChange& c, const Context& ctx, Receipt* out) override {
    return a_->ChangePassword(id, c, ctx, out);
  }
  Status Touch(uint64_t id, const Context& ctx, Receipt* out) override { return a_->Touch(id, ctx, out); }
  Status RetentionNotice(uint64_t id, const Context& ctx, Receipt* out) override {
    return a_->RecordRetentionNotice(id, ctx, out);
  }
  Status RetentionDue(int64_t as_of_ms, int within_days, int months, std::vector<Json>* out, bool* truncated) override {
    constexpr int64_t kDayMs = 24LL * 3600 * 1000;
    std::vector<RetentionCandidate> due;
    const int64_t from_ms = as_of_ms ? as_of_ms : a_->NowMs();
    ACC_RETURN_IF_ERROR(CheckAsOfMs(from_ms));  // before the sum, which could overflow
    ACC_RETURN_IF_ERROR(a_->RetentionDue(from_ms + within_days * kDayMs, months, &due, truncated));
    for (const auto& d : due)
      out->push_back({{"account_id", d.account_id}, {"last_active_at", events::FormatTime(d.last_active_at_ms)},
                      {"due_at", events::FormatTime(d.due_at_ms)}});
    return Status::OK();
  }

 private:
  std::unique_ptr<Accounts> a_;
};

// Remote mode: the same operations as wire requests (docs/protocol.md).
class Remote final : public Backend {
 public:
  explicit Remote(std::unique_ptr<Client> c) : c_(std::move(c)) {}
  Status Register(const Registration& r, RegisterResult* out) override {
    Client::Reply rep;
    ACC_RETURN_IF_ERROR(Call(wire::Body::Register, [&](auto& f) {
      return wire::CreateRegisterDirect(f, r.nickname.c_str(), r.email.c_str(), r.password.c_str(), r.gender.c_str(),
                                        r.birthdate.c_str(), r.ip.c_str(), r.user_agent.c_str(), r.company.c_str(),
                                        r.accept_policy.c_str()).Union();
    }, &rep, r.request_id));
    *out = {rep.account_id, rep.seq, rep.duplicate};
    return Status::OK();
  }
  Status Show(uint64_t id, Json* account) override {
    Client::Reply rep;
    ACC_RETURN_IF_ERROR(Call(wire::Body::GetAccount, [&](auto& f) { return wire::CreateGetAccount(f, id).Union(); }, &rep));
    return ParseJson(rep.json, account);
  }
  Status Log(uint64_t from, size_t limit, std::optional<uint64_t> account, std::vector<Ledger::Stored>* out) override {
    out->clear();
    while (out->size() < limit) {
      const auto want = static_cast<uint32_t>(std::min<size_t>(limit - out->size(), 1024));
      Client::Reply rep;
      ACC_RETURN_IF_ERROR(account ? Call(wire::Body::ReadStream, [&](auto& f) { return wire::CreateReadStream(f, *account, from, want).Union(); }, &rep)
                                  : Call(wire::Body::ReadLog, [&](auto& f) { return wire::CreateReadLog(f, from, want).Union(); }, &rep));
      // A response may hold fewer than asked (frame budget): only an empty one ends the log.
      if (rep.events.empty()) break;
      from += rep.events.size();  // a stream pages by version, the log by seq: both advance by count
      for (auto& [seq, env] : rep.events) out->push_back({seq, std::move(env)});
    }
    return Status::OK();
  }
  Status Login(const LoginRequest& r, LoginResult* out) override {
    Client::Reply rep;
    ACC_RETURN_IF_ERROR(Call(wire::Body::Login, [&](auto& f) {
      return wire::CreateLoginDirect(f, r.email.empty() ? nullptr : r.email.c_str(), r.account_id, r.password.c_str(),
                                     r.ip.c_str(), r.user_agent.c_str()).Union();
    }, &rep, r.ctx.request_id));
    *out = {rep.account_id, rep.seq, false, rep.duplicate};
    return Status::OK();
  }
  Status Consent(uint64_t id, fb::Purpose p, bool give, const Context& ctx, Receipt* out) override {
    const std::string purpose(events::PurposeName(p));
    return Receipted(wire::Body::Consent, [&](auto& f) { return wire::CreateConsentDirect(f, id, purpose.c_str(), give).Union(); }, ctx, out);
  }
  Status Update(uint64_t id, const ProfileChange& c, const Context& ctx, Receipt* out) override {
    auto s = [](const std::optional<std::string>& v) { return v ? v->c_str() : nullptr; };
    return Receipted(wire::Body::Update, [&](auto& f) {
      return wire::CreateUpdateDirect(f, id, s(c.nickname), s(c.email), s(c.company), s(c.gender), s(c.birthdate),
                                      ctx.actor == fb::Actor::Admin, ctx.reason.empty() ? nullptr : ctx.reason.c_str()).Union();
    }, ctx, out);
  }
  Status Deletion(uint64_t id, bool request, const Context& ctx, Receipt* out) override {
    if (request)
      return Receipted(wire::Body::RequestDeletion, [&](auto& f) { return wire::CreateRequestDeletion(f, id).Union(); }, ctx, out);
    return Receipted(wire::Body::CancelDeletion, [&](auto& f) { return wire::CreateCancelDeletion(f, id).Union(); }, ctx, out);
  }
  Status Disclose(uint64_t id, const Disclosure& d, const Context& ctx, Receipt* out) override {
    return Receipted(wire::Body::Disclose, [&](auto& f) {
      return wire::CreateDiscloseDirect(f, id, d.recipient.c_str(), d.country.c_str(), d.purpose.c_str(),
                                        d.legal_basis.c_str(), d.safeguard.c_str(), d.reference.c_str()).Union();
    }, ctx, out);
  }
  Status RecordAccess(const AccessLog& l, const Context& ctx, Receipt* out) override {
    if (ctx.occurred_at_ms) return Status::InvalidArgument("--at is not available in remote mode: the server stamps the time");
    return Receipted(wire::Body::RecordAccess, [&](auto& f) {
      return wire::CreateRecordAccessDirect(f, l.ip.c_str(), l.browser.c_str(), l.isp.c_str(), l.referrer.c_str(),
                                            l.os.c_str(), l.path.c_str()).Union();
    }, ctx, out);
  }
  Status PublishPolicy(const PolicyDraft& d, const Context& ctx, Receipt* out) override {
    return Receipted(wire::Body::PublishPolicy, [&](auto& f) {
      return wire::CreatePublishPolicyDirect(f, d.version.c_str(), d.text.c_str(), d.summary.c_str(), d.effective_at_ms).Union();
    }, ctx, out);
  }
  Status Policy(const std::string& version, Json* out) override {
    Client::Reply rep;
    ACC_RETURN_IF_ERROR(Call(wire::Body::GetPolicy, [&](auto& f) { return wire::CreateGetPolicyDirect(f, version.c_str()).Union(); }, &rep));
    return ParseJson(rep.json, out);
  }
  Status Policies(std::vector<Json>* out) override;
  Status Export(uint64_t id, const Context& ctx, std::string* json) override {
    Client::Reply rep;
    ACC_RETURN_IF_ERROR(Call(wire::Body::Export, [&](auto& f) { return wire::CreateExport(f, id).Union(); }, &rep, ctx.request_id));
    *json = rep.json;
    return Status::OK();
  }
  Status RegisterRecipient(const std::string& name, const std::string& country, const Context& ctx,
                           Receipt* out) override {
    return Receipted(wire::Body::RegisterRecipient, [&](auto& f) {
      return wire::CreateRegisterRecipientDirect(f, name.c_str(), country.c_str()).Union();
    }, ctx, out);
  }
  Status ListRecipients(std::vector<Recipient>* out) override;
  Status Sweep(const SweepOptions& o, SweepReport* out) override;
  Status Inactive(int64_t as_of_ms, int months, std::vector<Json>* out) override;
  Status Import(std::string_view, ImportReport*) override {
    return Status::InvalidArgument("import runs in embedded mode only (--data on the server's machine)");
  }
  Status ChangePassword(uint64_t id, const PasswordChange& c, const Context& ctx, Receipt* out) override {
    const bool by_admin = ctx.actor == fb::Actor::Admin;
    return Receipted(wire::Body::ChangePassword, [&](auto& f) {
      return wire::CreateChangePasswordDirect(f, id, by_admin ? nullptr : c.old_password.c_str(),
                                              c.new_password.c_str(), by_admin).Union();
    }, ctx, out);
  }
  Status Touch(uint64_t id, const Context& ctx, Receipt* out) override {
    return Receipted(wire::Body::Touch, [&](auto& f) { return wire::CreateTouch(f, id).Union(); }, ctx, out);
  }
  Status RetentionNotice(uint64_t id, const Context& ctx, Receipt* out) override {
    return Receipted(wire::Body::RetentionNotice, [&](auto& f) { return wire::CreateRetentionNotice(f, id).Union(); }, ctx, out);
  }
  Status RetentionDue(int64_t as_of_ms, int within_days, int months, std::vector<Json>* out, bool* truncated) override;

 private:
  Status Call(wire::Body type, const Client::BodyFn& body, Client::Reply* rep, const std::string& rid = "") {
    ACC_RETURN_IF_ERROR(c_->Call(type, body, rep, rid));
    return rep->status;
  }
  Status Receipted(wire::Body type, const Client::BodyFn& body, const Context& ctx, Receipt* out) {
    Client::Reply rep;
    ACC_RETURN_IF_ERROR(Call(type, body, &rep, ctx.request_id));
    *out = {rep.seq, rep.duplicate};
    return Status::OK();
  }
  static Status ParseJson(const std::string& text, Json* out) {
    *out = Json::parse(text, nullptr, false);
    return out->is_discarded() ? Status::Corruption("server sent malformed JSON") : Status::OK();
  }
  std::unique_ptr<Client> c_;
};

Status Remote::Sweep(const SweepOptions& o, SweepReport* out) {
  Client::Reply rep;
  ACC_RETURN_IF_ERROR(Call(wire::Body::Sweep, [&](auto& f) { return wire::CreateSweep(f, o.dry_run, o.as_of_ms).Union(); }, &rep));
  Json j;
  ACC_RETURN_IF_ERROR(ParseJson(rep.json, &j));
  *out = SweepReport();
  try {
    for (auto& e : j.at("erased"))
      out->erased.push_back({e.at("account_id").get<uint64_t>(), e.at("reason").get<std::string>(),
                             events::ParseTime(e.at("due_at").get<std::string>()).value_or(0)});
    for (auto& d : j.at("days_shredded")) out->days_shredded.push_back(d.get<uint32_t>());
    out->verified = j.at("verified").get<bool>();
    out->shred.files_scanned = j.at("files_scanned").get<uint64_t>();
    out->shred.bytes_scanned = j.at("bytes_scanned").get<uint64_t>();
    out->shred.hits = j.at("hits").get<uint64_t>();
    out->elapsed_ms = j.at("elapsed_ms").get<int64_t>();
  } catch (const nlohmann::json::exception&) {
    return Status::Corruption("server sent a sweep report of an unknown shape");
  }
  return Status::OK();
}

Status Remote::ListRecipients(std::vector<Recipient>* out) {
  Client::Reply rep;
  ACC_RETURN_IF_ERROR(Call(wire::Body::ListRecipients, [&](auto& f) { return wire::CreateListRecipients(f).Union(); }, &rep));
  Json j;
  ACC_RETURN_IF_ERROR(ParseJson(rep.json, &j));
  out->clear();
  try {
    for (auto& r : j.at("recipients"))
      out->push_back({r.at("recipient_id").get<uint64_t>(), r.at("name").get<std::string>(),
                      r.at("country").get<std::string>()});
  } catch (const nlohmann::json::exception&) {
    return Status::Corruption("server sent a recipient list of an unknown shape");
  }
  return Status::OK();
}

Status Remote::Policies(std::vector<Json>* out) {
  Client::Reply rep;
  ACC_RETURN_IF_ERROR(Call(wire::Body::ListPolicies, [&](auto& f) { return wire::CreateListPolicies(f).Union(); }, &rep));
  Json j;
  ACC_RETURN_IF_ERROR(ParseJson(rep.json, &j));
  if (!j.contains("policies") || !j["policies"].is_array()) return Status::Corruption("server sent no policies");
  for (auto& p : j["policies"]) out->push_back(p);
  return Status::OK();
}

Status Remote::Inactive(int64_t as_of_ms, int months, std::vector<Json>* out) {
  Client::Reply rep;
  ACC_RETURN_IF_ERROR(Call(
      wire::Body::Inactive, [&](auto& f) { return wire::CreateInactive(f, as_of_ms, months).Union(); }, &rep));
  Json j;
  ACC_RETURN_IF_ERROR(ParseJson(rep.json, &j));
  if (!j.contains("account_ids") || !j["account_ids"].is_array()) return Status::Corruption("server sent no account_ids");
  for (auto& id : j["account_ids"]) {
    Json account;
    ACC_RETURN_IF_ERROR(Show(id.get<uint64_t>(), &account));
    out->push_back({{"account_id", account["account_id"]}, {"status", account["status"]}, {"last_active_at", account["last_active_at"]}});
  }
  return Status::OK();
}

Status Remote::RetentionDue(int64_t as_of_ms, int within_days, int months, std::vector<Json>* out, bool* truncated) {
  Client::Reply rep;
  ACC_RETURN_IF_ERROR(Call(
      wire::Body::Inactive, [&](auto& f) { return wire::CreateInactive(f, as_of_ms, months, within_days).Union(); },
      &rep));
  Json j;
  ACC_RETURN_IF_ERROR(ParseJson(rep.json, &j));
  if (!j.contains("accounts") || !j["accounts"].is_array() || !j.contains("truncated") || !j["truncated"].is_boolean())
    return Status::Corruption("server sent no accounts list");
  for (auto& row : j["accounts"]) out->push_back(row);
  *truncated = j["truncated"].get<bool>();
  return Status::OK();
}

}  // namespace

Status OpenBackend(const Globals& g, std::unique_ptr<Backend>* out) {
  if (g.server.empty() && AnyClientTls(g.tls)) return Status::InvalidArgument("the --tls-* options go with --server");
  if (g.server.empty()) {
    std::unique_ptr<Accounts> a;
    ACC_RETURN_IF_ERROR(OpenAccounts(g, &a));
    *out = std::make_unique<Embedded>(std::move(a));
    return Status::OK();
  }
  if (g.token_file.empty()) return Status::InvalidArgument("--server needs --token-file");
  std::string token;
  ACC_RETURN_IF_ERROR(crypto::ReadTokenFile(g.token_file, &token));
  std::unique_ptr<Client> c;
  Status s = Client::Connect(g.server, token, g.tls, &c);
  crypto::Wipe(&token);
  ACC_RETURN_IF_ERROR(s);
  *out = std::make_unique<Remote>(std::move(c));
  return Status::OK();
}

}  // namespace accountable::cli
