// Copies of a replicated ledger for the replication tests: an Accounts over
// a data directory with the shared key directory (followers need the
// writer's KEK), opened with a DaemonReplica, and polling helpers.
//
//   test::NatsCluster nats;  ...
//   replica::DaemonReplica wr;
//   auto writer = test::OpenCopy(dir.Sub("w"), dir.Sub("keys"), wr, {.replicate = nats.urls(), .node_name = "w"});
//   REQUIRE(test::WaitFor([&] { return writer->ledger().LastSeq() >= 3; }));
//
// Not thread-safe; one test owns what it opens. The DaemonReplica must be
// stopped (or destroyed) before its Accounts.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/merkle.h"
#include "server/replica/daemon_replica.h"
#include "tests/accounts_fixture.h"

namespace accountable::test {

inline constexpr const char* kCopyWriterAddress = "127.0.0.1:7400";

// on_stop: what a follower's stop reports; default fails the test.
inline std::unique_ptr<Accounts> OpenCopy(const std::string& data, const std::string& keys, replica::DaemonReplica& r,
                                          replica::ReplicaFlags flags, std::function<void(Status)> on_stop = {}) {
  AccountsOptions o;
  o.data_dir = data;
  o.key_dir = keys;
  o.password_cost = {1, 8u << 20};
  flags.timeout_ms = 10000;
  Status s = r.Open(flags, &o);
  INFO(s.ToString());
  REQUIRE(s.ok());
  std::unique_ptr<Accounts> a;
  s = Accounts::Open(o, &a);
  INFO(s.ToString());
  REQUIRE(s.ok());
  if (!on_stop) on_stop = [](Status e) { FAIL_CHECK("follower stopped: " << e.ToString()); };
  s = r.Start(*a, kCopyWriterAddress, std::move(on_stop));
  INFO(s.ToString());
  REQUIRE(s.ok());
  return a;
}

inline std::string RootOf(Ledger& l, uint64_t size) {
  std::string root;
  Status s = merkle::RootAt(merkle::LedgerNodes(l), size, &root);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return root;
}

inline uint64_t RegisterAccount(Accounts& a, const std::string& email) {
  RegisterResult r;
  Status s = a.Register(Reg(email), &r);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return r.account_id;
}

}  // namespace accountable::test
