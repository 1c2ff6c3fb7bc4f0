// Accounts: the lifecycle service over one data directory.
//
// Opens DATA/events (Ledger) and DATA/vault (Vault) with the KEK from the key
// directory, and turns lifecycle commands into sealed, validated events.
// The CLI (embedded mode) and the server both go through this class, so a
// rule lives in exactly one place: input checks here, state-dependent rules
// in the Projector on the writer thread.
//
//   std::unique_ptr<Accounts> accounts;
//   Status s = Accounts::Open({.data_dir = "data"}, &accounts);
//   Registration r{.nickname = "ann", .email = "ann@example.org", ...};
//   RegisterResult out;
//   s = accounts->Register(r, &out);       // out.account_id
//
// Every command that appends one event (or a login's two) has two forms.
// The blocking one returns once the event is durable. The asynchronous one
// takes a Done<R>: checks, Argon2id and sealing still run on the calling
// thread, the append is queued (Ledger::AppendAsync), and the call returns
// at once. A non-OK return is the refusal, and done is never called; OK
// means done is called exactly once: on the ledger's writer thread after
// the group's fsync, or on the calling thread when the answer needs no
// append (a day already touched) or the append was refused before queueing.
// done must not block (it holds up the writer):
//
//   accounts->GiveConsent(id, fb::Purpose::Newsletter, ctx, [](Status s, Receipt r) {
//     ...  // post the answer to the connection; no waiting here
//   });
//
// Thread safety: all methods are thread-safe; Argon2id hashing and sealing
// run on the calling thread, so callers parallelize them for free.
#pragma once

#include <atomic>
#include <chrono>
#include <future>
#include <cstdint>
#include <functional>
#include <map>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "core/ledger.h"
#include "core/tree_head.h"
#include "core/vault.h"
#include "projections/service/erasure_list.h"
#include "projections/fold/account_state.h"
#include "projections/fold/projector.h"
#include "policy_101_text.h"

namespace accountable {

// SHA-256 of docs/privacy-policy-1.01.txt, the policy a new ledger starts with.
inline constexpr std::string_view kPolicy101Sha256Hex =
    "66b2e74fd8d12eb962a8ccab15a0d4fc84decb48a2221413d6ac0f0a0e678560";

struct BackupOptions;
struct BackupReport;

struct AccountsOptions {
  std::string data_dir = "data";
  std::string key_dir;                       // default: data_dir/keys
  crypto::PasswordCost password_cost;
  std::string initial_policy_version = "1.01";
  // The text published with it; Open refuses a text whose SHA-256 is not the hex below.
  std::string initial_policy_text = std::string(kPolicy101Text);
  std::string initial_policy_sha256_hex = std::string(kPolicy101Sha256Hex);
  // "This Privacy Policy has version 1.01 and was last updated on 2018-04-28."
  int64_t initial_policy_effective_at_ms = 1'524'873'600'000;  // 2018-04-28T00:00:00Z
  std::function<int64_t()> clock_ms;         // wall clock if empty
  int64_t grace_period_ms = 3LL * 24 * 3600 * 1000;  // deletion request -> erasure
  int retention_months = 36;                 // inactivity -> erasure
  int access_log_days = 30;                  // access-log day keys kept this long
  std::function<void(uint64_t last_seq)> on_commit;  // see LedgerOptions::on_commit
  // 0: sign a tree head after every group commit (an auditor's head is never
  // behind the log). > 0: at most one head per interval from the commit path,
  // which saves one Ed25519 signature and one meta write per group under
  // load; whoever owns the process calls SignTreeHeadIfBehind() on a timer of
  // the same interval so a quiet log's tail still gets signed.
  int64_t sign_interval_ms = 0;
  uint64_t reserve_bytes = 64u << 20;        // see LedgerOptions::reserve_bytes
  // The signed erasure list (erasure_list.h), rewritten after every erasure;
  // keep it off the data disk. Empty: DATA/erasures/erasure-list. false: no
  // list (restore's staging copy, which must not overwrite the real one).
  std::string erasure_list_path;
  bool erasure_list = true;
  // The server's Backup request writes only below this directory; empty:
  // refused over the wire (an admin token must not write anywhere the server can).
  std::string backup_root;
  // Tests only: storage faults injected under both DBs (core/fault_fs.h).
  std::shared_ptr<FaultFs> faults;
  // Optional, not owned, must outlive the Accounts (core/stats.h): the
  // ledger writer's figures, and those of every Sweep and Erase.
  LedgerStats* ledger_stats = nullptr;
  ErasureStats* erasure_stats = nullptr;
  // Optional, not owned, must outlive the Accounts: the replicated log every
  // ledger group and vault write is published to first (core/replication.h).
  GroupSink* sink = nullptr;
  // A follower's copy: written only by Ledger/Vault::ApplyReplicated, so
  // Open appends nothing of its own (no initial policy, no interrupted
  // erasure finished here: both arrive through the log).
  bool follower = false;
  // Replication: this copy's --node-name. Set on the writer, every
  // ErasureVerified it appends comes with its own ReplicaErasureVerified.
  std::string replica_node;
};

// What a kek_rotated / signing_key_rotated event says (key ids, public keys).
struct KekRotatedFacts {
  std::string old_kek_id, new_kek_id;
  uint64_t rewrapped = 0, files_scanned = 0, bytes_scanned = 0, hits = 0;
};
// One copy's verification of an erasure (docs/replication.md, "Erasure on every copy").
struct ReplicaVerifiedFacts {
  std::string node;                          // [A-Za-z0-9._-], 1..64 chars (events::IsNodeName)
  uint64_t account_id = 0, erased_seq = 0;
  uint64_t files_scanned = 0, bytes_scanned = 0, hits = 0;
  uint32_t compaction_passes = 0;
};
struct SigningKeyRotatedFacts {
  std::string old_key_id, new_key_id;
  std::string old_public_key, new_public_key;  // 32 bytes each
  int64_t valid_from_ms = 0;
};

// Who caused a command, when, and its idempotency key.
struct Context {
  fb::Actor actor = fb::Actor::Holder;
  int64_t occurred_at_ms = 0;                // now if 0
  std::string request_id;                    // random if empty
  std::string reason;                        // required for admin updates
};

struct Receipt {
  uint64_t seq = 0;
  bool duplicate = false;                    // request id seen before; nothing appended
};

// The completion of an asynchronous command (see the header comment).
template <typename R>
using Done = std::function<void(Status status, R result)>;
using ReceiptDone = Done<Receipt>;

// The blocking form of an asynchronous command: start(done) as one of
// Accounts' Done<R> methods, then wait for done. *out is set only on OK.
template <typename R, typename Start>
Status Await(Start&& start, R* out) {
  std::promise<std::pair<Status, R>> finished;
  std::future<std::pair<Status, R>> result = finished.get_future();
  Status s = start(Done<R>([&finished](Status st, R r) { finished.set_value({std::move(st), std::move(r)}); }));
  if (!s.ok()) return s;
  auto [status, r] = result.get();
  if (status.ok()) *out = std::move(r);
  return status;
}

struct LoginRequest {
  std::string email;                         // either email ...
  uint64_t account_id = 0;                   // ... or account id
  std::string password;
  std::string ip, user_agent;
  bool recorded_fact = false;                // import: a past login, no password to check
  Context ctx;
  bool recorded_failure = false;             // with recorded_fact: the past attempt failed (LoginFailed)
};

struct LoginResult {
  uint64_t account_id = 0;
  uint64_t seq = 0;
  bool implicit_acceptance = false;          // a newer policy was accepted by this login
  bool duplicate = false;                    // request id seen before; nothing appended
};

struct ProfileChange {
  std::optional<std::string> nickname, email, company, gender, birthdate;
};

// A disclosure as the caller gives it. Only structured values reach the log
// in plaintext: the recipient's id, the country code, the legal basis and
// the safeguard; purpose and reference are sealed under the account's key.
struct Disclosure {
  std::string recipient;                     // registered recipient: decimal id or exact name
  std::string country;                       // ISO 3166-1 alpha-2; default: the recipient's
  std::string purpose, legal_basis;          // legal_basis: consent | legal_obligation
  std::string safeguard;                     // events::ParseSafeguard names
  std::string reference;                     // required for legal_obligation
};

// A recipient of disclosures, published by an admin (RecipientRegistered).
struct Recipient {
  uint64_t id = 0;                           // seq of its RecipientRegistered event
  std::string name;                          // an organisation, unique (ASCII case-insensitive)
  std::string country;                       // ISO 3166-1 alpha-2
};

struct AccessLog {
  std::string ip, browser, isp, referrer, os, path;
};

// A new policy version for PublishPolicy.
struct PolicyDraft {
  std::string version;                       // greater than the current one (projections/fold/policy.h)
  std::string text;                          // the policy itself, 1..policy::kTextBytesMax bytes
  std::string summary;                       // what changed; optional
  int64_t effective_at_ms = 0;               // the publication's time if 0
};

struct SweepOptions {
  int64_t as_of_ms = 0;                      // now if 0
  bool dry_run = false;
};

struct SweepReport {
  struct Erasure {
    uint64_t account_id = 0;
    std::string reason;
    int64_t due_at_ms = 0;                   // grace deadline, or the retention due date
  };
  std::vector<Erasure> erased;               // or, when dry_run, would be erased
  std::vector<uint32_t> days_shredded;       // access-log day keys destroyed
  Vault::ShredReport shred;
  bool verified = false;                     // ErasureVerified appended for every erasure
  int64_t elapsed_ms = 0;
};

// change-password: the holder gives the old password; an admin reset does not.
struct PasswordChange {
  std::string old_password, new_password;
};

// An account the retention rule erases at due_at_ms unless its holder is active before.
struct RetentionCandidate {
  uint64_t account_id = 0;
  int64_t last_active_at_ms = 0;
  int64_t due_at_ms = 0;                     // RetentionDueAt(last_active_at_ms, retention months)
};

// Rows of one RetentionDue answer, at most (a wire frame holds them; soonest due first).
inline constexpr size_t kRetentionRowsMax = 5000;
// How far ahead `inactive --within DAYS` may look.
inline constexpr int kRetentionWithinDaysMax = 3650;

struct Registration {
  std::string nickname, email, password, gender, birthdate, ip, user_agent, company;
  std::string accept_policy;                 // must equal the current version
  std::string request_id;                    // random if empty
  fb::Actor actor = fb::Actor::Holder;
  int64_t occurred_at_ms = 0;                // now if 0
  uint64_t account_id = 0;                   // allocated if 0 (import gives one)
};

struct RegisterResult {
  uint64_t account_id = 0;
  uint64_t seq = 0;
  bool duplicate = false;                    // request id seen before
};

// Decrypted personal data, as currently held.
struct Pii {
  std::string nickname, email, gender, birthdate, company, ip, user_agent;
};

struct AccountView {
  AccountState state;
  uint64_t stream_version = 0;
  std::string display_name;                  // "Anonymous" once erased
  std::optional<Pii> pii;                    // empty once erased (shredded)
};

class Accounts {
 public:
  static Status Open(const AccountsOptions& options, std::unique_ptr<Accounts>* out);
  ~Accounts();

  Status Register(const Registration& r, RegisterResult* out) {
    return Await([&](Done<RegisterResult> d) { return Register(r, std::move(d)); }, out);
  }
  // A registration sent again while its first send is still running (same
  // request id and content; a client's resend after a timeout or a
  // failover) waits for the first and gets its answer, marked duplicate;
  // with other content it is refused (RequestReused).
  Status Register(const Registration& r, Done<RegisterResult> done);
  Status Show(uint64_t account_id, AccountView* out);
  // The policy in force as of the last commit, from memory: every command
  // names it, and reading its meta row twice per consent was ~6% of the
  // server's CPU. Refreshed after each group is durable and before its
  // callers hear back, so whoever saw a publication acknowledged sees it.
  std::string CurrentPolicyVersion();

  // AuthFailed for a wrong password, an unknown or an erased account alike.
  // A recorded fact (import) is OK once appended, recorded_failure too.
  Status Login(const LoginRequest& r, LoginResult* out) {
    return Await([&](Done<LoginResult> d) { return Login(r, std::move(d)); }, out);
  }
  Status Login(const LoginRequest& r, Done<LoginResult> done);
  Status GiveConsent(uint64_t account_id, fb::Purpose purpose, const Context& ctx, Receipt* out) {
    return Await([&](ReceiptDone d) { return GiveConsent(account_id, purpose, ctx, std::move(d)); }, out);
  }
  Status GiveConsent(uint64_t account_id, fb::Purpose purpose, const Context& ctx, ReceiptDone done);
  Status WithdrawConsent(uint64_t account_id, fb::Purpose purpose, const Context& ctx, Receipt* out) {
    return Await([&](ReceiptDone d) { return WithdrawConsent(account_id, purpose, ctx, std::move(d)); }, out);
  }
  Status WithdrawConsent(uint64_t account_id, fb::Purpose purpose, const Context& ctx, ReceiptDone done);
  Status Update(uint64_t account_id, const ProfileChange& change, const Context& ctx, Receipt* out);
  // Precondition: the change has no email. An email change moves the
  // vault's blind-index row after its append, a vault write that must not
  // run on the writer thread, so only the blocking form takes one.
  Status Update(uint64_t account_id, const ProfileChange& change, const Context& ctx, ReceiptDone done);
  Status RequestDeletion(uint64_t account_id, const Context& ctx, Receipt* out) {
    return Await([&](ReceiptDone d) { return RequestDeletion(account_id, ctx, std::move(d)); }, out);
  }
  Status RequestDeletion(uint64_t account_id, const Context& ctx, ReceiptDone done);
  Status CancelDeletion(uint64_t account_id, const Context& ctx, Receipt* out) {
    return Await([&](ReceiptDone d) { return CancelDeletion(account_id, ctx, std::move(d)); }, out);
  }
  Status CancelDeletion(uint64_t account_id, const Context& ctx, ReceiptDone done);
  Status Disclose(uint64_t account_id, const Disclosure& d, const Context& ctx, Receipt* out) {
    return Await([&](ReceiptDone done) { return Disclose(account_id, d, ctx, std::move(done)); }, out);
  }
  Status Disclose(uint64_t account_id, const Disclosure& d, const Context& ctx, ReceiptDone done);
  Status RecordAccess(const AccessLog& log, const Context& ctx, Receipt* out) {
    return Await([&](ReceiptDone d) { return RecordAccess(log, ctx, std::move(d)); }, out);
  }
  Status RecordAccess(const AccessLog& log, const Context& ctx, ReceiptDone done);
  Status PublishPolicy(const PolicyDraft& draft, const Context& ctx, Receipt* out);
  // No summary, in effect from its publication.
  Status PublishPolicy(const std::string& version, const std::string& text, const Context& ctx, Receipt* out) {
    return PublishPolicy(PolicyDraft{version, text, "", 0}, ctx, out);
  }
  // Publishes a recipient of disclosures (admin); out->seq is its id.
  Status RegisterRecipient(const std::string& name, const std::string& country, const Context& ctx,
                           Receipt* out);
  // Every registered recipient, in id order (at most kRecipientsMax).
  Status ListRecipients(std::vector<Recipient>* out);
  // A recipient by decimal id or exact name; NotFound if none is registered.
  Status FindRecipient(const std::string& id_or_name, Recipient* out);
  // Records the access request (DSAR), then returns everything held about
  // the account, decrypted, as one JSON document.
  Status Export(uint64_t account_id, const Context& ctx, std::string* json);
  // Only records the access request (AccessRequested, channel from the
  // actor): what Export appends, for import's access_requested lines.
  Status RecordAccessRequest(uint64_t account_id, const Context& ctx, Receipt* out);

  // The holder changes the password, verified as a login verifies it
  // (AuthFailed if wrong, nothing appended); or an admin resets it
  // (ctx.actor Admin, no old password, not holder activity). Appends
  // CredentialsChanged; from then on login checks the new password only.
  Status ChangePassword(uint64_t account_id, const PasswordChange& c, const Context& ctx, Receipt* out) {
    return Await([&](ReceiptDone d) { return ChangePassword(account_id, c, ctx, std::move(d)); }, out);
  }
  Status ChangePassword(uint64_t account_id, const PasswordChange& c, const Context& ctx, ReceiptDone done);
  // The holder used the forum: one ActivityRecorded per account and UTC day
  // (holder activity for retention). A later call the same day, or on a day
  // the holder was already active, appends nothing: out->seq == 0.
  Status Touch(uint64_t account_id, const Context& ctx, Receipt* out) {
    return Await([&](ReceiptDone d) { return Touch(account_id, ctx, std::move(d)); }, out);
  }
  Status Touch(uint64_t account_id, const Context& ctx, ReceiptDone done);
  // Records that the holder was warned that retention erases the account
  // (RetentionNoticeSent with the due date as of its last activity).
  Status RecordRetentionNotice(uint64_t account_id, const Context& ctx, Receipt* out) {
    return Await([&](ReceiptDone d) { return RecordRetentionNotice(account_id, ctx, std::move(d)); }, out);
  }
  Status RecordRetentionNotice(uint64_t account_id, const Context& ctx, ReceiptDone done);
  // Active accounts that a retention of `months` erases at or before
  // until_ms, soonest due first, at most kRetentionRowsMax (*truncated says
  // if there were more).
  Status RetentionDue(int64_t until_ms, int months, std::vector<RetentionCandidate>* out, bool* truncated);
  int retention_months() const { return opt_.retention_months; }

  // Erases accounts past their grace period or inactive past the retention
  // window, and shreds access-log day keys past their window, in one vault
  // pass. Finishes any erasure a crash interrupted first.
  // NotWriter on a copy that is still a follower (its erasures arrive
  // through the replicated log).
  Status Sweep(const SweepOptions& o, SweepReport* out);
  // A follower copy (AccountsOptions::follower) that took the writer lease
  // starts appending: what Open skipped for a follower runs now (the
  // account-id counter reread from what the log brought, the initial policy
  // on an empty log, an interrupted erasure finished, the erasure list
  // exported), and Sweep works from here on. The caller has already made
  // the sink publish (docs/replication.md, "Failover"). Once, from one thread.
  Status StartWriting();
  // The earliest grace deadline among pending deletions (the head of the
  // meta deletion/ index); empty if none is pending. For an erasure timer.
  Status NextDeletionDeadline(std::optional<int64_t>* deadline_ms);
  // Accounts not active since MonthsBefore(as_of, months), exact boundary.
  Status Inactive(int64_t as_of_ms, int months, std::vector<uint64_t>* out);
  // Erases the given accounts now (admin), same sequence as the sweep.
  Status Erase(const std::vector<SweepReport::Erasure>& accounts, SweepReport* out);

  // An online backup of both stores into options.dest (backup.h); the KEK
  // and the other secrets only into options.keys_dest, if given.
  Status Backup(const BackupOptions& options, BackupReport* out);
  // Brings the erasure list file up to the log; called after every erasure
  // and by Open. Corruption if the file there does not verify (never overwritten).
  Status ExportErasureList();
  std::vector<std::string> TrustedSigningKeys() const;  // erasure_list.cc
  const std::string& backup_root() const { return opt_.backup_root; }

  // Input checks of each command, also used by import before it appends.
  static Status CheckRegistration(const Registration& r, int64_t now_ms);
  static Status CheckChange(const ProfileChange& c, const Context& ctx, int64_t now_ms);
  static Status CheckDisclosure(const Disclosure& d);
  static Status CheckPolicyDraft(const PolicyDraft& d);
  static Status CheckAccessLog(const AccessLog& log);
  static Status CheckLogin(const LoginRequest& r);
  // Business times may not lie in the future (beyond clock skew): a future
  // activity time would keep an account from retention forever.
  static Status CheckOccurredAt(int64_t occurred_at_ms, int64_t now_ms);

  // Key rotations (docs/operations.md, "Key rotation"): admin events with key
  // ids and public keys only, account_id 0. Idempotent per new key: the rerun
  // of an interrupted rotation gets the first receipt (duplicate).
  Status RecordKekRotated(const KekRotatedFacts& f, Receipt* out);
  Status RecordSigningKeyRotated(const SigningKeyRotatedFacts& f, Receipt* out);
  // Replication (projections/service/replica_events.cc): system events,
  // idempotent per copy (ReplicaJoined) and per (copy, erasure).
  Status RecordReplicaJoined(const std::string& node, Receipt* out);
  Status RecordReplicaVerified(const ReplicaVerifiedFacts& f, Receipt* out);
  // The copies that announced themselves, by name (kMetaReplicaPrefix
  // rows), at most kReplicasMax.
  static constexpr size_t kReplicasMax = 256;
  Status KnownReplicas(std::vector<std::string>* nodes);

  // Signs the head of the whole log and keeps it as the latest (meta
  // "sth/latest"); also runs after every group commit (or interval). Open
  // signs only if the stored head does not already cover the log.
  Status SignTreeHead(SignedTreeHead* out);
  // Signs only if the latest signed head is smaller than the log; *signed_now says whether it did.
  Status SignTreeHeadIfBehind(bool* signed_now);
  const std::string& public_key() const { return signing_key_.public_key; }
  // The size of the latest signed tree head (0: none yet) and its timestamp; any thread.
  uint64_t SignedTreeSize();
  int64_t signed_at_ms() const { return signed_at_ms_.load(); }
  // The form a caller's request id is stored in (envelope, idempotency
  // index, sealing ad): hex HMAC-SHA-256 under the server secret, so the
  // text a caller chose never reaches the log. Deterministic: retries match.
  std::string RequestKey(std::string_view request_id) const;
  // Keyed digest of a request's content, compared when a request id comes
  // back: HMAC under the same secret, so a password inside cannot be guessed offline.
  std::string ContentDigest(uint64_t account_id, const Context& ctx, fb::Payload type,
                            std::string_view content) const;

  Ledger& ledger() { return *ledger_; }
  int64_t grace_period_ms() const { return opt_.grace_period_ms; }
  int access_log_days() const { return opt_.access_log_days; }
  Vault& vault() { return *vault_; }
  int64_t NowMs() const;
  Status Close();

 private:
  Accounts() = default;
  Status PublishInitialPolicy();
  Status LoadNextAccountId();  // from the meta row the log's registrations keep
  // Re-reads policy_version_ from the event DB; a failed read leaves it as it was.
  Status RefreshPolicyVersion();
  Status AdoptOrSignHead();
  Status ReserveEmail(const std::string& normalized, uint64_t account_id);
  void EndReservation(const std::string& normalized, uint64_t account_id, bool landed);
  Status NewAccountKey(uint64_t requested_id, uint64_t* id, crypto::Key32* dek);
  Status PriorRegistration(const std::string& rid, const std::string& digest, RegisterResult* out, bool* found);
  // Claims request id rid for this registration, or, if a registration
  // with that id is already running, adds done to its followers (*joined)
  // or refuses a different content. A claim ends with EndClaim, which
  // answers the followers with the claimant's outcome.
  Status ClaimRegistration(const std::string& rid, const std::string& digest, Done<RegisterResult>* done,
                           bool* joined);
  void EndClaim(const std::string& rid, const Status& s, const RegisterResult& out);
  // Register after its claim: the checks, Argon2id, the key, the email and
  // the append. done is called only if this returns OK.
  Status RegisterClaimed(const Registration& r, const std::string& rid, const std::string& digest,
                         Done<RegisterResult> done);
  Status ReadPii(uint64_t account_id, Pii* out);  // the current profile (Registered + ProfileUpdated)
  using EventBuild =
      std::function<flatbuffers::Offset<void>(events::EnvelopeBuilder&, const std::string& rid)>;
  // Appends one event. build (run before Commit returns) gets the stored
  // (hashed) request id for the sealing ad; content is the request's
  // canonical inputs (ContentFields).
  Status Commit(uint64_t account_id, const Context& ctx, fb::Payload type, const EventBuild& build,
                ReceiptDone done, std::string_view content = {});
  Status Commit(uint64_t account_id, const Context& ctx, fb::Payload type, const EventBuild& build,
                Receipt* out, std::string_view content = {}) {
    return Await([&](ReceiptDone d) { return Commit(account_id, ctx, type, build, std::move(d), content); }, out);
  }
  // The append of a registration and what follows it (the email
  // reservation ends, a racing duplicate is answered with its account).
  Status CommitRegistration(std::vector<Ledger::Command> batch, const std::string& email, uint64_t id,
                            Done<RegisterResult> done);
  // The checks every update passes (input, account active), then the key
  // its profile is sealed under.
  Status UpdateKey(uint64_t account_id, const ProfileChange& c, const Context& ctx, crypto::Key32* dek);
  Status CommitProfile(uint64_t account_id, const ProfileChange& c, const Context& ctx, const crypto::Key32& dek,
                       ReceiptDone done);
  // For Ledger::Command::absent_through_seq: LastSeq() before a lookup that
  // found the stored request id rid absent; 0 if it was not.
  uint64_t AbsentThrough(const std::string& rid);
  // The receipt of ctx.request_id if it was used before with this content
  // (*found), RequestReused if with other content; for commands whose checks
  // would refuse a retry of their own success (ChangePassword's old password).
  Status PriorReceipt(uint64_t account_id, const Context& ctx, fb::Payload type, std::string_view content,
                      Receipt* out, bool* found);
  Status ActiveState(uint64_t account_id, AccountState* out);
  Status ConsentPolicy(const Context& ctx, std::string* version);
  Status ReadCredential(uint64_t account_id, uint64_t seq, std::string* credential);
  Status FinishErasures(const std::vector<uint32_t>& days, SweepReport* out);
  Ledger::Command OwnReplicaVerified(uint64_t account_id, uint64_t erased_seq, const Vault::ShredReport& r);
  Status SweepPass(const SweepOptions& o, SweepReport* out);
  // Adds a finished Sweep (erase false) or Erase pass to opt_.erasure_stats.
  void CountPass(bool erase, const Status& s, const SweepReport& r, std::chrono::steady_clock::time_point t0);
  Status EraseNow(std::vector<SweepReport::Erasure> todo, SweepReport* out);
  Status DueErasures(int64_t as_of_ms, std::vector<SweepReport::Erasure>* out);
  Status ExpiredDays(int64_t as_of_ms, std::vector<uint32_t>* out);

  AccountsOptions opt_;
  Projector projector_;
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<Ledger> ledger_;
  std::atomic<uint64_t> next_account_id_{1};
  std::atomic<bool> follower_{false};  // opt_.follower until StartWriting
  std::mutex email_mu_;  // check-then-reserve of a blind-index row is atomic; guards the two below
  std::set<std::string> inflight_emails_;  // reserved, registration not yet landed
  struct RunningRegistration {
    std::string digest;                               // its content digest
    std::vector<Done<RegisterResult>> followers;      // resends waiting for it
  };
  // By stored request id: from a registration's idempotency check until its
  // append is durable or refused. Guarded by email_mu_.
  std::map<std::string, RunningRegistration> running_registrations_;
  std::mutex sweep_mu_;  // one erasure pass at a time
  SigningKey signing_key_;
  // DATA/keys/request, keyed once: request-id and content HMACs.
  std::unique_ptr<const crypto::HmacSha256Key> request_mac_;
  std::mutex sth_mu_;    // heads are made in seq order
  std::mutex policy_mu_;
  std::string policy_version_;  // kMetaPolicyCurrent after the last commit; under policy_mu_
  uint64_t signed_size_ = 0;     // under sth_mu_
  std::atomic<int64_t> signed_at_ms_{0};
  std::mutex erasure_list_mu_;
  std::unique_ptr<ErasureListDoc> erasure_list_;  // under erasure_list_mu_; loaded by the first export
  uint64_t erasure_list_seq_ = 0;                 // the log is read through this seq; same mutex
  std::once_flag dummy_once_;
  std::string dummy_credential_;  // verified against when no account matches
  const std::string& DummyCredential();
};

inline constexpr std::string_view kMetaLatestHead = "sth/latest";

std::string NewRequestId();

// Canonical encoding of a request's inputs for ContentDigest: each value
// length-prefixed (BE32), so ("ab","c") and ("a","bc") differ.
std::string ContentFields(std::initializer_list<std::string_view> values);

}  // namespace accountable
