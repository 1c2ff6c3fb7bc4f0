#include "projections/service/accounts.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "projections/fold/activity.h"
#include "projections/fold/policy.h"
#include "projections/service/backup.h"
#include "projections/service/history.h"
#include "projections/service/proof_json.h"
#include "projections/validate/validate.h"

namespace accountable {

std::string NewRequestId() {
  uint8_t id[16];
  crypto::PublicRandom(id, sizeof id);
  return crypto::ToHex(std::string_view(reinterpret_cast<const char*>(id), sizeof id));
}

std::string ContentFields(std::initializer_list<std::string_view> values) {
  std::string out;
  for (std::string_view v : values) {
    const auto n = static_cast<uint32_t>(v.size());
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
    out.append(v);
  }
  return out;
}

std::string Accounts::RequestKey(std::string_view request_id) const {
  return crypto::ToHex(request_mac_->Mac(std::string("request-id\0", 11) + std::string(request_id)));
}

std::string Accounts::ContentDigest(uint64_t account_id, const Context& ctx, fb::Payload type,
                                    std::string_view content) const {
  std::string m("request-content\0", 16);
  m += EncodeBE64(account_id);
  m.push_back(static_cast<char>(ctx.actor));
  m.push_back(static_cast<char>(type));
  m += EncodeBE64(static_cast<uint64_t>(ctx.occurred_at_ms));
  m += content;
  std::string digest = request_mac_->Mac(m);
  std::fill(m.begin(), m.end(), '\0');  // may hold a password
  return digest;
}

Status Accounts::Open(const AccountsOptions& o, std::unique_ptr<Accounts>* out) {
  std::unique_ptr<Accounts> a(new Accounts());
  a->opt_ = o;
  std::error_code ec;
  // A restore that did not finish may have left a vault whose erased keys
  // are not yet destroyed again: nothing opens it (backup.h).
  if (std::filesystem::exists(o.data_dir + "/" + std::string(kRestoreMarker), ec))
    return Status::Refused("a restore into " + o.data_dir + " did not finish; run `accountable restore` again");
  std::filesystem::create_directories(o.data_dir, ec);
  if (ec) return Status::IOError("cannot create data directory " + o.data_dir);
  ::chmod(o.data_dir.c_str(), 0700);
  const std::string key_dir = o.key_dir.empty() ? o.data_dir + "/keys" : o.key_dir;
  ACC_RETURN_IF_ERROR(
      Vault::Open({.dir = o.data_dir + "/vault", .kek_path = key_dir + "/kek", .faults = o.faults, .sink = o.sink}, &a->vault_));
  // Created with a fresh event DB only: a lost secret would silently break
  // idempotency for every request id already stored.
  const bool fresh_ledger = !std::filesystem::exists(o.data_dir + "/events/CURRENT");
  crypto::Key32 request_secret;
  ACC_RETURN_IF_ERROR(LoadOrCreateKeyFile(key_dir + "/request", fresh_ledger, &request_secret));
  a->request_mac_ = std::make_unique<const crypto::HmacSha256Key>(request_secret);
  LedgerOptions lo;
  lo.dir = o.data_dir + "/events";
  lo.hook = &a->projector_;
  lo.clock_ms = o.clock_ms;
  lo.faults = o.faults;
  lo.reserve_bytes = o.reserve_bytes;
  lo.stats = o.ledger_stats;
  lo.sink = o.sink;
  lo.activity_merge = MergeActivity;
  lo.activity_partial_merge = PartialMergeActivity;
  ACC_RETURN_IF_ERROR(LoadOrCreateSigningKey(key_dir + "/signing", &a->signing_key_));
  Accounts* self = a.get();
  // A fresh signed head per group commit (~one Ed25519 signature per fsync),
  // or per interval when sign_interval_ms says so.
  lo.on_commit = [self, user = o.on_commit](uint64_t last) {
    // A failed read keeps the version it had; the next commit reads again.
    static_cast<void>(self->RefreshPolicyVersion());
    const int64_t interval_ms = self->opt_.sign_interval_ms;
    if (interval_ms <= 0 || self->NowMs() - self->signed_at_ms_.load() >= interval_ms) {
      SignedTreeHead h;
      // The group is already durable; a head that fails to sign leaves
      // signed_at_ms_ behind, so the next commit (or the interval timer's
      // SignTreeHeadIfBehind) signs again. Nothing here can undo the write.
      static_cast<void>(self->SignTreeHead(&h));
    }
    if (user) user(last);
  };
  ACC_RETURN_IF_ERROR(Ledger::Open(lo, &a->ledger_));
  ACC_RETURN_IF_ERROR(a->RefreshPolicyVersion());
  a->follower_.store(o.follower);
  ACC_RETURN_IF_ERROR(a->LoadNextAccountId());
  if (a->ledger_->LastSeq() == 0 && !o.follower) ACC_RETURN_IF_ERROR(a->PublishInitialPolicy());
  ACC_RETURN_IF_ERROR(a->AdoptOrSignHead());
  // An erasure a crash interrupted is finished before anything else runs.
  SweepReport report;
  if (!o.follower) ACC_RETURN_IF_ERROR(a->FinishErasures({}, &report));
  // Also catches up on erasures whose export a crash (or a stopped
  // embedded command) cut short.
  ACC_RETURN_IF_ERROR(a->ExportErasureList());
  *out = std::move(a);
  return Status::OK();
}

// No caller to report to; the CLI and the server call Close() and check it.
Accounts::~Accounts() { static_cast<void>(Close()); }

Status Accounts::SignTreeHead(SignedTreeHead* out) {
  std::lock_guard<std::mutex> l(sth_mu_);
  const uint64_t size = ledger_->LastSeq();
  std::string root;
  ACC_RETURN_IF_ERROR(ledger_->Root(size, &root));
  *out = Sign(signing_key_, size, root, NowMs());
  ACC_RETURN_IF_ERROR(ledger_->PutMeta(kMetaLatestHead, EncodeHead(*out)));
  signed_size_ = size;
  signed_at_ms_ = out->timestamp_ms;
  return Status::OK();
}

// A stored head that is ours and covers the whole log is kept as it is, so
// read-only commands (show, log) write nothing; otherwise the log is signed.
Status Accounts::AdoptOrSignHead() {
  SignedTreeHead h;
  Status s = audit::ReadLatestHead(*ledger_, &h);
  if (s.ok() && h.size == ledger_->LastSeq() && VerifyHead(signing_key_.public_key, h).ok()) {
    std::string root;
    ACC_RETURN_IF_ERROR(ledger_->Root(h.size, &root));
    if (root == h.root) {
      std::lock_guard<std::mutex> l(sth_mu_);
      signed_size_ = h.size;
      signed_at_ms_ = h.timestamp_ms;
      return Status::OK();
    }
  }
  return SignTreeHead(&h);
}

uint64_t Accounts::SignedTreeSize() {
  std::lock_guard<std::mutex> l(sth_mu_);
  return signed_size_;
}

Status Accounts::SignTreeHeadIfBehind(bool* signed_now) {
  *signed_now = false;
  {
    std::lock_guard<std::mutex> l(sth_mu_);
    if (signed_size_ >= ledger_->LastSeq()) return Status::OK();
  }
  SignedTreeHead h;
  ACC_RETURN_IF_ERROR(SignTreeHead(&h));
  *signed_now = true;
  return Status::OK();
}

Status Accounts::Close() {
  Status s;
  if (ledger_) s = ledger_->Close();
  if (vault_) {
    Status vs = vault_->Close();
    if (s.ok()) s = vs;
  }
  return s;
}

int64_t Accounts::NowMs() const {
  if (opt_.clock_ms) return opt_.clock_ms();
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

Status Accounts::LoadNextAccountId() {
  std::string max_id;
  Status s = ledger_->Get(Cf::kMeta, kMetaMaxAccountId, &max_id);
  if (s.ok()) next_account_id_ = DecodeBE64(max_id) + 1;
  return s.Is(Status::Code::kNotFound) ? Status::OK() : s;
}

std::string Accounts::CurrentPolicyVersion() {
  std::lock_guard<std::mutex> l(policy_mu_);
  return policy_version_;
}

Status Accounts::RefreshPolicyVersion() {
  std::string v;
  Status s = ledger_->Get(Cf::kMeta, kMetaPolicyCurrent, &v);
  if (!s.ok() && !s.Is(Status::Code::kNotFound)) return s;
  std::lock_guard<std::mutex> l(policy_mu_);
  policy_version_ = std::move(v);
  return Status::OK();
}

Status Accounts::PublishInitialPolicy() {
  const PolicyDraft d{opt_.initial_policy_version, opt_.initial_policy_text, "initial version",
                      opt_.initial_policy_effective_at_ms};
  ACC_RETURN_IF_ERROR(CheckPolicyDraft(d));
  std::string digest;
  if (!crypto::FromHex(opt_.initial_policy_sha256_hex, 32, &digest))
    return Status::InvalidArgument("initial policy digest must be 64 hex characters");
  // The published digest is a promise about the text: a build that embedded
  // another text must not start a ledger under it.
  if (crypto::Sha256(d.text) != digest)
    return Status::InvalidArgument("initial policy text does not match its SHA-256 digest");
  events::EnvelopeBuilder b;
  auto& fbb = b.fbb();
  auto payload = fb::CreatePolicyPublished(
      fbb, fbb.CreateString(d.version), NowMs(),
      fbb.CreateVector(reinterpret_cast<const uint8_t*>(digest.data()), digest.size()), fbb.CreateString(d.text),
      d.effective_at_ms, fbb.CreateString(d.summary));
  // A fixed request id: two processes racing to initialize append it once.
  Context ctx{fb::Actor::System, 0, "init/policy/" + opt_.initial_policy_version, {}};
  events::Header h{0, NowMs(), ctx.actor, RequestKey(ctx.request_id), opt_.initial_policy_version};
  std::vector<Ledger::Command> batch(1);
  batch[0].envelope = b.Finish(h, fb::Payload::PolicyPublished, payload.Union());
  batch[0].content_digest = ContentDigest(0, ctx, fb::Payload::PolicyPublished, opt_.initial_policy_sha256_hex);
  std::vector<Ledger::Appended> res;
  return ledger_->Append(std::move(batch), &res);
}

Status Accounts::CheckRegistration(const Registration& r, int64_t now_ms) {
  ACC_RETURN_IF_ERROR(validate::Nickname(r.nickname));
  ACC_RETURN_IF_ERROR(validate::Email(r.email));
  ACC_RETURN_IF_ERROR(validate::Password(r.password));
  ACC_RETURN_IF_ERROR(validate::Gender(r.gender));
  ACC_RETURN_IF_ERROR(validate::Birthdate(r.birthdate, r.occurred_at_ms ? r.occurred_at_ms : now_ms));
  ACC_RETURN_IF_ERROR(validate::Ip(r.ip));
  ACC_RETURN_IF_ERROR(validate::Text("user agent", r.user_agent, validate::kUserAgentBytesMax, true));
  ACC_RETURN_IF_ERROR(validate::Text("company", r.company, validate::kCompanyBytesMax, true));
  if (r.accept_policy.empty())
    return Status::Refused("registration requires accepting the privacy policy (accept-policy)");
  ACC_RETURN_IF_ERROR(policy::CheckVersion(r.accept_policy));
  if (!r.request_id.empty())
    ACC_RETURN_IF_ERROR(validate::Text("request id", r.request_id, events::kRequestIdBytesMax));
  if (r.account_id > kAccountIdMax)
    return Status::InvalidArgument("account id: must be 1.." + std::to_string(kAccountIdMax));
  return Status::OK();
}

Status Accounts::ReserveEmail(const std::string& email, uint64_t account_id) {
  {
    std::lock_guard<std::mutex> l(email_mu_);
    // A registration in flight has reserved its email but has no account row
    // yet; without this set a second one would take the row for stale.
    if (inflight_emails_.count(email)) return Status::Refused("email is already registered");
    uint64_t holder = 0;
    Status s = vault_->LookupEmail(email, &holder);
    if (s.ok() && holder != account_id) {
      // A row can be stale: a reservation whose registration never landed, or
      // an erased account's. Only a live account holds its email.
      AccountState st;
      Status as = ReadAccount(*ledger_, holder, &st);
      if (as.ok() && st.status != AccountStatus::kErased) return Status::Refused("email is already registered");
      if (!as.ok() && !as.Is(Status::Code::kNotFound)) return as;
    } else if (!s.ok() && !s.Is(Status::Code::kNotFound)) {
      return s;
    }
    inflight_emails_.insert(email);
  }
  // The synced vault write runs outside the lock: the in-flight entry keeps
  // the email ours, and concurrent registrations share one vault fsync.
  Status ps = vault_->PutEmail(email, account_id);
  if (!ps.ok()) {
    std::lock_guard<std::mutex> l(email_mu_);
    inflight_emails_.erase(email);
  }
  return ps;
}

void Accounts::EndReservation(const std::string& email, uint64_t account_id, bool landed) {
  std::lock_guard<std::mutex> l(email_mu_);
  inflight_emails_.erase(email);
  uint64_t holder = 0;
  if (!landed && vault_->LookupEmail(email, &holder).ok() && holder == account_id)
    // Best effort: a stale row is ignored by ReserveEmail, which checks
    // whether its holder is a live account.
    static_cast<void>(vault_->DeleteEmail(email));
}

Status Accounts::NewAccountKey(uint64_t requested_id, uint64_t* id, crypto::Key32* dek) {
  // A crash between creating a key and appending its registration leaves a
  // key with no account; an allocated id skips past such orphans.
  constexpr int kOrphanSkipsMax = 64;
  for (int attempt = 0; attempt < kOrphanSkipsMax; ++attempt) {
    *id = requested_id;
    if (*id == 0) {
      // Never past the range: an imported kAccountIdMax leaves no id to allocate
      // above it, and the counter must not wrap into ids already taken.
      uint64_t cur = next_account_id_.load();
      do {
        if (cur > kAccountIdMax)
          return Status::Refused("no account id left to allocate: ids run 1.." + std::to_string(kAccountIdMax) +
                                 " and the largest is taken");
      } while (!next_account_id_.compare_exchange_weak(cur, cur + 1));
      *id = cur;
    } else {
      uint64_t want = *id + 1, cur = next_account_id_.load();
      while (cur < want && !next_account_id_.compare_exchange_weak(cur, want)) {}
    }
    Status ks = vault_->CreateAccountKey(*id, dek);
    if (ks.ok()) return ks;
    if (!ks.Is(Status::Code::kRefused)) return ks;
    if (requested_id != 0) return Status::Refused("account id " + std::to_string(*id) + " is already taken");
  }
  return Status::IOError("too many orphaned account keys in the vault");
}

// A registration's request id seen before: the same content is answered
// with the first result, a different content refused. *found says which.
Status Accounts::PriorRegistration(const std::string& rid, const std::string& digest, RegisterResult* out,
                                   bool* found) {
  uint64_t prior_seq = 0;
  std::string prior_digest;
  *found = false;
  Status ls = ledger_->LookupRequest(rid, &prior_seq, &prior_digest);
  if (ls.Is(Status::Code::kNotFound)) return Status::OK();
  ACC_RETURN_IF_ERROR(ls);
  if (prior_digest != digest) return Status::RequestReused("request id was used before for a different request");
  std::vector<Ledger::Stored> ev;
  ACC_RETURN_IF_ERROR(ledger_->ReadRange(prior_seq, 1, &ev));
  events::EventView v;
  if (ev.empty() || !events::EventView::Parse(ev[0].envelope, &v).ok())
    return Status::Corruption("event " + std::to_string(prior_seq) + " is unreadable");
  *out = {v.envelope()->account_id(), prior_seq, true};
  *found = true;
  return Status::OK();
}

Status Accounts::Register(const Registration& r, Done<RegisterResult> done) {
  ACC_RETURN_IF_ERROR(CheckRegistration(r, NowMs()));
  const std::string rid = RequestKey(r.request_id.empty() ? NewRequestId() : r.request_id);
  const Context ctx{r.actor, r.occurred_at_ms, {}, {}};
  const std::string digest = ContentDigest(
      r.account_id, ctx, fb::Payload::Registered,
      ContentFields({r.nickname, r.email, r.password, r.gender, r.birthdate, r.ip, r.user_agent, r.company,
                     r.accept_policy}));
  bool joined = false;
  ACC_RETURN_IF_ERROR(ClaimRegistration(rid, digest, &done, &joined));
  if (joined) return Status::OK();
  // Every outcome from here ends the claim: the append's in done, a
  // refusal here.
  Done<RegisterResult> ending = [this, rid, done = std::move(done)](Status s, RegisterResult out) {
    EndClaim(rid, s, out);
    done(std::move(s), out);
  };
  Status s = RegisterClaimed(r, rid, digest, std::move(ending));
  if (!s.ok()) EndClaim(rid, s, {});
  return s;
}

Status Accounts::ClaimRegistration(const std::string& rid, const std::string& digest, Done<RegisterResult>* done,
                                   bool* joined) {
  std::lock_guard<std::mutex> l(email_mu_);
  auto [it, claimed] = running_registrations_.try_emplace(rid);
  *joined = !claimed;
  if (claimed) {
    it->second.digest = digest;
    return Status::OK();
  }
  if (it->second.digest != digest) return Status::RequestReused("request id was used before for a different request");
  it->second.followers.push_back(std::move(*done));
  return Status::OK();
}

void Accounts::EndClaim(const std::string& rid, const Status& s, const RegisterResult& out) {
  std::vector<Done<RegisterResult>> followers;
  {
    std::lock_guard<std::mutex> l(email_mu_);
    auto it = running_registrations_.find(rid);
    ACC_ASSERT(it != running_registrations_.end(), "a claim ends once");
    followers = std::move(it->second.followers);
    running_registrations_.erase(it);
  }
  for (auto& f : followers) f(s, RegisterResult{out.account_id, out.seq, s.ok()});
}

Status Accounts::RegisterClaimed(const Registration& r, const std::string& rid, const std::string& digest,
                                 Done<RegisterResult> done) {
  // After the claim: a first send that landed meanwhile is found here.
  bool seen = false;
  RegisterResult prior;
  ACC_RETURN_IF_ERROR(PriorRegistration(rid, digest, &prior, &seen));
  if (seen) {
    done(Status::OK(), prior);
    return Status::OK();
  }
  const std::string current = CurrentPolicyVersion();
  // Imported history accepted the version in force back then; the projector
  // checks that it was published.
  if (r.accept_policy != current && r.actor != fb::Actor::Import)
    return Status::Refused("registration must accept the current policy version " + current);

  std::string credential;
  ACC_RETURN_IF_ERROR(crypto::HashPassword(r.password, opt_.password_cost, &credential));
  crypto::ScopedWipe wipe_credential(&credential);
  std::string email;
  ACC_RETURN_IF_ERROR(validate::CanonicalEmail(r.email, &email));
  uint64_t id = 0;
  crypto::Key32 dek;
  ACC_RETURN_IF_ERROR(NewAccountKey(r.account_id, &id, &dek));
  ACC_RETURN_IF_ERROR(ReserveEmail(email, id));

  flatbuffers::FlatBufferBuilder pf(512);
  auto pii = fb::CreateRegistrationPiiDirect(pf, r.nickname.c_str(), r.email.c_str(), r.gender.c_str(),
                                             r.birthdate.c_str(), r.company.c_str(),
                                             credential.c_str(), r.ip.c_str(), r.user_agent.c_str());
  std::string plain = events::FinishPii(pf, pii);
  std::string box = SealForAccount(dek, id, fb::Payload::Registered, rid, plain);
  std::fill(plain.begin(), plain.end(), '\0');  // no plaintext PII left in freed heap

  events::EnvelopeBuilder b;
  auto& fbb = b.fbb();
  std::vector<fb::Purpose> consents = {fb::Purpose::PrivacyPolicy};
  auto cv = fbb.CreateVector(consents);
  auto payload = fb::CreateRegistered(fbb, fbb.CreateString(r.accept_policy), cv,
                                      b.Sealed(fb::KeyKind::AccountDek, box));
  events::Header h{id, r.occurred_at_ms ? r.occurred_at_ms : NowMs(), r.actor, rid, current};
  std::vector<Ledger::Command> batch(1);
  batch[0].envelope = b.Finish(h, fb::Payload::Registered, payload.Union());
  batch[0].expected_version = 0;
  batch[0].content_digest = digest;
  return CommitRegistration(std::move(batch), email, id, std::move(done));
}

Status Accounts::CommitRegistration(std::vector<Ledger::Command> batch, const std::string& email, uint64_t id,
                                    Done<RegisterResult> done) {
  std::string rid = events::EventView::FromVerified(batch[0].envelope).envelope()->request_id()->str();
  std::string digest = batch[0].content_digest;
  ledger_->AppendAsync(std::move(batch), [this, email, id, rid = std::move(rid), digest = std::move(digest),
                                          done = std::move(done)](Status as, std::vector<Ledger::Appended> res) {
    EndReservation(email, id, as.ok() && !res[0].duplicate);
    if (as.Is(Status::Code::kConflict)) as = Status::Refused("account id " + std::to_string(id) + " is already taken");
    RegisterResult out{id, as.ok() ? res[0].seq : 0, false};
    // A concurrent registration with the same request id landed first: answer with its account.
    bool seen = false;
    if (as.ok() && res[0].duplicate) as = PriorRegistration(rid, digest, &out, &seen);
    done(std::move(as), out);
  });
  return Status::OK();
}

Status Accounts::ReadPii(uint64_t id, Pii* out) {
  return ReadPiiAsOf(*ledger_, *vault_, id, kWholeLog, out);
}

Status Accounts::Show(uint64_t id, AccountView* out) {
  AccountView v;
  ACC_RETURN_IF_ERROR(ReadAccount(*ledger_, id, &v.state));
  v.stream_version = ledger_->StreamVersion(id);
  if (v.state.status == AccountStatus::kErased) {
    v.display_name = "Anonymous";
  } else {
    Pii p;
    ACC_RETURN_IF_ERROR(ReadPii(id, &p));
    v.display_name = p.nickname;
    v.pii = std::move(p);
  }
  *out = std::move(v);
  return Status::OK();
}

}  // namespace accountable
