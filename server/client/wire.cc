#include "server/client/wire.h"

namespace accountable::wire {

uint32_t DecodeLength(const uint8_t h[kFrameHeaderBytes]) {
  return uint32_t(h[0]) | uint32_t(h[1]) << 8 | uint32_t(h[2]) << 16 | uint32_t(h[3]) << 24;
}

std::string Frame(const uint8_t* data, size_t body_bytes) {
  std::string out(kFrameHeaderBytes + body_bytes, '\0');
  const auto n = static_cast<uint32_t>(body_bytes);
  for (size_t i = 0; i < kFrameHeaderBytes; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  std::copy(data, data + body_bytes, out.begin() + kFrameHeaderBytes);
  return out;
}

Status ParseRequest(std::string_view body, const Request** out) {
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  if (!VerifyRequestBuffer(v)) return Status::Corruption("request frame failed verification");
  const Request* r = GetRequest(body.data());
  if (r->body_type() != Body::NONE && r->body() == nullptr) return Status::Corruption("request body missing");
  *out = r;
  return Status::OK();
}

bool BodyUsable(const Request* r) {
  return r->body_type() != Body::NONE && r->body_type() <= Body::MAX && r->body() != nullptr;
}

Status ParseResponse(std::string_view body, const Response** out) {
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  if (!v.VerifyBuffer<Response>(RequestIdentifier()))
    return Status::Corruption("response frame failed verification");
  *out = flatbuffers::GetRoot<Response>(body.data());
  return Status::OK();
}

std::string ResponseFrame(uint64_t corr, uint8_t code, std::string_view message, const ResponseFields& f) {
  flatbuffers::FlatBufferBuilder fbb(256 + f.json.size());
  std::vector<flatbuffers::Offset<Event>> evs;
  for (const auto& [seq, env] : f.events)
    evs.push_back(CreateEvent(fbb, seq, fbb.CreateVector(reinterpret_cast<const uint8_t*>(env.data()), env.size())));
  auto events = f.events.empty() ? 0 : fbb.CreateVector(evs);
  std::vector<flatbuffers::Offset<Result>> rs;
  for (const auto& r : f.results)
    rs.push_back(CreateResult(fbb, fbb.CreateVector(reinterpret_cast<const uint8_t*>(r.data()), r.size())));
  auto results = f.results.empty() ? 0 : fbb.CreateVector(rs);
  auto msg = message.empty() ? 0 : fbb.CreateString(message);
  auto json = f.json.empty() ? 0 : fbb.CreateString(f.json);
  ResponseBuilder b(fbb);
  b.add_correlation_id(corr);
  b.add_code(code);
  b.add_message(msg);
  b.add_seq(f.seq);
  b.add_account_id(f.account_id);
  b.add_duplicate(f.duplicate);
  b.add_role(f.role);
  b.add_json(json);
  b.add_events(events);
  b.add_results(results);
  fbb.Finish(b.Finish(), RequestIdentifier());
  return Frame(fbb.GetBufferPointer(), fbb.GetSize());
}

std::string ResponseFrame(uint64_t corr, const Status& s, const ResponseFields& f) {
  return ResponseFrame(corr, static_cast<uint8_t>(s.code()), s.message(), f);
}

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::Writer: return "writer";
    case Role::Auditor: return "auditor";
    case Role::Admin: return "admin";
    default: return "none";
  }
}

std::string_view BodyName(Body b) {
  const char* n = EnumNameBody(b);
  return n ? n : "unknown";
}

}  // namespace accountable::wire
