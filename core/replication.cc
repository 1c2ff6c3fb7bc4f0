#include "core/replication.h"

#include "core/coding.h"

namespace accountable {

namespace {
constexpr std::string_view kMagic = "ACG1";
constexpr size_t kFixedBytes = 4 + 1 + 1 + 8 + 8 + 1;
constexpr size_t kRootBytesMax = 64;
}  // namespace

std::string EncodeGroup(const ReplicatedGroup& g) {
  std::string out;
  out.reserve(kFixedBytes + g.root.size() + g.batch.size());
  out.append(kMagic);
  out.push_back(static_cast<char>(g.kind));
  out.push_back(g.shred ? 1 : 0);
  out.append(EncodeBE64(g.first_seq));
  out.append(EncodeBE64(g.last_seq));
  out.push_back(static_cast<char>(g.root.size()));
  out.append(g.root);
  out.append(g.batch);
  return out;
}

Status DecodeGroup(std::string_view b, ReplicatedGroup* out) {
  if (b.size() < kFixedBytes || b.substr(0, 4) != kMagic)
    return Status::InvalidArgument("replicated group: not a group message (bad magic or too short)");
  if (b.size() > kReplicatedGroupBytesMax) return Status::InvalidArgument("replicated group: larger than the limit");
  const auto kind = static_cast<uint8_t>(b[4]);
  if (kind != uint8_t(ReplicatedGroup::Kind::kEvents) && kind != uint8_t(ReplicatedGroup::Kind::kVault))
    return Status::InvalidArgument("replicated group: unknown kind " + std::to_string(kind));
  if (static_cast<uint8_t>(b[5]) > 1) return Status::InvalidArgument("replicated group: bad shred flag");
  const size_t root_bytes = static_cast<uint8_t>(b[22]);
  if (root_bytes > kRootBytesMax || b.size() < kFixedBytes + root_bytes)
    return Status::InvalidArgument("replicated group: bad root length");
  out->kind = static_cast<ReplicatedGroup::Kind>(kind);
  out->shred = b[5] == 1;
  out->first_seq = DecodeBE64(b.substr(6));
  out->last_seq = DecodeBE64(b.substr(14));
  out->root.assign(b.substr(kFixedBytes, root_bytes));
  out->batch.assign(b.substr(kFixedBytes + root_bytes));
  if (out->kind == ReplicatedGroup::Kind::kEvents &&
      (out->first_seq == 0 || out->last_seq < out->first_seq))
    return Status::InvalidArgument("replicated group: seq range " + std::to_string(out->first_seq) + ".." +
                                   std::to_string(out->last_seq) + " is empty");
  return Status::OK();
}

}  // namespace accountable
