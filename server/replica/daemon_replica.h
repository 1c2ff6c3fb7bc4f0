// DaemonReplica: accountabled's side of replication (docs/replication.md,
// docs/operations.md "Replication"). `--replicate URLS` makes this copy the
// writer: every ledger group and vault write is published to the log
// before it is written and acknowledged. `--follow URLS` makes it a
// follower: the log is applied to the local stores by a Follower thread,
// and every write is refused with not_writer naming the writer's address.
// `--cluster URLS` makes it a standby that competes for the writer lease
// (standby.h): it follows like --follow until it takes the lease, then
// writes like --replicate until it stops or loses the lease. None of the
// three flags: nothing is set and nothing changes.
//
//   ReplicaFlags rf;  AddReplicaFlags(app, rf);
//   DaemonReplica replica;
//   Status s = replica.Open(rf, &accounts_options);        // before Accounts::Open
//   s = replica.Start(*accounts, "127.0.0.1:7400", on_follower_stop);  // after the server listens
//   replica.Stop();                                         // before the Accounts close
//
// Thread safety: one thread drives it; the sinks it installs are thread-safe.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>

#include "projections/service/accounts.h"
#include "server/replica/follower.h"
#include "server/replica/lease.h"
#include "server/replica/nats_log.h"
#include "server/replica/verification.h"
#include "server/replica/standby.h"

namespace accountable::replica {

struct ReplicaFlags {
  std::string replicate;                     // NATS URLs: be the writer
  std::string follow;                        // NATS URLs: be a follower
  std::string cluster;                       // NATS URLs: follow, and write while holding the lease
  int64_t lease_ttl_ms = 3000;               // the lease bucket's TTL, when this copy creates it
  std::string advertise;                     // writer's HOST:PORT for clients; default the listen address
  int64_t max_age_s = 7LL * 24 * 3600;       // stream retention when this copy creates the stream
  int64_t timeout_ms = 5000;                 // NATS connect and publish ack
  // This copy's name in the log (erasure verifications): [A-Za-z0-9._-],
  // 1..64 chars. Default: derived from advertise, else from listen.
  std::string node_name;
  std::string listen;                        // accountabled's --listen, for that default
};

// advertise (else listen, else the host name) with every character
// outside [A-Za-z0-9._-] made '-', at most 64 chars:
// "127.0.0.1:7401" -> "127.0.0.1-7401".
std::string DefaultNodeName(const ReplicaFlags& f);

void AddReplicaFlags(CLI::App& app, ReplicaFlags& f);

class DaemonReplica {
 public:
  DaemonReplica();
  ~DaemonReplica();
  DaemonReplica(const DaemonReplica&) = delete;
  DaemonReplica& operator=(const DaemonReplica&) = delete;

  // Connects and sets ao->sink (and ao->follower). InvalidArgument for two
  // of the flags at once; IOError if NATS does not answer.
  Status Open(const ReplicaFlags& f, AccountsOptions* ao);
  // Writer: announces listen_address (unless --advertise) and records the
  // copies' erasure verifications. Follower: announces its node name and
  // starts applying the log (publishing a verification after each
  // erasure); on_stop gets the error that stopped it. Cluster: the same as
  // a follower, and starts competing for the lease under that address; a
  // copy that takes it records verifications from then on.
  Status Start(Accounts& accounts, const std::string& listen_address, std::function<void(Status)> on_stop);
  // Stops competing for the lease (a writer refuses from here on and hands
  // the lease over) and following. Call it before the server stops.
  void Stop();
  bool follower() const { return !flags_.follow.empty(); }
  bool cluster() const { return !flags_.cluster.empty(); }
  bool writer() const { return !flags_.replicate.empty(); }

 private:
  class RefuseWrites;
  ReplicaFlags flags_;
  std::unique_ptr<NatsLog> log_;
  std::unique_ptr<RefuseWrites> refuse_;
  std::unique_ptr<Lease> lease_;
  std::unique_ptr<ClusterSink> cluster_sink_;
  std::unique_ptr<Follower> follower_;
  std::unique_ptr<Verification> verify_;
  std::unique_ptr<Standby> standby_;  // declared last: stops first
};

}  // namespace accountable::replica
