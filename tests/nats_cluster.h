// Three nats-server processes with JetStream on loopback, clustered, for the
// replication tests: a temp dir holds each node's config and store, the
// ports are free ones below the ephemeral range picked at start, and the processes are SIGKILLed when
// the fixture goes out of scope.
//
//   test::NatsCluster nats;
//   if (!nats.available()) { WARN("SKIPPED: " << nats.skip_reason()); return; }
//   REQUIRE(nats.WaitMetaLeader());
//   std::string urls = nats.urls();   // "nats://127.0.0.1:P1,nats://127.0.0.1:P2,..."
//
// Not thread-safe; one test owns it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <nats/nats.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/daemon_process.h"
#include "tests/test_util.h"

namespace accountable::test {

inline constexpr const char* kNatsServerPath = "/usr/sbin/nats-server";

// The first port the kernel hands out for bind(0) (ip_local_port_range).
inline uint16_t EphemeralPortsFirst() {
  std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned first = 32768;  // Linux's default, if the file cannot be read
  f >> first;
  return static_cast<uint16_t>(first);
}

// A free loopback port below the ephemeral range. nats-server needs its ports
// before it starts (each node's config names the others' route ports), so
// a port is picked, released and bound again later; below the ephemeral
// range no other test's bind(0) or outgoing connection can take it in
// between, and random picks keep two clusters of parallel tests apart.
inline uint16_t FreeLoopbackPort() {
  constexpr uint16_t kLowest = 10000;
  const uint16_t first = EphemeralPortsFirst();
  REQUIRE(first > kLowest + 1000);
  static std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto port = static_cast<uint16_t>(kLowest + rng() % (first - kLowest));
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (free) return port;
  }
  FAIL("no free loopback port below " << first << " in 200 tries");
  return 0;
}

class NatsCluster {
 public:
  static constexpr int kNodes = 3;

  NatsCluster() : dir_("accountable-nats") {
    if (!std::filesystem::exists(kNatsServerPath)) return;
    available_ = true;
    for (int i = 0; i < kNodes; ++i) {
      client_ports_.push_back(UnusedPort());
      route_ports_.push_back(UnusedPort());
    }
    for (int i = 0; i < kNodes; ++i) Start(i);
  }
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  bool available() const { return available_; }
  std::string skip_reason() const {
    return std::string(kNatsServerPath) + " is missing: install nats-server (Makefile DEBS) to run replication tests";
  }
  std::string url(int node) const { return "nats://127.0.0.1:" + std::to_string(client_ports_.at(node)); }
  std::string urls() const {
    std::string all;
    for (int i = 0; i < kNodes; ++i) {
      if (i) all += ',';
      all += url(i);  // appended: GCC 12 -Wrestrict misfires on string operator+ here
    }
    return all;
  }

  // Up to 30 s for JetStream to answer an account-info request, which it
  // does only once the cluster has elected its meta leader.
  bool WaitMetaLeader() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (JetStreamAnswers()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

 private:
  // Free, and not one this cluster picked already (it is not bound yet).
  uint16_t UnusedPort() const {
    for (;;) {
      const uint16_t p = FreeLoopbackPort();
      if (std::count(client_ports_.begin(), client_ports_.end(), p) == 0 &&
          std::count(route_ports_.begin(), route_ports_.end(), p) == 0)
        return p;
    }
  }

  void Start(int i) {
    std::string name = "n";
    name += std::to_string(i);  // appended: GCC 12 -Wrestrict misfires on string operator+ here
    const std::string conf = dir_.Sub(name + ".conf");
    std::ofstream f(conf);
    f << "server_name: " << name << "\nlisten: 127.0.0.1:" << client_ports_[i] << "\n"
      << "jetstream { store_dir: \"" << dir_.Sub(name) << "\" }\n"
      << "cluster { name: accountable\n  listen: 127.0.0.1:" << route_ports_[i] << "\n  routes: [";
    bool first = true;
    for (int j = 0; j < kNodes; ++j) {
      if (j == i) continue;
      f << (first ? " " : ", ") << "nats://127.0.0.1:" << route_ports_[j];
      first = false;
    }
    f << " ]\n}\n";
    f.close();
    nodes_.push_back(std::make_unique<Daemon>(std::vector<std::string>{kNatsServerPath, "-c", conf}));
  }

  bool JetStreamAnswers() const {
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;
    jsAccountInfo* info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    bool ok = natsConnection_ConnectTo(&nc, url(0).c_str()) == NATS_OK && natsConnection_JetStream(&js, nc, nullptr) == NATS_OK &&
              js_GetAccountInfo(&info, js, nullptr, &jerr) == NATS_OK;
    if (info) jsAccountInfo_Destroy(info);
    if (js) jsCtx_Destroy(js);
    if (nc) natsConnection_Destroy(nc);
    return ok;
  }

  TempDir dir_;
  bool available_ = false;
  std::vector<uint16_t> client_ports_, route_ports_;
  std::vector<std::unique_ptr<Daemon>> nodes_;
};

}  // namespace accountable::test
