#include "projections/projector.h"

namespace accountable {

std::string AccountKey(uint64_t account_id) { return EncodeBE64(account_id); }

Status Projector::Apply(const events::EventView& e, GroupTx& tx) {
  if (e.type() == fb::Payload::PolicyPublished) return ApplyPolicy(e, tx);
  if (e.envelope()->account_id() != 0) return ApplyAccountEvent(e, tx);
  return Status::OK();
}

Status Projector::ApplyPolicy(const events::EventView& e, GroupTx& tx) {
  auto* p = e.envelope()->payload_as_PolicyPublished();
  if (!p->version() || p->version()->size() == 0)
    return Status::InvalidArgument("policy publication without a version");
  const std::string key = std::string(kMetaPolicyPrefix) + p->version()->str();
  std::string existing;
  Status s = tx.Get(Cf::kMeta, key, &existing);
  if (s.ok()) return Status::Refused("policy version " + p->version()->str() + " was already published");
  if (!s.Is(Status::Code::kNotFound)) return s;
  std::string digest = p->text_sha256()
      ? std::string(reinterpret_cast<const char*>(p->text_sha256()->data()), p->text_sha256()->size())
      : std::string();
  tx.Put(Cf::kMeta, key, digest);
  tx.Put(Cf::kMeta, kMetaPolicyCurrent, p->version()->str());
  return Status::OK();
}

Status Projector::ApplyAccountEvent(const events::EventView& e, GroupTx& tx) {
  const uint64_t id = e.envelope()->account_id();
  const std::string key = AccountKey(id);
  AccountState state;
  std::string row;
  Status s = tx.Get(Cf::kAccounts, key, &row);
  if (s.ok()) {
    ACC_RETURN_IF_ERROR(DecodeState(row, &state));
  } else if (!s.Is(Status::Code::kNotFound)) {
    return s;
  }
  if (e.type() == fb::Payload::Registered) {
    if (state.status != AccountStatus::kNone)
      return Status::Refused("account id " + std::to_string(id) + " is already taken");
    std::string current;
    Status ps = tx.Get(Cf::kMeta, kMetaPolicyCurrent, &current);
    if (!ps.ok() && !ps.Is(Status::Code::kNotFound)) return ps;
    auto* accepted = e.envelope()->payload_as_Registered()->policy_version();
    if (!accepted || accepted->str() != current)
      return Status::Refused("registration must accept the current policy version " + current);
    std::string max_id;
    Status ms = tx.Get(Cf::kMeta, kMetaMaxAccountId, &max_id);
    if (!ms.ok() && !ms.Is(Status::Code::kNotFound)) return ms;
    if (!ms.ok() || DecodeBE64(max_id) < id) tx.Put(Cf::kMeta, kMetaMaxAccountId, EncodeBE64(id));
  } else if (state.status == AccountStatus::kNone) {
    return Status::NotFound("account " + std::to_string(id) + " does not exist");
  } else if (state.status == AccountStatus::kErased && e.type() != fb::Payload::ErasureVerified) {
    return Status::Refused("account " + std::to_string(id) + " was erased");
  }
  accountable::Apply(state, e);
  tx.Put(Cf::kAccounts, key, EncodeState(state));
  return Status::OK();
}

Status ReadAccount(Ledger& ledger, uint64_t account_id, AccountState* out) {
  std::string row;
  Status s = ledger.Get(Cf::kAccounts, AccountKey(account_id), &row);
  if (s.Is(Status::Code::kNotFound))
    return Status::NotFound("account " + std::to_string(account_id) + " does not exist");
  ACC_RETURN_IF_ERROR(s);
  return DecodeState(row, out);
}

}  // namespace accountable
