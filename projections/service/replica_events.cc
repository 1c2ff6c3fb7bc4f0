// Accounts: the events of replication (ReplicaJoined, ReplicaErasureVerified;
// docs/replication.md, "Erasure on every copy"). The node names come from
// the copies' --node-name flag, checked against a closed alphabet here and
// again by the projector, so no free text reaches the log through them.
#include "events/vocabulary.h"
#include "projections/fold/projector.h"
#include "projections/service/accounts.h"

namespace accountable {
namespace {

Status CheckNode(const std::string& node) {
  if (!events::IsNodeName(node))
    return Status::InvalidArgument("node name: must be 1..64 characters of A-Z a-z 0-9 . _ -");
  return Status::OK();
}

}  // namespace

Status Accounts::RecordReplicaJoined(const std::string& node, Receipt* out) {
  ACC_RETURN_IF_ERROR(CheckNode(node));
  Context ctx{.actor = fb::Actor::System, .request_id = "replica-joined/" + node};
  return Commit(0, ctx, fb::Payload::ReplicaJoined, [&](events::EnvelopeBuilder& b, const std::string&) {
    return fb::CreateReplicaJoinedDirect(b.fbb(), node.c_str()).Union();
  }, out, ContentFields({node}));
}

Status Accounts::RecordReplicaVerified(const ReplicaVerifiedFacts& f, Receipt* out) {
  ACC_RETURN_IF_ERROR(CheckNode(f.node));
  if (f.account_id == 0 || f.erased_seq == 0) return Status::InvalidArgument("replica verification: no erasure named");
  // One per (copy, erasure): a copy that reports twice gets the first receipt.
  const std::string erased = std::to_string(f.erased_seq);
  Context ctx{.actor = fb::Actor::System, .request_id = "verify/" + f.node + "/" + erased};
  return Commit(f.account_id, ctx, fb::Payload::ReplicaErasureVerified, [&](events::EnvelopeBuilder& b, const std::string&) {
    return fb::CreateReplicaErasureVerifiedDirect(b.fbb(), f.erased_seq, f.node.c_str(), f.files_scanned,
                                                  f.bytes_scanned, f.hits, f.compaction_passes).Union();
  }, out, ContentFields({f.node, erased}));
}

Status Accounts::KnownReplicas(std::vector<std::string>* nodes) {
  nodes->clear();
  return ledger_->Scan(Cf::kMeta, kMetaReplicaPrefix, [&](std::string_view key, std::string_view) {
    nodes->emplace_back(key.substr(kMetaReplicaPrefix.size()));
    return nodes->size() < kReplicasMax;
  });
}

}  // namespace accountable
