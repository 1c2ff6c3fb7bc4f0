#include "server/replica/follower.h"

namespace accountable::replica {

void Follower::Start() {
  stop_.store(false);
  thread_ = std::thread([this] {
    Status s = log_.Follow(
        1,
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

std::string Follower::WriterAddress() const {
  std::lock_guard<std::mutex> l(mu_);
  return writer_address_;
}

Status Follower::ApplyOne(const ReplicatedGroup& g, const std::string& writer_address) {
  if (!writer_address.empty()) {
    std::lock_guard<std::mutex> l(mu_);
    writer_address_ = writer_address;
  }
  if (g.kind == ReplicatedGroup::Kind::kVault) return accounts_.vault().ApplyReplicated(g);
  const uint64_t have = accounts_.ledger().LastSeq();
  if (g.last_seq <= have) return Status::OK();  // applied before a restart
  if (g.first_seq != have + 1)
    return Status::Corruption("replicated log: event group " + std::to_string(g.first_seq) + ".." +
                              std::to_string(g.last_seq) + " leaves a gap after seq " + std::to_string(have) +
                              " (the stream's retention passed this copy: rebuild it from a checkpoint)");
  return accounts_.ledger().ApplyReplicated(g);
}

}  // namespace accountable::replica
