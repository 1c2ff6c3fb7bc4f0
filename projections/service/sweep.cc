// Accounts: erasure (crypto-shredding with proof), retention and the sweep.
// The sequence (docs/architecture.md, "Erasure"): AccountErased (sync) ->
// vault Shred (delete, flush, forced compaction, verify) -> ErasureVerified. A crash anywhere in
// between leaves an erasure/pending row, and the next open finishes it.
#include <algorithm>
#include <chrono>
#include <set>

#include "core/crash_point.h"
#include "projections/fold/activity.h"
#include "projections/service/accounts.h"
#include "projections/validate/validate.h"

namespace accountable {
namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;
// Erasure events per Append: one fsync for many accounts, within batch limits.
constexpr size_t kEraseBatchMax = 1024;

std::vector<uint64_t> PendingErasures(Ledger& ledger, Status* s) {
  std::vector<uint64_t> ids;
  *s = ledger.Scan(Cf::kMeta, kMetaErasurePendingPrefix, [&](std::string_view k, std::string_view) {
    ids.push_back(DecodeBE64(k.substr(kMetaErasurePendingPrefix.size())));
    return true;
  });
  return ids;
}

fb::ErasureReason ReasonOf(const std::string& r) {
  if (r == "user_request") return fb::ErasureReason::UserRequest;
  if (r == "retention_inactive") return fb::ErasureReason::RetentionInactive;
  return fb::ErasureReason::Admin;
}

}  // namespace

Status Accounts::Inactive(int64_t as_of_ms, int months, std::vector<uint64_t>* out) {
  if (months < 1 || months > 1200) return Status::InvalidArgument("months: must be 1..1200");
  ACC_RETURN_IF_ERROR(CheckAsOfMs(as_of_ms));
  out->clear();
  Roaring64Map candidates;
  ACC_RETURN_IF_ERROR(InactiveCandidates(*ledger_, as_of_ms, months, &candidates));
  const int64_t cutoff_ms = MonthsBefore(as_of_ms, months);
  for (uint64_t id : candidates) {
    AccountState st;
    ACC_RETURN_IF_ERROR(ReadAccount(*ledger_, id, &st));
    if (st.status != AccountStatus::kErased && st.last_active_at_ms < cutoff_ms) out->push_back(id);
  }
  return Status::OK();
}

Status Accounts::NextDeletionDeadline(std::optional<int64_t>* deadline_ms) {
  deadline_ms->reset();
  return ledger_->Scan(Cf::kMeta, kMetaDeletionPrefix, [&](std::string_view k, std::string_view) {
    *deadline_ms = static_cast<int64_t>(DecodeBE64(k.substr(kMetaDeletionPrefix.size())));
    return false;  // keys sort by deadline: the first is the earliest
  });
}

Status Accounts::RetentionDue(int64_t until_ms, int months, std::vector<RetentionCandidate>* out, bool* truncated) {
  out->clear();
  std::vector<uint64_t> ids;
  ACC_RETURN_IF_ERROR(Inactive(until_ms, months, &ids));
  for (uint64_t id : ids) {
    AccountState st;
    ACC_RETURN_IF_ERROR(ReadAccount(*ledger_, id, &st));
    // A pending deletion goes at its own deadline, not by retention.
    if (st.status != AccountStatus::kActive) continue;
    out->push_back({id, st.last_active_at_ms, RetentionDueAt(st.last_active_at_ms, months)});
  }
  std::sort(out->begin(), out->end(), [](const RetentionCandidate& a, const RetentionCandidate& b) {
    return a.due_at_ms != b.due_at_ms ? a.due_at_ms < b.due_at_ms : a.account_id < b.account_id;
  });
  *truncated = out->size() > kRetentionRowsMax;
  if (*truncated) out->resize(kRetentionRowsMax);
  return Status::OK();
}

Status Accounts::DueErasures(int64_t as_of_ms, std::vector<SweepReport::Erasure>* out) {
  std::set<uint64_t> seen;
  Status s = ledger_->Scan(Cf::kMeta, kMetaDeletionPrefix, [&](std::string_view k, std::string_view) {
    k.remove_prefix(kMetaDeletionPrefix.size());
    const auto deadline_ms = static_cast<int64_t>(DecodeBE64(k));
    if (deadline_ms > as_of_ms) return false;  // keys sort by deadline
    const uint64_t id = DecodeBE64(k.substr(8));
    out->push_back({id, "user_request", deadline_ms});
    seen.insert(id);
    return true;
  });
  ACC_RETURN_IF_ERROR(s);
  std::vector<uint64_t> inactive;
  ACC_RETURN_IF_ERROR(Inactive(as_of_ms, opt_.retention_months, &inactive));
  for (uint64_t id : inactive) {
    AccountState st;
    ACC_RETURN_IF_ERROR(ReadAccount(*ledger_, id, &st));
    // A pending deletion is erased by its own deadline, with its own reason.
    if (seen.count(id) || st.status != AccountStatus::kActive) continue;
    out->push_back({id, "retention_inactive", RetentionDueAt(st.last_active_at_ms, opt_.retention_months)});
  }
  return Status::OK();
}

Status Accounts::ExpiredDays(int64_t as_of_ms, std::vector<uint32_t>* out) {
  std::vector<uint32_t> days;
  ACC_RETURN_IF_ERROR(vault_->ListDays(&days));
  // as_of is in [kAsOfMsMin, kAsOfMsMax] and access_log_days is bounded, so
  // this cannot overflow; the clamp keeps DayOf on a real day even so.
  ACC_RETURN_IF_ERROR(CheckAsOfMs(as_of_ms));
  const int64_t oldest_kept_ms = as_of_ms - int64_t(opt_.access_log_days) * kDayMs;
  const uint32_t oldest_kept = DayOf(std::max(oldest_kept_ms, kAsOfMsMin));
  for (uint32_t d : days)
    if (d < oldest_kept) out->push_back(d);
  return Status::OK();
}

Status Accounts::EraseNow(std::vector<SweepReport::Erasure> todo, SweepReport* out) {
  for (size_t i = 0; i < todo.size(); i += kEraseBatchMax) {
    std::vector<Ledger::Command> batch;
    const size_t end = std::min(todo.size(), i + kEraseBatchMax);
    for (size_t k = i; k < end; ++k) {
      events::EnvelopeBuilder b;
      auto p = fb::CreateAccountErased(b.fbb(), ReasonOf(todo[k].reason));
      events::Header h{todo[k].account_id, NowMs(), fb::Actor::System,
                       RequestKey("erase/" + std::to_string(todo[k].account_id)), CurrentPolicyVersion()};
      batch.push_back({b.Finish(h, fb::Payload::AccountErased, p.Union()), std::nullopt});
    }
    std::vector<Ledger::Appended> res;
    Status s = ledger_->Append(batch, &res);
    if (s.ok()) {
      out->erased.insert(out->erased.end(), todo.begin() + i, todo.begin() + end);
      continue;
    }
    if (!s.Is(Status::Code::kRefused) && !s.Is(Status::Code::kNotFound)) return s;
    // One account changed under us (cancelled, already erased): the rest still go,
    // and only those that were appended are reported.
    for (size_t k = i; k < end; ++k) {
      std::vector<Ledger::Command> one{batch[k - i]};
      Status os = ledger_->Append(std::move(one), &res);
      if (os.ok()) out->erased.push_back(todo[k]);
      else if (!os.Is(Status::Code::kRefused) && !os.Is(Status::Code::kNotFound)) return os;
    }
  }
  CrashPoint("erase:after_account_erased");
  return Status::OK();
}

// The writer's own line in "every copy verified it" (docs/replication.md).
Ledger::Command Accounts::OwnReplicaVerified(uint64_t id, uint64_t erased_seq, const Vault::ShredReport& r) {
  events::EnvelopeBuilder b;
  const std::string& node = opt_.replica_node;
  auto p = fb::CreateReplicaErasureVerifiedDirect(b.fbb(), erased_seq, node.c_str(), r.files_scanned, r.bytes_scanned,
                                                  r.hits, r.compaction_passes);
  const std::string rid = "verify/" + node + "/" + std::to_string(erased_seq);
  events::Header h{id, NowMs(), fb::Actor::System, RequestKey(rid), CurrentPolicyVersion()};
  return {b.Finish(h, fb::Payload::ReplicaErasureVerified, p.Union()), std::nullopt};
}

Status Accounts::FinishErasures(const std::vector<uint32_t>& days, SweepReport* out) {
  Status ps;
  std::vector<uint64_t> ids = PendingErasures(*ledger_, &ps);
  ACC_RETURN_IF_ERROR(ps);
  if (ids.empty() && days.empty()) return Status::OK();
  Vault::ShredRequest req{ids, {}, days};
  // Registrations wait for the shred: an erased account's email may be taken
  // again at any time, and its new row must not be the one deleted.
  std::unique_lock<std::mutex> email_lock(email_mu_);
  for (uint64_t id : ids) {
    Pii pii;
    // The email is readable until the DEK goes; after a crash past that
    // point the blind row went with it in the same vault batch.
    std::string e;
    if (ReadPii(id, &pii).ok() && validate::CanonicalEmail(pii.email, &e).ok()) {
      if (!inflight_emails_.count(e)) req.emails.emplace_back(e, id);
    }
  }
  Status ss = vault_->Shred(req, &out->shred);
  email_lock.unlock();
  if (!ss.ok()) return ss;  // no ErasureVerified without a clean scan
  CrashPoint("erase:before_verified");
  std::vector<Ledger::Command> batch;
  for (uint64_t id : ids) {
    std::string v;
    ACC_RETURN_IF_ERROR(ledger_->Get(Cf::kMeta, std::string(kMetaErasurePendingPrefix) + EncodeBE64(id), &v));
    events::EnvelopeBuilder b;
    const auto& r = out->shred;
    auto p = fb::CreateErasureVerified(b.fbb(), DecodeBE64(v), r.files_scanned, r.bytes_scanned, r.hits,
                                       r.compaction_passes);
    events::Header h{id, NowMs(), fb::Actor::System, RequestKey("verify/" + std::to_string(id)), CurrentPolicyVersion()};
    batch.push_back({b.Finish(h, fb::Payload::ErasureVerified, p.Union()), std::nullopt});
    if (!opt_.replica_node.empty()) batch.push_back(OwnReplicaVerified(id, DecodeBE64(v), r));
    if (batch.size() == kEraseBatchMax || id == ids.back()) {
      std::vector<Ledger::Appended> res;
      ACC_RETURN_IF_ERROR(ledger_->Append(std::move(batch), &res));
      batch.clear();
    }
  }
  out->days_shredded.insert(out->days_shredded.end(), days.begin(), days.end());
  out->verified = true;
  return ids.empty() ? Status::OK() : ExportErasureList();
}

Status Accounts::Erase(const std::vector<SweepReport::Erasure>& accounts, SweepReport* out) {
  for (const auto& e : accounts) {
    AccountState st;
    ACC_RETURN_IF_ERROR(ActiveState(e.account_id, &st));  // unknown: NotFound; erased: Refused
  }
  std::lock_guard<std::mutex> l(sweep_mu_);
  const auto t0 = std::chrono::steady_clock::now();
  *out = SweepReport();
  Status s = EraseNow(accounts, out);
  // Listed as soon as the AccountErased is durable, before the shred (a
  // backup restored from then on erases the account again); a list that
  // cannot be written is reported, but never holds the shred back.
  Status listed = (s.ok() && !out->erased.empty()) ? ExportErasureList() : Status::OK();
  if (s.ok()) s = FinishErasures({}, out);
  CountPass(true, s, *out, t0);
  ACC_RETURN_IF_ERROR(s);
  ACC_RETURN_IF_ERROR(listed);
  out->elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - t0).count();
  return Status::OK();
}

Status Accounts::Sweep(const SweepOptions& o, SweepReport* out) {
  if (follower_.load()) return Status::NotWriter("this copy follows the replicated log; the writer sweeps");
  std::lock_guard<std::mutex> l(sweep_mu_);
  const auto t0 = std::chrono::steady_clock::now();
  *out = SweepReport();
  Status s = SweepPass(o, out);
  // not_writer: a copy that lost the writer lease, where the writer sweeps; no failed pass.
  if (!o.dry_run && !s.Is(Status::Code::kNotWriter)) CountPass(false, s, *out, t0);
  ACC_RETURN_IF_ERROR(s);
  if (!o.dry_run)
    out->elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - t0).count();
  return Status::OK();
}

Status Accounts::SweepPass(const SweepOptions& o, SweepReport* out) {
  const int64_t as_of_ms = o.as_of_ms ? o.as_of_ms : NowMs();
  ACC_RETURN_IF_ERROR(CheckAsOfMs(as_of_ms));
  std::vector<SweepReport::Erasure> due;
  ACC_RETURN_IF_ERROR(DueErasures(as_of_ms, &due));
  std::vector<uint32_t> days;
  ACC_RETURN_IF_ERROR(ExpiredDays(as_of_ms, &days));
  if (o.dry_run) {
    out->erased = std::move(due);
    out->days_shredded = std::move(days);
    return Status::OK();
  }
  ACC_RETURN_IF_ERROR(EraseNow(std::move(due), out));
  Status listed = out->erased.empty() ? Status::OK() : ExportErasureList();  // as in Erase
  ACC_RETURN_IF_ERROR(FinishErasures(days, out));
  return listed;
}

void Accounts::CountPass(bool erase, const Status& s, const SweepReport& r, std::chrono::steady_clock::time_point t0) {
  ErasureStats* st = opt_.erasure_stats;
  if (!st) return;
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  (erase ? st->erase_us : st->sweep_us).Observe(static_cast<uint64_t>(us.count()));
  if (!s.ok()) (erase ? st->erase_failures : st->sweep_failures).fetch_add(1, std::memory_order_relaxed);
  st->accounts_erased.fetch_add(r.erased.size(), std::memory_order_relaxed);
  st->days_shredded.fetch_add(r.days_shredded.size(), std::memory_order_relaxed);
  if (r.shred.files_scanned == 0) return;  // no shred ran, so no scan
  st->scans.fetch_add(1, std::memory_order_relaxed);
  st->scan_files.fetch_add(r.shred.files_scanned, std::memory_order_relaxed);
  st->scan_bytes.fetch_add(r.shred.bytes_scanned, std::memory_order_relaxed);
  st->scan_hits.fetch_add(r.shred.hits, std::memory_order_relaxed);
}

Status Accounts::StartWriting() {
  std::lock_guard<std::mutex> l(sweep_mu_);
  ACC_RETURN_IF_ERROR(LoadNextAccountId());
  if (ledger_->LastSeq() == 0) ACC_RETURN_IF_ERROR(PublishInitialPolicy());
  SweepReport report;
  ACC_RETURN_IF_ERROR(FinishErasures({}, &report));
  ACC_RETURN_IF_ERROR(ExportErasureList());
  follower_.store(false);
  return Status::OK();
}

}  // namespace accountable
