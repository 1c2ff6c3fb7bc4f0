// Dispatch: executes one verified wire Request against the Accounts service
// and returns the Response frame. Blocking (Argon2id, fsync): the server runs
// it on its worker pool, never on an I/O thread, and group commit batches
// the appends of all workers into one fsync.
//
//   std::string frame = Dispatch(accounts, wire::Role::Writer, request);
//
// Who may do what (docs/protocol.md, "Roles"):
//   writer  - lifecycle commands, GetAccount without PII, Stats
//   auditor - ReadLog, ReadStream, Subscribe, TreeHead, InclusionProof,
//             ConsistencyProof, GetAccount without PII, Stats
//   admin   - everything, incl. PublishPolicy, Export, Sweep, Inactive and PII
//
// Thread safety: thread-safe (Accounts is).
#pragma once

#include <string>

#include "projections/service/accounts.h"
#include "server/client/wire.h"

namespace accountable {

bool Allowed(wire::Role role, wire::Body op);
std::string Dispatch(Accounts& accounts, wire::Role role, const wire::Request* req);

}  // namespace accountable
