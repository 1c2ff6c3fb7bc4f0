// Session: one connection. All members are touched only on the socket's
// strand; commands run on the worker pool and come back through Apply().
#include "server/daemon/session.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "core/crash_point.h"
#include "core/crypto.h"
#include "events/assert.h"
#include "server/daemon/server_impl.h"

namespace accountable {

namespace asio = boost::asio;
using asio::use_awaitable;

namespace {
constexpr uint32_t kSubscribePageEvents = 256;
// A push stays well under the C++ client's default 1 MiB frame limit however
// large the events are (up to 64 KiB each): the subscriber cannot choose a
// smaller page, unlike a ReadLog caller.
constexpr size_t kSubscribePageBytes = 512 << 10;
// A body buffer starts at this and doubles with what arrives, so a claimed
// length costs nothing until its bytes are sent.
constexpr size_t kBodyChunkBytes = 4096;
// A connection's read buffer: about 30 pipelined commands of a forum's size.
constexpr size_t kReadBufferBytes = 8192;
// One TLS record's worth of plaintext: more in one write saves nothing.
constexpr size_t kTlsWriteBytes = 16 << 10;
}

Session::Session(ServerImpl* server, asio::ip::tcp::socket socket, std::string address,
                 std::shared_ptr<asio::ssl::context> tls)
    : server_(server), socket_(std::move(socket)), tls_context_(std::move(tls)), address_(std::move(address)),
      out_budget_(server->options().out_queue_bytes_max), watchdog_(socket_.get_executor()),
      slot_(socket_.get_executor()) {
  if (tls_context_) tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, *tls_context_);
}

// Frames still queued at a close, and the read buffer, were charged to the
// server's budget. The buffer held request bytes (passwords among them).
Session::~Session() {
  server_->budget().Release(out_bytes_ + rbuf_.size() + (tls_ ? kTlsWriteBytes : 0));
  crypto::Wipe(&rbuf_);
}

void Session::Start() {
  auto self = shared_from_this();
  // Always granted: connections are capped (connections_max plus
  // unauthenticated_max), so read buffers take at most 8 KiB times those.
  rbuf_.resize(kReadBufferBytes);
  server_->budget().Charge(rbuf_.size() + (tls_ ? kTlsWriteBytes : 0));
  boost::system::error_code ec;
  // Pipelined responses must not wait for the client's delayed ACK (~40 ms).
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  handshake_deadline_ =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(server_->options().handshake_timeout_ms);
  Touch(server_->options().idle_timeout_ms);
  asio::co_spawn(socket_.get_executor(), [self] { return self->ReadLoop(); }, CrashOnException{"session read loop"});
  asio::co_spawn(socket_.get_executor(), [self] { return self->Watchdog(); }, CrashOnException{"session watchdog"});
}

void Session::Touch(int64_t timeout_ms) {
  deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  if (role_ == wire::Role::None) deadline_ = std::min(deadline_, handshake_deadline_);
  // A later deadline needs no re-arm (a timerfd syscall per frame): the
  // watchdog wakes at the earlier one, sees deadline_ ahead, and waits again.
  if (deadline_ < watchdog_.expiry()) watchdog_.cancel();
}

asio::awaitable<void> Session::Watchdog() {
  const auto idle = std::chrono::milliseconds(server_->options().idle_timeout_ms);
  const auto frame = std::chrono::milliseconds(server_->options().frame_timeout_ms);
  uint64_t writes_seen = writes_;
  while (!closed_) {
    boost::system::error_code ec;
    watchdog_.expires_at(deadline_);
    co_await watchdog_.async_wait(asio::redirect_error(use_awaitable, ec));
    const auto now = std::chrono::steady_clock::now();
    if (closed_ || now < deadline_) continue;
    // Waiting for our own response is neither idleness nor a stalled frame.
    // Pushing a subscription is not idleness, but a subscriber's stalled
    // frame is still one. Having only output left that the client has not
    // read any of for a whole period (a cut-off subscriber that never
    // reads) ends the connection too.
    const bool stalled_frame = in_frame_ && inflight_ == 0;
    const bool idle_conn = !in_frame_ && inflight_ == 0 && !subscribed_ && !reading_done_;
    const bool stuck_drain = reading_done_ && inflight_ == 0 && writes_ == writes_seen;
    // Not authenticated in time: whether silent, mid-frame or trickling.
    const bool handshake_late = role_ == wire::Role::None && inflight_ == 0 && now >= handshake_deadline_;
    if (stalled_frame || idle_conn || stuck_drain || handshake_late) {
      Close();
      break;
    }
    // Busy: look again a period later (not at once: the deadline has passed,
    // and waiting on it again would spin).
    writes_seen = writes_;
    deadline_ = now + (in_frame_ ? frame : idle);
  }
}

asio::awaitable<void> Session::WaitForSlot() {
  const auto& o = server_->options();
  while (!closed_ && (handshake_pending_ || inflight_ >= o.inflight_per_connection_max ||
                      out_budget_.used() > o.out_queue_bytes_max)) {
    boost::system::error_code ec;
    slot_.expires_at(std::chrono::steady_clock::time_point::max());
    co_await slot_.async_wait(asio::redirect_error(use_awaitable, ec));
  }
}

asio::awaitable<void> Session::ReadLoop() {
  const auto& o = server_->options();
  // Read errors (EOF, reset, our own close) arrive as error codes: whatever
  // is thrown here is a bug, and CrashOnException aborts the process rather
  // than serve on from a state nobody reasoned about.
  boost::system::error_code ec;
  if (tls_ && !co_await Handshake()) co_return;
  for (;;) {
    co_await WaitForSlot();
    if (closed_ || reading_done_) co_return;
    Touch(o.idle_timeout_ms);
    bool got_header = true;
    while (got_header && rend_ - rpos_ < wire::kFrameHeaderBytes) got_header = co_await FillSome();
    if (!got_header) break;
    const uint8_t* header = reinterpret_cast<const uint8_t*>(rbuf_.data() + rpos_);
    const uint32_t body_bytes = wire::DecodeLength(header);
    rpos_ += wire::kFrameHeaderBytes;
    // Before Hello succeeds only a Hello-sized frame is read.
    const size_t limit = role_ == wire::Role::None ? std::min(o.hello_frame_bytes_max, o.frame_bytes_max)
                                                   : o.frame_bytes_max;
    if (body_bytes == 0 || body_bytes > limit) {
      Refuse(wire::ResponseFrame(0, static_cast<uint8_t>(wire::ProtocolCode::kFrameTooLarge),
                                 "frame length must be 1.." + std::to_string(limit)));
      co_return;
    }
    std::string body;
    size_t charged = 0;
    in_frame_ = true;
    Touch(o.frame_timeout_ms);
    const Read got = co_await ReadBody(body_bytes, &body, &charged);
    if (got != Read::kDone) server_->budget().Release(charged);
    if (got == Read::kFailed) break;
    if (got == Read::kOverBudget) {
      in_frame_ = false;
      Refuse(wire::ResponseFrame(0, static_cast<uint8_t>(wire::ProtocolCode::kRequestOverBudget),
                                 "the server's request buffers are full; retry later"));
      co_return;
    }
    in_frame_ = false;
    // Stands for any bug on this path, so a test can show it loses nothing acknowledged.
    if (FaultPoint("session:throw")) throw std::logic_error("fault injected at session:throw");
    // The handshake is sequential: nothing else is read until Hello is answered.
    handshake_pending_ = role_ == wire::Role::None;
    Execute(std::move(body), charged);
  }
  // Stop reading; let in-flight responses finish.
  in_frame_ = false;
  reading_done_ = true;
  MaybeFinish();
}

// The handshake runs under the watchdog's handshake deadline like Hello
// does: a client that stalls it is closed at handshake_timeout_ms and its
// unauthenticated slot freed.
asio::awaitable<bool> Session::Handshake() {
  boost::system::error_code ec;
  co_await tls_->async_handshake(asio::ssl::stream_base::server, asio::redirect_error(use_awaitable, ec));
  if (!ec) co_return true;
  // A plaintext client, an untrusted certificate, a scanner: no frame to
  // send in a protocol the peer does not speak (OpenSSL sends a TLS alert
  // where the handshake got far enough for one).
  if (!closed_) spdlog::debug("TLS handshake failed: {}", ec.message());
  reading_done_ = true;
  MaybeFinish();
  co_return false;
}

asio::awaitable<size_t> Session::ReadSome(asio::mutable_buffer b, boost::system::error_code& ec) {
  if (tls_) return tls_->async_read_some(b, asio::redirect_error(use_awaitable, ec));
  return socket_.async_read_some(b, asio::redirect_error(use_awaitable, ec));
}

asio::awaitable<bool> Session::FillSome() {
  if (rpos_ == rend_) rpos_ = rend_ = 0;
  if (rpos_ > 0) {
    std::memmove(rbuf_.data(), rbuf_.data() + rpos_, rend_ - rpos_);
    rend_ -= rpos_;
    rpos_ = 0;
  }
  ACC_ASSERT(rend_ < rbuf_.size(), "a partial header is smaller than the read buffer");
  boost::system::error_code ec;
  const size_t n = co_await ReadSome(asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_), ec);
  rend_ += n;
  co_return !ec;
}

asio::awaitable<Session::Read> Session::ReadBody(size_t body_bytes, std::string* body, size_t* charged) {
  boost::system::error_code ec;
  size_t got = 0;
  while (got < body_bytes) {
    if (got == body->size()) {
      const size_t size = std::min(body_bytes, std::max(2 * got, kBodyChunkBytes));
      if (!server_->budget().TryCharge(size - got)) co_return Read::kOverBudget;
      *charged += size - got;
      body->resize(size);
    }
    // A small remainder goes through the buffer, so the frames behind it
    // arrive in the same read; a large one straight into the body.
    if (rpos_ == rend_ && body_bytes - got < rbuf_.size() && !co_await FillSome()) co_return Read::kFailed;
    if (rpos_ < rend_) {
      const size_t n = std::min(body->size() - got, rend_ - rpos_);
      std::memcpy(body->data() + got, rbuf_.data() + rpos_, n);
      rpos_ += n;
      got += n;
      continue;
    }
    const size_t n = co_await ReadSome(asio::buffer(body->data() + got, body->size() - got), ec);
    if (ec) co_return Read::kFailed;
    got += n;
  }
  co_return Read::kDone;
}

void Session::Refuse(std::string frame) {
  Send(std::move(frame));
  reading_done_ = true;  // the stream cannot be resynchronized
  MaybeFinish();
}

void Session::Execute(std::string body, size_t charged) {
  ++inflight_;
  auto self = shared_from_this();
  // Checks, Hello and kInline commands run here, on the I/O thread: they
  // queue their append and return, and the answer comes back through
  // Complete. Argon2id and blocking requests go to the worker pool.
  // (Plain callbacks, not co_await co_spawn: g++ 12 destroys temporaries of a
  // co_await expression twice.)
  const auto started = ServerImpl::Clock::now();
  const Route route = server_->Start(body, role_, self, started);
  if (route == Route::kInline) {
    server_->budget().Release(charged);
    return;
  }
  asio::post(server_->workers(), [self, route, role = role_, charged, started, body = std::move(body)] {
    if (route == Route::kHashing) {
      self->server_->StartHashing(body, role, self, started);
    } else {
      Outcome o = self->server_->Process(body, role, &self->out_budget_);
      self->server_->ObserveRequest(o.op, started);
      self->Complete(std::move(o));
    }
    self->server_->budget().Release(charged);
  });
}

void Session::Complete(Outcome o) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> l(inbox_mu_);
    wake = inbox_.empty();
    inbox_.push_back(std::move(o));
  }
  if (wake) asio::post(socket_.get_executor(), [self = shared_from_this()] { self->Drain(); });
}

void Session::Drain() {
  std::vector<Outcome> done;
  {
    std::lock_guard<std::mutex> l(inbox_mu_);
    done.swap(inbox_);
  }
  draining_ = true;
  for (Outcome& o : done) {
    --inflight_;
    Apply(std::move(o));
  }
  draining_ = false;
  WriteNext();
}

void Session::Apply(Outcome o) {
  handshake_pending_ = false;
  if (o.granted != wire::Role::None && role_ == wire::Role::None && !server_->Promote(this)) {
    // Authenticated, but every authenticated slot is taken.
    server_->budget().Release(o.frame.size());
    out_budget_.Release(o.frame.size());
    o.frame.clear();
    o.granted = wire::Role::None;
    Refuse(wire::ResponseFrame(0, Status::Busy("connection limit reached")));
  }
  if (o.granted != wire::Role::None) {
    role_ = o.granted;
    token_digest_ = std::move(o.token_digest);
    token_generation_ = o.token_generation;
    Touch(server_->options().idle_timeout_ms);
  }
  if (!o.frame.empty()) Send(std::move(o.frame), true);
  // Not once closed (Remove already ran: the server would keep a dangling
  // subscriber) nor once reading stopped (cut off, or shutting down).
  if (o.subscribe && !subscribed_ && !closed_ && !reading_done_) {
    subscribed_ = true;
    sub_corr_ = o.subscribe_corr;
    sub_cursor_ = o.subscribe_from;
    sub_position_.store(sub_cursor_, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> l(server_->mu_);
      server_->subscribers_.insert(this);
    }
    Pump();
  }
  if (o.close) reading_done_ = true;
  slot_.cancel();
  MaybeFinish();
}

void Session::Send(std::string frame, bool charged) {
  if (!charged) {
    server_->budget().Charge(frame.size());
    out_budget_.Charge(frame.size());
  }
  if (closed_) {
    server_->budget().Release(frame.size());
    out_budget_.Release(frame.size());
    return;
  }
  out_bytes_ += frame.size();
  out_.push_back(std::move(frame));
  if (!draining_) WriteNext();
}

void Session::WriteNext() {
  if (writing_ || out_.empty() || closed_) return;
  // Every queued frame in one gather write (one writev): the answers of a
  // group commit leave together, however many this connection pipelined.
  constexpr size_t kFramesPerWriteMax = 256;
  writing_ = true;
  auto self = shared_from_this();
  auto done = [self](boost::system::error_code ec, size_t) {
    self->writing_ = false;
    ++self->writes_;
    for (; self->writing_frames_ > 0; --self->writing_frames_) {
      const size_t n = self->out_.front().size();
      self->out_bytes_ -= n;
      self->server_->budget().Release(n);
      self->out_budget_.Release(n);
      self->out_.pop_front();
    }
    if (ec) return self->Close();
    self->slot_.cancel();
    self->WriteNext();
    if (self->subscribed_) self->Pump();
    self->MaybeFinish();
  };
  if (tls_) {
    // A large first frame goes alone, uncopied; small ones are gathered.
    writing_frames_ = 1;
    if (out_.front().size() >= kTlsWriteBytes)
      return asio::async_write(*tls_, asio::buffer(out_.front()), std::move(done));
    tls_out_.assign(out_.front());
    for (; writing_frames_ < out_.size() && tls_out_.size() + out_[writing_frames_].size() <= kTlsWriteBytes;
         ++writing_frames_)
      tls_out_ += out_[writing_frames_];
    return asio::async_write(*tls_, asio::buffer(tls_out_), std::move(done));
  }
  std::vector<asio::const_buffer> frames;
  for (size_t i = 0; i < out_.size() && i < kFramesPerWriteMax; ++i) frames.push_back(asio::buffer(out_[i]));
  writing_frames_ = frames.size();
  asio::async_write(socket_, frames, std::move(done));
}

void Session::Wake() {
  auto self = shared_from_this();
  asio::post(socket_.get_executor(), [self] { self->Pump(); });
}

void Session::Pump() {
  if (!subscribed_ || sub_reading_ || closed_) return;
  const auto& o = server_->options();
  const uint64_t last = server_->accounts().ledger().LastSeq();
  if (last >= sub_cursor_ && last - sub_cursor_ + 1 > o.subscriber_lag_events_max) {
    Send(wire::ResponseFrame(sub_corr_, static_cast<uint8_t>(wire::ProtocolCode::kSubscriberTooSlow),
                             "subscriber fell more than " + std::to_string(o.subscriber_lag_events_max) + " events behind"));
    subscribed_ = false;
    reading_done_ = true;
    MaybeFinish();
    return;
  }
  if (sub_cursor_ > last || out_bytes_ > o.out_queue_bytes_max / 2) return;  // wait for events / for the client
  sub_reading_ = true;
  auto self = shared_from_this();
  const uint64_t from = sub_cursor_, corr = sub_corr_;
  asio::post(server_->workers(), [self, from, corr] {
    std::vector<Ledger::Stored> events;
    Status s = self->server_->accounts().ledger().ReadRange(from, kSubscribePageEvents, &events);
    size_t keep = 0;
    for (size_t bytes = 0; keep < events.size(); ++keep) {
      bytes += events[keep].envelope.size();
      if (keep > 0 && bytes > kSubscribePageBytes) break;
    }
    events.resize(keep);
    const uint64_t next = events.empty() ? from : events.back().seq + 1;
    wire::ResponseFields f;
    for (auto& e : events) f.events.emplace_back(e.seq, std::move(e.envelope));
    std::string frame = wire::ResponseFrame(corr, s, f);
    asio::post(self->socket_.get_executor(), [self, frame = std::move(frame), next]() mutable {
      self->PumpDone(std::move(frame), next);
    });
  });
}

void Session::PumpDone(std::string frame, uint64_t next_cursor) {
  sub_reading_ = false;
  if (next_cursor > sub_cursor_) {
    sub_cursor_ = next_cursor;
    sub_position_.store(sub_cursor_, std::memory_order_relaxed);
    Send(std::move(frame));
  }
  Pump();
}

void Session::Shutdown() {
  auto self = shared_from_this();
  asio::post(socket_.get_executor(), [self] {
    boost::system::error_code ec;
    self->reading_done_ = true;
    self->subscribed_ = false;
    self->socket_.shutdown(asio::ip::tcp::socket::shutdown_receive, ec);
    self->MaybeFinish();
  });
}

void Session::MaybeFinish() {
  if (reading_done_ && inflight_ == 0 && out_.empty() && !sub_reading_) Close();
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  watchdog_.cancel();
  slot_.cancel();
  server_->Remove(this);
}

}  // namespace accountable
