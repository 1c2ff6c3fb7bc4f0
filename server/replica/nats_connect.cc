#include "server/replica/nats_connect.h"

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

namespace accountable::replica {

namespace {
constexpr size_t kUrlsMax = 16;
// A cluster that has just started answers JetStream requests only once it
// has elected a metadata leader: a copy started with it waits this long for
// the first answer instead of failing at once.
constexpr int64_t kClusterStartWaitMs = 30'000;
constexpr int64_t kClusterRetryMs = 250;
}  // namespace

Status NatsError(const std::string& what, natsStatus s, jsErrCode jerr) {
  std::string m = "replicated log: " + what + ": " + natsStatus_GetText(s);
  if (jerr != 0) m += " (JetStream error " + std::to_string(static_cast<int>(jerr)) + ")";
  return Status::IOError(m);
}

Status ConnectJetStream(const std::string& url_list, int64_t timeout_ms, const char* name, natsConnection** nc_out,
                        jsCtx** js_out) {
  std::vector<std::string> urls;
  size_t start = 0;
  while (start <= url_list.size() && urls.size() < kUrlsMax) {
    size_t comma = url_list.find(',', start);
    if (comma == std::string::npos) comma = url_list.size();
    if (comma > start) urls.push_back(url_list.substr(start, comma - start));
    start = comma + 1;
  }
  if (urls.empty()) return Status::InvalidArgument("replicated log: no NATS URL given");
  std::vector<const char*> raw;
  for (auto& u : urls) raw.push_back(u.c_str());
  natsOptions* o = nullptr;
  natsConnection* nc = nullptr;
  natsStatus s = natsOptions_Create(&o);
  if (s == NATS_OK) s = natsOptions_SetServers(o, raw.data(), static_cast<int>(raw.size()));
  if (s == NATS_OK) s = natsOptions_SetTimeout(o, timeout_ms);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, -1);
  if (s == NATS_OK) s = natsOptions_SetName(o, name);
  if (s == NATS_OK) s = natsConnection_Connect(&nc, o);
  natsOptions_Destroy(o);
  if (s != NATS_OK) return NatsError("connect to " + url_list, s);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = timeout_ms;
  jsCtx* js = nullptr;
  s = natsConnection_JetStream(&js, nc, &jo);
  if (s != NATS_OK) {
    natsConnection_Destroy(nc);
    return NatsError("JetStream context", s);
  }
  *nc_out = nc;
  *js_out = js;
  return Status::OK();
}

namespace {

bool ClusterStarting(natsStatus s, jsErrCode jerr) {
  if (s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS || jerr == JSClusterNoPeersErr) return true;
  // Calls that give no JetStream code (js_CreateKeyValue) say 10005 only in
  // the error's text.
  const char* text = s == NATS_ERR && jerr == 0 ? nats_GetLastError(nullptr) : nullptr;
  return text != nullptr && std::strstr(text, "no suitable peers") != nullptr;
}

}  // namespace

natsStatus WhileClusterStarts(const std::function<natsStatus(jsErrCode*)>& attempt, jsErrCode* jerr) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kClusterStartWaitMs);
  for (;;) {
    *jerr = static_cast<jsErrCode>(0);
    const natsStatus s = attempt(jerr);
    if (!ClusterStarting(s, *jerr) || std::chrono::steady_clock::now() >= until) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(kClusterRetryMs));
  }
}

natsStatus StreamInfoWaiting(jsCtx* js, const std::string& name, jsStreamInfo** si, jsErrCode* jerr) {
  return WhileClusterStarts([&](jsErrCode* e) { return js_GetStreamInfo(si, js, name.c_str(), nullptr, e); }, jerr);
}

Status EnsureFileStream(jsCtx* js, const FileStreamConfig& c, jsStreamInfo** si) {
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = StreamInfoWaiting(js, c.name, si, &jerr);
  if (s == NATS_OK) return Status::OK();
  if (s != NATS_NOT_FOUND) return NatsError("stream info of " + c.name, s, jerr);
  const char* subjects[] = {c.subjects.c_str()};
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = c.name.c_str();
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = js_FileStorage;
  sc.Replicas = c.replicas;
  sc.MaxAge = c.max_age_ms * 1'000'000;  // nanoseconds
  if (c.msg_bytes_max > 0) sc.MaxMsgSize = static_cast<int32_t>(c.msg_bytes_max);
  s = WhileClusterStarts([&](jsErrCode* e) { return js_AddStream(si, js, &sc, nullptr, e); }, &jerr);
  return s == NATS_OK ? Status::OK() : NatsError("create stream " + c.name, s, jerr);
}

}  // namespace accountable::replica
