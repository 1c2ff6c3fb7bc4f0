// events: build and read Accountable event envelopes (FlatBuffers).
//
// An Envelope is the unit of the log: plaintext metadata (seq, account,
// times, actor, request id, policy version) plus one payload from the union
// in schema/accountable.fbs. PII inside a payload is a separately serialized
// *Pii table, sealed by core/ before it is placed here as opaque bytes.
// The byte format is described in docs/events.md.
//
//   EnvelopeBuilder b;
//   auto& fbb = b.fbb();
//   auto payload = fb::CreateConsentGiven(fbb, fb::Purpose::Surveys,
//                                         fbb.CreateString("1.01"), false);
//   std::string bytes = b.Finish(header, fb::Payload::ConsentGiven, payload.Union());
//
//   EventView view;
//   Status s = EventView::Parse(bytes, &view);   // always verifies
//   if (s.ok()) use(view.envelope()->account_id());
//
// Thread safety: EnvelopeBuilder is single-threaded; an EventView is
// read-only and may be shared once parsed (the bytes must outlive it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "accountable_generated.h"
#include "events/status.h"

namespace accountable {
// fb:: is the generated schema's namespace, accountable::fb (clang refuses
// an alias that redeclares it).

namespace events {

// Limits on what one envelope may hold; the writer and the wire both rely on them.
inline constexpr size_t kEnvelopeBytesMax = 64 * 1024;
inline constexpr size_t kRequestIdBytesMax = 128;

struct Header {
  uint64_t account_id = 0;      // 0: not linked to an account
  int64_t occurred_at_ms = 0;
  fb::Actor actor = fb::Actor::Holder;
  std::string request_id;
  std::string policy_version;
};

// Builds one Envelope. seq and recorded_at_ms are written as explicit zeros
// so the sequencer can patch them in place (see PatchSequence) without
// rebuilding the buffer on its single thread.
class EnvelopeBuilder {
 public:
  EnvelopeBuilder();
  flatbuffers::FlatBufferBuilder& fbb() { return fbb_; }
  flatbuffers::Offset<fb::Sealed> Sealed(fb::KeyKind kind, std::string_view box);
  std::string Finish(const Header& header, fb::Payload type, flatbuffers::Offset<void> payload);

 private:
  flatbuffers::FlatBufferBuilder fbb_;
};

// Writes seq and recorded_at_ms into a buffer made by EnvelopeBuilder.
// Returns false if the buffer does not hold those fields (programmer error).
bool PatchSequence(std::string* envelope_bytes, uint64_t seq, int64_t recorded_at_ms);

// A verified, read-only view over envelope bytes.
class EventView {
 public:
  // Runs flatbuffers::Verifier and checks the file identifier and that a
  // payload of a known type is present. Corruption on any failure.
  static Status Parse(std::string_view bytes, EventView* out);
  // For bytes that Parse already accepted (possibly since patched by
  // PatchSequence). Never for bytes from disk or the network.
  static EventView FromVerified(std::string_view bytes);

  const fb::Envelope* envelope() const { return env_; }
  fb::Payload type() const { return env_->payload_type(); }
  std::string_view bytes() const { return bytes_; }
  // The sealed PII box of this event, if its type carries one.
  const fb::Sealed* sealed() const;

 private:
  const fb::Envelope* env_ = nullptr;
  std::string_view bytes_;
};

// Stable, snake_case event names ("registered", "login_succeeded", ...).
std::string_view PayloadName(fb::Payload type);
std::string_view PurposeName(fb::Purpose p);
std::optional<fb::Purpose> ParsePurpose(std::string_view name);
std::string_view ActorName(fb::Actor a);
std::string_view ErasureReasonName(fb::ErasureReason r);

// Serialize a PII table builder's result; the root is any *Pii table.
template <typename T>
std::string FinishPii(flatbuffers::FlatBufferBuilder& fbb, flatbuffers::Offset<T> root) {
  fbb.Finish(root);
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

// Verify then read a PII table from opened (decrypted) bytes.
template <typename T>
Status ReadPii(std::string_view bytes, const T** out) {
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (!v.VerifyBuffer<T>(nullptr)) return Status::Corruption("sealed payload failed verification");
  *out = flatbuffers::GetRoot<T>(bytes.data());
  return Status::OK();
}

}  // namespace events
}  // namespace accountable
