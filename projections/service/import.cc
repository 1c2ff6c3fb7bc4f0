#include "projections/service/import.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <vector>

#include "events/vocabulary.h"
#include "projections/fold/policy.h"
#include "projections/fold/projector.h"
#include "projections/service/describe.h"
#include "projections/service/json_fields.h"
#include "projections/validate/validate.h"

namespace accountable {
namespace {

using Json = nlohmann::json;

struct Op {
  size_t line = 0;
  std::string type;
  uint64_t account_id = 0;
  int64_t at_ms = 0;
  std::string request_id;
  fb::Actor actor = fb::Actor::Import;  // ImportAdmin for "by":"admin"
  Json j;
};

Status LineError(size_t line, const Status& s) {
  std::string m = "line " + std::to_string(line) + ": " + s.message();
  return s.Is(Status::Code::kRefused) ? Status::Refused(m)
         : s.Is(Status::Code::kNotFound) ? Status::NotFound(m)
                                         : Status::InvalidArgument(m);
}

// Keys each type accepts beyond type, account_id and occurred_at. "by" marks
// the types whose line may say who acted (docs/import.md, "Who acted").
const std::map<std::string, std::set<std::string>, std::less<>>& AllowedKeys() {
  static const std::map<std::string, std::set<std::string>, std::less<>> k = {
      {"register", {"nickname", "email", "password", "gender", "birthdate", "ip", "user_agent", "company", "accept_policy"}},
      {"login", {"ip", "user_agent"}},
      {"login_failed", {"ip", "user_agent"}},
      {"consent", {"give", "withdraw", "by"}},
      {"update", {"nickname", "email", "company", "gender", "birthdate", "reason", "by"}},
      {"request-deletion", {"by"}},
      {"cancel-deletion", {"by"}},
      {"access_requested", {}},
      {"disclose", {"recipient", "country", "purpose", "legal_basis", "reference", "safeguard"}},
      {"record-access", {"ip", "browser", "isp", "referrer", "os", "path"}},
      {"publish-policy", {"version", "text", "summary", "effective_at"}},
      {"register-recipient", {"name", "country"}},
  };
  return k;
}

// ParseLine checks that every member but account_id is a string, so the
// readers after it need no Status.
using json_fields::StringIfPresent;
using json_fields::StringOrEmpty;

bool IsKnownKey(const std::string& key) {
  if (key == "type" || key == "account_id" || key == "occurred_at") return true;
  for (const auto& [type, keys] : AllowedKeys())
    if (keys.count(key)) return true;
  return false;
}

// Parses one line into a JSON object. nlohmann keeps the last of two equal
// keys, so a callback sees every key: a line that says a thing twice is
// refused rather than read one way. Only known key names are echoed, never
// a value: both may be personal data.
Status ParseObject(std::string_view text, Json* out) {
  if (text.size() > kImportLineBytesMax) return Status::InvalidArgument("longer than the line limit");
  if (!validate::IsValidUtf8(text)) return Status::InvalidArgument("not valid UTF-8");
  std::vector<std::set<std::string>> open;  // keys seen per enclosing object; bounded by the line limit
  std::optional<std::string> duplicate;
  auto seen = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) open.emplace_back();
    if (event == Json::parse_event_t::object_end && !open.empty()) open.pop_back();
    if (event == Json::parse_event_t::key && !open.empty() && !duplicate &&
        !open.back().insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  *out = Json::parse(text.begin(), text.end(), seen, false);
  if (out->is_discarded() || !out->is_object()) return Status::InvalidArgument("not a JSON object");
  if (duplicate)
    return Status::InvalidArgument("duplicate key" + (IsKnownKey(*duplicate) ? " " + *duplicate : std::string()));
  return Status::OK();
}

// "by": who acted on the old system; the holder unless it says admin.
Status ParseActor(const Json& j, const std::string& type, fb::Actor* actor) {
  *actor = fb::Actor::Import;
  if (!j.contains("by")) return Status::OK();
  if (!AllowedKeys().at(type).count("by"))
    return Status::InvalidArgument("by: only update, consent, request-deletion and cancel-deletion lines take it");
  const std::string by = StringOrEmpty(j, "by");
  if (by == "admin") *actor = fb::Actor::ImportAdmin;
  else if (by != "holder") return Status::InvalidArgument("by: must be holder or admin");
  return Status::OK();
}

Status ParseLine(std::string_view text, size_t line, const std::string& rid_prefix, int64_t now_ms, Op* op) {
  Json j;
  ACC_RETURN_IF_ERROR(ParseObject(text, &j));
  op->line = line;
  op->type = StringOrEmpty(j, "type");
  auto allowed = AllowedKeys().find(op->type);
  if (allowed == AllowedKeys().end()) return Status::InvalidArgument("unknown type");
  ACC_RETURN_IF_ERROR(ParseActor(j, op->type, &op->actor));
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k == "type" || k == "occurred_at" || k == "account_id") continue;
    if (!allowed->second.count(k)) return Status::InvalidArgument("unknown key " + k + " for " + op->type);
    std::optional<std::string> value;
    ACC_RETURN_IF_ERROR(json_fields::GetOptionalString(j, k.c_str(), &value));  // k is one of ours: checked above
  }
  auto at_ms = events::ParseTime(StringOrEmpty(j, "occurred_at"));
  if (!at_ms) return Status::InvalidArgument("occurred_at: required, RFC 3339 UTC (2022-01-05T10:00:00Z)");
  op->at_ms = *at_ms;
  ACC_RETURN_IF_ERROR(Accounts::CheckOccurredAt(op->at_ms, now_ms));
  const bool needs_account =
      op->type != "record-access" && op->type != "publish-policy" && op->type != "register-recipient";
  if (needs_account) ACC_RETURN_IF_ERROR(json_fields::GetRequiredPositive(j, "account_id", &op->account_id));
  op->request_id = rid_prefix + std::to_string(line);
  op->j = std::move(j);
  return Status::OK();
}

// A publish-policy line's effective date: its occurred_at unless given.
Status EffectiveAt(const Op& op, int64_t* out) {
  *out = op.at_ms;
  if (!op.j.contains("effective_at")) return Status::OK();
  auto effective_at_ms = events::ParseTime(StringOrEmpty(op.j, "effective_at"));
  if (!effective_at_ms) return Status::InvalidArgument("effective_at: RFC 3339 UTC (2022-01-05T10:00:00Z)");
  *out = *effective_at_ms;
  return Status::OK();
}

// In-memory stand-in for the projector, so the file is checked before any append.
class Simulation {
 public:
  Simulation(Accounts& a, int64_t grace_ms) : a_(a), grace_ms_(grace_ms), current_(a.CurrentPolicyVersion()) {}
  Status Init();  // reads the versions the ledger already published
  Status Check(const Op& op);

 private:
  struct Version {
    std::string version;
    int64_t effective_at_ms;
  };
  Status State(uint64_t id, AccountState** out);
  Status CheckEmail(const std::string& email, uint64_t id);
  Status CheckRecipient(const Op& op);
  Status FindRecipient(const std::string& id_or_name);
  Status CheckPublish(const Op& op);
  std::string InEffectAt(int64_t at_ms) const;
  std::optional<int64_t> EffectiveAtOf(const std::string& version) const;
  std::string Envelope(const Op& op, const AccountState& st);

  Accounts& a_;
  int64_t grace_ms_;
  std::string current_;
  std::vector<Version> policies_;  // the ledger's, then this file's, in publication order
  std::map<uint64_t, AccountState> states_;
  std::map<uint64_t, int64_t> last_at_ms_;  // account -> the time its next line may not precede
  std::map<std::string, uint64_t> emails_;  // normalized -> account, claimed in this file
  std::map<uint64_t, std::string> email_of_;  // account -> its email as of this point of the file
  std::set<std::string> freed_;              // emails that an update in this file gave up
  Recipient recipient_;                      // of the disclose line being checked
  std::map<std::string, std::string> recipients_;  // registered in this file: lower-case name -> country
};

// A recipient registered earlier in the file has no id yet (its seq); the
// rules only need its country.
Status Simulation::FindRecipient(const std::string& id_or_name) {
  auto it = recipients_.find(RecipientNameKey(id_or_name));
  if (it == recipients_.end()) return a_.FindRecipient(id_or_name, &recipient_);
  recipient_ = {0, id_or_name, it->second};
  return Status::OK();
}

Status Simulation::CheckRecipient(const Op& op) {
  const std::string name = StringOrEmpty(op.j, "name"), country = StringOrEmpty(op.j, "country");
  ACC_RETURN_IF_ERROR(accountable::CheckRecipient(name, country));
  Recipient existing;
  if (recipients_.count(RecipientNameKey(name)) || a_.FindRecipient(name, &existing).ok())
    return Status::Refused("a recipient of that name is already registered");
  recipients_[RecipientNameKey(name)] = country;
  return Status::OK();
}

Status Simulation::Init() {
  std::vector<policy::Info> infos;
  ACC_RETURN_IF_ERROR(policy::List(a_.ledger(), &infos));
  for (const auto& i : infos) policies_.push_back({i.version, i.row.effective_at_ms});
  return Status::OK();
}

std::string Simulation::InEffectAt(int64_t at_ms) const {
  std::string v;
  for (const auto& p : policies_)
    if (p.effective_at_ms <= at_ms) v = p.version;
  return v;
}

std::optional<int64_t> Simulation::EffectiveAtOf(const std::string& version) const {
  for (const auto& p : policies_)
    if (p.version == version) return p.effective_at_ms;
  return std::nullopt;
}

// As Projector::ApplyPolicy: new, greater than the current version, in effect no earlier.
Status Simulation::CheckPublish(const Op& op) {
  const std::string v = StringOrEmpty(op.j, "version");
  int64_t effective_at_ms = 0;
  ACC_RETURN_IF_ERROR(EffectiveAt(op, &effective_at_ms));
  if (EffectiveAtOf(v)) return Status::Refused("policy version " + v + " was already published");
  if (!policies_.empty()) {
    policy::Row current;
    current.effective_at_ms = policies_.back().effective_at_ms;
    ACC_RETURN_IF_ERROR(policy::CheckSuccessor(policies_.back().version, current, v, effective_at_ms));
  }
  policies_.push_back({v, effective_at_ms});
  current_ = v;
  return Status::OK();
}

Status Simulation::State(uint64_t id, AccountState** out) {
  auto it = states_.find(id);
  if (it == states_.end()) {
    AccountState st;
    Status s = ReadAccount(a_.ledger(), id, &st);
    if (!s.ok() && !s.Is(Status::Code::kNotFound)) return s;
    it = states_.emplace(id, st).first;
  }
  *out = &it->second;
  return Status::OK();
}

Status Simulation::CheckEmail(const std::string& email, uint64_t id) {
  std::string e;
  ACC_RETURN_IF_ERROR(validate::CanonicalEmail(email, &e));
  auto it = emails_.find(e);
  if (it != emails_.end() && it->second != id) return Status::Refused("email is already registered");
  uint64_t holder = 0;
  if (it == emails_.end() && !freed_.count(e) && a_.vault().LookupEmail(e, &holder).ok() && holder != id) {
    AccountState st;
    if (ReadAccount(a_.ledger(), holder, &st).ok() && st.status != AccountStatus::kErased)
      return Status::Refused("email is already registered");
  }
  // The account's previous email is free from here on, as it is live.
  auto prev = email_of_.find(id);
  std::string old = prev != email_of_.end() ? prev->second : std::string();
  AccountView v;
  if (prev == email_of_.end() && a_.Show(id, &v).ok() && v.pii && !validate::CanonicalEmail(v.pii->email, &old).ok())
    old.clear();
  if (!old.empty() && old != e) {
    emails_.erase(old);
    freed_.insert(old);
  }
  freed_.erase(e);
  emails_[e] = id;
  email_of_[id] = e;
  return Status::OK();
}

// The fields an update line changes, as its ProfileUpdated lists them.
std::vector<fb::ProfileField> ProfileFields(const Json& j) {
  std::vector<fb::ProfileField> out;
  for (auto [key, field] : {std::pair{"nickname", fb::ProfileField::Nickname}, {"email", fb::ProfileField::Email},
                            {"company", fb::ProfileField::Company}, {"gender", fb::ProfileField::Gender},
                            {"birthdate", fb::ProfileField::Birthdate}})
    if (j.contains(key)) out.push_back(field);
  return out;
}

std::string Simulation::Envelope(const Op& op, const AccountState& st) {
  events::EnvelopeBuilder b;
  auto& f = b.fbb();
  const Json& j = op.j;
  flatbuffers::Offset<void> p;
  fb::Payload t = fb::Payload::AccessRequested;
  if (op.type == "register") {
    t = fb::Payload::Registered;
    p = fb::CreateRegistered(f, f.CreateString(StringOrEmpty(j, "accept_policy"))).Union();
  } else if (op.type == "login") {
    t = fb::Payload::LoginSucceeded;
    p = fb::CreateLoginSucceeded(f).Union();
  } else if (op.type == "login_failed") {
    t = fb::Payload::LoginFailed;
    p = fb::CreateLoginFailed(f).Union();
  } else if (op.type == "access_requested") {
    t = fb::Payload::AccessRequested;
    p = fb::CreateAccessRequested(f, fb::AccessChannel::Import).Union();
  } else if (op.type == "consent") {
    const bool give = j.contains("give");
    auto purpose = *events::ParsePurpose(StringOrEmpty(j, give ? "give" : "withdraw"));
    t = give ? fb::Payload::ConsentGiven : fb::Payload::ConsentWithdrawn;
    const std::string version = InEffectAt(op.at_ms);  // as Accounts names it for imports
    p = give ? fb::CreateConsentGiven(f, purpose, f.CreateString(version)).Union()
             : fb::CreateConsentWithdrawn(f, purpose, f.CreateString(version)).Union();
  } else if (op.type == "update") {
    t = fb::Payload::ProfileUpdated;
    p = fb::CreateProfileUpdated(f, f.CreateVector(ProfileFields(j)), 0, !StringOrEmpty(j, "reason").empty()).Union();
  } else if (op.type == "request-deletion") {
    t = fb::Payload::DeletionRequested;
    p = fb::CreateDeletionRequested(f, op.at_ms + grace_ms_).Union();
  } else if (op.type == "cancel-deletion") {
    t = fb::Payload::DeletionCancelled;
    p = fb::CreateDeletionCancelled(f, st.deletion_deadline_ms).Union();
  } else {  // disclose
    t = fb::Payload::DisclosureRecorded;
    auto basis = StringOrEmpty(j, "legal_basis") == "legal_obligation" ? fb::LegalBasis::LegalObligation
                                                                       : fb::LegalBasis::Consent;
    fb::DisclosureRecordedBuilder db(f);
    auto country =
        f.CreateString(StringOrEmpty(j, "country").empty() ? recipient_.country : StringOrEmpty(j, "country"));
    db.add_country(country);
    db.add_legal_basis(basis);
    db.add_recipient_id(recipient_.id);
    db.add_has_reference(!StringOrEmpty(j, "reference").empty());
    p = db.Finish().Union();
  }
  return b.Finish({op.account_id, op.at_ms, op.actor, op.request_id, current_}, t, p);
}

Status Simulation::Check(const Op& op) {
  if (op.type == "publish-policy") return CheckPublish(op);
  if (op.type == "record-access") return validate::Ip(StringOrEmpty(op.j, "ip"));
  if (op.type == "register-recipient") return CheckRecipient(op);
  if (op.type == "consent" && op.j.contains("give") == op.j.contains("withdraw"))
    return Status::InvalidArgument("consent: give exactly one of give or withdraw");
  if (op.type == "consent" && !events::ParsePurpose(StringOrEmpty(op.j, op.j.contains("give") ? "give" : "withdraw")))
    return Status::InvalidArgument("consent: unknown purpose");
  AccountState* st = nullptr;
  ACC_RETURN_IF_ERROR(State(op.account_id, &st));
  // The account's history so far (this file, or the ledger) bounds the time from below.
  auto last = last_at_ms_.emplace(op.account_id, std::max(st->registered_at_ms, st->last_active_at_ms)).first;
  if (op.at_ms < last->second) return Status::InvalidArgument("occurred_at goes back in time for this account");
  last->second = op.at_ms;
  if (op.type == "register") ACC_RETURN_IF_ERROR(CheckEmail(StringOrEmpty(op.j, "email"), op.account_id));
  if (op.type == "update" && op.j.contains("email"))
    ACC_RETURN_IF_ERROR(CheckEmail(StringOrEmpty(op.j, "email"), op.account_id));
  if (op.type == "disclose") ACC_RETURN_IF_ERROR(FindRecipient(StringOrEmpty(op.j, "recipient")));
  std::string env = Envelope(op, *st);
  events::EventView v;
  ACC_RETURN_IF_ERROR(events::EventView::Parse(env, &v));
  std::optional<int64_t> named_effective_at_ms;
  if (op.type == "register") named_effective_at_ms = EffectiveAtOf(StringOrEmpty(op.j, "accept_policy"));
  if (op.type == "consent") named_effective_at_ms = EffectiveAtOf(InEffectAt(op.at_ms));
  ACC_RETURN_IF_ERROR(CheckAccountRules(*st, v, current_, named_effective_at_ms));
  accountable::Apply(*st, v);
  return Status::OK();
}

// Builds the service request of one line; with dry_run only its input
// checks run, otherwise the command itself.
// A register line as the service's argument; the account id is the old system's.
Registration RegistrationOf(const Op& op) {
  const Json& j = op.j;
  return {StringOrEmpty(j, "nickname"),
          StringOrEmpty(j, "email"),
          StringOrEmpty(j, "password"),
          StringOrEmpty(j, "gender"),
          StringOrEmpty(j, "birthdate"),
          StringOrEmpty(j, "ip"),
          StringOrEmpty(j, "user_agent"),
          StringOrEmpty(j, "company"),
          StringOrEmpty(j, "accept_policy"),
          op.request_id,
          fb::Actor::Import,
          op.at_ms,
          op.account_id};
}

Status RunOp(Accounts& a, const Op& op, bool dry_run) {
  const Json& j = op.j;
  Context ctx{op.actor, op.at_ms, op.request_id, StringOrEmpty(j, "reason")};
  Receipt r;
  const uint64_t id = op.account_id;
  if (op.type == "register") {
    const Registration reg = RegistrationOf(op);
    if (dry_run) return Accounts::CheckRegistration(reg, op.at_ms);
    RegisterResult out;
    return a.Register(reg, &out);
  }
  if (op.type == "login" || op.type == "login_failed") {
    // An imported login is a recorded fact: there is no password to check.
    LoginRequest l{
        "", id, "", StringOrEmpty(j, "ip"), StringOrEmpty(j, "user_agent"), true, ctx, op.type == "login_failed"};
    if (dry_run) return Accounts::CheckLogin(l);
    LoginResult out;
    return a.Login(l, &out);
  }
  if (op.type == "update") {
    ProfileChange c{StringIfPresent(j, "nickname"), StringIfPresent(j, "email"), StringIfPresent(j, "company"),
                    StringIfPresent(j, "gender"), StringIfPresent(j, "birthdate")};
    return dry_run ? Accounts::CheckChange(c, ctx, op.at_ms) : a.Update(id, c, ctx, &r);
  }
  if (op.type == "disclose") {
    Disclosure d{StringOrEmpty(j, "recipient"),   StringOrEmpty(j, "country"),   StringOrEmpty(j, "purpose"),
                 StringOrEmpty(j, "legal_basis"), StringOrEmpty(j, "safeguard"), StringOrEmpty(j, "reference")};
    return dry_run ? Accounts::CheckDisclosure(d) : a.Disclose(id, d, ctx, &r);
  }
  if (op.type == "record-access") {
    AccessLog l{StringOrEmpty(j, "ip"),       StringOrEmpty(j, "browser"), StringOrEmpty(j, "isp"),
                StringOrEmpty(j, "referrer"), StringOrEmpty(j, "os"),      StringOrEmpty(j, "path")};
    return dry_run ? Accounts::CheckAccessLog(l) : a.RecordAccess(l, ctx, &r);
  }
  if (op.type == "register-recipient") {
    const std::string name = StringOrEmpty(j, "name"), country = StringOrEmpty(j, "country");
    return dry_run ? accountable::CheckRecipient(name, country) : a.RegisterRecipient(name, country, ctx, &r);
  }
  if (op.type == "publish-policy") {
    PolicyDraft d{StringOrEmpty(j, "version"), StringOrEmpty(j, "text"), StringOrEmpty(j, "summary"), 0};
    ACC_RETURN_IF_ERROR(EffectiveAt(op, &d.effective_at_ms));
    return dry_run ? Accounts::CheckPolicyDraft(d) : a.PublishPolicy(d, ctx, &r);
  }
  if (dry_run) return Status::OK();  // the simulation checks the rest
  if (op.type == "consent") {
    const bool give = j.contains("give");
    auto p = *events::ParsePurpose(StringOrEmpty(j, give ? "give" : "withdraw"));
    return give ? a.GiveConsent(id, p, ctx, &r) : a.WithdrawConsent(id, p, ctx, &r);
  }
  if (op.type == "request-deletion") return a.RequestDeletion(id, ctx, &r);
  if (op.type == "access_requested") return a.RecordAccessRequest(id, ctx, &r);
  return a.CancelDeletion(id, ctx, &r);
}

}  // namespace

Status ImportJsonLines(Accounts& a, std::string_view bytes, ImportReport* report) {
  *report = ImportReport();
  const std::string prefix = "import/" + crypto::ToHex(crypto::Sha256(bytes)).substr(0, 16) + "/";
  std::vector<Op> ops;
  size_t line = 0;
  for (size_t pos = 0; pos < bytes.size();) {
    size_t end = bytes.find('\n', pos);
    if (end == std::string_view::npos) end = bytes.size();
    std::string_view text = bytes.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    if (ops.size() == kImportLinesMax) return LineError(line, Status::InvalidArgument("too many lines"));
    Op op;
    Status s = ParseLine(text, line, prefix, a.NowMs(), &op);
    if (!s.ok()) return LineError(line, s);
    ops.push_back(std::move(op));
  }
  Simulation sim(a, a.grace_period_ms());
  ACC_RETURN_IF_ERROR(sim.Init());
  std::vector<bool> done(ops.size(), false);
  for (size_t i = 0; i < ops.size(); ++i) {
    uint64_t seq = 0;
    done[i] = a.ledger().LookupRequest(a.RequestKey(ops[i].request_id), &seq).ok();
    if (done[i]) continue;  // imported by an earlier run: the ledger state has it
    Status s = RunOp(a, ops[i], true);
    if (s.ok()) s = sim.Check(ops[i]);
    if (!s.ok()) return LineError(ops[i].line, s);
  }
  report->lines = ops.size();
  for (size_t i = 0; i < ops.size(); ++i) {
    if (done[i]) {
      ++report->already_imported;
      continue;
    }
    Status s = RunOp(a, ops[i], false);
    if (!s.ok()) return LineError(ops[i].line, s);
    ++report->appended;
  }
  return Status::OK();
}

}  // namespace accountable
