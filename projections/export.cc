// Accounts::Export: the access request (DSAR). Everything held about one
// account, decrypted, as one JSON document.
#include "projections/accounts.h"
#include "projections/describe.h"

namespace accountable {
namespace {

using Json = nlohmann::ordered_json;

std::string Str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

// The decrypted PII of one event, or why it could not be opened.
Json OpenEventPii(Vault& vault, const events::EventView& v) {
  const fb::Sealed* sealed = v.sealed();
  if (!sealed || !sealed->box()) return nullptr;
  std::string_view box(reinterpret_cast<const char*>(sealed->box()->data()), sealed->box()->size());
  std::string plain;
  Status s = OpenForAccount(vault, v.envelope()->account_id(), v.type(), Str(v.envelope()->request_id()),
                            box, &plain);
  if (!s.ok()) return Json{{"error", Status::CodeName(s.code())}};
  Json j = Json::object();
  switch (v.type()) {
    case fb::Payload::Registered: {
      const fb::RegistrationPii* p;
      if (!events::ReadPii(plain, &p).ok()) return Json{{"error", "corruption"}};
      j = {{"nickname", Str(p->nickname())}, {"email", Str(p->email())}, {"gender", Str(p->gender())},
           {"birthdate", Str(p->birthdate())}, {"company", Str(p->company())}, {"ip", Str(p->ip())},
           {"user_agent", Str(p->user_agent())},
           {"credential", "Argon2id hash held; the password itself is never stored"}};
      break;
    }
    case fb::Payload::LoginSucceeded:
    case fb::Payload::LoginFailed: {
      const fb::LoginPii* p;
      if (!events::ReadPii(plain, &p).ok()) return Json{{"error", "corruption"}};
      j = {{"ip", Str(p->ip())}, {"user_agent", Str(p->user_agent())}};
      break;
    }
    case fb::Payload::ProfileUpdated: {
      const fb::ProfilePii* p;
      if (!events::ReadPii(plain, &p).ok()) return Json{{"error", "corruption"}};
      if (p->nickname()) j["nickname"] = p->nickname()->str();
      if (p->email()) j["email"] = p->email()->str();
      if (p->company()) j["company"] = p->company()->str();
      if (p->gender()) j["gender"] = p->gender()->str();
      if (p->birthdate()) j["birthdate"] = p->birthdate()->str();
      break;
    }
    case fb::Payload::CredentialsChanged:
      j = {{"credential", "Argon2id hash held; the password itself is never stored"}};
      break;
    default:
      break;
  }
  std::fill(plain.begin(), plain.end(), '\0');
  return j;
}

}  // namespace

Status Accounts::Export(uint64_t id, const Context& ctx, std::string* json) {
  AccountState st;
  ACC_RETURN_IF_ERROR(ActiveState(id, &st));
  Receipt r;
  ACC_RETURN_IF_ERROR(Commit(id, ctx, fb::Payload::AccessRequested, [&](events::EnvelopeBuilder& b, const std::string&) {
    auto channel = ctx.actor == fb::Actor::Admin ? fb::AccessChannel::Admin
                   : ctx.actor == fb::Actor::Import ? fb::AccessChannel::Import
                                                    : fb::AccessChannel::SelfService;
    return fb::CreateAccessRequested(b.fbb(), channel).Union();
  }, &r));
  AccountView view;
  ACC_RETURN_IF_ERROR(Show(id, &view));
  Json doc;
  doc["generated_at"] = FormatTime(NowMs());
  doc["access_request_seq"] = r.seq;
  doc["account"] = DescribeAccount(view);
  Json history = Json::array(), disclosures = Json::array();
  std::vector<Ledger::Stored> page;
  for (uint64_t from = 1;; from += page.size()) {
    ACC_RETURN_IF_ERROR(ledger_->ReadStream(id, from, 1024, &page));
    for (auto& stored : page) {
      events::EventView v;
      ACC_RETURN_IF_ERROR(events::EventView::Parse(stored.envelope, &v));
      Json e = DescribeEvent(v);
      Json pii = OpenEventPii(*vault_, v);
      if (!pii.is_null()) e["pii"] = pii;
      if (v.type() == fb::Payload::DisclosureRecorded) disclosures.push_back(e);
      history.push_back(std::move(e));
    }
    if (page.size() < 1024) break;
  }
  doc["events"] = std::move(history);
  doc["disclosures"] = std::move(disclosures);
  *json = doc.dump();
  return Status::OK();
}

}  // namespace accountable
