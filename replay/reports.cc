// Reports: see reports.h.
#include "replay/reports.h"

#include <map>

#include "projections/fold/account_state.h"
#include "projections/fold/projector.h"
#include "projections/service/describe.h"
#include "projections/service/history.h"

namespace accountable::audit {
namespace {

constexpr size_t kPageEvents = 4096;

// The view as JSON: PII where it could be opened, otherwise why not.
Json Describe(AccountView* view, Vault* vault, const Status& pii) {
  const char* why = "sealed (no vault given)";
  if (view->state.status != AccountStatus::kErased && vault && pii.ok()) {
    view->display_name = view->pii->nickname;
  } else {
    view->pii.reset();
    view->display_name = "Anonymous";
    if (pii.Is(Status::Code::kShredded)) why = "erased (the account's key was destroyed since)";
  }
  Json j = DescribeAccount(*view);
  if (!view->pii && view->state.status != AccountStatus::kErased) j["pii"] = why;
  return j;
}

// The recipient's registered name beside its id, and the sealed free text
// where the vault can still open it.
Json DescribeDisclosure(Ledger& ledger, Vault* vault, const events::EventView& v) {
  Json j = DescribeEvent(v);
  std::string row;
  const uint64_t rid = v.envelope()->payload_as_DisclosureRecorded()->recipient_id();
  if (ledger.Get(Cf::kMeta, std::string(kMetaRecipientPrefix) + EncodeBE64(rid), &row).ok() && row.size() > 2)
    j["recipient"] = row.substr(2);
  if (!vault) return j;
  Json pii = DescribeEventPii(*vault, v);
  if (pii.is_object() && pii.contains("purpose")) {
    j["purpose"] = pii["purpose"];
    if (j.contains("reference")) j["reference"] = pii["reference"];
  } else if (pii.is_object() && pii.value("error", "") == "shredded") {
    j["purpose"] = "erased";
    if (j.contains("reference")) j["reference"] = "erased";
  }
  return j;
}

}  // namespace

Status AccountAsOf(Ledger& ledger, Vault* vault, uint64_t id, uint64_t until_seq, Json* out) {
  AccountView view;
  view.pii.emplace();
  Status pii;  // one pass: the profile folds beside the state
  ACC_RETURN_IF_ERROR(ForEachStreamEvent(ledger, id, until_seq, [&](const events::EventView& v) {
    Apply(view.state, v);
    ++view.stream_version;
    if (vault && pii.ok()) pii = FoldProfilePii(*vault, v, &*view.pii);
    return true;
  }));
  if (view.stream_version == 0)
    return Status::NotFound("account " + std::to_string(id) + " did not exist at seq " + std::to_string(until_seq));
  if (!pii.ok() && !pii.Is(Status::Code::kShredded) && view.state.status != AccountStatus::kErased) return pii;
  *out = Describe(&view, vault, pii);
  return Status::OK();
}

Status AllAccountsAsOf(Ledger& ledger, Vault* vault, uint64_t until_seq, const LineFn& line, Json* summary) {
  std::map<std::string, uint64_t> counts;  // by status name
  Status inner;
  ACC_RETURN_IF_ERROR(ledger.Scan(Cf::kAccounts, "", [&](std::string_view key, std::string_view) {
    if (key.size() != 8) return true;  // not an account row
    Json j;
    inner = AccountAsOf(ledger, vault, DecodeBE64(key), until_seq, &j);
    if (inner.Is(Status::Code::kNotFound)) {  // registered after until_seq
      inner = Status::OK();
      return true;
    }
    if (!inner.ok()) return false;
    ++counts[j["status"].get<std::string>()];
    line(j);
    return true;
  }));
  ACC_RETURN_IF_ERROR(inner);
  *summary = {{"until_seq", until_seq}, {"accounts", counts}};
  return Status::OK();
}

Status Disclosures(Ledger& ledger, Vault* vault, uint64_t account_id, const LineFn& line, Json* summary) {
  uint64_t found = 0;
  auto take = [&](const events::EventView& v) {
    if (v.type() != fb::Payload::DisclosureRecorded) return true;
    line(DescribeDisclosure(ledger, vault, v));
    ++found;
    return true;
  };
  if (account_id != 0) {
    ACC_RETURN_IF_ERROR(ForEachStreamEvent(ledger, account_id, kWholeLog, take));
  } else {
    const uint64_t last = ledger.LastSeq();  // fixed at the start: a live writer may go on
    std::vector<Ledger::Stored> page;
    for (uint64_t from = 1; from <= last; from += kPageEvents) {
      ACC_RETURN_IF_ERROR(ledger.ReadRange(from, std::min<uint64_t>(kPageEvents, last - from + 1), &page));
      for (auto& st : page) {
        events::EventView v;
        ACC_RETURN_IF_ERROR(events::EventView::Parse(st.envelope, &v));
        take(v);
      }
    }
  }
  *summary = {{"disclosures", found}};
  if (account_id != 0) (*summary)["account_id"] = account_id;
  return Status::OK();
}

}  // namespace accountable::audit
