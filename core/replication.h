// ReplicatedGroup and GroupSink: the seam between the ledger (and the vault)
// and a replicated log, with no transport in core. The ledger's group-commit
// writer hands every group it is about to commit to a GroupSink before the
// local synced write; the vault does the same with each of its synced write
// batches. A follower receives the same groups and applies them with
// Ledger::ApplyReplicated / Vault::ApplyReplicated. The transport (NATS
// JetStream) lives in server/replica/. Design: docs/replication.md.
//
//   class Log : public GroupSink {
//     Status Publish(const ReplicatedGroup& g) override { return Send(EncodeGroup(g)); }
//   };
//   LedgerOptions lo{.dir = ...};  lo.sink = &log;     // writer side
//   ReplicatedGroup g;
//   Status s = DecodeGroup(message_bytes, &g);         // follower side
//   if (s.ok()) s = ledger->ApplyReplicated(g);        // checks g.root
//
// Thread safety: ReplicatedGroup is a value. A GroupSink is called from the
// ledger's writer thread and from any thread that writes the vault, so it
// must serialize its own publishes; it must not call back into the ledger.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "events/status.h"

namespace accountable {

struct ReplicatedGroup {
  enum class Kind : uint8_t { kEvents = 1, kVault = 2 };
  Kind kind = Kind::kEvents;
  // kEvents: the group's seqs, and the Merkle root of the log at last_seq
  // (32 bytes; empty when the ledger keeps no tree). kVault: all zero/empty.
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  std::string root;
  // kVault: the batch deletes shredded keys (an erasure); a follower then
  // compacts its vault and verifies the keys are gone, as Vault::Shred does.
  bool shred = false;
  // The RocksDB WriteBatch exactly as the writer wrote it (WriteBatch::Data()).
  // Vault batches hold account keys only wrapped under the KEK.
  std::string batch;
  // The group's position in the replicated log (1-based); not part of the
  // encoding. Set by the transport: on a follower when it reads the group,
  // on the writer by GroupSink::Publish (the publish ack's sequence; hence
  // mutable, an out-value of a const group). Each store records it in the
  // same synced write as the group (row kReplicaLogSeqRow of its meta
  // column family), so a restarted copy, or one seeded from a checkpoint,
  // resumes the log after it (docs/replication.md).
  mutable uint64_t log_seq = 0;
};

// Meta row of the event DB and of the vault: BE64 log_seq of the last
// replicated group that store wrote.
inline constexpr std::string_view kReplicaLogSeqRow = "replica_log_seq";

// Limits of the encoding: a group of 8192 envelopes of at most 64 KiB each
// stays below this, and so does JetStream's default max payload it is
// published under (docs/replication.md).
inline constexpr size_t kReplicatedGroupBytesMax = 64u << 20;

// RocksDB's WriteBatch header (sequence, count): a shorter batch is malformed.
inline constexpr size_t kWriteBatchHeaderBytes = 12;

// "ACG1" | kind | shred | BE64 first_seq | BE64 last_seq | root length (1 byte) | root | batch.
std::string EncodeGroup(const ReplicatedGroup& g);
// InvalidArgument on a malformed message (never trusted blindly).
Status DecodeGroup(std::string_view bytes, ReplicatedGroup* out);

class GroupSink {
 public:
  virtual ~GroupSink() = default;
  // Called before the local write of g. OK: g is in the replicated log at
  // position g.log_seq (0 if the sink has no positions) and the caller may
  // write it locally. Any other status: the group is written
  // nowhere and its commands fail with this status (NotWriter when this copy
  // was fenced off the log).
  virtual Status Publish(const ReplicatedGroup& g) = 0;
  // Publish, and *log_seq = g's position in the log (0 if the sink has
  // none). The vault records it in the same local write, so this copy,
  // should it follow the log later (a writer restarted as a standby),
  // skips its own batches instead of writing them twice.
  virtual Status PublishAt(const ReplicatedGroup& g, uint64_t* log_seq) {
    *log_seq = 0;
    return Publish(g);
  }
};

}  // namespace accountable
