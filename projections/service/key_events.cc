// Accounts: the events of key rotations (KekRotated, SigningKeyRotated).
// The rotations themselves: core/kek_rotation.h, server/cli/cli_keys.cc.
#include "projections/service/accounts.h"

namespace accountable {
namespace {

constexpr size_t kKeyIdHexBytes = 16;

Status CheckKeyId(std::string_view field, const std::string& id) {
  if (id.size() != kKeyIdHexBytes || id.find_first_not_of("0123456789abcdef") != std::string::npos)
    return Status::InvalidArgument(std::string(field) + ": must be 16 lower-case hex digits");
  return Status::OK();
}

flatbuffers::Offset<flatbuffers::Vector<uint8_t>> Bytes(flatbuffers::FlatBufferBuilder& f, const std::string& s) {
  return f.CreateVector(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

Status Accounts::RecordKekRotated(const KekRotatedFacts& k, Receipt* out) {
  ACC_RETURN_IF_ERROR(CheckKeyId("old_kek_id", k.old_kek_id));
  ACC_RETURN_IF_ERROR(CheckKeyId("new_kek_id", k.new_kek_id));
  // The request id names the new KEK and the content leaves out the counts
  // (a resumed run rewraps fewer): the rerun of a rotation is a duplicate.
  Context ctx{.actor = fb::Actor::Admin, .request_id = "rotate-kek/" + k.new_kek_id};
  return Commit(0, ctx, fb::Payload::KekRotated, [&](events::EnvelopeBuilder& b, const std::string&) {
    return fb::CreateKekRotatedDirect(b.fbb(), k.old_kek_id.c_str(), k.new_kek_id.c_str(), k.rewrapped,
                                      k.files_scanned, k.bytes_scanned, k.hits).Union();
  }, out, ContentFields({k.old_kek_id, k.new_kek_id}));
}

Status Accounts::RecordSigningKeyRotated(const SigningKeyRotatedFacts& k, Receipt* out) {
  ACC_RETURN_IF_ERROR(CheckKeyId("old_key_id", k.old_key_id));
  ACC_RETURN_IF_ERROR(CheckKeyId("new_key_id", k.new_key_id));
  if (k.old_public_key.size() != 32 || k.new_public_key.size() != 32)
    return Status::InvalidArgument("public keys: must be 32 bytes (Ed25519)");
  Context ctx{.actor = fb::Actor::Admin, .request_id = "rotate-signing-key/" + k.new_key_id};
  return Commit(0, ctx, fb::Payload::SigningKeyRotated, [&](events::EnvelopeBuilder& b, const std::string&) {
    auto& f = b.fbb();
    auto old_id = f.CreateString(k.old_key_id), new_id = f.CreateString(k.new_key_id);
    auto old_pk = Bytes(f, k.old_public_key), new_pk = Bytes(f, k.new_public_key);
    return fb::CreateSigningKeyRotated(f, old_id, new_id, old_pk, new_pk, k.valid_from_ms).Union();
  }, out, ContentFields({k.old_key_id, k.new_key_id}));
}

}  // namespace accountable
