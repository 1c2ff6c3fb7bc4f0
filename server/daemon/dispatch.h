// Dispatch: executes one verified wire Request against the Accounts service
// and produces its Response frame, in one of two ways chosen by RouteOf:
//
//   if (RouteOf(request) == Route::kBlocking) {      // on a worker thread
//     ResponseBudget budget{opt.response_bytes_max, &server_budget, &connection_budget};
//     std::string frame = Dispatch(accounts, wire::Role::Writer, request, &budget);
//     ...  // once written: Release(frame.size()) on both budgets
//   } else {                                         // kInline: on the I/O thread
//     DispatchAsync(accounts, role, request, [](std::string frame) { ... });
//   }
//
// A command that appends one event never holds a thread while its group
// commits: DispatchAsync returns once the event is queued, and its reply
// runs on the ledger's writer thread after the fsync (Accounts' Done forms).
//
// Who may do what (docs/protocol.md, "Roles"):
//   writer  - lifecycle commands, GetAccount without PII, Stats
//   auditor - ReadLog, ReadStream, Subscribe, TreeHead, InclusionProof,
//             ConsistencyProof, GetAccount without PII, Stats
//   admin   - everything, incl. PublishPolicy, Export, Sweep, Inactive and PII
//
// Thread safety: thread-safe (Accounts is). Dispatch blocks (Argon2id,
// fsync); DispatchAsync blocks only for a kHashing request's Argon2id.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "projections/service/accounts.h"
#include "server/client/wire.h"

namespace accountable {

// Bytes of buffers held, with a ceiling: a charge that would pass it fails
// instead of growing. Thread-safe.
class MemoryBudget {
 public:
  explicit MemoryBudget(size_t bytes_max) : bytes_max_(bytes_max) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;
  // Charges n bytes unless that would pass the ceiling; then charges nothing.
  bool TryCharge(size_t n);
  // Charges even past the ceiling: for small frames that must go out.
  void Charge(size_t n) { used_ += n; }
  void Release(size_t n) { used_ -= n; }
  size_t used() const { return used_.load(); }

 private:
  const size_t bytes_max_;
  std::atomic<size_t> used_{0};
};

// A response up to this size is always kept, charged even past a budget:
// receipts and errors are this small, so a command that ran is always
// acknowledged, and only large read results can be refused.
inline constexpr size_t kSmallResponseBytes = 4096;

// What one response may take: at most frame_bytes_max bytes, charged to the
// server's and the connection's budgets while it is built.
struct ResponseBudget {
  size_t frame_bytes_max;
  MemoryBudget* server;
  MemoryBudget* connection;
  size_t charged = 0;  // on both budgets so far
  void Charge(size_t n);
  void Release(size_t n);
};

bool Allowed(wire::Role role, wire::Body op);

// Where a request runs:
//   kInline   - checks, a state read or two, sealing, then an asynchronous
//               append: tens of microseconds, so the I/O thread runs it;
//   kHashing  - Argon2id first (Register, Login, ChangePassword), then an
//               asynchronous append: the worker pool, never an I/O thread;
//   kBlocking - reads, proofs, admin commands, Batch, an update that
//               changes the email: Dispatch on the worker pool.
enum class Route { kInline, kHashing, kBlocking };
Route RouteOf(const wire::Request* req);

// Called exactly once with a response frame; must not block (it may run on
// the ledger's writer thread).
using Reply = std::function<void(std::string frame)>;
// Runs a request whose route is kInline or kHashing: reply gets its frame
// before DispatchAsync returns if it is refused (role, input, state), else on
// the writer thread once its event is durable. The frame is a receipt or
// an error, under kSmallResponseBytes, and charged to no budget.
// Precondition: RouteOf(req) != kBlocking; req stays valid until this returns.
void DispatchAsync(Accounts& accounts, wire::Role role, const wire::Request* req, const Reply& reply);
// On return the frame's size is charged to both of budget's budgets. A
// result that does not fit is answered with code 72 instead; inside a Batch,
// each such result, the others are kept.
std::string Dispatch(Accounts& accounts, wire::Role role, const wire::Request* req, ResponseBudget* budget);

}  // namespace accountable
