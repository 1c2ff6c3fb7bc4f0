// ConnectJetStream: the one way this folder connects to NATS, shared by the
// replicated log (nats_log.h), the writer lease (lease.h) and the copies'
// erasure verifications (verification.h): every URL of a comma-separated
// list, reconnecting forever, with a JetStream context whose requests wait
// timeout_ms; and the one way they create a stream.
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
#include <functional>
#include <string>

#include "events/status.h"

namespace accountable::replica {

// InvalidArgument for no URL; IOError (saying which URLs) if NATS does not answer.
Status ConnectJetStream(const std::string& urls, int64_t timeout_ms, const char* name, natsConnection** nc,
                        jsCtx** js);

// What a stream of ours is: file storage, one subject pattern, retention
// by age; msg_bytes_max 0 leaves the servers' limit.
struct FileStreamConfig {
  std::string name;
  std::string subjects;        // e.g. "accountable.*"
  int64_t replicas = 3;
  int64_t max_age_ms = 0;
  int64_t msg_bytes_max = 0;
};

// Calls attempt (which sets *jerr where its call gives one) again while
// the cluster answers what it answers only as it starts: nothing yet (it
// elects its metadata leader first, 0.3-3 s here), or too few JetStream
// peers known to place three replicas (10005). Up to 30 s, then the last
// status.
natsStatus WhileClusterStarts(const std::function<natsStatus(jsErrCode*)>& attempt, jsErrCode* jerr);

// js_GetStreamInfo under WhileClusterStarts.
natsStatus StreamInfoWaiting(jsCtx* js, const std::string& name, jsStreamInfo** si, jsErrCode* jerr);

// The stream's info, after creating it as c says if it does not exist (an
// existing one is used as it is; both under WhileClusterStarts). On OK the
// caller destroys *si; IOError saying what failed otherwise.
Status EnsureFileStream(jsCtx* js, const FileStreamConfig& c, jsStreamInfo** si);

// "replicated log: WHAT: nats text (JetStream error N)" as an IOError.
Status NatsError(const std::string& what, natsStatus s, jsErrCode jerr = static_cast<jsErrCode>(0));

}  // namespace accountable::replica
