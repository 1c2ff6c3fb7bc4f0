#include "server/replica/nats_log.h"

#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "server/replica/nats_connect.h"

namespace accountable::replica {

namespace {

// JetStream's "wrong last sequence" (JSStreamWrongLastSequenceErr).
constexpr int kWrongLastSequence = 10071;
constexpr int kNoMessageFound = 10037;
constexpr const char* kWriterHeader = "Accountable-Writer";
// The Nats-Msg-Id of the first message of a stream: ExpectLastSeq 0 means
// "no expectation", so this is what fences a second writer that also saw
// the stream empty (JetStream answers it "duplicate" within its window).
constexpr const char* kFirstMsgId = "accountable-stream-start";

}  // namespace

struct NatsLog::Impl {
  NatsLogOptions opt;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  std::mutex mu;                  // one publish at a time: each is fenced on the last
  uint64_t last_stream_seq = 0;   // under mu
  uint64_t last_event_seq = 0;    // under mu
  bool continuity_checked = false;  // under mu

  ~Impl() {
    if (js) jsCtx_Destroy(js);
    if (nc) natsConnection_Destroy(nc);
  }
  std::string Subject(ReplicatedGroup::Kind k) const {
    return opt.subject_prefix + (k == ReplicatedGroup::Kind::kEvents ? ".events" : ".vault");
  }

  Status Connect() { return ConnectJetStream(opt.urls, opt.timeout_ms, "accountabled", &nc, &js); }

  Status EnsureStream() {
    jsStreamInfo* si = nullptr;
    ACC_RETURN_IF_ERROR(EnsureFileStream(
        js, {.name = opt.stream, .subjects = opt.subject_prefix + ".*", .replicas = opt.replicas, .max_age_ms = opt.max_age_ms},
        &si));
    last_stream_seq = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return LastEventSeq(&last_event_seq);
  }

  // A copy resuming at from_stream_seq needs every message from there on.
  Status CheckRetention(uint64_t from_stream_seq) {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = StreamInfoWaiting(js, opt.stream, &si, &jerr);
    if (s != NATS_OK) return NatsError("stream info of " + opt.stream, s, jerr);
    const uint64_t first = si->State.FirstSeq, last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    if (first <= std::max<uint64_t>(from_stream_seq, 1) || last == 0) return Status::OK();
    return Status::Corruption(
        "replicated log: this copy resumes at stream sequence " + std::to_string(from_stream_seq) +
        " but the stream " + opt.stream + " now starts at " + std::to_string(first) +
        " (its retention dropped the messages in between): rebuild this copy from a checkpoint of another copy "
        "(docs/operations.md, \"Seeding a follower from a checkpoint\")");
  }

  Status LastEventSeq(uint64_t* out) {
    natsMsg* m = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetLastMsg(&m, js, opt.stream.c_str(), Subject(ReplicatedGroup::Kind::kEvents).c_str(),
                                 nullptr, &jerr);
    *out = 0;
    if (s == NATS_NOT_FOUND || static_cast<int>(jerr) == kNoMessageFound) return Status::OK();
    if (s != NATS_OK) return NatsError("read the newest event group", s, jerr);
    ReplicatedGroup g;
    Status ds = DecodeGroup(std::string_view(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m))), &g);
    natsMsg_Destroy(m);
    ACC_RETURN_IF_ERROR(ds);
    *out = g.last_seq;
    return Status::OK();
  }
};

NatsLog::NatsLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NatsLog::~NatsLog() = default;

Status NatsLog::Open(const NatsLogOptions& options, std::unique_ptr<NatsLog>* out) {
  auto impl = std::make_unique<Impl>();
  impl->opt = options;
  ACC_RETURN_IF_ERROR(impl->Connect());
  ACC_RETURN_IF_ERROR(impl->EnsureStream());
  out->reset(new NatsLog(std::move(impl)));
  return Status::OK();
}

void NatsLog::SetWriterAddress(const std::string& address) {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->opt.writer_address = address;
}

Status NatsLog::State(NatsLogState* out) {
  std::lock_guard<std::mutex> l(impl_->mu);
  out->last_stream_seq = impl_->last_stream_seq;
  out->last_event_seq = impl_->last_event_seq;
  return Status::OK();
}

Status NatsLog::Refresh(NatsLogState* out) {
  std::lock_guard<std::mutex> l(impl_->mu);
  ACC_RETURN_IF_ERROR(impl_->EnsureStream());
  impl_->continuity_checked = false;
  out->last_stream_seq = impl_->last_stream_seq;
  out->last_event_seq = impl_->last_event_seq;
  return Status::OK();
}

Status NatsLog::PublishAt(const ReplicatedGroup& g, uint64_t* log_seq) {
  *log_seq = 0;
  Impl& i = *impl_;
  std::lock_guard<std::mutex> l(i.mu);
  if (fenced_.load())
    return Status::NotWriter("this copy was fenced off the replicated log and no longer writes");
  if (g.kind == ReplicatedGroup::Kind::kEvents && !i.continuity_checked) {
    if (g.first_seq != i.last_event_seq + 1) {
      fenced_.store(true);
      return Status::NotWriter("the replicated log ends at seq " + std::to_string(i.last_event_seq) +
                               " but this copy would append seq " + std::to_string(g.first_seq) +
                               "; a writer must start from a copy that holds the whole log");
    }
    i.continuity_checked = true;
  }
  const std::string data = EncodeGroup(g);
  if (data.size() > static_cast<uint64_t>(natsConnection_GetMaxPayload(i.nc)))
    return Status::InvalidArgument("group of " + std::to_string(data.size()) +
                                   " bytes is over the NATS servers' max_payload; raise it (docs/operations.md)");
  natsMsg* m = nullptr;
  natsStatus s = natsMsg_Create(&m, i.Subject(g.kind).c_str(), nullptr, data.data(), static_cast<int>(data.size()));
  if (s == NATS_OK && !i.opt.writer_address.empty())
    s = natsMsgHeader_Set(m, kWriterHeader, i.opt.writer_address.c_str());
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = i.opt.timeout_ms;
  po.ExpectLastSeq = i.last_stream_seq;  // 0 (an empty stream) sets no expectation
  if (i.last_stream_seq == 0) po.MsgId = kFirstMsgId;
  jsPubAck* ack = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (s == NATS_OK) s = js_PublishMsg(&ack, i.js, m, &po, &jerr);
  natsMsg_Destroy(m);
  if (s != NATS_OK) {
    if (static_cast<int>(jerr) != kWrongLastSequence) return NatsError("publish", s, jerr);
    fenced_.store(true);
    return Status::NotWriter("fenced: the replicated log moved past stream sequence " +
                             std::to_string(i.last_stream_seq) +
                             " without this writer (another writer published); this copy no longer writes");
  }
  const bool duplicate = ack->Duplicate;
  i.last_stream_seq = ack->Sequence;
  g.log_seq = ack->Sequence;
  if (duplicate) {
    jsPubAck_Destroy(ack);
    fenced_.store(true);
    return Status::NotWriter("fenced: another writer published the first message of the empty replicated log");
  }
  if (g.kind == ReplicatedGroup::Kind::kEvents) i.last_event_seq = g.last_seq;
  *log_seq = ack->Sequence;
  jsPubAck_Destroy(ack);
  return Status::OK();
}

Status NatsLog::Follow(uint64_t from_stream_seq, const Apply& apply, const std::atomic<bool>& stop) {
  Impl& i = *impl_;
  ACC_RETURN_IF_ERROR(i.CheckRetention(from_stream_seq));
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = i.opt.stream.c_str();
  so.Ordered = true;
  if (from_stream_seq > 1) {
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = from_stream_seq;
  }
  natsSubscription* sub = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const std::string all = i.opt.subject_prefix + ".*";
  natsStatus s = js_SubscribeSync(&sub, i.js, all.c_str(), nullptr, &so, &jerr);
  if (s != NATS_OK) return NatsError("subscribe to " + i.opt.stream, s, jerr);
  Status out;
  while (out.ok() && !stop.load()) {
    natsMsg* m = nullptr;
    s = natsSubscription_NextMsg(&m, sub, 200);
    if (s == NATS_TIMEOUT) continue;
    if (s != NATS_OK) {
      out = NatsError("read the stream", s);
      break;
    }
    jsMsgMetaData* meta = nullptr;
    ReplicatedGroup g;
    const char* writer = nullptr;
    if (natsMsg_GetMetaData(&meta, m) != NATS_OK) out = Status::Corruption("replicated log: a message without metadata");
    if (out.ok())
      out = DecodeGroup(std::string_view(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m))), &g);
    if (out.ok()) {
      g.log_seq = meta->Sequence.Stream;
      if (natsMsgHeader_Get(m, kWriterHeader, &writer) != NATS_OK) writer = nullptr;
      out = apply(g, writer ? std::string(writer) : std::string());
    }
    if (meta) jsMsgMetaData_Destroy(meta);
    natsMsg_Destroy(m);
  }
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  return out;
}

}  // namespace accountable::replica
