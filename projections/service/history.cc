// History: see history.h. The one place that walks an account's stream
// and opens its sealed payloads.
#include "events/vocabulary.h"
#include "projections/service/history.h"

#include <algorithm>

#include "events/fields.h"
#include "projections/fold/account_state.h"
#include "projections/fold/projector.h"
#include "projections/service/describe.h"

namespace accountable {
namespace {

using Json = nlohmann::ordered_json;

constexpr size_t kStreamPageEvents = 1024;

using events::StringOrEmpty;

// Folds one opened Registered/ProfileUpdated plaintext onto the profile.
Status FoldProfile(const events::EventView& v, const std::string& plain, Pii* out) {
  if (v.type() == fb::Payload::Registered) {
    const fb::RegistrationPii* p;
    ACC_RETURN_IF_ERROR(events::ReadPii(plain, &p));
    *out = {StringOrEmpty(p->nickname()),  StringOrEmpty(p->email()),   StringOrEmpty(p->gender()),
            StringOrEmpty(p->birthdate()), StringOrEmpty(p->company()), StringOrEmpty(p->ip()),
            StringOrEmpty(p->user_agent())};
    return Status::OK();
  }
  const fb::ProfilePii* p;
  ACC_RETURN_IF_ERROR(events::ReadPii(plain, &p));
  if (p->nickname()) out->nickname = p->nickname()->str();
  if (p->email()) out->email = p->email()->str();
  if (p->company()) out->company = p->company()->str();
  if (p->gender()) out->gender = p->gender()->str();
  if (p->birthdate()) out->birthdate = p->birthdate()->str();
  return Status::OK();
}

}  // namespace

std::string_view SealedBox(const events::EventView& v) {
  const fb::Sealed* sealed = v.sealed();
  if (!sealed || !sealed->box()) return {};
  return {reinterpret_cast<const char*>(sealed->box()->data()), sealed->box()->size()};
}

Status ForEachStreamEvent(Ledger& ledger, uint64_t account_id, uint64_t until_seq,
                          const std::function<bool(const events::EventView&)>& fn) {
  std::vector<Ledger::Stored> page;
  for (uint64_t from = 1;; from += page.size()) {
    ACC_RETURN_IF_ERROR(ledger.ReadStream(account_id, from, kStreamPageEvents, &page));
    for (auto& st : page) {
      if (st.seq > until_seq) return Status::OK();
      events::EventView v;
      ACC_RETURN_IF_ERROR(events::EventView::Parse(st.envelope, &v));
      if (!fn(v)) return Status::OK();
    }
    if (page.size() < kStreamPageEvents) return Status::OK();
  }
}

Status FoldProfilePii(Vault& vault, const events::EventView& v, Pii* out) {
  std::string_view box = SealedBox(v);
  if (box.empty() || (v.type() != fb::Payload::Registered && v.type() != fb::Payload::ProfileUpdated))
    return Status::OK();
  std::string plain;
  Status s = OpenForAccount(vault, v.envelope()->account_id(), v.type(), StringOrEmpty(v.envelope()->request_id()), box,
                            &plain);
  if (s.ok()) s = FoldProfile(v, plain, out);
  std::fill(plain.begin(), plain.end(), '\0');
  return s;
}

Status ReadPiiAsOf(Ledger& ledger, Vault& vault, uint64_t id, uint64_t until_seq, Pii* out) {
  Status inner;
  ACC_RETURN_IF_ERROR(ForEachStreamEvent(ledger, id, until_seq, [&](const events::EventView& v) {
    inner = FoldProfilePii(vault, v, out);
    return inner.ok();
  }));
  return inner;
}

Json DescribeEventPii(Vault& vault, const events::EventView& v) {
  std::string_view box = SealedBox(v);
  if (box.empty()) return nullptr;
  std::string plain;
  Status s = OpenForAccount(vault, v.envelope()->account_id(), v.type(), StringOrEmpty(v.envelope()->request_id()), box,
                            &plain);
  if (!s.ok()) return Json{{"error", Status::CodeName(s.code())}};
  Json j = Json::object();
  switch (v.type()) {
    case fb::Payload::Registered: {
      const fb::RegistrationPii* p;
      if (!events::ReadPii(plain, &p).ok()) return Json{{"error", "corruption"}};
      j = {{"nickname", StringOrEmpty(p->nickname())},   {"email", StringOrEmpty(p->email())},
           {"gender", StringOrEmpty(p->gender())},       {"birthdate", StringOrEmpty(p->birthdate())},
           {"company", StringOrEmpty(p->company())},     {"ip", StringOrEmpty(p->ip())},
           {"user_agent", StringOrEmpty(p->user_agent())},
           {"credential", "Argon2id hash held; the password itself is never stored"}};
      break;
    }
    case fb::Payload::LoginSucceeded:
    case fb::Payload::LoginFailed: {
      const fb::LoginPii* p;
      if (!events::ReadPii(plain, &p).ok()) return Json{{"error", "corruption"}};
      j = {{"ip", StringOrEmpty(p->ip())}, {"user_agent", StringOrEmpty(p->user_agent())}};
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
      if (p->reason()) j["reason"] = p->reason()->str();
      break;
    }
    case fb::Payload::DisclosureRecorded: {
      const fb::DisclosurePii* p;
      if (!events::ReadPii(plain, &p).ok()) return Json{{"error", "corruption"}};
      j = {{"purpose", StringOrEmpty(p->purpose())}, {"reference", StringOrEmpty(p->reference())}};
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

Status ExportDocument(Ledger& ledger, Vault* vault, uint64_t id, int64_t now_ms, Json* doc) {
  AccountView view;
  ACC_RETURN_IF_ERROR(ReadAccount(ledger, id, &view.state));
  view.stream_version = ledger.StreamVersion(id);
  if (view.state.status == AccountStatus::kErased) {
    view.display_name = "Anonymous";
  } else if (vault) {
    Pii p;
    Status s = ReadPiiAsOf(ledger, *vault, id, kWholeLog, &p);
    if (!s.ok() && !s.Is(Status::Code::kShredded)) return s;
    if (s.ok()) view.display_name = p.nickname, view.pii = std::move(p);
  }
  Json out;
  out["generated_at"] = events::FormatTime(now_ms);
  out["account"] = DescribeAccount(view);
  if (!vault && view.state.status != AccountStatus::kErased) out["account"]["pii"] = "sealed (no vault given)";
  Json history = Json::array(), disclosures = Json::array();
  ACC_RETURN_IF_ERROR(ForEachStreamEvent(ledger, id, kWholeLog, [&](const events::EventView& v) {
    Json e = DescribeEvent(v);
    if (vault) {
      Json pii = DescribeEventPii(*vault, v);
      if (!pii.is_null()) e["pii"] = std::move(pii);
    }
    if (v.type() == fb::Payload::DisclosureRecorded) disclosures.push_back(e);
    history.push_back(std::move(e));
    return true;
  }));
  out["events"] = std::move(history);
  out["disclosures"] = std::move(disclosures);
  *doc = std::move(out);
  return Status::OK();
}

}  // namespace accountable
