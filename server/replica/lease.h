// Lease: the writer lease of a --cluster copy (docs/replication.md,
// "Failover"): the key `writer` in the JetStream key-value bucket
// `accountable-lease`, whose TTL (the bucket's MaxAge) removes it when its
// holder stops renewing. The value is the holder's client address
// (HOST:PORT), which standbys name in their not_writer answers.
//
//   std::unique_ptr<Lease> lease;
//   Status s = Lease::Open({.urls = urls, .ttl_ms = 3000}, &lease);
//   bool taken = false;
//   s = lease->TryAcquire("127.0.0.1:7401", &taken);   // kvStore_Create
//   while (taken && lease->Renew().ok()) Sleep(lease->ttl_ms() / 3);  // kvStore_Update(last revision)
//   if (!lease->Valid()) StopWriting();
//
// Thread safety: every method may be called from any thread (one mutex;
// the NATS calls run outside it). The Lease owns its own NATS connection.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "events/status.h"

namespace accountable::replica {

struct LeaseOptions {
  std::string urls;                          // comma-separated nats://HOST:PORT
  std::string bucket = "accountable-lease";
  std::string key = "writer";
  int64_t ttl_ms = 3000;                     // the bucket's TTL, when this copy creates it
  int64_t replicas = 3;
  int64_t timeout_ms = 5000;                 // connect and each key-value request
};

class Lease {
 public:
  // Connects and binds to the bucket, creating it if absent. IOError if
  // NATS does not answer.
  static Status Open(const LeaseOptions& o, std::unique_ptr<Lease>* out);
  ~Lease();
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  // Takes the lease for holder (its client address) if nobody holds it:
  // *taken true and this copy holds it. Held by another: *taken false, OK,
  // and Holder() names that one. IOError only for a NATS failure.
  Status TryAcquire(const std::string& holder, bool* taken);
  // Extends a held lease by one TTL, only if nobody took it meanwhile (the
  // update names the last revision). Any failure (another revision, no
  // quorum, a timeout) loses it: NotWriter, and Valid() is false for good.
  Status Renew();
  // Held, and the last renewal that succeeded was sent less than 3/4 of the
  // TTL ago by this machine's steady clock: the key cannot have expired on
  // the NATS servers yet, so nobody else can hold it.
  bool Valid() const;
  bool held() const;
  // Deletes the key if this copy holds it (a clean stop hands over at once
  // instead of after a TTL); held() is false after.
  void Release();
  // Stops holding without touching the key, which expires within a TTL by
  // itself: for a lease no longer Valid(), which may be another copy's by
  // now (a delete could remove theirs).
  void Forget();
  // Reads the holder from NATS (empty if nobody holds it) without trying
  // to take the lease; Holder() returns it from then on.
  Status ReadHolder();
  // The holder's address last seen (this copy's own when held); empty if none.
  std::string Holder() const;
  int64_t ttl_ms() const { return opt_.ttl_ms; }

 private:
  explicit Lease(const LeaseOptions& o) : opt_(o) {}
  Status Bind();

  const LeaseOptions opt_;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  kvStore* kv_ = nullptr;
  mutable std::mutex mu_;
  uint64_t revision_ = 0;                          // under mu_; 0: not held
  std::chrono::steady_clock::time_point renewed_at_;  // under mu_: when the last good renewal was sent
  std::string holder_;                             // under mu_
};

}  // namespace accountable::replica
