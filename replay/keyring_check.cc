#include "replay/keyring_check.h"

#include "core/crypto.h"
#include "core/signing_keyring.h"
#include "projections/service/proof_json.h"

namespace accountable::audit {
namespace {

Status Load(const std::string& keyring_file, const std::string& pinned_pk, std::vector<KeyringEntry>* ring) {
  Status s = LoadKeyring(keyring_file, ring);
  if (s.Is(Status::Code::kNotFound)) return Status::InvalidArgument("cannot read a keyring from " + keyring_file);
  if (!s.ok()) return Status::Corruption(keyring_file + ": " + s.message() + " (refused: edited or damaged)");
  if (!pinned_pk.empty() && KeyByPublicKey(*ring, pinned_pk) == nullptr)
    return Status::Corruption(keyring_file + " does not contain the --pubkey key");
  return Status::OK();
}

std::string Range(const KeyringEntry& e) {
  return std::to_string(e.from_size) + ".." + (e.open_ended ? std::string("") : std::to_string(e.until_size));
}

}  // namespace

Status KeyForLatestHead(Ledger& ledger, const std::string& keyring_file, const std::string& pinned_pk,
                        std::string* pk, std::string* key_id) {
  std::vector<KeyringEntry> ring;
  ACC_RETURN_IF_ERROR(Load(keyring_file, pinned_pk, &ring));
  SignedTreeHead h;
  ACC_RETURN_IF_ERROR(ReadLatestHead(ledger, &h));
  const KeyringEntry* e = KeyForSize(ring, h.size);
  if (e == nullptr) return Status::Corruption("no key in the keyring covers tree size " + std::to_string(h.size));
  *pk = e->public_key;
  *key_id = e->key_id;
  return Status::OK();
}

Status KeyForCertificate(const std::string& keyring_file, const std::string& pinned_pk, const nlohmann::json& file,
                         std::string* pk) {
  std::vector<KeyringEntry> ring;
  ACC_RETURN_IF_ERROR(Load(keyring_file, pinned_pk, &ring));
  const nlohmann::json* c = file.is_object() && file.contains("certificate") ? &file["certificate"] : nullptr;
  std::string named;
  if (c == nullptr || !c->is_object() || !c->contains("public_key") || !(*c)["public_key"].is_string() ||
      !crypto::FromHex((*c)["public_key"].get<std::string>(), 32, &named))
    return Status::InvalidArgument("not an erasure certificate with a public_key");
  const KeyringEntry* e = KeyByPublicKey(ring, named);
  if (e == nullptr) return Status::Corruption("the certificate's signing key is not in the keyring");
  const nlohmann::json& h = c->contains("signed_head") ? (*c)["signed_head"] : nlohmann::json();
  if (!h.is_object() || !h.contains("treeSize") || !h["treeSize"].is_number_unsigned())
    return Status::Corruption("the certificate has no signed_head treeSize");
  const uint64_t size = h["treeSize"].get<uint64_t>();
  if (size < e->from_size || (!e->open_ended && size > e->until_size))
    return Status::Corruption("the certificate's head (tree size " + std::to_string(size) + ") is outside key " +
                              e->key_id + "'s tree sizes " + Range(*e));
  *pk = named;
  return Status::OK();
}

}  // namespace accountable::audit
