// bench_client: the event-driven load generator of accountable-bench. Not a
// library.
//
//   LoadConfig c;  ... c.connections = 64; c.depth = 8; c.threads = 2;
//   LoadStats st;
//   Status s = RunLoad(c, accounts, probe, &st);
//
// A thread per --threads, each running its own boost::asio::io_context with
// its share of the connections (like pgbench -j). Connections are opened
// (TLS 1.3 with c.tls) and authenticated (Hello) before the clock starts.
// Each connection keeps up to depth requests outstanding: it sends until
// depth are in flight and sends the next one on each reply. Frames queued while a write is in flight
// go out together in the next write, and every read takes as many frames as
// arrived, so one thread drives many connections with few system calls.
//
// With rate > 0 each connection sends at rate / connections requests/s on a
// fixed schedule (connections staggered), and at most depth outstanding; a
// request that could not go out on time because depth were outstanding goes
// out as soon as a reply frees a slot, still stamped with its scheduled time.
// Latency is measured from that intended send time to the reply, so a
// server that falls behind the schedule shows it in the percentiles
// (no coordinated omission). Unpaced, intended = actual send time.
//
// Only requests whose intended send time lies in [measure_from, stop) count.
// probe.at_measure_from / at_stop run on the calling thread at those
// instants, for CPU sampling over the same window.
//
// Thread safety: RunLoad is called from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "bench_mix.h"
#include "events/status.h"
#include "server/client/tls.h"

namespace accountable::bench {

using Clock = std::chrono::steady_clock;

struct LoadConfig {
  std::string server = "127.0.0.1:7400";  // HOST:PORT
  std::string token;
  ClientTlsOptions tls;                 // tls.ca_file set: every connection speaks TLS 1.3
  std::string mix = "cheap";
  std::string new_stem = "bench-new";  // auth mix: unique part of new accounts' names
  size_t connections = 16;
  size_t depth = 1;
  size_t threads = 1;
  double seconds = 10;
  double warmup = 1;
  double rate = 0;        // total requests/s; 0: as fast as replies allow
  double drain_s = 30;    // after stop, how long outstanding replies may take
  size_t latency_samples_max = size_t{64} << 20;  // per thread; beyond it, counted but not timed
};

struct LoadStats {
  uint64_t ok = 0, duplicates = 0;
  uint64_t registrations = 0;          // of ok: new accounts (auth mix)
  std::map<uint8_t, uint64_t> errors;  // code -> count
  std::vector<uint32_t> latency_us;    // sorted after RunLoad
  size_t failed_connections = 0;
  std::vector<std::string> failures;   // the first few, for stderr
};

struct LoadProbe {
  std::function<void()> at_measure_from, at_stop;
};

// IOError if a connection could not be opened or authenticated; otherwise
// OK, with failures during the run in out->failed_connections.
Status RunLoad(const LoadConfig& c, const std::vector<Account>& accounts, const LoadProbe& probe, LoadStats* out);

}  // namespace accountable::bench
