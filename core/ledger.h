// Ledger: the durable, append-only event store (DATA/events, RocksDB).
//
// Every command is an Envelope (events/event.h). Appends from any number of
// threads are queued to one writer thread, which drains everything waiting
// into one WriteBatch and one fsync (group commit). Append() returns only
// after that fsync, so a returned seq is durable; AppendAsync() returns at
// once and reports after the fsync, so a server needs no thread per
// command in flight. Storage layout and key formats: docs/architecture.md
// ("Event DB").
//
//   std::unique_ptr<Ledger> ledger;
//   Status s = Ledger::Open(LedgerOptions{.dir = "data/events"}, &ledger);
//   std::vector<Ledger::Command> batch(1);
//   batch[0].envelope = builder.Finish(...);
//   std::vector<Ledger::Appended> out;
//   s = ledger->Append(std::move(batch), &out);   // all or nothing
//   ledger->AppendAsync(std::move(batch2), [](Status s, std::vector<Ledger::Appended> r) {
//     ...  // on the writer thread, after the fsync; must not block
//   });
//
// A batch is atomic: if any command is refused (expected-version conflict or
// a hook refusal) nothing of that batch is written and the others of the same
// group are unaffected. A command whose request id was seen before returns
// its original seq with duplicate=true and appends nothing, across restarts,
// if its content digest matches the first one's; otherwise its batch is
// refused with RequestReused (never answered with another request's result).
//
// Thread safety: Append, AppendAsync and the read functions may be called
// from any thread concurrently. The hook and AppendAsync's completions run
// only on the writer thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/coding.h"
#include "core/fault_fs.h"
#include "core/replication.h"
#include "core/stats.h"
#include "events/event.h"
#include "events/status.h"

namespace accountable {

// Column families of the event DB that projections may read and write.
enum class Cf : unsigned char { kAccounts = 0, kActivity = 1, kMeta = 2, kMerkle = 3 };

// The hook's view of the group being written. Reads see the writes of
// earlier commands in the same group; writes land in the group's WriteBatch.
class GroupTx {
 public:
  virtual ~GroupTx() = default;
  virtual Status Get(Cf cf, std::string_view key, std::string* value) = 0;  // NotFound if absent
  virtual void Put(Cf cf, std::string_view key, std::string_view value) = 0;
  virtual void Merge(Cf cf, std::string_view key, std::string_view value) = 0;
  virtual void Delete(Cf cf, std::string_view key) = 0;
};

// Projections plug in here: validate a command against current state and add
// its projection writes to the same WriteBatch as the event.
class AppendHook {
 public:
  virtual ~AppendHook() = default;
  // Runs on the writer thread in seq order, after seq is assigned. A non-OK
  // status refuses the command's whole batch; its writes are rolled back.
  virtual Status Apply(const events::EventView& event, GroupTx& tx) = 0;
};

struct LedgerOptions {
  std::string dir;                           // e.g. DATA/events
  // Auditors open copies read-only: nothing is written, Append is refused,
  // and a directory without an event DB is NotFound instead of created.
  bool read_only = false;
  size_t group_commands_max = 8192;          // one WriteBatch holds at most this many
  // Queued commands, all callers: Append blocks beyond this, AppendAsync
  // answers Busy (backpressure, bounded memory).
  size_t queue_commands_max = 65536;
  size_t batch_commands_max = 4096;          // one Append call
  // Request ids of the newest events the writer keeps in memory for
  // Command::absent_through_seq (~40 bytes each; 0: none, so only a command
  // whose caller's lookup saw the newest event skips the RocksDB read).
  // 2^16 is 1-2 s of appends at full rate, far more than a command waits
  // in the queue.
  size_t recent_request_ids_max = 1 << 16;
  // Folds Cf::kActivity merge operands in order onto the existing value
  // (nullptr if none). False marks the row corrupt. Must be deterministic.
  std::function<bool(const std::string* existing, const std::vector<std::string_view>& operands,
                     std::string* out)>
      activity_merge;
  // Optional: combines a run of operands into one operand (false: cannot),
  // so long operand stacks fold during flush and compaction, not on every read.
  std::function<bool(const std::vector<std::string_view>& operands, std::string* out)> activity_partial_merge;
  AppendHook* hook = nullptr;                // not owned; must outlive the Ledger
  // Benchmarks only: false writes no Merkle rows, so a ledger written without
  // its tree fails `accountable-audit verify` and every proof. The mode is
  // fixed when the ledger is created (meta `merkle_tree` = `off`); Open
  // refuses to switch an existing ledger either way.
  bool merkle_tree = true;
  std::function<int64_t()> clock_ms;         // recorded_at source; wall clock if empty
  // Space held back in dir/RESERVE (a preallocated file) so that a restart
  // can always replay the WAL and a shutdown can flush: Open releases it
  // before recovery and takes it again after; Close releases it before its
  // final flush. 0: no reserve. The WAL is kept below a quarter of it
  // (max_total_wal_size), so a replay or flush and the next WAL fit in it.
  uint64_t reserve_bytes = 64u << 20;
  // Tests only: storage faults injected under the event DB (core/fault_fs.h).
  std::shared_ptr<FaultFs> faults;
  // Called on the writer thread after each durable group that appended an
  // event, with the new last seq, before the group's callers are answered
  // (subscriptions wake on it; Accounts signs a tree head). Must not block.
  std::function<void(uint64_t last_seq)> on_commit;
  // Optional, not owned, must outlive the Ledger: the writer counts appends
  // by type, group sizes and write+fsync latency here (relaxed atomics).
  LedgerStats* stats = nullptr;
  // Optional, not owned, must outlive the Ledger: every group that appends
  // is published here, on the writer thread, before its local synced write
  // (core/replication.h). A publish that fails fails the whole group: no
  // command of it is written or acknowledged. Null: nothing changes.
  GroupSink* sink = nullptr;
};

inline constexpr size_t kContentDigestBytesMax = 64;

class Ledger {
 public:
  struct Command {
    std::string envelope;                    // from events::EnvelopeBuilder
    std::optional<uint64_t> expected_version;  // of the envelope's account stream
    // Keyed digest of what the caller asked (not of the envelope, whose
    // nonces differ on every retry); stored beside the request id. At most
    // kContentDigestBytesMax bytes; compared byte for byte.
    std::string content_digest;
    // Spares the writer its RocksDB lookup of the request id (every new
    // command's id is absent, and proving that reads every SST's filter).
    // Set by a caller that read LastSeq() == absent_through_seq and then
    // found the id absent with LookupRequest: the writer checks only the
    // events after that seq, in memory (LedgerOptions::recent_request_ids_max),
    // and reads RocksDB as usual when they are no longer all there. 0: not
    // looked up. A wrong value lets a duplicate through: only set it from
    // such a lookup.
    uint64_t absent_through_seq = 0;
    // The request id was drawn from 128 random bits for this command alone,
    // so no event can hold it and the writer does not look it up.
    bool fresh_request_id = false;
  };
  struct Appended {
    uint64_t seq = 0;
    uint64_t version = 0;                    // position in the account stream (0: no account)
    bool duplicate = false;                  // request id seen before; nothing appended
  };
  struct Stored {
    uint64_t seq = 0;
    std::string envelope;                    // verify with events::EventView::Parse
  };

  // Busy if the directory is open in another process; Corruption on an
  // unknown format version.
  static Status Open(const LedgerOptions& options, std::unique_ptr<Ledger>* out);
  virtual ~Ledger() = default;

  // DiskFull when the disk has no space: nothing of the batch is durable,
  // reads keep working, and the next Append after space is freed resumes
  // the DB (RocksDB error recovery) without a reopen. IOError for other
  // storage failures, after which the next Append tries to resume likewise.
  virtual Status Append(std::vector<Command> batch, std::vector<Appended>* out) = 0;

  // The outcome of an AppendAsync, as Append would have returned it.
  using AppendDone = std::function<void(Status status, std::vector<Appended> results)>;
  // Append without waiting: the batch is checked and queued on the calling
  // thread, and done runs exactly once, on the writer thread once the group
  // is durable (or has failed), in seq order with the group's other
  // completions. A batch refused before it is queued (bad envelope, closing,
  // Busy when queue_commands_max commands are already queued) gets done
  // called on the calling thread before AppendAsync returns. done must not
  // block: every later group waits for it.
  virtual void AppendAsync(std::vector<Command> batch, AppendDone done) = 0;

  // Events with seq in [from_seq, from_seq + limit).
  virtual Status ReadRange(uint64_t from_seq, size_t limit, std::vector<Stored>* out) = 0;
  // Events of one account stream from version from_version (1-based), in order.
  virtual Status ReadStream(uint64_t account_id, uint64_t from_version, size_t limit,
                            std::vector<Stored>* out) = 0;
  virtual Status Get(Cf cf, std::string_view key, std::string* value) = 0;
  // Calls fn(key, value) for every row of cf whose key starts with prefix.
  virtual Status Scan(Cf cf, std::string_view prefix,
                      const std::function<bool(std::string_view, std::string_view)>& fn) = 0;
  // Calls fn(key, value) for the rows of cf from the first key >= start, in
  // key order, until fn returns false or the column family ends.
  virtual Status ScanFrom(Cf cf, std::string_view start,
                          const std::function<bool(std::string_view, std::string_view)>& fn) = 0;
  // Calls fn(seq, envelope) for events from from_seq on, in order, until fn
  // returns false. The view is valid only during the call: an envelope is
  // copied only when its bytes are not 8-byte aligned (FlatBuffers reads 8-byte
  // fields in place), and the scan reads ahead, so this is the fast way to
  // replay the log.
  virtual Status ScanEvents(uint64_t from_seq,
                            const std::function<bool(uint64_t seq, std::string_view envelope)>& fn) = 0;
  // Writes a derived row of Cf::kMeta outside the log (the latest signed tree
  // head): not synced, since it can always be made again from the log.
  virtual Status PutMeta(std::string_view key, std::string_view value) = 0;
  // The seq a request id was first appended at, and its content digest if
  // wanted; NotFound if never seen.
  virtual Status LookupRequest(std::string_view request_id, uint64_t* seq,
                               std::string* content_digest = nullptr) = 0;
  virtual uint64_t LastSeq() const = 0;
  // The Merkle root of the first `size` events (merkle::RootAt over the
  // stored tree: O(log n) reads). Called on the writer thread (in
  // on_commit) for size == LastSeq(), it folds the writer's in-memory
  // frontier instead and reads nothing: that is how a head is signed per
  // group commit. NotFound/Corruption as merkle::RootAt.
  virtual Status Root(uint64_t size, std::string* root);
  // True while an append can succeed as far as the ledger knows: open,
  // writable, not closing, and no failed group write still unresumed
  // (DiskFull, IOError). For a readiness probe; any thread.
  virtual bool Writable() const = 0;
  virtual uint64_t StreamVersion(uint64_t account_id) = 0;
  // An online, consistent copy of the DB in dir (which must not exist):
  // RocksDB Checkpoint, after a flush; SSTs are hard-linked when dir is on
  // the same filesystem. Appends go on meanwhile; the copy holds whole groups.
  virtual Status Checkpoint(const std::string& dir) = 0;
  // A follower's append: writes a group another copy's writer published
  // (kind kEvents), exactly as that writer wrote it, through the writer
  // thread, then checks the Merkle root at g.last_seq against g.root.
  // InvalidArgument if g does not start at LastSeq() + 1 (a gap or a
  // replay; nothing written); Corruption if the roots differ (the group is
  // written by then: stop following, the copy needs rebuilding). on_commit
  // runs as for an append. Not for a ledger that also takes Append calls.
  virtual Status ApplyReplicated(const ReplicatedGroup& g) = 0;
  // A read-only view of the ledger as it is now, on a RocksDB snapshot:
  // reads through it (events, tree, meta, streams) see no write made after
  // it was taken, and LastSeq() stays the seq it was taken at. Appends,
  // PutMeta and Checkpoint are Refused. It must be destroyed before this
  // Ledger closes; it pins the DB's state (old SST files stay on disk) while
  // it lives, so hold it for one computation, not longer. Any thread.
  virtual Status Snapshot(std::unique_ptr<Ledger>* out) = 0;
  // Flushes memtables and stops the writer; called by the destructor too.
  // Not OK if the flush failed or a storage error was never recovered from.
  virtual Status Close() = 0;
};

}  // namespace accountable
