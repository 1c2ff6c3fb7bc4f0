// Accounts::Export: the access request (DSAR). Everything held about one
// account, decrypted, as one JSON document.
#include "projections/service/accounts.h"
#include "projections/service/history.h"

namespace accountable {

Status Accounts::RecordAccessRequest(uint64_t id, const Context& ctx, Receipt* out) {
  AccountState st;
  ACC_RETURN_IF_ERROR(ActiveState(id, &st));
  return Commit(id, ctx, fb::Payload::AccessRequested, [&](events::EnvelopeBuilder& b, const std::string&) {
    auto channel = IsImportedActor(ctx.actor) ? fb::AccessChannel::Import
                   : ctx.actor == fb::Actor::Admin ? fb::AccessChannel::Admin
                                                   : fb::AccessChannel::SelfService;
    return fb::CreateAccessRequested(b.fbb(), channel).Union();
  }, out);
}

Status Accounts::Export(uint64_t id, const Context& ctx, std::string* json) {
  Receipt r;
  ACC_RETURN_IF_ERROR(RecordAccessRequest(id, ctx, &r));
  nlohmann::ordered_json doc;
  ACC_RETURN_IF_ERROR(ExportDocument(*ledger_, vault_.get(), id, NowMs(), &doc));
  doc["access_request_seq"] = r.seq;
  *json = doc.dump();
  return Status::OK();
}

}  // namespace accountable
