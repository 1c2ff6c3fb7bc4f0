#include "server/replica/follower.h"

namespace accountable::replica {

void Follower::Start() {
  stop_.store(false);
  thread_ = std::thread([this] {
    uint64_t from = 0;
    Status s = ResumePoint(accounts_, &from);
    if (s.ok()) applied_log_seq_.store(from - 1);  // this copy holds the log up to there
    if (s.ok())
      s = log_.Follow(
          from,
          [this](const ReplicatedGroup& g, const std::string& w) {
            Status a = ApplyOne(g, w);
            if (a.ok()) applied_log_seq_.store(g.log_seq);
            return a;
          },
          stop_);
    if (on_stop_ && !stop_.load()) on_stop_(std::move(s));
  });
}

void Follower::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

Status ResumePoint(Accounts& accounts, uint64_t* from_stream_seq) {
  *from_stream_seq = 1;
  std::string at;
  Status s = accounts.ledger().Get(Cf::kMeta, kReplicaLogSeqRow, &at);
  if (s.Is(Status::Code::kNotFound) || (s.ok() && at.size() != 8)) return Status::OK();  // from the start
  ACC_RETURN_IF_ERROR(s);
  const uint64_t events = DecodeBE64(at);
  uint64_t vault = 0;
  ACC_RETURN_IF_ERROR(accounts.vault().ReplicaLogSeq(&vault));
  // Each store skips what it already has; the earlier position loses nothing.
  *from_stream_seq = (vault != 0 ? std::min(events, vault) : events) + 1;
  return Status::OK();
}

std::string Follower::WriterAddress() const {
  std::lock_guard<std::mutex> l(mu_);
  return writer_address_;
}

Status Follower::ApplyVault(const ReplicatedGroup& g) {
  if (!g.shred || !on_shred_) return accounts_.vault().ApplyReplicated(g);
  Vault::ShredReport r;
  ACC_RETURN_IF_ERROR(accounts_.vault().ApplyReplicated(g, &r));
  if (r.compaction_passes > 0) on_shred_(r);  // 0: skipped, it was applied before a restart
  return Status::OK();
}

Status Follower::ApplyOne(const ReplicatedGroup& g, const std::string& writer_address) {
  if (!writer_address.empty()) {
    std::lock_guard<std::mutex> l(mu_);
    writer_address_ = writer_address;
  }
  if (g.kind == ReplicatedGroup::Kind::kVault) return ApplyVault(g);
  const uint64_t have = accounts_.ledger().LastSeq();
  if (g.last_seq <= have) return Status::OK();  // applied before a restart
  if (g.first_seq != have + 1)
    return Status::Corruption("replicated log: event group " + std::to_string(g.first_seq) + ".." +
                              std::to_string(g.last_seq) + " leaves a gap after seq " + std::to_string(have) +
                              " (the stream's retention passed this copy: rebuild it from a checkpoint)");
  return accounts_.ledger().ApplyReplicated(g);
}

}  // namespace accountable::replica
