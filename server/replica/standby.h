// Standby: a --cluster copy's side of failover (docs/replication.md,
// "Failover"). The copy starts as a follower (its Follower applies the
// stream) and a thread competes for the writer lease: every TTL/4 it tries
// to take it; the copy that does applies the stream to its end, stops
// following, refreshes the log's fence (NatsLog::Refresh) and starts
// writing (ClusterSink::StartWriting, then Accounts::StartWriting). As the
// writer the thread renews the lease every TTL/3; a renewal that fails
// fences the copy at once (every later write gets not_writer).
//
//   ClusterSink sink(log, lease);            // AccountsOptions::sink, follower = true
//   Follower follower(accounts, log, on_stop);  follower.Start();
//   Standby standby({accounts, log, lease, follower, sink}, "127.0.0.1:7401", on_stop);
//   standby.Start();
//   standby.Stop();                          // before the server stops: no more competing
//
// Thread safety: ClusterSink::Publish from any thread; Standby Start/Stop
// from one. Everything passed in must outlive both.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/replication.h"
#include "projections/service/accounts.h"
#include "server/replica/follower.h"
#include "server/replica/lease.h"
#include "server/replica/nats_log.h"

namespace accountable::replica {

// The sink of a --cluster copy: refuses every write (not_writer, naming
// the lease holder) until StartWriting, then publishes to the log while
// the lease is valid, and refuses again for good once Fence is called or
// the lease stops being valid.
class ClusterSink final : public GroupSink {
 public:
  ClusterSink(NatsLog& log, Lease& lease) : log_(log), lease_(lease) {}
  Status Publish(const ReplicatedGroup& g) override {
    uint64_t log_seq = 0;
    return PublishAt(g, &log_seq);
  }
  Status PublishAt(const ReplicatedGroup& g, uint64_t* log_seq) override;
  void StartWriting() { writing_.store(true); }
  void Fence();
  bool writing() const { return writing_.load() && !fenced_.load(); }
  // Wrote, and stopped for good (a lapsed lease, another writer's group in
  // the log, or Fence).
  bool fenced() const { return writing_.load() && fenced_.load(); }
  // The not_writer answer of a copy that is not (or no longer) the writer.
  Status Refusal() const;

 private:
  NatsLog& log_;
  Lease& lease_;
  std::mutex mu_;  // held across each publish, and by Fence
  std::atomic<bool> writing_{false};
  std::atomic<bool> fenced_{false};
};

class Standby {
 public:
  struct Parts {
    Accounts& accounts;
    NatsLog& log;
    Lease& lease;
    Follower& follower;
    ClusterSink& sink;
    // Called once this copy writes (e.g. to record the copies' erasure
    // verifications); its error stops the copy like a failed promotion.
    std::function<Status()> on_writing;
  };
  // address: this copy's client HOST:PORT, the lease's value. on_stop gets
  // an error that leaves the copy unable to write or follow.
  Standby(Parts p, std::string address, std::function<void(Status)> on_stop)
      : p_(p), address_(std::move(address)), on_stop_(std::move(on_stop)) {}
  ~Standby() { Stop(); }
  Standby(const Standby&) = delete;
  Standby& operator=(const Standby&) = delete;

  void Start();
  // Stops competing and renewing; a writer releases the lease (after its
  // sink refuses), so a standby takes over without waiting for the TTL.
  void Stop();

 private:
  void Run();
  // Sleeps ms unless Stop comes first; false once stopping.
  bool Sleep(int64_t ms);
  void Compete();
  // The writer's lease is gone (why: for the log): stop renewing it and
  // read who holds it now, so refusals name the new writer.
  void LoseLease(const std::string& why);
  // Deletes the key if it is surely still this copy's, else forgets it.
  void LetLeaseGo();
  Status Promote();
  Status CatchUp(uint64_t stream_seq);

  Parts p_;
  const std::string address_;
  std::function<void(Status)> on_stop_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // under mu_
  std::thread thread_;
};

}  // namespace accountable::replica
