// Follower: keeps a copy's ledger and vault in step with the replicated log
// (docs/replication.md, "Roles"). A thread reads the log from ResumePoint and
// applies each message: event groups through Ledger::ApplyReplicated (which
// checks the writer's Merkle root; groups this copy already has are
// skipped by seq), vault writes through Vault::ApplyReplicated (which skips
// by log position). The first failure stops it and is handed to on_stop.
//
//   Follower f(accounts, log, [](Status s) { LOG(s); Shutdown(); });
//   f.Start();
//   std::string w = f.WriterAddress();   // for not_writer answers
//   f.Stop();                            // also by the destructor
//
// Thread safety: Start/Stop from one thread; WriterAddress and applied_log_seq
// from any. Accounts and NatsLog must outlive the Follower.
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "projections/service/accounts.h"
#include "server/replica/nats_log.h"

namespace accountable::replica {

// Where a copy's stores say to resume the log: one past the lower of the
// positions the event DB and the vault recorded (kReplicaLogSeqRow), or 1
// when the event DB recorded none (a new copy, or one written before
// positions were recorded). A copy seeded from a checkpoint resumes there.
Status ResumePoint(Accounts& accounts, uint64_t* from_stream_seq);

class Follower {
 public:
  Follower(Accounts& accounts, NatsLog& log, std::function<void(Status)> on_stop)
      : accounts_(accounts), log_(log), on_stop_(std::move(on_stop)) {}
  ~Follower() { Stop(); }
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  void Start();
  void Stop();
  // The address the newest message's writer gave; empty if none yet.
  std::string WriterAddress() const;
  // The stream sequence of the last message applied (or skipped as already
  // here); 0 before the first. A standby taking the lease waits on it.
  uint64_t applied_log_seq() const { return applied_log_seq_.load(); }
  // Applies one message as the thread does (tests, and the thread itself).
  Status ApplyOne(const ReplicatedGroup& g, const std::string& writer_address);
  // Called (on the follower's thread) after each shred batch this copy
  // compacted and verified, with the figures; set before Start.
  using OnShred = std::function<void(const Vault::ShredReport&)>;
  void SetOnShred(OnShred f) { on_shred_ = std::move(f); }

 private:
  Status ApplyVault(const ReplicatedGroup& g);
  Accounts& accounts_;
  NatsLog& log_;
  std::function<void(Status)> on_stop_;
  OnShred on_shred_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> applied_log_seq_{0};
  std::thread thread_;
  mutable std::mutex mu_;
  std::string writer_address_;  // under mu_
};

}  // namespace accountable::replica
