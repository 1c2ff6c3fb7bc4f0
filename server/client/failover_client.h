// FailoverClient: the blocking client (client.h) over a replicated
// deployment (docs/replication.md "Failover", docs/protocol.md
// "not_writer"). Given every copy's address it sends each call to the
// writer it last found; on not_writer it reconnects to the writer the
// answer names (or, if none is named, to the next address), on a broken
// connection, a reply that does not come within receive_timeout_ms (a
// paused copy) or an io_error answer to the next address or the same one,
// and resends the SAME request id each time, so a command the old writer
// got into the replicated log is applied once and its retry gets the
// original answer (duplicate = true). Bounded by attempts_max and
// total_timeout_ms; the last error is returned when either runs out.
//
//   FailoverClient c({.addresses = {"127.0.0.1:7401", "127.0.0.1:7402", "127.0.0.1:7403"}, .token = t});
//   Client::Reply r;
//   Status s = c.Call(wire::Body::Register, body, &r);   // a random request id, kept across retries
//   // s: transport/budget; r.status: the server's answer
//
// Thread safety: one FailoverClient per thread (it owns one Client).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/client/client.h"

namespace accountable {

struct FailoverOptions {
  std::vector<std::string> addresses;  // HOST:PORT of every copy, at most kAddressesMax
  std::string token;
  ClientTlsOptions tls;
  int attempts_max = 400;              // sends of one call, first included
  int64_t total_timeout_ms = 30'000;   // one call, retries included
  int64_t retry_pause_ms = 50;         // before a retry that found no writer yet
  // Each read of a reply from one copy (Hello's and the TLS handshake's
  // too), capped by what is left of total_timeout_ms; 0: only that caps it.
  // A copy that accepts but does not answer (a paused writer) is left for
  // the next one after it. Keep it above the writer's
  // --replicate-timeout-ms: a Register resent while its first send is still
  // running there waits for it and gets its answer, but an email change
  // resent so is refused (it finds the new email reserved).
  int64_t receive_timeout_ms = 0;
  size_t frame_bytes_max = wire::kFrameBytesMaxDefault;
  static constexpr size_t kAddressesMax = 64;
};

class FailoverClient {
 public:
  explicit FailoverClient(FailoverOptions o);
  FailoverClient(const FailoverClient&) = delete;
  FailoverClient& operator=(const FailoverClient&) = delete;

  // Sends until an answer that is neither not_writer nor io_error comes
  // back (OK, and *out holds it), or the budget runs out (the last transport
  // error as an IOError, or OK with the last not_writer/io_error answer in
  // *out). request_id empty: a random one, the same for every attempt.
  Status Call(wire::Body type, const Client::BodyFn& body, Client::Reply* out, const std::string& request_id = "");
  // The address the last answer came from; empty before the first.
  const std::string& address() const { return address_; }
  // Reconnections so far (a switch of writer, or a reconnect after an error).
  uint64_t reconnects() const { return reconnects_; }

  // The HOST:PORT after "writer at " in a not_writer message; empty if none.
  static std::string NamedWriter(const std::string& message);

 private:
  Status Connect(const std::string& address, int64_t receive_timeout_ms);
  // receive_timeout_ms, capped by what is left until deadline (at least 1).
  int64_t ReceiveTimeoutMs(std::chrono::steady_clock::time_point deadline) const;
  // Where to go after a failed attempt; also drops the connection.
  void Next(const std::string& named);

  const FailoverOptions opt_;
  std::unique_ptr<Client> client_;
  std::string address_;       // client_'s, or the one to try next
  size_t next_index_ = 0;     // into opt_.addresses, for a switch with no writer named
  uint64_t reconnects_ = 0;
};

// 32 hex digits from the OS's random source: a request id for a call that
// must keep its id across retries.
std::string RandomRequestId();

}  // namespace accountable
