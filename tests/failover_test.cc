// Failover (docs/replication.md, "Fencing" and "Failover") on a real
// three-node NATS JetStream cluster (tests/nats_cluster.h): the writer
// lease, the fence of a writer whose lease lapsed, the first message of an
// empty stream, and three accountabled --cluster processes whose writer is
// SIGKILLed under load while FailoverClients keep writing.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <rocksdb/write_batch.h>
#include <set>
#include <thread>

#include "server/client/failover_client.h"
#include "server/replica/lease.h"
#include "server/replica/nats_log.h"
#include "server/replica/standby.h"
#include "tests/accounts_fixture.h"
#include "tests/daemon_process.h"
#include "tests/nats_cluster.h"
#include "tests/replica_copies.h"
#include "tests/server_test_util.h"
#include "tests/tls_pki.h"

using namespace accountable;
using Code = Status::Code;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kTtlMs = 1000;

ReplicatedGroup VaultGroup(const std::string& key) {
  rocksdb::WriteBatch wb;
  wb.Put(key, "v");
  ReplicatedGroup g;
  g.kind = ReplicatedGroup::Kind::kVault;
  g.batch = wb.Data();
  return g;
}

std::unique_ptr<replica::NatsLog> OpenLog(const test::NatsCluster& nats) {
  std::unique_ptr<replica::NatsLog> log;
  Status s = replica::NatsLog::Open({.urls = nats.urls(), .timeout_ms = 10000}, &log);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return log;
}

std::unique_ptr<replica::Lease> OpenLease(const test::NatsCluster& nats) {
  std::unique_ptr<replica::Lease> lease;
  Status s = replica::Lease::Open({.urls = nats.urls(), .ttl_ms = kTtlMs, .timeout_ms = 10000}, &lease);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return lease;
}

// Up to 10 s of tries, as a standby polls: true once taken.
bool AcquireWithin10s(replica::Lease& lease, const std::string& holder) {
  const auto until = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < until) {
    bool taken = false;
    REQUIRE(lease.TryAcquire(holder, &taken).ok());
    if (taken) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(kTtlMs / 4));
  }
  return false;
}

}  // namespace

TEST_CASE("failover: one holder of the lease; a writer whose lease lapsed is fenced", "[replication][failover]") {
  test::NatsCluster nats;
  if (!nats.available()) {
    WARN("SKIPPED: " << nats.skip_reason());
    return;
  }
  REQUIRE(nats.WaitMetaLeader());
  auto log_a = OpenLog(nats), log_b = OpenLog(nats);
  auto lease_a = OpenLease(nats), lease_b = OpenLease(nats);
  REQUIRE(AcquireWithin10s(*lease_a, "127.0.0.1:7401"));
  bool taken = true;
  REQUIRE(lease_b->TryAcquire("127.0.0.1:7402", &taken).ok());
  CHECK_FALSE(taken);
  CHECK(lease_b->Holder() == "127.0.0.1:7401");
  replica::ClusterSink a(*log_a, *lease_a), b(*log_b, *lease_b);
  Status s = b.Publish(VaultGroup("b0"));  // a standby refuses, naming the holder
  CHECK(s.code() == Code::kNotWriter);
  CHECK(FailoverClient::NamedWriter(s.message()) == "127.0.0.1:7401");
  a.StartWriting();
  REQUIRE(lease_a->Renew().ok());
  REQUIRE(a.Publish(VaultGroup("a1")).ok());

  // A pauses past the TTL (no renewal); B takes the lease, reads the end
  // of the stream and writes.
  std::this_thread::sleep_for(std::chrono::milliseconds(kTtlMs * 2));
  CHECK_FALSE(lease_a->Valid());
  REQUIRE(AcquireWithin10s(*lease_b, "127.0.0.1:7402"));
  replica::NatsLogState st;
  REQUIRE(log_b->Refresh(&st).ok());
  b.StartWriting();
  REQUIRE(b.Publish(VaultGroup("b1")).ok());

  SECTION("the stale writer's own clock stops it before it publishes") {
    s = a.Publish(VaultGroup("a2"));
    CHECK(s.code() == Code::kNotWriter);
    CHECK_FALSE(a.writing());
    CHECK(lease_a->Renew().code() == Code::kNotWriter);  // the key has another revision now
  }
  SECTION("past its clock, the stream's last sequence fences it") {
    s = log_a->Publish(VaultGroup("a2"));
    CHECK(s.code() == Code::kNotWriter);
    CHECK(log_a->fenced());
  }
  REQUIRE(b.Publish(VaultGroup("b2")).ok());
  replica::NatsLogState end;
  REQUIRE(log_b->Refresh(&end).ok());
  CHECK(end.last_stream_seq == st.last_stream_seq + 2);  // b1 and b2; nothing of A's after the take-over
}

TEST_CASE("failover: two writers that both saw the stream empty do not both append", "[replication][failover]") {
  test::NatsCluster nats;
  if (!nats.available()) {
    WARN("SKIPPED: " << nats.skip_reason());
    return;
  }
  REQUIRE(nats.WaitMetaLeader());
  auto first = OpenLog(nats), second = OpenLog(nats);
  REQUIRE(first->Publish(VaultGroup("first")).ok());
  Status s = second->Publish(VaultGroup("second"));
  CHECK(s.code() == Code::kNotWriter);
  CHECK(second->fenced());
  replica::NatsLogState st;
  REQUIRE(first->Refresh(&st).ok());
  CHECK(st.last_stream_seq == 1);
  REQUIRE(first->Publish(VaultGroup("next")).ok());
}

// A write, not a renewal, is what finds another writer's group in the log:
// the copy must stop for good (its follower is stopped, so it can never
// catch up again) and let its key expire for a standby, not compete for it.
TEST_CASE("failover: a writer fenced by a write lets its lease go and names the next holder",
          "[replication][failover]") {
  test::NatsCluster nats;
  if (!nats.available()) {
    WARN("SKIPPED: " << nats.skip_reason());
    return;
  }
  REQUIRE(nats.WaitMetaLeader());
  test::TempDir dir;
  replica::DaemonReplica ra;
  auto a = test::OpenCopy(dir.Sub("a"), dir.Sub("keys"), ra, {.cluster = nats.urls(), .lease_ttl_ms = kTtlMs,
                                                               .node_name = "a"});
  Status s;
  RegisterResult r;
  // Until the copy takes the lease and publishes the first policy (WaitFor
  // asks once more after the last try, so a success is kept, not repeated).
  bool wrote = false;
  test::WaitFor([&] { return wrote = wrote || (s = a->Register(test::Reg("first@example.org"), &r)).ok(); });
  INFO(s.ToString());
  REQUIRE(wrote);

  // Another publisher slips a group into the log behind the writer's back.
  auto intruder = OpenLog(nats);
  replica::NatsLogState st;
  bool slipped = false;
  test::WaitFor([&] { return slipped = slipped || (intruder->Refresh(&st).ok() && intruder->Publish(VaultGroup("x")).ok()); });
  REQUIRE(slipped);
  s = a->Register(test::Reg("second@example.org"), &r);
  CHECK(s.code() == Code::kNotWriter);

  auto next = OpenLease(nats);
  REQUIRE(AcquireWithin10s(*next, "127.0.0.1:7402"));  // A let its key go and did not take it back
  CHECK(test::WaitFor([&] {
    s = a->Register(test::Reg("third@example.org"), &r);  // refused each time: repeating it is harmless
    return s.code() == Code::kNotWriter && FailoverClient::NamedWriter(s.message()) == "127.0.0.1:7402";
  }));
  INFO(s.ToString());
  CHECK(s.message().find("lost the writer lease") != std::string::npos);
  ra.Stop();
}

namespace {

// A listening socket nobody accepts from: connects succeed (the kernel's
// backlog) and nothing is ever answered, as with a paused server.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    address_ = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  }
  ~SilentListener() { ::close(fd_); }
  const std::string& address() const { return address_; }

 private:
  int fd_ = -1;
  std::string address_;
};

}  // namespace

namespace {

// Accepts one connection, answers its Hello (writer role), then never reads
// again: the socket buffers fill and the client's writes block.
class DeafAfterHello {
 public:
  DeafAfterHello() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0);
    REQUIRE(::listen(fd_, 1) == 0);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    address_ = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    thread_ = std::thread([this] { Serve(); });
  }
  ~DeafAfterHello() {
    ::shutdown(fd_, SHUT_RDWR);  // ends a pending accept
    thread_.join();
    if (conn_ >= 0) ::close(conn_);
    ::close(fd_);
  }
  const std::string& address() const { return address_; }

 private:
  bool ReadAll(void* p, size_t n) {
    auto* c = static_cast<char*>(p);
    while (n > 0) {
      const ssize_t r = ::read(conn_, c, n);
      if (r <= 0) return false;
      c += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  // On its own thread: no Catch2 assertions here; a failure shows as the
  // client's Connect failing.
  void Serve() {
    conn_ = ::accept(fd_, nullptr, nullptr);
    if (conn_ < 0) return;
    uint8_t header[wire::kFrameHeaderBytes];
    if (!ReadAll(header, sizeof header)) return;
    std::string body(wire::DecodeLength(header), '\0');
    const wire::Request* req = nullptr;
    if (!ReadAll(body.data(), body.size()) || !wire::ParseRequest(body, &req).ok()) return;
    wire::ResponseFields f;
    f.role = wire::Role::Writer;
    const std::string reply = wire::ResponseFrame(req->correlation_id(), Status::OK(), f);
    if (::write(conn_, reply.data(), reply.size()) != static_cast<ssize_t>(reply.size())) return;
  }

  int fd_ = -1, conn_ = -1;
  std::string address_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("client: a server that stops reading cannot hold a send past the timeout", "[failover][client]") {
  DeafAfterHello deaf;
  std::unique_ptr<Client> c;
  Status s = Client::Connect(deaf.address(), test::kWriterToken, ClientTlsOptions(), &c, wire::kFrameBytesMaxDefault, 300);
  INFO(s.ToString());
  REQUIRE(s.ok());
  REQUIRE(c->role() == wire::Role::Writer);
  // Loopback socket buffers take a few MiB; 256 MiB unread cannot all fit.
  const std::string chunk(1 << 20, 'x');
  const auto t0 = Clock::now();
  size_t sent_bytes = 0;
  while (s.ok() && sent_bytes < (size_t{256} << 20)) {
    s = c->SendRaw(chunk);
    if (s.ok()) sent_bytes += chunk.size();
  }
  INFO(s.ToString() << " after " << sent_bytes << " bytes");
  CHECK(s.code() == Code::kIOError);
  CHECK(s.message().find("send: not taken within 300 ms") != std::string::npos);
  CHECK(Clock::now() - t0 < std::chrono::seconds(30));
  // The connection is of no further use, and says so without waiting.
  s = c->SendRaw("y");
  CHECK(s.code() == Code::kIOError);
  CHECK(s.message().find("closed after a timeout") != std::string::npos);
}

TEST_CASE("failover: a copy that accepts but never answers is left after the receive timeout", "[failover]") {
  SilentListener silent;
  SECTION("the plain client gives up and says so") {
    std::unique_ptr<Client> c;
    const auto t0 = Clock::now();
    Status s = Client::Connect(silent.address(), test::kWriterToken, ClientTlsOptions(), &c,
                               wire::kFrameBytesMaxDefault, 300);
    const auto waited = Clock::now() - t0;
    INFO(s.ToString());
    CHECK(s.code() == Code::kIOError);
    CHECK(s.message().find("no reply within 300 ms") != std::string::npos);
    CHECK(waited >= std::chrono::milliseconds(300));
    CHECK(waited < std::chrono::seconds(10));
  }
  SECTION("over TLS the handshake is given up on too") {
    test::TestPki pki;
    std::unique_ptr<Client> c;
    const auto t0 = Clock::now();
    Status s = Client::Connect(silent.address(), test::kWriterToken, pki.Client(false), &c,
                               wire::kFrameBytesMaxDefault, 300);
    INFO(s.ToString());
    CHECK(s.code() == Code::kIOError);
    CHECK(s.message().find("no reply within 300 ms") != std::string::npos);
    CHECK(Clock::now() - t0 < std::chrono::seconds(10));
  }
  SECTION("the failover client goes on to the next copy and writes there") {
    test::ServerFixture f;
    FailoverClient c({.addresses = {silent.address(), f.address()}, .token = test::kWriterToken,
                      .receive_timeout_ms = 300});
    Client::Reply r;
    Status s = c.Call(wire::Body::Register, test::RegisterBody("silent@example.org"), &r);
    INFO(s.ToString());
    REQUIRE(s.ok());
    CHECK(r.status.ok());
    CHECK(r.account_id != 0);
    CHECK(c.address() == f.address());
  }
}
