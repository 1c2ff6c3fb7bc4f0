// Server: the Accountable TCP service (Boost.Asio, C++20 coroutines).
//
// A few I/O threads read and write frames; a worker pool verifies frames and
// runs commands (Argon2id, sealing, the blocking Append), so the one ledger
// writer can group the appends of every connection into one fsync. A
// response is sent only after its command's fsync. Protocol: docs/protocol.md.
//
//   std::unique_ptr<Server> server;
//   Status s = Server::Start(options, accounts.get(), &server);
//   ...
//   server->Stop();       // stop accepting, finish in-flight commands, close
//
// Erasure is on time: a timer armed on the earliest pending deletion deadline
// (re-armed after every deletion request, cancel and sweep) runs the sweep
// when that deadline comes, besides the periodic sweep.
//
// Every resource has a limit (ServerOptions); a client that exceeds one gets
// a typed error and, where the stream can no longer be trusted, a close.
//
// Thread safety: Start/Stop from one thread; the server is internally synchronized.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/stats.h"
#include "projections/service/accounts.h"
#include "server/client/wire.h"

namespace accountable {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 7400;                      // 0: any free port (tests)
  size_t io_threads = 2;
  // Argon2id commands and blocking requests (reads, proofs, admin
  // commands) executing at once. More than the cores adds memory (64 MiB
  // per Argon2id at the production cost), not throughput.
  size_t worker_threads = 4;
  size_t connections_max = 1024;             // authenticated connections
  // Connections that have not completed Hello are counted apart, so they
  // never take an authenticated client's slot: in all and per source address.
  size_t unauthenticated_max = 256;
  size_t unauthenticated_per_address_max = 64;
  int64_t handshake_timeout_ms = 5'000;      // from accept to a successful Hello
  size_t hello_frame_bytes_max = 4096;       // frame limit before Hello succeeds
  size_t frame_bytes_max = wire::kFrameBytesMaxDefault;
  // Request bodies being read plus responses not yet written, all
  // connections: a request that would pass it closes its connection (code
  // 73), a large response is replaced by code 72.
  size_t buffer_bytes_max = 256 << 20;
  size_t response_bytes_max = 8 << 20;       // one response frame, a whole Batch's included
  size_t inflight_per_connection_max = 256;  // pipelined requests awaiting a response
  int64_t idle_timeout_ms = 300'000;         // no frame started for this long -> close
  int64_t frame_timeout_ms = 10'000;         // a started frame must complete within this
  uint64_t subscriber_lag_events_max = 100'000;
  // Per connection: responses queued or being built. Reading stops above it;
  // a large response that would pass it gets code 72.
  size_t out_queue_bytes_max = 8 << 20;
  int64_t sweep_interval_ms = 3'600'000;     // 0: no periodic sweep
  // Set to AccountsOptions::sign_interval_ms: when > 0, a timer signs the
  // log's tail that the commit path left unsigned. 0: no timer.
  int64_t sign_interval_ms = 0;
  // TLS (docs/operations.md, "TLS"): with a PEM certificate chain and its
  // PEM private key (mode 0600 or stricter) every connection is TLS 1.3 and
  // the handshake counts against handshake_timeout_ms. With a client CA as
  // well, a client certificate that chains to it is required (mutual TLS).
  std::string tls_cert_file, tls_key_file, tls_client_ca_file;
  // Without TLS only a loopback host is accepted, unless this is set.
  bool insecure_plaintext = false;
  // TokenDigest(token) -> role. Only digests: the server never holds a
  // token's plaintext beyond the Hello that presents it. Replaced while
  // running by Server::ReplaceTokens.
  std::map<std::string, wire::Role> token_digests;
};

// SHA-256 of a token: what ServerOptions::token_digests holds. Tokens are at
// least 16 random bytes, so an unkeyed digest reveals nothing useful.
// (server/daemon/daemon_tokens.cc, as LoadTokens.)
std::string TokenDigest(std::string_view token);

// Reads the token file (format: server/daemon/token_file.h; mode 0600 or
// stricter) into TokenDigest -> role, converting (and logging the count of)
// plaintext "TOKEN ROLE" lines as tokens::Load does.
Status LoadTokens(const std::string& path, std::map<std::string, wire::Role>* out);

// What a metrics scrape reads of the server (server/daemon/metrics.h).
struct ServerGauges {
  size_t connections = 0;                    // authenticated
  size_t unauthenticated = 0;                // accepted, Hello not yet done
  size_t subscribers = 0;
  uint64_t subscriber_lag_events_max = 0;    // the furthest-behind subscriber: events not yet sent
  bool accepting = false;                    // started and not stopping
};

class Server {
 public:
  static Status Start(const ServerOptions& options, Accounts* accounts, std::unique_ptr<Server>* out);
  virtual ~Server() = default;
  virtual uint16_t port() const = 0;
  // Wakes subscribers; wire it to AccountsOptions::on_commit.
  virtual void OnCommit(uint64_t last_seq) = 0;
  // Swaps in a new token set (SIGHUP). New Hellos see it at once; a
  // connection whose token it no longer holds (or holds with another role)
  // gets code 74 (token_revoked) on its next request and is closed; others
  // are untouched, and subscriptions on revoked connections end at once.
  // Returns how many old tokens the new set lacks or gives another role.
  virtual size_t ReplaceTokens(std::map<std::string, wire::Role> token_digests) = 0;
  // Reads the TLS certificate, key and client CA files again (SIGHUP), so a
  // renewed certificate needs no restart. New connections get the new
  // context; open ones keep the one they shook hands with. On any error the
  // old context stays in force. *reloaded: false for plain TCP (nothing done).
  virtual Status ReloadTls(bool* reloaded) = 0;
  // The role of a token in the current set (as ReplaceTokens left it), or
  // Role::None: for the HTTP listener's GET /report. Compared by digest in
  // constant time; the token is not kept. Any thread.
  virtual wire::Role TokenRole(std::string_view token) const = 0;
  // Any thread; takes the server's lock briefly (a scrape, not a hot path).
  virtual ServerGauges Gauges() = 0;
  // Time from a request's frame being read to its response being ready to
  // send (queued behind the connection's earlier responses), by operation;
  // nullptr past wire::Body::MAX. Any thread.
  virtual const AtomicHistogram* RequestLatency(wire::Body op) const = 0;
  // Stops accepting, lets in-flight commands finish and their responses go
  // out, then closes every connection. Returns once the ledger holds no
  // completion of this server's (it answers every command it queued), so
  // the server may be destroyed at once, provided whoever calls OnCommit
  // has stopped; the ledger may close after that. Not from a ledger
  // completion or the writer thread. Idempotent; a concurrent second call
  // returns at once.
  virtual void Stop() = 0;
};

}  // namespace accountable
