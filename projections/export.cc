// Accounts::Export: the access request (DSAR). Everything held about one
// account, decrypted, as one JSON document.
#include "projections/accounts.h"
#include "projections/history.h"

namespace accountable {

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
  nlohmann::ordered_json doc;
  ACC_RETURN_IF_ERROR(ExportDocument(*ledger_, vault_.get(), id, NowMs(), &doc));
  doc["access_request_seq"] = r.seq;
  *json = doc.dump();
  return Status::OK();
}

}  // namespace accountable
