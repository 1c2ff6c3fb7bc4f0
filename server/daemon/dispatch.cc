#include "server/daemon/dispatch.h"

#include <algorithm>
#include <future>

#include "core/crypto.h"
#include "core/tree_head.h"
#include "events/fields.h"
#include "events/vocabulary.h"
#include "projections/fold/activity.h"
#include "projections/fold/policy.h"
#include "projections/service/describe.h"
#include "projections/service/proof_json.h"
#include "server/daemon/dispatch_internal.h"

namespace accountable {

namespace dispatch_internal {

Context ContextOf(const wire::Request* r, fb::Actor actor) {
  Context c;
  c.actor = actor;
  c.request_id = events::StringOrEmpty(r->request_id());
  return c;
}

std::string ReceiptFrame(uint64_t corr, const Status& s, uint64_t account, const Receipt& r) {
  wire::ResponseFields f;
  f.seq = r.seq;
  f.account_id = account;
  f.duplicate = r.duplicate;
  return wire::ResponseFrame(corr, s, f);
}

// An unset string field means "leave it as it is".
ProfileChange ProfileChangeOf(const wire::Update* b) {
  using events::OptionalString;
  return {OptionalString(b->nickname()), OptionalString(b->email()), OptionalString(b->company()),
          OptionalString(b->gender()), OptionalString(b->birthdate())};
}

std::string ForbiddenFrame(wire::Role role, const wire::Request* r) {
  return wire::ResponseFrame(r->correlation_id(), static_cast<uint8_t>(wire::ProtocolCode::kForbidden),
                             std::string("role ") + std::string(wire::RoleName(role)) + " may not " +
                                 std::string(wire::BodyName(r->body_type())));
}

}  // namespace dispatch_internal

namespace {

using namespace dispatch_internal;

using Json = nlohmann::ordered_json;
using wire::Body;

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

using events::OptionalString;
using events::StringOrEmpty;

std::string Events(uint64_t corr, const Status& s, std::vector<Ledger::Stored>& events) {
  // Stop before the frame could pass the default frame limit; the client
  // continues from the last seq it got.
  constexpr size_t kEventBytesBudget = wire::kFrameBytesMaxDefault - 64 * 1024;
  wire::ResponseFields f;
  size_t bytes = 0;
  for (auto& e : events) {
    bytes += e.envelope.size() + 32;
    if (bytes > kEventBytesBudget && !f.events.empty()) break;
    f.events.emplace_back(e.seq, std::move(e.envelope));
  }
  return wire::ResponseFrame(corr, s, f);
}

// The answer to a query: a JSON document, sent only when the query succeeded.
std::string JsonFrame(uint64_t corr, const Status& s, std::string json) {
  wire::ResponseFields f;
  if (s.ok()) f.json = std::move(json);
  return wire::ResponseFrame(corr, s, f);
}





// The commands that wait for their append: admin publications, and an
// update that moves the email's blind-index row after its append.
std::string HandleBlockingCommand(Accounts& a, const wire::Request* r) {
  const uint64_t corr = r->correlation_id();
  Receipt rc;
  switch (r->body_type()) {
    case Body::Update: {
      auto* b = r->body_as_Update();
      Context c = ContextOf(r, b->by_admin() ? fb::Actor::Admin : fb::Actor::Holder);
      c.reason = StringOrEmpty(b->reason());
      return ReceiptFrame(corr, a.Update(b->account_id(), ProfileChangeOf(b), c, &rc), b->account_id(), rc);
    }
    case Body::PublishPolicy: {
      auto* b = r->body_as_PublishPolicy();
      PolicyDraft d{StringOrEmpty(b->version()), StringOrEmpty(b->text()), StringOrEmpty(b->summary()),
                    b->effective_at_ms()};
      return ReceiptFrame(corr, a.PublishPolicy(d, ContextOf(r, fb::Actor::Admin), &rc), 0, rc);
    }
    case Body::RegisterRecipient: {
      auto* b = r->body_as_RegisterRecipient();
      Status s = a.RegisterRecipient(StringOrEmpty(b->name()), StringOrEmpty(b->country()),
                                     ContextOf(r, fb::Actor::Admin), &rc);
      return ReceiptFrame(corr, s, 0, rc);
    }
    default:
      return wire::ResponseFrame(corr, static_cast<uint8_t>(wire::ProtocolCode::kUnknownOperation), "unknown operation");
  }
}

// An asynchronous command run to its end: for a Batch, the fuzzer and
// blocking callers.
std::string AwaitCommand(Accounts& a, wire::Role role, const wire::Request* r) {
  std::promise<std::string> answered;
  std::future<std::string> frame = answered.get_future();
  StartCommand(a, role, r, [&answered](std::string f) { answered.set_value(std::move(f)); });
  return frame.get();
}

std::string HandleInactive(Accounts& a, const wire::Request* r) {
  const uint64_t corr = r->correlation_id();
  auto* b = r->body_as_Inactive();
  const int64_t as_of_ms = b->as_of_ms() ? b->as_of_ms() : a.NowMs();
  const int months = b->months() ? b->months() : a.retention_months();
  // Checked before within_days is added, so that sum cannot overflow.
  if (Status s = CheckAsOfMs(as_of_ms); !s.ok()) return wire::ResponseFrame(corr, s);
  if (b->within_days() < 0) {
    std::vector<uint64_t> ids;
    Status s = a.Inactive(as_of_ms, months, &ids);
    return JsonFrame(corr, s, Json{{"account_ids", ids}}.dump());
  }
  if (b->within_days() > kRetentionWithinDaysMax)
    return wire::ResponseFrame(corr, Status::InvalidArgument("within_days: must be 0.." + std::to_string(kRetentionWithinDaysMax)));
  std::vector<RetentionCandidate> due;
  bool truncated = false;
  Status s = a.RetentionDue(as_of_ms + int64_t{b->within_days()} * kDayMs, months, &due, &truncated);
  Json rows = Json::array();
  for (const auto& d : due)
    rows.push_back({{"account_id", d.account_id}, {"last_active_at", events::FormatTime(d.last_active_at_ms)},
                    {"due_at", events::FormatTime(d.due_at_ms)}});
  return JsonFrame(corr, s, Json{{"accounts", rows}, {"truncated", truncated}}.dump());
}

std::string HandleSweep(Accounts& a, const wire::Request* r) {
  const uint64_t corr = r->correlation_id();
  if (r->body_type() == Body::Inactive) return HandleInactive(a, r);
  auto* b = r->body_as_Sweep();
  if (b->as_of_ms() && !b->dry_run())
    return wire::ResponseFrame(corr, Status::InvalidArgument("as_of needs dry_run: a real sweep runs on the real clock"));
  SweepReport rep;
  Status s = a.Sweep({b->as_of_ms(), b->dry_run()}, &rep);
  Json erased = Json::array();
  for (auto& e : rep.erased) erased.push_back({{"account_id", e.account_id}, {"reason", e.reason}, {"due_at", events::FormatTime(e.due_at_ms)}});
  Json j{{"dry_run", b->dry_run()}, {"erased", erased}, {"days_shredded", rep.days_shredded},
         {"verified", rep.verified}, {"files_scanned", rep.shred.files_scanned},
         {"bytes_scanned", rep.shred.bytes_scanned}, {"hits", rep.shred.hits}, {"elapsed_ms", rep.elapsed_ms}};
  return JsonFrame(corr, s, j.dump());
}

std::string HandleRead(Accounts& a, wire::Role role, const wire::Request* r) {
  const uint64_t corr = r->correlation_id();
  std::vector<Ledger::Stored> events;
  switch (r->body_type()) {
    case Body::ReadLog: {
      auto* b = r->body_as_ReadLog();
      uint32_t limit = std::min(b->limit() ? b->limit() : wire::kReadEventsMax, wire::kReadEventsMax);
      return Events(corr, a.ledger().ReadRange(std::max<uint64_t>(b->from_seq(), 1), limit, &events), events);
    }
    case Body::ReadStream: {
      auto* b = r->body_as_ReadStream();
      uint32_t limit = std::min(b->limit() ? b->limit() : wire::kReadEventsMax, wire::kReadEventsMax);
      Status s = a.ledger().ReadStream(b->account_id(), std::max<uint64_t>(b->from_version(), 1), limit, &events);
      return Events(corr, s, events);
    }
    case Body::GetAccount: {
      AccountView v;
      Status s = a.Show(r->body_as_GetAccount()->account_id(), &v);
      Json j = s.ok() ? DescribeAccount(v) : Json();
      if (s.ok() && role != wire::Role::Admin) j.erase("pii");  // PII is for admins only
      // The forum (writer) shows nicknames; an auditor sees no personal data at all.
      if (s.ok() && role == wire::Role::Auditor && v.state.status != AccountStatus::kErased) j.erase("display_name");
      return JsonFrame(corr, s, s.ok() ? j.dump() : "");
    }
    case Body::Export: {
      std::string json;
      Status s = a.Export(r->body_as_Export()->account_id(), ContextOf(r, fb::Actor::Admin), &json);
      return JsonFrame(corr, s, std::move(json));
    }
    case Body::TreeHead: {
      SignedTreeHead h;
      Status s = audit::ReadLatestHead(a.ledger(), &h);
      if (!s.ok()) return wire::ResponseFrame(corr, s);
      Json j{{"tree_size", h.size}, {"root", crypto::ToHex(h.root)}, {"timestamp_ms", h.timestamp_ms},
             {"signature", crypto::ToHex(h.signature)}, {"public_key", crypto::ToHex(a.public_key())}};
      return JsonFrame(corr, Status::OK(), j.dump());
    }
    case Body::ListRecipients: {
      std::vector<Recipient> all;
      Status s = a.ListRecipients(&all);
      Json list = Json::array();
      for (const auto& x : all) list.push_back({{"recipient_id", x.id}, {"name", x.name}, {"country", x.country}});
      return JsonFrame(corr, s, Json{{"recipients", list}}.dump());
    }
    default: {  // Stats
      Json j{{"last_seq", a.ledger().LastSeq()}, {"policy_version", a.CurrentPolicyVersion()}};
      return JsonFrame(corr, Status::OK(), j.dump());
    }
  }
}

// Policy versions with their effective dates and summaries; one with its text.
std::string HandlePolicy(Accounts& a, const wire::Request* r) {
  const uint64_t corr = r->correlation_id();
  if (r->body_type() == Body::GetPolicy) {
    policy::Info info;
    Status s = policy::Read(a.ledger(), StringOrEmpty(r->body_as_GetPolicy()->version()), true, &info);
    return JsonFrame(corr, s, s.ok() ? policy::Describe(info, true).dump() : "");
  }
  std::vector<policy::Info> infos;
  Status s = policy::List(a.ledger(), &infos);
  Json list = Json::array();
  for (const auto& i : infos) list.push_back(policy::Describe(i, false));
  return JsonFrame(corr, s, s.ok() ? Json{{"policies", list}}.dump() : "");
}

// The size a proof defaults to: the latest signed head's, so the root in the
// proof is one the server signed (the whole log may be a group commit ahead).
Status SignedSize(Accounts& a, uint64_t* size) {
  SignedTreeHead h;
  ACC_RETURN_IF_ERROR(audit::ReadLatestHead(a.ledger(), &h));
  *size = h.size;
  return Status::OK();
}

// Inclusion and consistency proofs, shaped by projections/service/proof_json.h exactly as the
// offline tool prints them, so one verify-* command checks both.
std::string HandleProof(Accounts& a, const wire::Request* r) {
  audit::Json j;
  Status s;
  if (r->body_type() == Body::InclusionProof) {
    auto* b = r->body_as_InclusionProof();
    uint64_t size = b->tree_size();
    if (b->seq() == 0) s = Status::InvalidArgument("seq: must be 1 or more");
    else if (size == 0) s = SignedSize(a, &size);
    if (s.ok()) s = audit::ProveInclusion(a.ledger(), b->seq(), size, &j);
  } else {
    auto* b = r->body_as_ConsistencyProof();
    uint64_t new_size = b->new_size();
    if (b->old_size() == 0) s = Status::InvalidArgument("old_size: must be 1 or more");
    else if (new_size == 0) s = SignedSize(a, &new_size);
    if (s.ok() && b->old_size() > new_size) s = Status::InvalidArgument("old_size: must not exceed new_size");
    if (s.ok()) s = audit::ProveConsistency(a.ledger(), b->old_size(), new_size, &j);
  }
  return JsonFrame(r->correlation_id(), s, s.ok() ? j.dump() : "");
}

// Keeps frame, charged to b, if it fits what is left of b; else answers
// corr with code 72. The request ran either way: only reads (and admin
// reports) answer with more than kSmallResponseBytes.
std::string Fit(std::string frame, uint64_t corr, ResponseBudget* b) {
  const size_t n = frame.size();
  if (n <= kSmallResponseBytes) {
    b->Charge(n);
    return frame;
  }
  if (b->charged + n <= b->frame_bytes_max && b->server->TryCharge(n)) {
    if (b->connection->TryCharge(n)) {
      b->charged += n;
      return frame;
    }
    b->server->Release(n);
  }
  std::string refused = wire::ResponseFrame(corr, static_cast<uint8_t>(wire::ProtocolCode::kResponseOverBudget),
                                            "response of " + std::to_string(n) +
                                                " bytes over the response budget; ask for less or read responses");
  b->Charge(refused.size());
  return refused;
}

std::string DispatchOne(Accounts& a, wire::Role role, const wire::Request* r);

// Executes the requests of a Batch in order, each as if sent alone; one
// result per request. A Batch amortizes frames and round trips, not fsyncs.
// The whole response is one frame, so its results share one budget.
std::string HandleBatch(Accounts& a, wire::Role role, const wire::Request* r, ResponseBudget* b) {
  const auto* reqs = r->body_as_Batch()->requests();
  if (!reqs || reqs->size() == 0 || reqs->size() > wire::kBatchRequestsMax)
    return Fit(wire::ResponseFrame(r->correlation_id(), Status::InvalidArgument(
        "a batch holds 1.." + std::to_string(wire::kBatchRequestsMax) + " requests")), r->correlation_id(), b);
  wire::ResponseFields f;
  for (const wire::Request* sub : *reqs) {
    const Body t = sub->body_type();
    std::string frame;
    if (!wire::BodyUsable(sub) || t == Body::Hello || t == Body::Subscribe || t == Body::Batch)
      frame = wire::ResponseFrame(sub->correlation_id(), static_cast<uint8_t>(wire::ProtocolCode::kUnknownOperation),
                                  "not allowed inside a batch");
    else
      frame = DispatchOne(a, role, sub);
    f.results.push_back(Fit(std::move(frame), sub->correlation_id(), b).substr(wire::kFrameHeaderBytes));
  }
  std::string out = wire::ResponseFrame(r->correlation_id(), Status::OK(), f);
  // The charge so far was for the results; the frame is what stays.
  if (out.size() > b->charged)
    b->Charge(out.size() - b->charged);
  else
    b->Release(b->charged - out.size());
  return out;
}

}  // namespace

bool Allowed(wire::Role role, Body op) {
  if (role == wire::Role::Admin) return true;
  switch (op) {
    case Body::Hello:
    case Body::Stats:
    case Body::GetAccount:
    case Body::ListRecipients:  // organisations, not personal data
    case Body::GetPolicy:     // policies are public
    case Body::ListPolicies:
    case Body::Batch:  // each request inside is checked on its own
      return role != wire::Role::None;
    case Body::TreeHead:
    case Body::InclusionProof:
    case Body::ConsistencyProof:
      return role == wire::Role::Auditor;
    case Body::ReadLog:
    case Body::ReadStream:
    case Body::Subscribe:
      return role == wire::Role::Auditor;
    case Body::Register:
    case Body::Login:
    case Body::Consent:
    case Body::Update:
    case Body::RequestDeletion:
    case Body::CancelDeletion:
    case Body::Disclose:
    case Body::RecordAccess:
    case Body::ChangePassword:  // by_admin: admin only (commands.cc)
    case Body::Touch:
      return role == wire::Role::Writer;
    default:
      return false;  // PublishPolicy, RegisterRecipient, Export, Sweep, Inactive, RetentionNotice, Backup: admin only
  }
}

bool MemoryBudget::TryCharge(size_t n) {
  size_t used = used_.load();
  do {
    if (used + n > bytes_max_) return false;
  } while (!used_.compare_exchange_weak(used, used + n));
  return true;
}

void ResponseBudget::Charge(size_t n) {
  server->Charge(n);
  connection->Charge(n);
  charged += n;
}

void ResponseBudget::Release(size_t n) {
  server->Release(n);
  connection->Release(n);
  charged -= n;
}

Route RouteOf(const wire::Request* r) {
  switch (r->body_type()) {
    case Body::Register:
    case Body::Login:
    case Body::ChangePassword:
      return Route::kHashing;
    case Body::Update:
      return r->body_as_Update()->email() ? Route::kBlocking : Route::kInline;
    case Body::Consent:
    case Body::RequestDeletion:
    case Body::CancelDeletion:
    case Body::Disclose:
    case Body::RecordAccess:
    case Body::Touch:
    case Body::RetentionNotice:
      return Route::kInline;
    default:
      return Route::kBlocking;
  }
}

void DispatchAsync(Accounts& a, wire::Role role, const wire::Request* r, const Reply& reply) {
  ACC_ASSERT(RouteOf(r) != Route::kBlocking, "a blocking request goes to Dispatch on the worker pool");
  if (!Allowed(role, r->body_type())) return reply(ForbiddenFrame(role, r));
  StartCommand(a, role, r, reply);
}

std::string Dispatch(Accounts& a, wire::Role role, const wire::Request* r, ResponseBudget* b) {
  if (r->body_type() == Body::Batch && Allowed(role, Body::Batch)) return HandleBatch(a, role, r, b);
  return Fit(DispatchOne(a, role, r), r->correlation_id(), b);
}

namespace {

std::string DispatchOne(Accounts& a, wire::Role role, const wire::Request* r) {
  const uint64_t corr = r->correlation_id();
  if (!Allowed(role, r->body_type())) return ForbiddenFrame(role, r);
  if (RouteOf(r) != Route::kBlocking) return AwaitCommand(a, role, r);
  switch (r->body_type()) {
    case Body::Sweep:
    case Body::Inactive:
      return HandleSweep(a, r);
    case Body::ReadLog:
    case Body::ReadStream:
    case Body::GetAccount:
    case Body::Export:
    case Body::Stats:
    case Body::TreeHead:
    case Body::ListRecipients:
      return HandleRead(a, role, r);
    case Body::InclusionProof:
    case Body::ConsistencyProof:
      return HandleProof(a, r);
    case Body::GetPolicy:
    case Body::ListPolicies:
      return HandlePolicy(a, r);
    case Body::Backup:
      return HandleBackup(a, r);
    case Body::Batch:  // Dispatch runs a Batch; here it is one nested in another
      return wire::ResponseFrame(corr, static_cast<uint8_t>(wire::ProtocolCode::kUnknownOperation),
                                 "not allowed inside a batch");
    default:
      return HandleBlockingCommand(a, r);
  }
}

}  // namespace

}  // namespace accountable
