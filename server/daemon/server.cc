// ServerImpl: accept loop, worker-side request processing, periodic sweep,
// the erasure timer on the earliest deletion deadline, shutdown.
#include "server/daemon/server_impl.h"

#include <pthread.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <typeinfo>

#include "core/crypto.h"
#include "events/assert.h"
#include "server/daemon/dispatch.h"

namespace accountable {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr auto kShutdownGrace = std::chrono::seconds(10);
// The erasure timer wakes at least this often, so a wall clock that jumped
// cannot delay an erasure by more than this.
constexpr int64_t kDeletionWaitMaxMs = 3'600'000;
// After a sweep that left a due account in place (an I/O error, say).
constexpr int64_t kDeletionRetryMs = 60'000;

// Requests after which the earliest deletion deadline may have changed.
bool MovesDeletions(wire::Body b) {
  return b == wire::Body::RequestDeletion || b == wire::Body::CancelDeletion || b == wire::Body::Sweep ||
         b == wire::Body::Batch;
}
}  // namespace

void CrashOnException::operator()(std::exception_ptr e) const {
  if (!e) return;
  const char* type = "a non-std exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    type = typeid(x).name();
  } catch (...) {
  }
  spdlog::critical("{} ended by an unexpected exception ({}): aborting", what_ran, type);
  spdlog::default_logger()->flush();
  std::abort();
}

ServerImpl::ServerImpl(const ServerOptions& o, Accounts* a)
    : opt_(o), accounts_(a), budget_(o.buffer_bytes_max), workers_(o.worker_threads), acceptor_(io_),
      sweep_timer_(io_), sign_timer_(io_), deletion_strand_(asio::make_strand(io_)),
      deletion_timer_(deletion_strand_) {
  tokens_ = std::make_shared<const Tokens>(o.token_digests.begin(), o.token_digests.end());
  for (size_t i = 0; i <= static_cast<size_t>(wire::Body::MAX); ++i)
    request_us_.emplace_back(new AtomicHistogram(LatencyUsHistogram()));  // from the prvalue: not movable
}

Status ServerImpl::Listen() {
  ACC_RETURN_IF_ERROR(CheckTransport(opt_));
  std::unique_ptr<asio::ssl::context> tls;
  ACC_RETURN_IF_ERROR(MakeServerTlsContext(opt_, &tls));
  tls_ = std::move(tls);
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(opt_.host, ec);
  if (ec) return Status::InvalidArgument("listen: not an IP address: " + opt_.host);
  tcp::endpoint ep(addr, opt_.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IOError("listen on " + opt_.host + ":" + std::to_string(opt_.port) + ": " + ec.message());
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, AcceptLoop(), CrashOnException{"accept loop"});
  if (opt_.sweep_interval_ms > 0)
    asio::co_spawn(io_, Every(sweep_timer_, opt_.sweep_interval_ms, [this] {
      Sweep();
      ArmDeletionTimer();
    }), CrashOnException{"sweep timer"});
  ArmDeletionTimer();
  if (opt_.sign_interval_ms > 0)
    asio::co_spawn(io_, Every(sign_timer_, opt_.sign_interval_ms, [this] { SignIfBehind(); }),
                   CrashOnException{"signing timer"});
  for (size_t i = 0; i < opt_.io_threads; ++i)
    io_threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "acc-io");  // for top -H and perf
      io_.run();
    });
  return Status::OK();
}

asio::awaitable<void> ServerImpl::AcceptLoop() {
  for (;;) {
    boost::system::error_code ec;
    // Named, not a temporary inside co_await: g++ 12 destroys those twice.
    auto strand = asio::make_strand(io_);
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    tcp::socket s = co_await acceptor_.async_accept(strand, token);
    if (ec) {
      if (!acceptor_.is_open()) co_return;
      // e.g. EMFILE: keep serving the connections we have, and retry shortly
      // rather than in a tight loop.
      asio::steady_timer backoff(io_, std::chrono::milliseconds(50));
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    std::shared_ptr<Session> session;
    const std::string address = s.remote_endpoint(ec).address().to_string();
    bool tls = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      tls = tls_ != nullptr;
      if (!ec && !stopping_ && Admit(address)) {
        session = std::make_shared<Session>(this, std::move(s), address, tls_);
        sessions_[session.get()] = session;
      }
    }
    if (session) {
      session->Start();
      continue;
    }
    // Over the limit: say why, then close. Small frame, so a blocking write
    // is fine. Not over TLS: that would cost a handshake, the very load
    // the limit sheds; the client sees the connection closed.
    std::string f = wire::ResponseFrame(0, Status::Busy("connection limit reached"));
    if (!tls) asio::write(s, asio::buffer(f), ec);
    s.close(ec);
  }
}

bool ServerImpl::Admit(const std::string& address) {
  size_t& from_address = unauthenticated_by_address_[address];
  if (unauthenticated_ >= opt_.unauthenticated_max || from_address >= opt_.unauthenticated_per_address_max) {
    if (from_address == 0) unauthenticated_by_address_.erase(address);
    return false;
  }
  ++unauthenticated_;
  ++from_address;
  return true;
}

void ServerImpl::ForgetUnauthenticated(const std::string& address) {
  --unauthenticated_;
  auto it = unauthenticated_by_address_.find(address);
  if (--it->second == 0) unauthenticated_by_address_.erase(it);
}

bool ServerImpl::Promote(Session* s) {
  std::lock_guard<std::mutex> l(mu_);
  if (authenticated_ >= opt_.connections_max) return false;
  ++authenticated_;
  ForgetUnauthenticated(s->address_);
  s->promoted_ = true;
  return true;
}

asio::awaitable<void> ServerImpl::Every(asio::steady_timer& timer, int64_t interval_ms, std::function<void()> job) {
  for (;;) {
    timer.expires_after(std::chrono::milliseconds(interval_ms));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    asio::post(workers_, job);
  }
}

void ServerImpl::Sweep() {
  SweepReport r;
  Status s = accounts_->Sweep({}, &r);
  if (s.ok())
    spdlog::info("sweep: erased {} accounts, shredded {} day keys, {} ms", r.erased.size(), r.days_shredded.size(),
                 r.elapsed_ms);
  else if (s.Is(Status::Code::kNotWriter))
    spdlog::debug("sweep skipped: {}", s.ToString());  // a standby or follower: the writer sweeps
  else
    spdlog::error("sweep failed: {}", s.ToString());
}

void ServerImpl::ArmDeletionTimer(int64_t fired_ms) {
  asio::post(deletion_strand_, [this, fired_ms] {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopping_) return;
    }
    std::optional<int64_t> deadline_ms;
    Status s = accounts_->NextDeletionDeadline(&deadline_ms);
    if (!s.ok()) spdlog::error("reading the deletion index failed: {}", s.ToString());
    if (!s.ok() || !deadline_ms) {
      deletion_timer_.cancel();  // the hourly sweep still runs
      return;
    }
    int64_t delay_ms = *deadline_ms - accounts_->NowMs();
    if (fired_ms != 0 && *deadline_ms <= fired_ms) delay_ms = std::max(delay_ms, kDeletionRetryMs);
    delay_ms = std::clamp<int64_t>(delay_ms, 0, kDeletionWaitMaxMs);
    deletion_timer_.expires_after(std::chrono::milliseconds(delay_ms));  // cancels the previous wait
    deletion_timer_.async_wait([this, due_ms = *deadline_ms](const boost::system::error_code& ec) {
      if (!ec) asio::post(workers_, [this, due_ms] { OnDeletionTimer(due_ms); });
    });
  });
}

void ServerImpl::OnDeletionTimer(int64_t deadline_ms) {
  // Woken early (the wait is capped): nothing is due yet, only re-arm.
  if (deadline_ms > accounts_->NowMs()) return ArmDeletionTimer();
  Sweep();
  ArmDeletionTimer(deadline_ms);
}

void ServerImpl::SignIfBehind() {
  bool signed_now = false;
  Status s = accounts_->SignTreeHeadIfBehind(&signed_now);
  if (!s.ok()) spdlog::error("signing the tree head failed: {}", s.ToString());
}

wire::Role ServerImpl::Authenticate(std::string_view token, Outcome* o) const {
  std::string h = TokenDigest(token);
  std::shared_ptr<const Tokens> tokens;
  {
    std::lock_guard<std::mutex> l(tokens_mu_);
    tokens = tokens_;
    o->token_generation = tokens_generation_.load(std::memory_order_relaxed);
  }
  wire::Role granted = wire::Role::None;
  for (const auto& [hash, role] : *tokens)  // every entry, so timing says nothing
    if (sodium_memcmp(hash.data(), h.data(), hash.size()) == 0) granted = role;
  if (granted != wire::Role::None) o->token_digest = std::move(h);
  return granted;
}

bool ServerImpl::StillValid(Session* s, wire::Role role) const {
  std::lock_guard<std::mutex> l(tokens_mu_);
  bool valid = false;
  if (s->token_digest_.size() != 32) return false;  // SHA-256; every session that has a role has one
  for (const auto& [hash, r] : *tokens_)
    if (sodium_memcmp(hash.data(), s->token_digest_.data(), hash.size()) == 0 && r == role) valid = true;
  if (valid) s->token_generation_ = tokens_generation_.load(std::memory_order_relaxed);
  return valid;
}

void ServerImpl::RefuseRevoked(const std::string& body, const std::shared_ptr<Session>& s) {
  const wire::Request* req = nullptr;
  Outcome o;
  o.corr = wire::ParseRequest(body, &req).ok() ? req->correlation_id() : 0;
  o.frame = wire::ResponseFrame(o.corr, static_cast<uint8_t>(wire::ProtocolCode::kTokenRevoked),
                                "this connection's token was revoked; connect again with a valid token");
  o.close = true;
  budget_.Charge(o.frame.size());
  s->out_budget_.Charge(o.frame.size());
  spdlog::info("closing a connection from {}: a token reload revoked its token", s->address_);
  s->Complete(std::move(o));
}

Status ServerImpl::ReloadTls(bool* reloaded) {
  *reloaded = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!tls_) return Status::OK();
  }
  std::unique_ptr<asio::ssl::context> fresh;
  ACC_RETURN_IF_ERROR(MakeServerTlsContext(opt_, &fresh));
  std::lock_guard<std::mutex> l(mu_);
  tls_ = std::move(fresh);
  *reloaded = true;
  return Status::OK();
}

wire::Role ServerImpl::TokenRole(std::string_view token) const {
  const std::string digest = TokenDigest(token);
  std::lock_guard<std::mutex> l(tokens_mu_);
  wire::Role role = wire::Role::None;
  for (const auto& [hash, r] : *tokens_)  // every row, so the time says nothing of where it matched
    if (hash.size() == digest.size() && sodium_memcmp(hash.data(), digest.data(), hash.size()) == 0) role = r;
  return role;
}

size_t ServerImpl::ReplaceTokens(std::map<std::string, wire::Role> token_digests) {
  auto fresh = std::make_shared<const Tokens>(token_digests.begin(), token_digests.end());
  size_t gone = 0;
  {
    std::lock_guard<std::mutex> l(tokens_mu_);
    for (const auto& [hash, role] : *tokens_) {  // removed, or given another role
      const auto it = token_digests.find(hash);
      gone += it == token_digests.end() || it->second != role ? 1 : 0;
    }
    tokens_ = std::move(fresh);
    tokens_generation_.fetch_add(1, std::memory_order_release);
  }
  if (gone > 0) CutRevokedSubscribers();
  return gone;
}

void ServerImpl::CutRevokedSubscribers() {
  std::vector<std::shared_ptr<Session>> subs;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (Session* s : subscribers_) {
      auto it = sessions_.find(s);
      if (it == sessions_.end()) continue;
      if (auto p = it->second.lock()) subs.push_back(std::move(p));
    }
  }
  // A subscriber may never send another request: end its stream now, on
  // its strand, as a too-slow subscriber's is ended.
  for (auto& s : subs)
    asio::post(s->socket_.get_executor(), [this, s] {
      if (!s->subscribed_ || s->closed_ || StillValid(s.get(), s->role_)) return;
      s->Send(wire::ResponseFrame(s->sub_corr_, static_cast<uint8_t>(wire::ProtocolCode::kTokenRevoked),
                                  "this connection's token was revoked; connect again with a valid token"));
      spdlog::info("closing a subscription from {}: a token reload revoked its token", s->address_);
      s->subscribed_ = false;
      s->reading_done_ = true;
      s->MaybeFinish();
    });
}

const wire::Request* ServerImpl::AsyncRequest(const std::string& body, wire::Role role) const {
  const wire::Request* req = nullptr;
  if (role == wire::Role::None || !wire::ParseRequest(body, &req).ok() || !wire::BodyUsable(req)) return nullptr;
  return RouteOf(req) == Route::kBlocking ? nullptr : req;
}

Reply ServerImpl::ReplyTo(const std::shared_ptr<Session>& s, const wire::Request* req, Clock::time_point started) {
  const uint64_t corr = req->correlation_id();
  const wire::Body op = req->body_type();
  const bool moves_deletions = MovesDeletions(op);
  return [this, hold = SessionHold(this, s), corr, moves_deletions, op, started](std::string frame) {
    ObserveRequest(op, started);
    budget_.Charge(frame.size());
    hold.get()->out_budget_.Charge(frame.size());
    if (moves_deletions) ArmDeletionTimer();
    Outcome o;
    o.frame = std::move(frame);
    o.corr = corr;
    hold.get()->Complete(std::move(o));
  };
}

ServerImpl::SessionHold::SessionHold(ServerImpl* server, std::shared_ptr<Session> s)
    : server_(server), session_(std::move(s)) {
  server_->session_holds_.fetch_add(1, std::memory_order_relaxed);
}

ServerImpl::SessionHold::SessionHold(const SessionHold& o) : server_(o.server_), session_(o.session_) {
  if (server_) server_->session_holds_.fetch_add(1, std::memory_order_relaxed);
}

ServerImpl::SessionHold::SessionHold(SessionHold&& o) noexcept
    : server_(std::exchange(o.server_, nullptr)), session_(std::move(o.session_)) {}

ServerImpl::SessionHold::~SessionHold() {
  if (!server_) return;
  session_.reset();  // may run ~Session: before Stop can see the count reach zero
  server_->session_holds_.fetch_sub(1, std::memory_order_release);
}

Route ServerImpl::Start(const std::string& body, wire::Role role, const std::shared_ptr<Session>& s,
                        Clock::time_point started) {
  // One atomic load per request; the set is searched only after a reload.
  if (role != wire::Role::None && s->token_generation_ != tokens_generation_.load(std::memory_order_acquire) &&
      !StillValid(s.get(), role)) {
    RefuseRevoked(body, s);
    return Route::kInline;
  }
  const wire::Request* req = AsyncRequest(body, role);
  if (req && RouteOf(req) == Route::kInline) {
    DispatchAsync(*accounts_, role, req, ReplyTo(s, req, started));
    return Route::kInline;
  }
  if (req) return Route::kHashing;
  if (role != wire::Role::None) return Route::kBlocking;
  // Before Hello: the handshake (a SHA-256 and a compare) or its refusal.
  Outcome o = Process(body, role, &s->out_budget_);
  ObserveRequest(o.op, started);
  s->Complete(std::move(o));
  return Route::kInline;
}

void ServerImpl::StartHashing(const std::string& body, wire::Role role, const std::shared_ptr<Session>& s,
                              Clock::time_point started) {
  const wire::Request* req = AsyncRequest(body, role);
  ACC_ASSERT(req != nullptr && RouteOf(req) == Route::kHashing, "Start routed this body to the hashing path");
  DispatchAsync(*accounts_, role, req, ReplyTo(s, req, started));
}

void ServerImpl::ObserveRequest(wire::Body op, Clock::time_point started) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
  // A body type past the schema (a newer client, or garbage) shares NONE's slot.
  const auto i = static_cast<size_t>(op);
  request_us_[i < request_us_.size() ? i : 0]->Observe(static_cast<uint64_t>(us));
}

const AtomicHistogram* ServerImpl::RequestLatency(wire::Body op) const {
  const auto i = static_cast<size_t>(op);
  return i < request_us_.size() ? request_us_[i].get() : nullptr;
}

ServerGauges ServerImpl::Gauges() {
  ServerGauges g;
  const uint64_t last = accounts_->ledger().LastSeq();
  std::vector<std::shared_ptr<Session>> subs;  // released after mu_, as in OnCommit
  {
    std::lock_guard<std::mutex> l(mu_);
    g.connections = authenticated_;
    g.unauthenticated = unauthenticated_;
    g.subscribers = subscribers_.size();
    g.accepting = !stopping_;
    for (Session* s : subscribers_) {
      auto it = sessions_.find(s);
      if (it == sessions_.end()) continue;
      if (auto p = it->second.lock()) subs.push_back(std::move(p));
    }
  }
  for (const auto& s : subs) {
    const uint64_t pos = s->sub_position_.load(std::memory_order_relaxed);
    if (last >= pos) g.subscriber_lag_events_max = std::max(g.subscriber_lag_events_max, last - pos + 1);
  }
  return g;
}

Outcome ServerImpl::Process(const std::string& body, wire::Role role, MemoryBudget* connection) {
  ResponseBudget budget{opt_.response_bytes_max, &budget_, connection};
  Outcome o = Decide(body, role, &budget);
  // Every path but Dispatch builds a small frame, not yet charged.
  if (o.frame.size() > budget.charged) budget.Charge(o.frame.size() - budget.charged);
  return o;
}

Outcome ServerImpl::Decide(const std::string& body, wire::Role role, ResponseBudget* budget) {
  Outcome o;
  const wire::Request* req = nullptr;
  Status s = wire::ParseRequest(body, &req);
  if (!s.ok()) {
    o.frame = wire::ResponseFrame(0, static_cast<uint8_t>(wire::ProtocolCode::kBadFrame), s.message());
    o.close = true;
    return o;
  }
  const uint64_t corr = req->correlation_id();
  o.corr = corr;
  o.op = req->body_type();
  if (req->body_type() == wire::Body::Hello) {
    auto* h = req->body_as_Hello();
    o.granted = Authenticate(h->token() ? h->token()->string_view() : std::string_view(), &o);
    wire::ResponseFields f;
    f.role = o.granted;
    o.frame = o.granted == wire::Role::None ? wire::ResponseFrame(corr, Status::AuthFailed("unknown token"))
                                            : wire::ResponseFrame(corr, Status::OK(), f);
    o.close = o.granted == wire::Role::None;
    return o;
  }
  if (role == wire::Role::None) {
    o.frame = wire::ResponseFrame(corr, static_cast<uint8_t>(wire::ProtocolCode::kNotAuthenticated), "authenticate with Hello first");
    o.close = true;
    return o;
  }
  if (req->body_type() == wire::Body::Subscribe && Allowed(role, wire::Body::Subscribe)) {
    o.subscribe = true;
    o.subscribe_corr = corr;
    o.subscribe_from = std::max<uint64_t>(1, req->body_as_Subscribe()->from_seq());
    o.frame = wire::ResponseFrame(corr, Status::OK());
    return o;
  }
  if (!wire::BodyUsable(req)) {
    o.frame = wire::ResponseFrame(corr, static_cast<uint8_t>(wire::ProtocolCode::kUnknownOperation), "unknown operation");
    return o;
  }
  o.frame = Dispatch(*accounts_, role, req, budget);
  if (MovesDeletions(req->body_type())) ArmDeletionTimer();
  return o;
}

void ServerImpl::OnCommit(uint64_t) {
  std::vector<std::shared_ptr<Session>> subs;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (Session* s : subscribers_) {
      auto it = sessions_.find(s);  // never operator[]: it would add a session that is gone
      if (it == sessions_.end()) continue;
      if (auto p = it->second.lock()) subs.push_back(std::move(p));
    }
  }
  for (auto& s : subs) s->Wake();
}

void ServerImpl::Remove(Session* s) {
  std::lock_guard<std::mutex> l(mu_);
  if (sessions_.erase(s) == 1) {
    if (s->promoted_)
      --authenticated_;
    else
      ForgetUnauthenticated(s->address_);
  }
  subscribers_.erase(s);
  if (sessions_.empty()) drained_cv_.notify_all();
}

void ServerImpl::Stop() {
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
    for (auto& [p, w] : sessions_)
      if (auto s = w.lock()) live.push_back(std::move(s));
  }
  asio::post(io_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    sweep_timer_.cancel();
    sign_timer_.cancel();
  });
  asio::post(deletion_strand_, [this] { deletion_timer_.cancel(); });
  for (auto& s : live) s->Shutdown();
  live.clear();
  {
    std::unique_lock<std::mutex> l(mu_);
    drained_cv_.wait_for(l, kShutdownGrace, [this] { return sessions_.empty(); });
  }
  io_.stop();
  for (auto& t : io_threads_)
    if (t.joinable()) t.join();
  workers_.join();
  WaitForReplies();
}

void ServerImpl::WaitForReplies() {
  auto next_log = Clock::now() + kShutdownGrace;
  while (size_t n = session_holds_.load(std::memory_order_acquire)) {
    if (Clock::now() >= next_log) {
      spdlog::warn("stopping: {} commands are still in the ledger; waiting for their answers", n);
      next_log += kShutdownGrace;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

Status Server::Start(const ServerOptions& o, Accounts* accounts, std::unique_ptr<Server>* out) {
  if (o.io_threads == 0 || o.worker_threads == 0 || o.connections_max == 0 || o.inflight_per_connection_max == 0 ||
      o.unauthenticated_max == 0 || o.unauthenticated_per_address_max == 0 || o.handshake_timeout_ms <= 0 ||
      o.buffer_bytes_max == 0 || o.response_bytes_max == 0 || o.out_queue_bytes_max == 0)
    return Status::InvalidArgument("server limits must be positive");
  if (o.frame_bytes_max < 64 || o.hello_frame_bytes_max < 64)
    return Status::InvalidArgument("frame_bytes_max and hello_frame_bytes_max must be at least 64");
  auto impl = std::make_unique<ServerImpl>(o, accounts);
  ACC_RETURN_IF_ERROR(impl->Listen());
  *out = std::move(impl);
  return Status::OK();
}

}  // namespace accountable
