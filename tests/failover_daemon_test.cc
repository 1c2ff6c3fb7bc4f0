// Failover of accountabled processes (docs/replication.md, "Failover"):
// three copies with --cluster on a three-node NATS cluster, load from
// FailoverClients, the writer SIGKILLed (or paused past its lease) under
// it. Every acknowledged command must be on the new writer, applied once.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "server/client/failover_client.h"
#include "tests/daemon_process.h"
#include "tests/nats_cluster.h"
#include "tests/server_test_util.h"

using namespace accountable;
using Code = Status::Code;
using Clock = std::chrono::steady_clock;
using test::Daemon;

namespace {

constexpr int kCopies = 3;
constexpr int kLoadThreads = 3;
constexpr const char* kLeaseTtlMs = "2000";

std::string Said(const Daemon& d) {
  std::string all;
  for (const auto& l : d.lines()) all += l + "\n";
  return all;
}

// Three copies sharing one key dir (KEK, signing key and request secret
// must be the same on every copy: idempotency rows are keyed by it). The
// first starts alone, creates the keys and takes the lease.
class Cluster {
 public:
  explicit Cluster(const test::NatsCluster& nats) {
    test::WriteSecretFile(dir_.Sub("tokens"), std::string(test::kWriterToken) + " writer\n");
    for (int i = 0; i < kCopies; ++i) {
      nodes_.push_back(std::make_unique<Daemon>(Args(nats, i)));
      const uint16_t port = nodes_.back()->WaitListening();
      if (port == 0) nodes_.back()->Exit(SIGTERM);  // for its last lines
      INFO("copy " << i << " said: " << Said(*nodes_.back()));
      REQUIRE(port != 0);
      addresses_.push_back("127.0.0.1:" + std::to_string(port));
      if (i == 0) REQUIRE(nodes_[0]->WaitForLine("writing: this copy is the writer"));
    }
  }
  Daemon& node(int i) { return *nodes_.at(i); }
  const std::vector<std::string>& addresses() const { return addresses_; }
  FailoverOptions Options() const { return {.addresses = addresses_, .token = test::kWriterToken}; }

 private:
  std::vector<std::string> Args(const test::NatsCluster& nats, int i) {
    return {ACCOUNTABLE_SERVER, "--data", dir_.Sub(std::string("n") + std::to_string(i)), "--key-dir", dir_.Sub("keys"),
            "--token-file", dir_.Sub("tokens"), "--listen", "127.0.0.1:0", "--cluster", nats.urls(),
            "--lease-ttl-ms", kLeaseTtlMs, "--replicate-timeout-ms", "10000", "--argon2-ops", "1",
            "--argon2-mem-mib", "8", "--sweep-interval-s", "1"};
  }
  test::TempDir dir_;
  std::vector<std::unique_ptr<Daemon>> nodes_;
  std::vector<std::string> addresses_;
};

Status Register(FailoverClient& c, const std::string& email, Client::Reply* r) {
  return c.Call(wire::Body::Register, [&](flatbuffers::FlatBufferBuilder& b) {
    return wire::CreateRegisterDirect(b, "Nick", email.c_str(), "correct horse battery", "diverse", "1990-04-01",
                                      "192.0.2.10", "ua", "", "1.01").Union();
  }, r);
}

// Writers registering accounts through FailoverClients until stopped; what
// each acknowledged registration got, and every call that failed for good.
struct Load {
  std::mutex mu;
  std::map<uint64_t, int> acked;            // account id -> acknowledgements (under mu)
  std::vector<Clock::time_point> acked_at;  // under mu
  std::vector<std::string> errors;          // under mu
  uint64_t duplicates = 0;                  // under mu: retries answered with the original
  std::atomic<bool> stop{false};

  void Run(const FailoverOptions& o, int thread) {
    FailoverClient c(o);
    for (int i = 0; !stop.load(); ++i) {
      Client::Reply r;
      Status s = Register(c, "load" + std::to_string(thread) + "-" + std::to_string(i) + "@example.org", &r);
      std::lock_guard<std::mutex> l(mu);
      if (!s.ok() || !r.status.ok()) {
        errors.push_back(s.ok() ? r.status.ToString() : s.ToString());
        continue;
      }
      ++acked[r.account_id];
      acked_at.push_back(Clock::now());
      duplicates += r.duplicate;
    }
  }
  size_t Count() {
    std::lock_guard<std::mutex> l(mu);
    return acked_at.size();
  }
  // Up to 60 s for n acknowledgements in all.
  bool WaitFor(size_t n) {
    const auto until = Clock::now() + std::chrono::seconds(60);
    while (Count() < n && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return Count() >= n;
  }
};

// Every account id from 1 to past the highest acknowledged one, read on the
// writer c now talks to: present exactly when acknowledged (none lost,
// none applied twice under another id).
void CheckExactlyAcked(FailoverClient& c, const std::map<uint64_t, int>& acked) {
  REQUIRE(!acked.empty());
  uint64_t present = 0;
  for (uint64_t id = 1; id <= acked.rbegin()->first + 1; ++id) {
    Client::Reply r;
    REQUIRE(c.Call(wire::Body::GetAccount, [id](auto& b) { return wire::CreateGetAccount(b, id).Union(); }, &r).ok());
    const bool is_acked = acked.count(id) != 0;
    INFO("account " << id << ": " << r.status.ToString());
    CHECK(r.status.ok() == is_acked);
    present += r.status.ok();
  }
  CHECK(present == acked.size());
  for (auto& [id, n] : acked) CHECK(n == 1);  // two acknowledged registrations never share an account
}

}  // namespace

TEST_CASE("failover: SIGKILL of the writer under load loses no acknowledged command", "[replication][failover]") {
  test::NatsCluster nats;
  if (!nats.available()) {
    WARN("SKIPPED: " << nats.skip_reason());
    return;
  }
  REQUIRE(nats.WaitMetaLeader());
  Cluster cluster(nats);
  Load load;
  std::vector<std::thread> threads;
  for (int t = 0; t < kLoadThreads; ++t) threads.emplace_back([&, t] { load.Run(cluster.Options(), t); });
  REQUIRE(load.WaitFor(30));
  const size_t before = load.Count();
  const auto killed_at = Clock::now();
  ::kill(cluster.node(0).pid(), SIGKILL);
  REQUIRE(load.WaitFor(before + 60));
  load.stop.store(true);
  for (auto& t : threads) t.join();

  Clock::time_point first_after = Clock::time_point::max();
  for (auto at : load.acked_at)
    if (at > killed_at) first_after = std::min(first_after, at);
  const auto failover_ms = std::chrono::duration_cast<std::chrono::milliseconds>(first_after - killed_at).count();
  std::printf("failover: SIGKILL to the first acknowledged write after it: %lld ms (%zu acknowledged, %llu duplicates)\n",
              static_cast<long long>(failover_ms), load.acked_at.size(), static_cast<unsigned long long>(load.duplicates));
  INFO("errors: " << load.errors.size() << (load.errors.empty() ? "" : ", first: " + load.errors.front()));
  CHECK(load.errors.empty());
  CHECK((cluster.node(1).WaitForLine("writing: this copy is the writer") ||
         cluster.node(2).WaitForLine("writing: this copy is the writer")));

  // Writes go on; and this client now talks to the writer, so what it
  // reads is the writer's (a standby may lag).
  FailoverClient c(cluster.Options());
  Client::Reply r;
  REQUIRE(Register(c, "after@example.org", &r).ok());
  REQUIRE(r.status.ok());
  CHECK(c.address() != cluster.addresses()[0]);
  ++load.acked[r.account_id];
  CheckExactlyAcked(c, load.acked);
  // Every copy's sweep timer fired each second; a standby's is refused by
  // design (the writer sweeps), which is no error to report.
  for (int i = 1; i < kCopies; ++i) {
    cluster.node(i).Exit(SIGTERM);
    INFO("copy " << i << " said: " << Said(cluster.node(i)));
    CHECK(Said(cluster.node(i)).find("sweep failed") == std::string::npos);
  }
}

TEST_CASE("failover: a writer paused past its lease is fenced when it resumes", "[replication][failover]") {
  test::NatsCluster nats;
  if (!nats.available()) {
    WARN("SKIPPED: " << nats.skip_reason());
    return;
  }
  REQUIRE(nats.WaitMetaLeader());
  Cluster cluster(nats);
  ::kill(cluster.node(0).pid(), SIGSTOP);  // a stop the world pause, as a long GC or a frozen VM
  // Plain clients to the two others until one writes: a paused server
  // accepts connections but never answers.
  Client::Reply r;
  std::string new_writer;
  const auto until_writer = Clock::now() + std::chrono::seconds(30);
  for (int i = 0; new_writer.empty() && Clock::now() < until_writer; ++i) {
    const std::string a = cluster.addresses()[1 + i % 2];
    std::unique_ptr<Client> c;
    REQUIRE(Client::Connect(a, test::kWriterToken, &c).ok());
    REQUIRE(c->Call(wire::Body::Register, [i](flatbuffers::FlatBufferBuilder& b) {
      const std::string email = "during" + std::to_string(i) + "@example.org";
      return wire::CreateRegisterDirect(b, "Nick", email.c_str(), "correct horse battery", "diverse", "1990-04-01",
                                        "192.0.2.10", "ua", "", "1.01").Union();
    }, &r).ok());
    if (r.status.ok()) new_writer = a;
    else REQUIRE(r.status.code() == Code::kNotWriter);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(!new_writer.empty());  // a standby took over and acknowledged a write
  {
    // A failover client that starts at the paused copy leaves it after its
    // receive timeout and writes on the new writer.
    FailoverOptions o = cluster.Options();
    o.receive_timeout_ms = 500;
    FailoverClient fc(o);
    REQUIRE(fc.address() == cluster.addresses()[0]);
    REQUIRE(Register(fc, "past-the-pause@example.org", &r).ok());
    CHECK(r.status.ok());
    CHECK(fc.address() == new_writer);
  }
  ::kill(cluster.node(0).pid(), SIGCONT);

  std::unique_ptr<Client> stale;
  REQUIRE(Client::Connect(cluster.addresses()[0], test::kWriterToken, &stale).ok());
  REQUIRE(stale->Call(wire::Body::Register, [](flatbuffers::FlatBufferBuilder& b) {
    return wire::CreateRegisterDirect(b, "Nick", "stale@example.org", "correct horse battery", "diverse", "1990-04-01",
                                      "192.0.2.10", "ua", "", "1.01").Union();
  }, &r).ok());
  CHECK(r.status.code() == Code::kNotWriter);
  REQUIRE(cluster.node(0).WaitForLine("lost the writer lease"));
  // Once it has read the lease again its refusals name the new writer.
  const auto until = Clock::now() + std::chrono::seconds(10);
  std::string named;
  while (named != new_writer && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(stale->Call(wire::Body::Register, [](flatbuffers::FlatBufferBuilder& b) {
      return wire::CreateRegisterDirect(b, "Nick", "stale@example.org", "correct horse battery", "diverse",
                                        "1990-04-01", "192.0.2.10", "ua", "", "1.01").Union();
    }, &r).ok());
    REQUIRE(r.status.code() == Code::kNotWriter);
    named = FailoverClient::NamedWriter(r.status.message());
  }
  CHECK(named == new_writer);
}
