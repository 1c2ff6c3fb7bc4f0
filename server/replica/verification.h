// Verification: erasure on every copy (docs/replication.md, "Erasure on
// every copy"). A second JetStream stream, ACCOUNTABLE_VERIFY (subjects
// accountable-verify.joined and accountable-verify.verified, file storage),
// carries what the copies say back to the writer: each copy announces its
// node name once, and a follower that has applied an erasure's vault shred
// (key destroyed, vault compacted and byte-scanned) publishes its result.
// The writer reads that stream and records each as an event
// (ReplicaJoined, ReplicaErasureVerified), idempotently, so an erasure
// certificate names every copy that verified an erasure and every known
// copy that has not yet. The replicated log ACCOUNTABLE itself stays the
// writer's alone: its ExpectLastSeq fence would break on a second publisher.
//
//   std::unique_ptr<Verification> v;
//   Status s = Verification::Open({.urls = urls, .node = "replica-2"}, &v);
//   s = v->Announce();                                   // follower, once at start
//   s = v->PublishShred(accounts, shred_report);         // follower, after a shred batch
//   v->StartRecording(accounts);                         // writer: a thread records events
//   v->Stop();                                           // also by the destructor
//
// Messages hold the node name, account ids, seqs and scan counts only; no
// personal data. Thread safety: Announce and PublishShred from one thread
// (the follower's); StartRecording/Stop from one thread. Accounts must
// outlive the recording thread (Stop before closing them).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "core/vault.h"
#include "projections/service/accounts.h"

namespace accountable::replica {

struct VerificationOptions {
  std::string urls;                          // comma-separated nats://HOST:PORT
  std::string node;                          // this copy's name (events::IsNodeName)
  std::string stream = "ACCOUNTABLE_VERIFY";
  std::string subject_prefix = "accountable-verify";
  int64_t replicas = 3;
  int64_t max_age_ms = 7LL * 24 * 3600 * 1000;  // retention when this copy creates the stream
  int64_t timeout_ms = 5000;
};

// One message of the stream, parsed (tests and the recorder).
struct VerifyMessage {
  bool joined = false;                       // true: an announcement (only node is set)
  ReplicaVerifiedFacts facts;
};
inline constexpr size_t kVerifyMessageBytesMax = 1024;
std::string EncodeVerifyMessage(const VerifyMessage& m);
// InvalidArgument for anything that is not exactly such a message.
Status DecodeVerifyMessage(std::string_view bytes, VerifyMessage* out);

class Verification {
 public:
  // Connects and creates the stream if absent. InvalidArgument for a bad
  // node name; IOError if NATS does not answer.
  static Status Open(const VerificationOptions& options, std::unique_ptr<Verification>* out);
  ~Verification();
  Verification(const Verification&) = delete;
  Verification& operator=(const Verification&) = delete;

  Status Announce();
  // After a follower applied a shred vault batch: one verification per
  // erasure the copy's event DB has pending (the accounts that batch
  // shredded), with the batch's compaction and scan figures.
  Status PublishShred(Accounts& accounts, const Vault::ShredReport& report);
  // Writer: records its own ReplicaJoined now, then a thread records every
  // message of the stream (from its first) until Stop.
  Status StartRecording(Accounts& accounts);
  void Stop();
  // Messages recorded (or found already recorded) by the thread; for tests.
  uint64_t recorded() const { return recorded_.load(); }

 private:
  struct Impl;
  explicit Verification(std::unique_ptr<Impl> impl);
  Status Publish(const VerifyMessage& m);
  void Record(Accounts& accounts);
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> recorded_{0};
  std::thread thread_;
};

}  // namespace accountable::replica
