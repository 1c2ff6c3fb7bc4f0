// ConnectJetStream: the one way this folder connects to NATS, shared by the
// replicated log (nats_log.h) and the writer lease (lease.h): every URL of
// a comma-separated list, reconnecting forever, with a JetStream context
// whose requests wait timeout_ms.
//
//   natsConnection* nc = nullptr;  jsCtx* js = nullptr;
//   Status s = ConnectJetStream("nats://127.0.0.1:4222,nats://127.0.0.1:4223", 5000, "accountabled", &nc, &js);
//   ...  jsCtx_Destroy(js);  natsConnection_Destroy(nc);
//
// Thread safety: a function; the caller owns what it returns (both set
// only on OK) and destroys js before nc.
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <string>

#include "events/status.h"

namespace accountable::replica {

// InvalidArgument for no URL; IOError (saying which URLs) if NATS does not answer.
Status ConnectJetStream(const std::string& urls, int64_t timeout_ms, const char* name, natsConnection** nc,
                        jsCtx** js);

// "replicated log: WHAT: nats text (JetStream error N)" as an IOError.
Status NatsError(const std::string& what, natsStatus s, jsErrCode jerr = static_cast<jsErrCode>(0));

}  // namespace accountable::replica
