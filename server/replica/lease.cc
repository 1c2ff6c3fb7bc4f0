#include "server/replica/lease.h"

#include <thread>

#include "server/replica/nats_connect.h"

namespace accountable::replica {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kHolderBytesMax = 256;

}  // namespace

Status Lease::Open(const LeaseOptions& o, std::unique_ptr<Lease>* out) {
  if (o.ttl_ms < 100) return Status::InvalidArgument("lease TTL below 100 ms");
  std::unique_ptr<Lease> l(new Lease(o));
  ACC_RETURN_IF_ERROR(ConnectJetStream(o.urls, o.timeout_ms, "accountabled-lease", &l->nc_, &l->js_));
  ACC_RETURN_IF_ERROR(l->Bind());
  *out = std::move(l);
  return Status::OK();
}

Lease::~Lease() {
  if (kv_) kvStore_Destroy(kv_);
  if (js_) jsCtx_Destroy(js_);
  if (nc_) natsConnection_Destroy(nc_);
}

// An existing bucket is used as it is (its TTL decides); a new one gets
// opt_.ttl_ms. Both under WhileClusterStarts, as the streams are.
Status Lease::Bind() {
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = WhileClusterStarts([this](jsErrCode*) {
    natsStatus ks = js_KeyValue(&kv_, js_, opt_.bucket.c_str());
    if (ks != NATS_NOT_FOUND) return ks;
    kvConfig c;
    kvConfig_Init(&c);
    c.Bucket = opt_.bucket.c_str();
    c.History = 1;
    c.TTL = opt_.ttl_ms * 1'000'000;  // nanoseconds
    c.Replicas = static_cast<int>(opt_.replicas);
    c.StorageType = js_FileStorage;
    return js_CreateKeyValue(&kv_, js_, &c);
  }, &jerr);
  return s == NATS_OK ? Status::OK() : NatsError("writer lease bucket " + opt_.bucket, s);
}

Status Lease::TryAcquire(const std::string& holder, bool* taken) {
  *taken = false;
  if (holder.empty() || holder.size() > kHolderBytesMax) return Status::InvalidArgument("lease holder address");
  const auto sent = Clock::now();
  uint64_t rev = 0;
  natsStatus s = kvStore_CreateString(&rev, kv_, opt_.key.c_str(), holder.c_str());
  if (s == NATS_OK) {
    std::lock_guard<std::mutex> l(mu_);
    revision_ = rev;
    renewed_at_ = sent;
    holder_ = holder;
    *taken = true;
    return Status::OK();
  }
  return ReadHolder();  // expired in between: the next try may take it
}

Status Lease::ReadHolder() {
  kvEntry* e = nullptr;
  const natsStatus s = kvStore_Get(&e, kv_, opt_.key.c_str());
  if (s != NATS_OK && s != NATS_NOT_FOUND) return NatsError("read the writer lease", s);
  std::string who = s == NATS_OK ? kvEntry_ValueString(e) : "";
  if (e) kvEntry_Destroy(e);
  std::lock_guard<std::mutex> l(mu_);
  if (revision_ == 0) holder_ = who.substr(0, kHolderBytesMax);
  return Status::OK();
}

Status Lease::Renew() {
  std::string holder;
  uint64_t last = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (revision_ == 0) return Status::NotWriter("the writer lease is not held");
    holder = holder_;
    last = revision_;
  }
  const auto sent = Clock::now();
  uint64_t rev = 0;
  natsStatus s = kvStore_UpdateString(&rev, kv_, opt_.key.c_str(), holder.c_str(), last);
  std::lock_guard<std::mutex> l(mu_);
  if (s != NATS_OK || revision_ != last) {
    revision_ = 0;
    holder_.clear();
    return Status::NotWriter(std::string("lost the writer lease: its renewal failed (") + natsStatus_GetText(s) + ")");
  }
  revision_ = rev;
  renewed_at_ = sent;
  return Status::OK();
}

bool Lease::Valid() const {
  std::lock_guard<std::mutex> l(mu_);
  return revision_ != 0 && Clock::now() - renewed_at_ < std::chrono::milliseconds(opt_.ttl_ms * 3 / 4);
}

bool Lease::held() const {
  std::lock_guard<std::mutex> l(mu_);
  return revision_ != 0;
}

void Lease::Release() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (revision_ == 0) return;
    revision_ = 0;
    holder_.clear();
  }
  // Best effort: if it fails the key still expires after one TTL.
  static_cast<void>(kvStore_Delete(kv_, opt_.key.c_str()));
}

void Lease::Forget() {
  std::lock_guard<std::mutex> l(mu_);
  revision_ = 0;
  holder_.clear();
}

std::string Lease::Holder() const {
  std::lock_guard<std::mutex> l(mu_);
  return holder_;
}

}  // namespace accountable::replica
