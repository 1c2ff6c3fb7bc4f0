#include "bench_client.h"

// Boost 1.74 awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <thread>
#include <unordered_map>

#include "events/assert.h"
#include "events/fields.h"
#include "server/client/client.h"
#include "server/client/tls.h"

namespace accountable::bench {

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

// A read asks for at least this much room; replies to the bench's requests
// are well under 100 bytes, so one read takes hundreds of them.
constexpr size_t kReadChunkBytes = 64 << 10;
constexpr size_t kFailuresKept = 5;

struct Phases {
  Clock::time_point start, measure_from, stop, drain_until;
};

Clock::duration Seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// Length prefix + the finished buffer, appended to *out.
void AppendFrame(std::string* out, const flatbuffers::FlatBufferBuilder& fbb) {
  const auto n = static_cast<uint32_t>(fbb.GetSize());
  char header[wire::kFrameHeaderBytes];
  for (size_t i = 0; i < wire::kFrameHeaderBytes; ++i) header[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out->append(header, sizeof header);
  out->append(reinterpret_cast<const char*>(fbb.GetBufferPointer()), n);
}

// One TCP connection of the load, driven by callbacks on its thread's
// io_context; everything it touches belongs to that thread.
class Connection {
 public:
  Connection(asio::io_context& io, const LoadConfig& c, size_t index, Mix mix, const Phases& ph, LoadStats* st,
             std::function<void()> on_close)
      : c_(c), index_(index), ph_(ph), st_(st), on_close_(std::move(on_close)), socket_(io), timer_(io),
        mix_(std::move(mix)), paced_(c.rate > 0) {}

  // Blocking connect (+ TLS handshake with tls) + Hello, before the
  // io_context runs.
  Status Open(const tcp::resolver::results_type& endpoints, asio::ssl::context* tls);
  // Begins the load (at phases.start); the connection closes itself when done.
  void Start();
  // The drain time is over: replies still outstanding make this a failure.
  void Abandon() {
    if (!closed_) Fail(std::to_string(pending_.size()) + " replies outstanding after the drain time");
  }

 private:
  struct Pending {
    Clock::time_point intended;
    Mix::Op op;
  };

  // fn(stream): the TLS stream over socket_, or socket_ itself.
  template <class Fn>
  void OnStream(Fn&& fn) {
    if (tls_) fn(*tls_);
    else fn(socket_);
  }
  Status Hello();
  void Pump();
  void Flush();
  void ReadMore();
  void OnRead(const error_code& ec, size_t bytes);
  bool OnFrame(std::string_view body);
  void Count(const Pending& p, const wire::Response& r, Clock::time_point now);
  void ArmTimer();
  void Fail(const std::string& why);
  void Close();

  const LoadConfig& c_;
  const size_t index_;
  const Phases& ph_;
  LoadStats* st_;
  std::function<void()> on_close_;
  tcp::socket socket_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;  // over socket_; null for plain TCP
  asio::steady_timer timer_;
  Mix mix_;
  flatbuffers::FlatBufferBuilder fbb_{512};
  std::unordered_map<uint64_t, Pending> pending_;  // correlation id -> request
  uint64_t next_corr_ = 0;
  std::string out_, writing_;  // frames to send; frames being written
  std::vector<uint8_t> in_;
  size_t in_bytes_ = 0;
  const bool paced_;
  Clock::time_point next_send_;
  Clock::duration interval_{};
  bool write_busy_ = false, timer_armed_ = false, closed_ = false;
};

Status Connection::Open(const tcp::resolver::results_type& endpoints, asio::ssl::context* tls) {
  error_code ec;
  asio::connect(socket_, endpoints, ec);
  if (ec) return Status::IOError("connect " + c_.server + ": " + ec.message());
  socket_.set_option(tcp::no_delay(true), ec);
  if (tls) {
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *tls);
    ACC_RETURN_IF_ERROR(tls_internal::ExpectPeer(tls_->native_handle(), c_.server, c_.tls));
    tls_->handshake(asio::ssl::stream_base::client, ec);
    if (ec) return Status::IOError("TLS handshake: " + tls_internal::Failure(tls_->native_handle(), ec));
  }
  return Hello();
}

Status Connection::Hello() {
  error_code ec;
  fbb_.Clear();
  FinishRequest(fbb_, ++next_corr_, wire::Body::Hello,
                wire::CreateHelloDirect(fbb_, c_.token.c_str(), "accountable-bench").Union());
  std::string frame;
  AppendFrame(&frame, fbb_);
  uint8_t header[wire::kFrameHeaderBytes];
  OnStream([&](auto& s) {
    asio::write(s, asio::buffer(frame), ec);
    if (!ec) asio::read(s, asio::buffer(header), ec);
  });
  if (ec) return Status::IOError("hello: " + ec.message());
  const uint32_t body_bytes = wire::DecodeLength(header);
  if (body_bytes == 0 || body_bytes > wire::kFrameBytesMaxDefault)
    return Status::Corruption("hello: response frame length out of range");
  std::string body(body_bytes, '\0');
  OnStream([&](auto& s) { asio::read(s, asio::buffer(body), ec); });
  if (ec) return Status::IOError("hello: " + ec.message());
  const wire::Response* r;
  ACC_RETURN_IF_ERROR(wire::ParseResponse(body, &r));
  return StatusFromCode(r->code(), events::StringOrEmpty(r->message()));
}

void Connection::Start() {
  if (paced_) {
    const double per_connection = c_.rate / double(c_.connections);
    interval_ = Seconds(1.0 / per_connection);
    // Staggered, so paced connections do not fire in lockstep.
    next_send_ = ph_.start + Seconds(double(index_) / double(c_.connections) / per_connection);
  }
  in_.resize(kReadChunkBytes);
  ReadMore();
  Pump();
}

// Sends what the depth and the schedule allow; closes once nothing is left.
void Connection::Pump() {
  if (closed_) return;
  const auto now = Clock::now();
  while (pending_.size() < c_.depth) {
    Clock::time_point intended = now;
    if (paced_) {
      if (next_send_ >= ph_.stop) break;
      if (next_send_ > now) {
        ArmTimer();
        break;
      }
      intended = next_send_;
      next_send_ += interval_;
    } else if (now >= ph_.stop) {
      break;
    }
    const uint64_t corr = ++next_corr_;
    Pending p{intended, mix_.Next(fbb_, corr)};
    AppendFrame(&out_, fbb_);
    pending_.emplace(corr, p);
  }
  Flush();
  const bool schedule_done = paced_ ? next_send_ >= ph_.stop : now >= ph_.stop;
  if (pending_.empty() && schedule_done) Close();
}

// Frames queued while a write is in flight go out together in the next one.
void Connection::Flush() {
  if (write_busy_ || out_.empty() || closed_) return;
  write_busy_ = true;
  writing_.swap(out_);
  out_.clear();
  OnStream([this](auto& s) {
    asio::async_write(s, asio::buffer(writing_), [this](const error_code& ec, size_t) {
      write_busy_ = false;
      if (ec) return Fail("send: " + ec.message());
      Flush();
    });
  });
}

void Connection::ReadMore() {
  if (closed_) return;
  if (in_.size() < in_bytes_ + kReadChunkBytes) in_.resize(in_bytes_ + kReadChunkBytes);
  OnStream([this](auto& s) {
    s.async_read_some(asio::buffer(in_.data() + in_bytes_, in_.size() - in_bytes_),
                      [this](const error_code& ec, size_t n) { OnRead(ec, n); });
  });
}

void Connection::OnRead(const error_code& ec, size_t bytes) {
  if (ec) return Fail("receive: " + ec.message());
  in_bytes_ += bytes;
  size_t used = 0;
  while (in_bytes_ - used >= wire::kFrameHeaderBytes) {
    const uint32_t body_bytes = wire::DecodeLength(in_.data() + used);
    if (body_bytes == 0 || body_bytes > wire::kFrameBytesMaxDefault)
      return Fail("response frame length out of range");
    if (in_bytes_ - used - wire::kFrameHeaderBytes < body_bytes) break;
    const char* body = reinterpret_cast<const char*>(in_.data() + used + wire::kFrameHeaderBytes);
    if (!OnFrame(std::string_view(body, body_bytes))) return;
    used += wire::kFrameHeaderBytes + body_bytes;
  }
  std::memmove(in_.data(), in_.data() + used, in_bytes_ - used);
  in_bytes_ -= used;
  Pump();
  ReadMore();
}

// False if the connection failed on this frame.
bool Connection::OnFrame(std::string_view body) {
  const auto now = Clock::now();
  const wire::Response* r;
  Status s = wire::ParseResponse(body, &r);
  if (!s.ok()) {
    Fail(s.ToString());
    return false;
  }
  auto it = pending_.find(r->correlation_id());
  if (it == pending_.end()) {
    Fail("reply with correlation id " + std::to_string(r->correlation_id()) + ": code " +
         std::to_string(r->code()) + " " + events::StringOrEmpty(r->message()));
    return false;
  }
  mix_.Done(it->second.op, r->code());
  Count(it->second, *r, now);
  pending_.erase(it);
  return true;
}

void Connection::Count(const Pending& p, const wire::Response& r, Clock::time_point now) {
  if (p.intended < ph_.measure_from || p.intended >= ph_.stop) return;
  if (r.code() != 0) ++st_->errors[r.code()];
  else if (r.duplicate()) ++st_->duplicates;
  else ++st_->ok;
  if (r.code() == 0 && !r.duplicate() && Mix::IsRegistration(p.op)) ++st_->registrations;
  if (st_->latency_us.size() >= c_.latency_samples_max) return;
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - p.intended).count();
  st_->latency_us.push_back(static_cast<uint32_t>(std::clamp<int64_t>(us, 0, UINT32_MAX)));
}

void Connection::ArmTimer() {
  if (timer_armed_) return;  // an earlier expiry pumps and re-arms
  timer_armed_ = true;
  timer_.expires_at(next_send_);
  timer_.async_wait([this](const error_code& ec) {
    timer_armed_ = false;
    if (!ec) Pump();
  });
}

void Connection::Fail(const std::string& why) {
  if (closed_) return;  // handlers cancelled by Close() end here
  ++st_->failed_connections;
  if (st_->failures.size() < kFailuresKept) st_->failures.push_back(why);
  Close();
}

void Connection::Close() {
  if (closed_) return;
  closed_ = true;
  error_code ec;
  socket_.close(ec);
  timer_.cancel();
  on_close_();
}

// One thread's io_context and its connections.
struct Worker {
  asio::io_context io{1};
  asio::steady_timer deadline{io};
  std::vector<std::unique_ptr<Connection>> connections;
  size_t open = 0;
  LoadStats stats;
};

void RunWorker(Worker* w, const Phases& ph) {
  asio::steady_timer start(w->io, ph.start);
  start.async_wait([w](const error_code&) {
    for (auto& c : w->connections) c->Start();
  });
  w->deadline.expires_at(ph.drain_until);
  w->deadline.async_wait([w](const error_code& ec) {
    if (!ec)
      for (auto& c : w->connections) c->Abandon();
  });
  w->io.run();
}

// Connects and authenticates every connection, round robin over the workers.
Status OpenAll(const LoadConfig& c, const std::vector<Account>& accounts, const Phases& ph, asio::ssl::context* tls,
               std::vector<std::unique_ptr<Worker>>* workers) {
  const auto colon = c.server.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument("server: HOST:PORT");
  error_code ec;
  tcp::resolver resolver((*workers)[0]->io);
  const auto endpoints = resolver.resolve(c.server.substr(0, colon), c.server.substr(colon + 1), ec);
  if (ec) return Status::IOError("resolve " + c.server + ": " + ec.message());
  std::random_device seed;
  for (size_t i = 0; i < c.connections; ++i) {
    Worker* w = (*workers)[i % workers->size()].get();
    std::vector<Account> mine;  // disjoint shares; with fewer accounts than connections, some get none
    for (size_t k = i; k < accounts.size(); k += c.connections) mine.push_back(accounts[k]);
    Mix mix(c.mix, c.new_stem + "-" + std::to_string(i), std::move(mine), &accounts, seed());
    auto on_close = [w] {
      if (--w->open == 0) w->deadline.cancel();
    };
    w->connections.push_back(std::make_unique<Connection>(w->io, c, i, std::move(mix), ph, &w->stats, on_close));
    ++w->open;
    ACC_RETURN_IF_ERROR(w->connections.back()->Open(endpoints, tls));
  }
  return Status::OK();
}

void Merge(std::vector<std::unique_ptr<Worker>>& workers, LoadStats* out) {
  *out = LoadStats();
  for (auto& w : workers) {
    const LoadStats& s = w->stats;
    out->ok += s.ok;
    out->duplicates += s.duplicates;
    out->registrations += s.registrations;
    for (auto [code, n] : s.errors) out->errors[code] += n;
    out->latency_us.insert(out->latency_us.end(), s.latency_us.begin(), s.latency_us.end());
    out->failed_connections += s.failed_connections;
    for (const auto& f : s.failures)
      if (out->failures.size() < kFailuresKept) out->failures.push_back(f);
  }
  std::sort(out->latency_us.begin(), out->latency_us.end());
}

}  // namespace

Status RunLoad(const LoadConfig& c, const std::vector<Account>& accounts, const LoadProbe& probe, LoadStats* out) {
  ACC_ASSERT(c.connections > 0 && c.depth > 0 && c.seconds > 0, "RunLoad: empty load");
  std::vector<std::unique_ptr<Worker>> workers(std::clamp<size_t>(c.threads, 1, c.connections));
  for (auto& w : workers) w = std::make_unique<Worker>();
  std::unique_ptr<asio::ssl::context> tls;  // one context for every connection; outlives them
  if (c.tls.enabled()) ACC_RETURN_IF_ERROR(tls_internal::MakeContext(c.tls, &tls));
  Phases ph;  // set once everyone is connected; the connections read it only after Start
  ACC_RETURN_IF_ERROR(OpenAll(c, accounts, ph, tls.get(), &workers));
  ph.start = Clock::now() + std::chrono::milliseconds(100);
  ph.measure_from = ph.start + Seconds(c.warmup);
  ph.stop = ph.measure_from + Seconds(c.seconds);
  ph.drain_until = ph.stop + Seconds(c.drain_s);
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back(RunWorker, w.get(), std::cref(ph));
  std::this_thread::sleep_until(ph.measure_from);
  if (probe.at_measure_from) probe.at_measure_from();
  std::this_thread::sleep_until(ph.stop);
  if (probe.at_stop) probe.at_stop();
  for (auto& t : threads) t.join();
  Merge(workers, out);
  return Status::OK();
}

}  // namespace accountable::bench
