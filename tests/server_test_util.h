// Shared by the server suites (server_test.cc, server_limits_test.cc): an
// in-process server over a temp data dir, request-frame builders, and a raw
// POSIX connection with timeouts for the tests that must misbehave on the wire.
//
//   test::ServerFixture f([](ServerOptions& o) { o.frame_timeout_ms = 200; });
//   auto c = f.Connect(test::kWriterToken);              // accountable::Client
//   test::RawConn raw(f.port());                          // bytes, frames, close detection
//
// Uses Catch2 (REQUIRE), so only the test binary includes it.
#pragma once

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "events/fields.h"
#include "projections/service/accounts.h"
#include "server/client/client.h"
#include "server/client/wire.h"
#include "server/daemon/server.h"
#include "tests/test_util.h"

namespace accountable::test {

inline const std::string kWriterToken = "writer-token-0123456789";
inline const std::string kAuditorToken = "auditor-token-012345678";
inline const std::string kAdminToken = "admin-token-0123456789ab";
inline constexpr const char* kServerPassword = "correct horse battery";

using BodyFn = Client::BodyFn;

// One Request frame (length prefix included).
// One request that must reach the server and come back; the reply's own
// status is the test's to check.
inline Client::Reply CallOk(Client& c, wire::Body type, const BodyFn& body) {
  Client::Reply r;
  Status s = c.Call(type, body, &r);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return r;
}

// One request, one reply; the transport must work and the reply must carry
// this request's correlation id.
inline Client::Reply RoundTrip(Client& c, wire::Body type, const BodyFn& body, const std::string& rid = "") {
  uint64_t corr = 0;
  Status s = c.Send(type, body, &corr, rid);
  INFO(s.ToString());
  REQUIRE(s.ok());
  Client::Reply r;
  s = c.Receive(&r);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(r.correlation_id == corr);
  return r;
}

inline std::string RequestFrame(uint64_t corr, wire::Body type, const BodyFn& body, const std::string& rid = "") {
  flatbuffers::FlatBufferBuilder fbb(256);
  flatbuffers::Offset<void> b = body ? body(fbb) : flatbuffers::Offset<void>();
  auto r = rid.empty() ? 0 : fbb.CreateString(rid);
  fbb.Finish(wire::CreateRequest(fbb, corr, r, type, b), wire::RequestIdentifier());
  return wire::Frame(fbb.GetBufferPointer(), fbb.GetSize());
}

inline std::string HelloFrame(uint64_t corr, const std::string& token) {
  return RequestFrame(corr, wire::Body::Hello, [&](flatbuffers::FlatBufferBuilder& f) {
    return wire::CreateHelloDirect(f, token.c_str(), "raw-test").Union();
  });
}

inline std::string StatsFrame(uint64_t corr) {
  return RequestFrame(corr, wire::Body::Stats, [](flatbuffers::FlatBufferBuilder& f) {
    return wire::CreateStats(f).Union();
  });
}

// Body builders for the Client.
inline BodyFn StatsBody() {
  return [](flatbuffers::FlatBufferBuilder& f) { return wire::CreateStats(f).Union(); };
}

inline BodyFn RecordAccessBody(const std::string& path = "/", const std::string& filler = "") {
  return [path, filler](flatbuffers::FlatBufferBuilder& f) {
    return wire::CreateRecordAccessDirect(f, "198.51.100.7", filler.empty() ? "browser" : filler.c_str(),
                                          filler.empty() ? "isp" : filler.c_str(), nullptr,
                                          filler.empty() ? "os" : filler.c_str(), path.c_str())
        .Union();
  };
}

inline BodyFn RegisterBody(const std::string& email, const std::string& nick = "Nick") {
  return [email, nick](flatbuffers::FlatBufferBuilder& f) {
    return wire::CreateRegisterDirect(f, nick.c_str(), email.c_str(), kServerPassword, "female", "1990-04-01",
                                      "192.0.2.10", "ua/1.0", "Example Ltd", "1.01")
        .Union();
  };
}

inline BodyFn ReadLogBody(uint64_t from, uint32_t limit = 0) {
  return [=](flatbuffers::FlatBufferBuilder& f) { return wire::CreateReadLog(f, from, limit).Union(); };
}

inline BodyFn SubscribeBody(uint64_t from) {
  return [=](flatbuffers::FlatBufferBuilder& f) { return wire::CreateSubscribe(f, from).Union(); };
}

// A parsed Response, copied out of its frame.
struct RawReply {
  uint64_t correlation_id = 0;
  uint8_t code = 0;
  wire::Role role = wire::Role::None;
  uint64_t seq = 0;
  size_t events = 0;
  std::string message;
};

// A plain blocking-with-timeouts TCP connection: sends arbitrary bytes and
// tells "a frame", "closed" and "nothing yet" apart, so a misbehaving server
// fails a test instead of hanging it.
class RawConn {
 public:
  // source_ip: a loopback address (127.x.y.z) to connect from, as another host would.
  explicit RawConn(uint16_t port, int rcvbuf = 0, const char* source_ip = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (source_ip) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      REQUIRE(::inet_pton(AF_INET, source_ip, &from.sin_addr) == 1);
      REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawConn() { Close(); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Closes with a TCP reset: the server's next write to it fails.
  void Reset() {
    linger l{1, 0};
    if (fd_ >= 0) ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    Close();
  }

  // False if the peer is gone (EPIPE, ECONNRESET).
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  enum class Got { kFrame, kClosed, kTimeout };

  // Reads one whole response frame within timeout_ms.
  Got ReadFrame(int timeout_ms, RawReply* out) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      if (buf_.size() >= wire::kFrameHeaderBytes) {
        const uint32_t len = wire::DecodeLength(reinterpret_cast<const uint8_t*>(buf_.data()));
        if (buf_.size() >= wire::kFrameHeaderBytes + len) {
          std::string body = buf_.substr(wire::kFrameHeaderBytes, len);
          buf_.erase(0, wire::kFrameHeaderBytes + len);
          const wire::Response* r = nullptr;
          REQUIRE(wire::ParseResponse(body, &r).ok());
          *out = RawReply{r->correlation_id(), r->code(), r->role(), r->seq(),
                          r->events() ? r->events()->size() : 0u, events::StringOrEmpty(r->message())};
          return Got::kFrame;
        }
      }
      Got g = Fill(deadline);
      if (g != Got::kFrame) return g;
    }
  }

  // Discards frames until the server closes the connection; false on timeout.
  bool WaitClosed(int timeout_ms, std::vector<RawReply>* frames = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      RawReply r;
      Got g = ReadFrame(static_cast<int>(std::max<int64_t>(0, left.count())), &r);
      if (g == Got::kClosed) return true;
      if (g == Got::kTimeout) return false;
      if (frames) frames->push_back(r);
    }
  }

 private:
  // Appends whatever arrives before the deadline: kFrame = got bytes.
  Got Fill(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() < 0) return Got::kTimeout;
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) return Got::kTimeout;
      char tmp[65536];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Got::kClosed;  // EOF or reset
      buf_.append(tmp, static_cast<size_t>(n));
      return Got::kFrame;
    }
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

// An Accounts over a temp dir and a Server in front of it.
class ServerFixture {
 public:
  explicit ServerFixture(const std::function<void(ServerOptions&)>& tweak = {},
                         std::function<void(AccountsOptions&)> tweak_accounts = {})
      : tweak_accounts_(std::move(tweak_accounts)) {
    ServerOptions o;
    o.port = 0;
    o.io_threads = 2;
    o.worker_threads = 8;
    o.sweep_interval_ms = 0;
    o.token_digests = {{TokenDigest(kWriterToken), wire::Role::Writer},
                       {TokenDigest(kAuditorToken), wire::Role::Auditor},
                       {TokenDigest(kAdminToken), wire::Role::Admin}};
    if (tweak) tweak(o);
    options_ = o;
    OpenAccounts(true);
    Status s = Server::Start(o, accounts_.get(), &server_);
    INFO(s.ToString());
    REQUIRE(s.ok());
    std::lock_guard<std::mutex> l(hook_->mu);
    hook_->server = server_.get();
  }
  ~ServerFixture() { StopAndClose(); }

  uint16_t port() const { return port_ ? port_ : server_->port(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port()); }
  std::string data_dir() const { return dir_.Sub("data"); }
  Accounts& accounts() { return *accounts_; }
  Server& server() { return *server_; }
  LedgerStats& ledger_stats() { return ledger_stats_; }
  ErasureStats& erasure_stats() { return erasure_stats_; }
  const ServerOptions& options() const { return options_; }

  std::unique_ptr<Client> Connect(const std::string& token) {
    std::unique_ptr<Client> c;
    Status s = Client::Connect(address(), token, &c);
    INFO(s.ToString());
    REQUIRE(s.ok());
    return c;
  }

  // Server::Stop, destroy the server, then close the ledger. Idempotent.
  void StopAndClose() {
    if (server_) {
      port_ = server_->port();
      server_->Stop();
      {
        std::lock_guard<std::mutex> l(hook_->mu);
        hook_->server = nullptr;
      }
      server_.reset();
    }
    if (accounts_) {
      Status s = accounts_->Close();
      CHECK(s.ok());
      accounts_.reset();
    }
  }

  // After StopAndClose: the same data dir, opened again without a server.
  Accounts& Reopen() {
    StopAndClose();
    OpenAccounts(false);
    return *accounts_;
  }

  // Every stored event, in seq order.
  std::vector<Ledger::Stored> AllEvents() {
    std::vector<Ledger::Stored> all;
    for (uint64_t from = 1;;) {
      std::vector<Ledger::Stored> page;
      Status s = accounts_->ledger().ReadRange(from, 4096, &page);
      REQUIRE(s.ok());
      if (page.empty()) break;
      from = page.back().seq + 1;
      for (auto& e : page) all.push_back(std::move(e));
    }
    return all;
  }

 private:
  // on_commit runs on the ledger writer thread and may outlive the server.
  struct Hook {
    std::mutex mu;
    Server* server = nullptr;
  };

  void OpenAccounts(bool with_hook) {
    AccountsOptions ao;
    ao.data_dir = dir_.Sub("data");
    ao.password_cost = {1, 8u << 20};
    ao.sign_interval_ms = options_.sign_interval_ms;  // as accountabled wires it
    ao.ledger_stats = &ledger_stats_;
    ao.erasure_stats = &erasure_stats_;
    if (tweak_accounts_) tweak_accounts_(ao);
    if (with_hook)  // after the test's own on_commit, if it set one
      ao.on_commit = [h = hook_, first = ao.on_commit](uint64_t last) {
        if (first) first(last);
        std::lock_guard<std::mutex> l(h->mu);
        if (h->server) h->server->OnCommit(last);
      };
    Status s = Accounts::Open(ao, &accounts_);
    INFO(s.ToString());
    REQUIRE(s.ok());
  }

  std::function<void(AccountsOptions&)> tweak_accounts_;
  TempDir dir_{"accountable-server-test"};
  std::shared_ptr<Hook> hook_ = std::make_shared<Hook>();
  LedgerStats ledger_stats_;      // before accounts_: outlives it
  ErasureStats erasure_stats_;
  ServerOptions options_;
  std::unique_ptr<Accounts> accounts_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

// Connects and says Hello, retrying while the server turns new connections
// away or is still noticing earlier closes.
inline std::unique_ptr<Client> ConnectRetry(ServerFixture& f, const std::string& token, int retry_for_ms) {
  std::unique_ptr<Client> c;
  Status s;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(retry_for_ms);
  do {
    s = Client::Connect(f.address(), token, &c);
    if (!s.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (!s.ok() && std::chrono::steady_clock::now() < deadline);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return c;
}

}  // namespace accountable::test
