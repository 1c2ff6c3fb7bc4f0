// Accounts: the registry of disclosure recipients (RecipientRegistered).
// Rows: projections/fold/projector.h (kMetaRecipient*); rules: docs/events.md.
#include <charconv>

#include "events/vocabulary.h"
#include "projections/service/accounts.h"
#include "projections/validate/validate.h"

namespace accountable {

Status Accounts::RegisterRecipient(const std::string& name, const std::string& country, const Context& ctx,
                                   Receipt* out) {
  ACC_RETURN_IF_ERROR(CheckRecipient(name, country));
  if (ctx.actor != fb::Actor::Admin && ctx.actor != fb::Actor::Import)
    return Status::Refused("only an admin publishes recipients");
  return Commit(0, ctx, fb::Payload::RecipientRegistered, [&](events::EnvelopeBuilder& b, const std::string&) {
    return fb::CreateRecipientRegisteredDirect(b.fbb(), name.c_str(), country.c_str()).Union();
  }, out, ContentFields({name, country}));
}

Status Accounts::ListRecipients(std::vector<Recipient>* out) {
  out->clear();
  return ledger_->Scan(Cf::kMeta, kMetaRecipientPrefix, [&](std::string_view key, std::string_view value) {
    if (key.size() != kMetaRecipientPrefix.size() + 8 || value.size() < 2) return true;
    out->push_back({DecodeBE64(key.substr(kMetaRecipientPrefix.size())), std::string(value.substr(2)),
                    std::string(value.substr(0, 2))});
    return out->size() < kRecipientsMax;
  });
}

Status Accounts::FindRecipient(const std::string& id_or_name, Recipient* out) {
  const Status unknown = Status::NotFound("no registered recipient of that id or name (recipient list)");
  std::string id;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(id_or_name.data(), id_or_name.data() + id_or_name.size(), n);
  if (!id_or_name.empty() && id_or_name.find_first_not_of("0123456789") == std::string::npos) {
    if (ec != std::errc() || end != id_or_name.data() + id_or_name.size()) return unknown;
    id = EncodeBE64(n);
  } else {
    Status s = ledger_->Get(Cf::kMeta, RecipientNameKey(id_or_name), &id);
    if (s.Is(Status::Code::kNotFound)) return unknown;
    ACC_RETURN_IF_ERROR(s);
  }
  std::string row;
  Status s = ledger_->Get(Cf::kMeta, std::string(kMetaRecipientPrefix) + id, &row);
  if (s.Is(Status::Code::kNotFound) || (s.ok() && row.size() < 2)) return unknown;
  ACC_RETURN_IF_ERROR(s);
  *out = {DecodeBE64(id), row.substr(2), row.substr(0, 2)};
  return Status::OK();
}

}  // namespace accountable
