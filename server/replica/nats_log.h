// NatsLog: the replicated log of docs/replication.md on NATS JetStream. One
// stream (file storage, Replicas = 3, MaxAge bounded) holds every ledger
// group (subject PREFIX.events) and vault write (PREFIX.vault) in the order
// the writer made them. The writer publishes through it as the ledger's and
// the vault's GroupSink, each publish fenced with ExpectLastSeq = the
// stream's last sequence as this writer last saw it, so a writer whose view
// is stale (another writer published meanwhile) is refused by JetStream and
// stops writing for good (NotWriter). A follower reads it with Follow.
//
//   std::unique_ptr<NatsLog> log;
//   Status s = NatsLog::Open({.urls = "nats://127.0.0.1:4222,nats://127.0.0.1:4223"}, &log);
//   AccountsOptions ao;  ao.sink = log.get();          // writer
//   s = log->Follow(1, [&](const ReplicatedGroup& g) { return Apply(g); }, stop);  // follower
//
// Thread safety: Publish may be called from any thread (publishes are
// serialized inside). Follow runs on the caller's thread until stop is set
// or apply fails. The NatsLog must outlive the Ledger and Vault using it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/replication.h"
#include "events/status.h"

namespace accountable::replica {

struct NatsLogOptions {
  std::string urls;                        // comma-separated nats://HOST:PORT
  std::string stream = "ACCOUNTABLE";
  std::string subject_prefix = "accountable";
  int64_t max_age_ms = 7LL * 24 * 3600 * 1000;  // stream retention
  int64_t replicas = 3;
  int64_t timeout_ms = 5000;               // connect, publish ack, stream requests
  // The writer's client address (HOST:PORT), carried in every message so a
  // follower can name it in not_writer answers. Empty: not said.
  std::string writer_address;
};

// The stream sequence every message is fenced against, and what the
// stream holds, for tests and startup checks.
struct NatsLogState {
  uint64_t last_stream_seq = 0;
  uint64_t last_event_seq = 0;             // last_seq of the newest event group; 0 if none
};

class NatsLog final : public GroupSink {
 public:
  // Connects (all URLs, reconnecting) and creates the stream if it does not
  // exist; an existing one is used as it is. IOError if NATS does not answer.
  static Status Open(const NatsLogOptions& options, std::unique_ptr<NatsLog>* out);
  ~NatsLog() override;
  NatsLog(const NatsLog&) = delete;
  NatsLog& operator=(const NatsLog&) = delete;

  // GroupSink. The first event group must continue the log's newest one
  // (a writer starts from a copy holding the whole log); otherwise, or on
  // JetStream's wrong-last-sequence refusal (10071), NotWriter, now and for
  // every later call. The first publish to an empty stream carries a fixed
  // message id, so of two writers starting on an empty stream within
  // JetStream's duplicate window (2 min) the second is fenced too (its ack
  // says duplicate). Other failures: IOError, and the group is not
  // acknowledged (if it did reach the stream, the next publish is fenced).
  Status Publish(const ReplicatedGroup& g) override {
    uint64_t log_seq = 0;
    return PublishAt(g, &log_seq);
  }
  // The same; *log_seq = the stream sequence JetStream gave g.
  Status PublishAt(const ReplicatedGroup& g, uint64_t* log_seq) override;
  bool fenced() const { return fenced_.load(); }
  // The address later messages carry (the writer learns its port late).
  void SetWriterAddress(const std::string& address);

  // Reads the stream from stream sequence from_stream_seq on and calls
  // apply(g, writer_address) for each message in order (g.log_seq set),
  // until stop is true (OK) or apply or NATS fails (that status).
  using Apply = std::function<Status(const ReplicatedGroup& g, const std::string& writer_address)>;
  Status Follow(uint64_t from_stream_seq, const Apply& apply, const std::atomic<bool>& stop);

  Status State(NatsLogState* out);
  // Reads the stream's end from NATS again and fences the next publish on
  // it (a standby that took the writer lease, after applying the stream to
  // that end; docs/replication.md "Failover"). Not after fenced().
  Status Refresh(NatsLogState* out);

 private:
  struct Impl;
  explicit NatsLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> fenced_{false};
};

}  // namespace accountable::replica
