// fuzz-request: the server's request path without sockets. The bytes are one
// frame body as Session hands it to the worker pool: verified by
// wire::ParseRequest, then (as ServerImpl::Decide does) Hello answered or
// the body dispatched against a real Accounts service, with a role taken
// from the correlation id so that every role's checks run. What must hold:
// no crash or sanitizer report, the response verifies as a Response with the
// request's correlation id, and the buffer budgets balance to zero.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "server/client/wire.h"
#include "server/daemon/dispatch.h"
#include "tests/fuzz/fuzz_env.h"

namespace {

using namespace accountable;

void Require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz-request: %s\n", what);
  std::abort();
}

void CheckResponse(const std::string& frame, uint64_t corr) {
  Require(frame.size() >= wire::kFrameHeaderBytes, "response shorter than its header");
  Require(wire::DecodeLength(reinterpret_cast<const uint8_t*>(frame.data())) ==
              frame.size() - wire::kFrameHeaderBytes,
          "response length prefix does not match");
  // A copy: std::string storage is aligned, a substring view need not be.
  const std::string body = frame.substr(wire::kFrameHeaderBytes);
  const wire::Response* resp = nullptr;
  Require(wire::ParseResponse(body, &resp).ok(), "response fails verification");
  Require(resp->correlation_id() == corr, "response correlation id differs");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > wire::kFrameBytesMaxDefault) return -1;
  static fuzz::FuzzEnv& env = fuzz::Env();
  const std::string body(reinterpret_cast<const char*>(data), size);
  const wire::Request* req = nullptr;
  if (!wire::ParseRequest(body, &req).ok()) return 0;
  if (req->body_type() == wire::Body::Hello) {
    const auto* h = req->body_as_Hello();
    (void)(h->token() ? h->token()->string_view().size() : 0);
    return 0;
  }
  if (!wire::BodyUsable(req)) return 0;
  static constexpr wire::Role kRoles[] = {wire::Role::Writer, wire::Role::Auditor, wire::Role::Admin};
  const wire::Role role = kRoles[req->correlation_id() % 3];
  MemoryBudget server(64 << 20), connection(8 << 20);
  ResponseBudget budget{8 << 20, &server, &connection};
  const std::string frame = Dispatch(env.accounts(), role, req, &budget);
  CheckResponse(frame, req->correlation_id());
  Require(budget.charged == frame.size(), "the response is not charged exactly once");
  budget.Release(frame.size());
  Require(server.used() == 0 && connection.used() == 0, "budgets do not balance");
  return 0;
}
