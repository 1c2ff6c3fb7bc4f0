// Verification: see verification.h and docs/replication.md ("Erasure on every copy").
#include "server/replica/verification.h"

#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <vector>

#include "events/vocabulary.h"
#include "projections/fold/projector.h"
#include "server/replica/nats_connect.h"

namespace accountable::replica {

namespace {

using nlohmann::json;

constexpr int64_t kRetryMs = 500;
constexpr size_t kPendingMax = 1u << 16;   // erasures one shred batch can finish (the writer's batches are smaller)
constexpr int kNextMsgWaitMs = 200;        // how soon Stop is noticed

bool U64(const json& j, const char* name, uint64_t* out) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_unsigned()) return false;
  *out = it->get<uint64_t>();
  return true;
}

// Errors a retry cannot fix: the message is logged and passed over.
bool Permanent(const Status& s) {
  return s.Is(Status::Code::kRefused) || s.Is(Status::Code::kInvalidArgument) || s.Is(Status::Code::kNotFound) ||
         s.Is(Status::Code::kRequestReused);
}

}  // namespace

std::string EncodeVerifyMessage(const VerifyMessage& m) {
  if (m.joined) return json{{"type", "joined"}, {"node", m.facts.node}}.dump();
  const ReplicaVerifiedFacts& f = m.facts;
  return json{{"type", "verified"},           {"node", f.node},
              {"account_id", f.account_id},   {"erased_seq", f.erased_seq},
              {"files_scanned", f.files_scanned}, {"bytes_scanned", f.bytes_scanned},
              {"hits", f.hits},               {"compaction_passes", f.compaction_passes}}
      .dump();
}

Status DecodeVerifyMessage(std::string_view bytes, VerifyMessage* out) {
  *out = VerifyMessage();
  const json j = bytes.size() <= kVerifyMessageBytesMax ? json::parse(bytes.begin(), bytes.end(), nullptr, false) : json();
  const Status bad = Status::InvalidArgument("replica verification: not a verification message");
  if (!j.is_object() || !j.contains("type") || !j.contains("node") || !j["node"].is_string()) return bad;
  out->facts.node = j["node"].get<std::string>();
  if (!events::IsNodeName(out->facts.node)) return bad;
  if (j["type"] == "joined") {
    out->joined = true;
    return j.size() == 2 ? Status::OK() : bad;
  }
  ReplicaVerifiedFacts& f = out->facts;
  uint64_t passes = 0;
  if (j["type"] != "verified" || j.size() != 8 || !U64(j, "account_id", &f.account_id) ||
      !U64(j, "erased_seq", &f.erased_seq) || !U64(j, "files_scanned", &f.files_scanned) ||
      !U64(j, "bytes_scanned", &f.bytes_scanned) || !U64(j, "hits", &f.hits) ||
      !U64(j, "compaction_passes", &passes) || passes > UINT32_MAX)
    return bad;
  f.compaction_passes = static_cast<uint32_t>(passes);
  return Status::OK();
}

struct Verification::Impl {
  VerificationOptions opt;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;

  ~Impl() {
    if (js) jsCtx_Destroy(js);
    if (nc) natsConnection_Destroy(nc);
  }

  Status Connect() {
    return ConnectJetStream(opt.urls, opt.timeout_ms, "accountabled-verify", &nc, &js);
  }

  Status EnsureStream() {
    jsStreamInfo* si = nullptr;
    ACC_RETURN_IF_ERROR(EnsureFileStream(js,
                                         {.name = opt.stream, .subjects = opt.subject_prefix + ".*", .replicas = opt.replicas,
                                          .max_age_ms = opt.max_age_ms,
                                          .msg_bytes_max = static_cast<int64_t>(kVerifyMessageBytesMax)},
                                         &si));
    jsStreamInfo_Destroy(si);
    return Status::OK();
  }
};

Verification::Verification(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Verification::~Verification() { Stop(); }

Status Verification::Open(const VerificationOptions& options, std::unique_ptr<Verification>* out) {
  if (!events::IsNodeName(options.node))
    return Status::InvalidArgument("--node-name: must be 1..64 characters of A-Z a-z 0-9 . _ -");
  auto impl = std::make_unique<Impl>();
  impl->opt = options;
  ACC_RETURN_IF_ERROR(impl->Connect());
  ACC_RETURN_IF_ERROR(impl->EnsureStream());
  out->reset(new Verification(std::move(impl)));
  return Status::OK();
}

Status Verification::Publish(const VerifyMessage& m) {
  const std::string data = EncodeVerifyMessage(m);
  const std::string subject = impl_->opt.subject_prefix + (m.joined ? ".joined" : ".verified");
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = impl_->opt.timeout_ms;
  jsPubAck* ack = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_Publish(&ack, impl_->js, subject.c_str(), data.data(), static_cast<int>(data.size()), &po, &jerr);
  if (ack) jsPubAck_Destroy(ack);
  return s == NATS_OK ? Status::OK() : NatsError("publish an erasure verification", s, jerr);
}

Status Verification::Announce() {
  VerifyMessage m;
  m.joined = true;
  m.facts.node = impl_->opt.node;
  return Publish(m);
}

Status Verification::PublishShred(Accounts& accounts, const Vault::ShredReport& report) {
  std::vector<std::pair<uint64_t, uint64_t>> pending;  // account, AccountErased seq
  ACC_RETURN_IF_ERROR(accounts.ledger().Scan(Cf::kMeta, kMetaErasurePendingPrefix, [&](std::string_view k, std::string_view v) {
    if (k.size() == kMetaErasurePendingPrefix.size() + 8 && v.size() == 8)
      pending.emplace_back(DecodeBE64(k.substr(kMetaErasurePendingPrefix.size())), DecodeBE64(v));
    return pending.size() < kPendingMax;
  }));
  for (auto [account, erased_seq] : pending) {
    VerifyMessage m;
    m.facts = {impl_->opt.node, account, erased_seq, report.files_scanned, report.bytes_scanned, report.hits,
               report.compaction_passes};
    ACC_RETURN_IF_ERROR(Publish(m));
  }
  return Status::OK();
}

Status Verification::StartRecording(Accounts& accounts) {
  Receipt r;
  // Refused: announced before; anything else (a fenced writer): the thread meets it too.
  if (Status s = accounts.RecordReplicaJoined(impl_->opt.node, &r); !s.ok() && !s.Is(Status::Code::kRefused))
    spdlog::warn("this copy's own announcement was not recorded: {}", s.ToString());
  stop_.store(false);
  thread_ = std::thread([this, &accounts] { Record(accounts); });
  return Status::OK();
}

void Verification::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

namespace {

Status RecordOne(Accounts& accounts, const VerifyMessage& m, const std::string& own_node) {
  // The writer records its own verification with its ErasureVerified; a
  // copy under the same name must not take that request id first.
  if (!m.joined && m.facts.node == own_node)
    return Status::Refused("a copy reports under this writer's own node name " + own_node + "; give it another --node-name");
  Receipt r;
  return m.joined ? accounts.RecordReplicaJoined(m.facts.node, &r) : accounts.RecordReplicaVerified(m.facts, &r);
}

}  // namespace

// From the stream's first message on every start: recording is idempotent
// (request ids per copy and erasure), so a restarted writer misses nothing.
void Verification::Record(Accounts& accounts) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = impl_->opt.stream.c_str();
  so.Ordered = true;
  natsSubscription* sub = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const std::string all = impl_->opt.subject_prefix + ".*";
  natsStatus ns = js_SubscribeSync(&sub, impl_->js, all.c_str(), nullptr, &so, &jerr);
  if (ns != NATS_OK) {
    spdlog::error("{}", NatsError("subscribe to " + impl_->opt.stream, ns, jerr).ToString());
    return;
  }
  while (!stop_.load()) {
    natsMsg* msg = nullptr;
    const natsStatus got = natsSubscription_NextMsg(&msg, sub, kNextMsgWaitMs);
    if (got != NATS_OK) {
      // A timeout is the idle case; anything else (NATS reconnecting) waits before the next try.
      if (got != NATS_TIMEOUT) std::this_thread::sleep_for(std::chrono::milliseconds(kRetryMs));
      continue;
    }
    VerifyMessage m;
    Status s = DecodeVerifyMessage(std::string_view(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg))), &m);
    natsMsg_Destroy(msg);
    while (s.ok() && !stop_.load()) {
      s = RecordOne(accounts, m, impl_->opt.node);
      if (s.ok() || Permanent(s) || s.Is(Status::Code::kNotWriter)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(kRetryMs));  // storage or the log: try again
    }
    if (s.ok()) recorded_.fetch_add(1);
    else if (s.Is(Status::Code::kNotWriter)) break;  // fenced: another writer records from now on
    else if (!stop_.load()) spdlog::warn("a copy's verification message was not recorded: {}", s.ToString());
  }
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
}

}  // namespace accountable::replica
