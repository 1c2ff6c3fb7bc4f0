// wire: frames and messages of the Accountable network protocol.
//
// A frame is a 4-byte little-endian length, then that many bytes holding one
// FlatBuffers Request or Response (schema/protocol.fbs, identifier "ACWP").
// Every frame is verified before any field is read. Full description, with
// every operation and code: docs/protocol.md.
//
//   std::string frame = wire::ResponseFrame(corr, Status::OK(), fields);
//   const wire::Request* req;
//   Status s = wire::ParseRequest(body, &req);    // Corruption if unverifiable
//
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "events/status.h"
#include "protocol_generated.h"

namespace accountable::wire {

inline constexpr size_t kFrameHeaderBytes = 4;
inline constexpr size_t kFrameBytesMaxDefault = 1 << 20;

// Response codes beyond Status::Code (0..11): protocol errors.
enum class ProtocolCode : uint8_t {
  kBadFrame = 64,           // the frame failed verification; connection closed
  kUnknownOperation = 65,   // a body type this server does not know
  kNotAuthenticated = 66,   // anything but Hello before a successful Hello
  kForbidden = 67,          // the role may not do this
  kTooManyInFlight = 68,    // pipelining limit reached; retry after a response
  kSubscriberTooSlow = 69,  // the subscriber fell too far behind; connection closed
  kShuttingDown = 70,       // the server is stopping; request not executed
  kFrameTooLarge = 71,      // length prefix above the limit; connection closed
  kResponseOverBudget = 72, // a response (or Batch result) over its budget; not sent
  kRequestOverBudget = 73,  // the server's buffer budget is used up; connection closed
  kTokenRevoked = 74,       // a token reload revoked this connection's token; connection closed
};

uint32_t DecodeLength(const uint8_t header[kFrameHeaderBytes]);
// Prepends the length to a finished FlatBuffers buffer.
std::string Frame(const uint8_t* data, size_t body_bytes);

Status ParseRequest(std::string_view body, const Request** out);
// The verifier accepts a union type without its table (and unknown types);
// every handler reads the table, so both count as unusable.
bool BodyUsable(const Request* r);
Status ParseResponse(std::string_view body, const Response** out);

struct ResponseFields {
  uint64_t seq = 0;
  uint64_t account_id = 0;
  bool duplicate = false;
  Role role = Role::None;
  std::string json;
  std::vector<std::pair<uint64_t, std::string>> events;  // seq, envelope bytes
  std::vector<std::string> results;  // Batch: Response buffers, without length prefix
};

// Requests in one Batch, at most.
inline constexpr size_t kBatchRequestsMax = 256;
// Events in one ReadLog / ReadStream response, at most; a larger limit is
// clamped, so clients that page through the log ask for this many.
inline constexpr uint32_t kReadEventsMax = 1024;

std::string ResponseFrame(uint64_t correlation_id, uint8_t code, std::string_view message,
                          const ResponseFields& f = {});
std::string ResponseFrame(uint64_t correlation_id, const Status& s, const ResponseFields& f = {});

std::string_view RoleName(Role r);
std::string_view BodyName(Body b);

}  // namespace accountable::wire
