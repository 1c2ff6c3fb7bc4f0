#include "server/client/client.h"

// Boost 1.74 awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <algorithm>
#include <chrono>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <openssl/ssl.h>

#include "events/fields.h"
#include "server/client/tls.h"

namespace accountable {

namespace asio = boost::asio;
using asio::ip::tcp;

Status StatusFromCode(uint8_t code, std::string m) {
  using C = Status::Code;
  switch (code) {
    case 0: return Status::OK();
    case uint8_t(C::kInvalidArgument): return Status::InvalidArgument(std::move(m));
    case uint8_t(C::kRefused): return Status::Refused(std::move(m));
    case uint8_t(C::kConflict): return Status::Conflict(std::move(m));
    case uint8_t(C::kNotFound): return Status::NotFound(std::move(m));
    case uint8_t(C::kAuthFailed): return Status::AuthFailed(std::move(m));
    case uint8_t(C::kShredded): return Status::Shredded(std::move(m));
    case uint8_t(C::kCorruption): return Status::Corruption(std::move(m));
    case uint8_t(C::kBusy): return Status::Busy(std::move(m));
    case uint8_t(C::kRequestReused): return Status::RequestReused(std::move(m));
    case uint8_t(C::kDiskFull): return Status::DiskFull(std::move(m));
    case uint8_t(C::kNotWriter): return Status::NotWriter(std::move(m));
    case uint8_t(wire::ProtocolCode::kNotAuthenticated): return Status::AuthFailed(std::move(m));
    case uint8_t(wire::ProtocolCode::kTokenRevoked): return Status::AuthFailed(std::move(m));
    case uint8_t(wire::ProtocolCode::kForbidden): return Status::Refused(std::move(m));
    default: return Status::IOError(std::move(m));
  }
}

namespace {

class ClientImpl final : public Client {
 public:
  explicit ClientImpl(size_t frame_bytes_max) : socket_(io_), frame_bytes_max_(frame_bytes_max) {}

  Status Open(const std::string& host_port, const std::string& token, const ClientTlsOptions& tls) {
    ACC_RETURN_IF_ERROR(tls.Check());
    auto colon = host_port.rfind(':');
    if (colon == std::string::npos) return Status::InvalidArgument("server: HOST:PORT");
    boost::system::error_code ec;
    tcp::resolver resolver(io_);
    auto eps = resolver.resolve(host_port.substr(0, colon), host_port.substr(colon + 1), ec);
    if (!ec) asio::connect(socket_, eps, ec);
    if (ec) return Status::IOError("connect " + host_port + ": " + ec.message());
    socket_.set_option(tcp::no_delay(true), ec);
    if (tls.enabled()) ACC_RETURN_IF_ERROR(StartTls(host_port, tls));
    Reply r;
    Status s = Call(wire::Body::Hello, [&](flatbuffers::FlatBufferBuilder& f) {
      return wire::CreateHelloDirect(f, token.c_str(), "accountable-client").Union();
    }, &r, "");
    // TLS 1.3 lets a client finish its handshake before the server has
    // checked the client's certificate: a refusal shows up here.
    if (!s.ok() && tls_ && !timed_out_)
      return Status::IOError("the TLS session with " + host_port + " ended before Hello was answered (" + s.message() +
                             "); a server with mutual TLS needs a client certificate signed by a CA it trusts");
    ACC_RETURN_IF_ERROR(s);
    if (!r.status.ok()) return r.status;
    role_ = r.role;
    return Status::OK();
  }

  Status StartTls(const std::string& host_port, const ClientTlsOptions& o) {
    ACC_RETURN_IF_ERROR(tls_internal::MakeContext(o, &tls_context_));
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *tls_context_);
    SSL* ssl = tls_->native_handle();
    ACC_RETURN_IF_ERROR(tls_internal::ExpectPeer(ssl, host_port, o));
    boost::system::error_code ec;
    if (receive_timeout_ms_ > 0)
      RunWithin([&](auto done) { tls_->async_handshake(asio::ssl::stream_base::client, done); }, ec);
    else
      tls_->handshake(asio::ssl::stream_base::client, ec);
    if (timed_out_) return ReceiveError(ec);
    if (ec) return Status::IOError("TLS handshake with " + host_port + " failed: " + tls_internal::Failure(ssl, ec));
    return Status::OK();
  }

  Status Send(wire::Body type, const BodyFn& body, uint64_t* corr, const std::string& rid) override {
    flatbuffers::FlatBufferBuilder fbb(256);
    auto b = body(fbb);
    auto r = rid.empty() ? 0 : fbb.CreateString(rid);
    *corr = ++next_corr_;
    fbb.Finish(wire::CreateRequest(fbb, *corr, r, type, b), wire::RequestIdentifier());
    return SendRaw(wire::Frame(fbb.GetBufferPointer(), fbb.GetSize()));
  }

  Status SendRaw(std::string_view bytes) override {
    if (timed_out_) return Status::IOError("send: the connection was closed after a timeout");
    boost::system::error_code ec;
    const auto b = asio::buffer(bytes.data(), bytes.size());
    // Bounded as reads are: a server that stops reading fills the socket
    // buffers, and a blocking write would then hold the caller for ever.
    if (receive_timeout_ms_ > 0 && tls_)
      RunWithin([&](auto done) { asio::async_write(*tls_, b, done); }, ec);
    else if (receive_timeout_ms_ > 0)
      RunWithin([&](auto done) { asio::async_write(socket_, b, done); }, ec);
    else if (tls_)
      asio::write(*tls_, b, ec);
    else
      asio::write(socket_, b, ec);
    if (timed_out_)
      return Status::IOError("send: not taken within " + std::to_string(receive_timeout_ms_) +
                             " ms; the connection is closed");
    return ec ? Status::IOError("send: " + ec.message()) : Status::OK();
  }

  Status Receive(Reply* out) override {
    uint8_t header[wire::kFrameHeaderBytes];
    boost::system::error_code ec;
    ReadAll(asio::buffer(header), ec);
    if (ec) return ReceiveError(ec);
    uint32_t body_bytes = wire::DecodeLength(header);
    if (body_bytes == 0 || body_bytes > frame_bytes_max_)
      return Status::Corruption("response frame length out of range");
    std::string body(body_bytes, '\0');
    ReadAll(asio::buffer(body), ec);
    if (ec) return ReceiveError(ec);
    const wire::Response* r;
    ACC_RETURN_IF_ERROR(wire::ParseResponse(body, &r));
    *out = Reply();
    out->correlation_id = r->correlation_id();
    out->code = r->code();
    out->status = StatusFromCode(r->code(), events::StringOrEmpty(r->message()));
    out->seq = r->seq();
    out->account_id = r->account_id();
    out->duplicate = r->duplicate();
    out->role = r->role();
    if (r->json()) out->json = r->json()->str();
    if (r->events())
      for (auto* e : *r->events())
        out->events.emplace_back(e->seq(), e->envelope() ? std::string(reinterpret_cast<const char*>(e->envelope()->data()),
                                                                       e->envelope()->size()) : std::string());
    if (r->results())
      for (auto* res : *r->results())
        if (res->response())
          out->results.emplace_back(reinterpret_cast<const char*>(res->response()->data()), res->response()->size());
    return Status::OK();
  }

  Status Call(wire::Body type, const BodyFn& body, Reply* out, const std::string& rid) override {
    uint64_t corr = 0;
    ACC_RETURN_IF_ERROR(Send(type, body, &corr, rid));
    for (;;) {
      ACC_RETURN_IF_ERROR(Receive(out));
      // Correlation id 0: a connection-level error (bad frame, limit) is for us too.
      if (out->correlation_id == corr || out->correlation_id == 0) return Status::OK();
    }
  }

  wire::Role role() const override { return role_; }
  void SetReceiveTimeout(int64_t timeout_ms) override { receive_timeout_ms_ = std::max<int64_t>(timeout_ms, 0); }

 private:
  void ReadAll(asio::mutable_buffer b, boost::system::error_code& ec) {
    if (receive_timeout_ms_ > 0) {
      if (tls_)
        RunWithin([&](auto done) { asio::async_read(*tls_, b, done); }, ec);
      else
        RunWithin([&](auto done) { asio::async_read(socket_, b, done); }, ec);
      return;
    }
    if (tls_)
      asio::read(*tls_, b, ec);
    else
      asio::read(socket_, b, ec);
  }

  // Sync operations cannot be given up on; an async one run for a while
  // can. start(handler) starts it. Past receive_timeout_ms_ the connection
  // is closed (the operation ends with operation_aborted, which run() lets
  // finish) and timed_out_ is set: the connection is of no further use.
  template <typename Start>
  void RunWithin(Start start, boost::system::error_code& ec) {
    bool done = false;
    io_.restart();
    start([&](const boost::system::error_code& e, auto&&...) {
      ec = e;
      done = true;
    });
    io_.run_for(std::chrono::milliseconds(receive_timeout_ms_));
    if (done) return;
    boost::system::error_code ignored;
    socket_.close(ignored);
    io_.restart();
    io_.run();
    timed_out_ = true;
    ec = asio::error::timed_out;
  }

  Status ReceiveError(const boost::system::error_code& ec) const {
    if (timed_out_)
      return Status::IOError("receive: no reply within " + std::to_string(receive_timeout_ms_) +
                             " ms; the connection is closed");
    return Status::IOError("receive: " + ec.message());
  }

  asio::io_context io_;
  tcp::socket socket_;
  std::unique_ptr<asio::ssl::context> tls_context_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;  // over socket_; null for plain TCP
  size_t frame_bytes_max_;
  int64_t receive_timeout_ms_ = 0;
  bool timed_out_ = false;  // a read, write or handshake ran out of time; the socket is closed
  uint64_t next_corr_ = 0;
  wire::Role role_ = wire::Role::None;
};

}  // namespace

Status Client::Connect(const std::string& host_port, const std::string& token, std::unique_ptr<Client>* out,
                       size_t frame_bytes_max) {
  return Connect(host_port, token, ClientTlsOptions(), out, frame_bytes_max);
}

Status Client::Connect(const std::string& host_port, const std::string& token, const ClientTlsOptions& tls,
                       std::unique_ptr<Client>* out, size_t frame_bytes_max, int64_t receive_timeout_ms) {
  auto c = std::make_unique<ClientImpl>(frame_bytes_max);
  c->SetReceiveTimeout(receive_timeout_ms);
  ACC_RETURN_IF_ERROR(c->Open(host_port, token, tls));
  *out = std::move(c);
  return Status::OK();
}

}  // namespace accountable
