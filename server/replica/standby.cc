#include "server/replica/standby.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace accountable::replica {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kCatchUpPollMs = 5;

}  // namespace

Status ClusterSink::Refusal() const {
  const std::string w = lease_.Holder();
  const std::string what = fenced_.load() ? "this copy lost the writer lease and no longer writes"
                                          : "this copy is a standby of the replicated log";
  if (w.empty()) return Status::NotWriter(what + "; no writer holds the lease right now, retry shortly");
  return Status::NotWriter(what + "; send writes to the writer at " + w);
}

Status ClusterSink::PublishAt(const ReplicatedGroup& g, uint64_t* log_seq) {
  *log_seq = 0;
  // Held across the publish: once Fence returns, no publish is in flight,
  // so a lease released after it is handed over with the stream settled.
  std::lock_guard<std::mutex> l(mu_);
  if (!writing_.load() || fenced_.load()) return Refusal();
  if (!lease_.Valid()) {
    fenced_.store(true);
    return Status::NotWriter("this copy's writer lease was not renewed in time; it no longer writes");
  }
  Status s = log_.PublishAt(g, log_seq);
  if (s.Is(Status::Code::kNotWriter)) fenced_.store(true);
  return s;
}

void ClusterSink::Fence() {
  std::lock_guard<std::mutex> l(mu_);
  fenced_.store(true);
}

void Standby::Start() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void Standby::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (p_.sink.writing()) p_.sink.Fence();
  LetLeaseGo();
}

// Still valid by this copy's clock, the key cannot be another copy's yet:
// deleting it hands over at once. Otherwise it may be, and is left to expire.
void Standby::LetLeaseGo() {
  if (p_.lease.Valid()) p_.lease.Release();
  else p_.lease.Forget();
}

bool Standby::Sleep(int64_t ms) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait_for(l, std::chrono::milliseconds(ms), [this] { return stop_; });
  return !stop_;
}

void Standby::Run() {
  const int64_t ttl_ms = p_.lease.ttl_ms();
  bool lost = false;
  while (Sleep((p_.sink.writing() || lost) ? ttl_ms / 3 : ttl_ms / 4)) {
    if (lost) {
      static_cast<void>(p_.lease.ReadHolder());  // refusals name the new writer
    } else if (p_.sink.fenced()) {
      // A write found the lease lapsed, or another writer's group, before a
      // renewal ran; competing again from here would take a lease this copy
      // cannot use (its follower is stopped).
      lost = true;
      LoseLease("lost the writer lease: this copy stopped writing (a write found the lease lapsed or another "
                "writer's group in the log, or starting to write failed)");
    } else if (!p_.sink.writing()) {
      Compete();
    } else if (Status s = p_.lease.Renew(); !s.ok()) {
      lost = true;
      LoseLease(s.ToString());
    }
  }
}

void Standby::LoseLease(const std::string& why) {
  p_.sink.Fence();
  LetLeaseGo();
  static_cast<void>(p_.lease.ReadHolder());
  spdlog::error("{}; this copy refuses writes from now on (restart it to rejoin as a standby)", why);
}

void Standby::Compete() {
  bool taken = false;
  if (!p_.lease.TryAcquire(address_, &taken).ok() || !taken) return;  // NATS trouble: next round
  spdlog::info("took the writer lease; applying the replicated log to its end");
  const auto t0 = Clock::now();
  Status s = Promote();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  if (s.ok()) {
    spdlog::info("writing: this copy is the writer from seq {} ({} ms after taking the lease)",
                 p_.accounts.ledger().LastSeq() + 1, ms);
    return;
  }
  if (p_.sink.writing()) {  // Accounts::StartWriting failed: nothing safe is left to do
    p_.sink.Fence();
    spdlog::error("could not start writing: {}", s.ToString());
    if (on_stop_) on_stop_(s);
    return;
  }
  spdlog::warn("gave the writer lease back: {}", s.ToString());
  p_.lease.Release();
  p_.follower.Stop();
  p_.follower.Start();
}

// Everything in the stream is applied here before the first publish, and
// the fence is the stream's end as read after the follower stopped: a
// group another writer slipped in meanwhile makes this take-over fail.
Status Standby::Promote() {
  NatsLogState st;
  ACC_RETURN_IF_ERROR(p_.log.Refresh(&st));
  ACC_RETURN_IF_ERROR(CatchUp(st.last_stream_seq));
  p_.follower.Stop();
  ACC_RETURN_IF_ERROR(p_.log.Refresh(&st));
  const uint64_t applied = p_.follower.applied_log_seq(), have = p_.accounts.ledger().LastSeq();
  if (st.last_stream_seq != applied || st.last_event_seq != have)
    return Status::IOError("the replicated log moved while this copy caught up (stream seq " +
                           std::to_string(st.last_stream_seq) + ", applied " + std::to_string(applied) + ")");
  p_.sink.StartWriting();
  ACC_RETURN_IF_ERROR(p_.accounts.StartWriting());
  return p_.on_writing ? p_.on_writing() : Status::OK();
}

// The lease is renewed meanwhile: a copy far behind may need longer than a TTL.
Status Standby::CatchUp(uint64_t stream_seq) {
  const auto renew_every = std::chrono::milliseconds(p_.lease.ttl_ms() / 3);
  auto next_renew = Clock::now() + renew_every;
  while (p_.follower.applied_log_seq() < stream_seq) {
    if (!Sleep(kCatchUpPollMs)) return Status::NotWriter("stopping while catching up");
    if (Clock::now() < next_renew) continue;
    ACC_RETURN_IF_ERROR(p_.lease.Renew());
    next_renew = Clock::now() + renew_every;
  }
  return Status::OK();
}

}  // namespace accountable::replica
