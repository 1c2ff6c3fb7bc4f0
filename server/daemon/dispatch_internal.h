// Internal to server/daemon/dispatch*.cc: the wire-to-service conversions
// both the blocking dispatch (dispatch.cc) and the asynchronous commands
// (commands.cc) use. The contract is dispatch.h.
#pragma once

#include <string>

#include "projections/service/accounts.h"
#include "server/client/wire.h"

namespace accountable::dispatch_internal {

// A request's idempotency key with the actor its handler names: the body
// type, not the client, decides who acts.
Context ContextOf(const wire::Request* r, fb::Actor actor = fb::Actor::Holder);
// The answer to a command: the receipt of the one event it appended.
std::string ReceiptFrame(uint64_t corr, const Status& s, uint64_t account, const Receipt& r);
ProfileChange ProfileChangeOf(const wire::Update* b);
std::string ForbiddenFrame(wire::Role role, const wire::Request* r);

// The asynchronous commands (route kInline or kHashing): runs r and calls
// reply once, at once for a refusal, else after the append's fsync.
// Precondition: role is allowed r's body.
void StartCommand(Accounts& a, wire::Role role, const wire::Request* r, const std::function<void(std::string)>& reply);

// Backup (dispatch_backup.cc): blocking, admin only.
std::string HandleBackup(Accounts& a, const wire::Request* r);

}  // namespace accountable::dispatch_internal
