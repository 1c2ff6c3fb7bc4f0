// Client: a blocking C++ client for the Accountable protocol (docs/protocol.md).
// Used by the CLI's remote mode, the tests and accountable-bench.
//
//   std::unique_ptr<Client> c;
//   Status s = Client::Connect("127.0.0.1:7400", token, &c);   // Hello included
//   Client::Reply r;
//   s = c->Call(wire::Body::GetAccount, [&](auto& fbb) {
//         return wire::CreateGetAccount(fbb, 42).Union(); }, &r);
//   // r.status, r.json, r.seq ...
//
// Pipelining: Send() several requests, then Receive() their replies in any
// order and match them by correlation id.
//
// Thread safety: one Client per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "events/status.h"
#include "server/client/tls.h"
#include "server/client/wire.h"

namespace accountable {

class Client {
 public:
  struct Reply {
    uint64_t correlation_id = 0;
    uint8_t code = 0;
    Status status;                 // code mapped back; protocol codes become IOError/AuthFailed
    uint64_t seq = 0, account_id = 0;
    bool duplicate = false;
    wire::Role role = wire::Role::None;
    std::string json;
    std::vector<std::pair<uint64_t, std::string>> events;
    std::vector<std::string> results;  // Batch: Response buffers; read each with wire::ParseResponse
  };
  using BodyFn = std::function<flatbuffers::Offset<void>(flatbuffers::FlatBufferBuilder&)>;

  // Connects and authenticates; AuthFailed for an unknown token.
  static Status Connect(const std::string& host_port, const std::string& token, std::unique_ptr<Client>* out,
                        size_t frame_bytes_max = wire::kFrameBytesMaxDefault);
  // The same over TLS 1.3 when tls.enabled() (server/client/tls.h); an
  // IOError that says why for a refused certificate on either side.
  // receive_timeout_ms: see SetReceiveTimeout; it covers Hello's reply too.
  static Status Connect(const std::string& host_port, const std::string& token, const ClientTlsOptions& tls,
                        std::unique_ptr<Client>* out, size_t frame_bytes_max = wire::kFrameBytesMaxDefault,
                        int64_t receive_timeout_ms = 0);
  virtual ~Client() = default;

  virtual Status Send(wire::Body type, const BodyFn& body, uint64_t* correlation_id,
                      const std::string& request_id = "") = 0;
  virtual Status Receive(Reply* out) = 0;
  // Send, then receive until the reply with this correlation id arrives.
  virtual Status Call(wire::Body type, const BodyFn& body, Reply* out, const std::string& request_id = "") = 0;
  virtual wire::Role role() const = 0;
  // Each read of a reply (its header, then its body) waits at most
  // timeout_ms; 0, the default, waits for ever. Past it, Receive and Call
  // answer IOError and the connection is closed, since a reply that came
  // later would pair with nothing: a server that accepts but is paused
  // (stopped, frozen) cannot hold a caller. Each send is bounded by the
  // same timeout (IOError "send: not taken within ..."), since a server
  // that stops reading fills the socket buffers and a write then waits.
  virtual void SetReceiveTimeout(int64_t timeout_ms) = 0;
  // Raw bytes, for protocol tests that must send malformed frames.
  virtual Status SendRaw(std::string_view bytes) = 0;
};

// Maps a response code to a Status (0..11 are Status codes; protocol codes
// 64+ become IOError with their message, except kNotAuthenticated and
// kTokenRevoked, which become AuthFailed, and kForbidden, Refused).
Status StatusFromCode(uint8_t code, std::string message);

}  // namespace accountable
