// fuzz-audit: the documents accountable-audit reads from files: inclusion
// and consistency proofs (projections/service/proof_json.h) and erasure
// certificates (replay/certificate.h). The bytes are parsed as
// accountable-audit parses a file, then checked as each kind of document.
// A mutated certificate never gets past its signature, so the harness also
// checks a copy re-signed with its own key (tree head and body): that runs
// the checks behind the signatures (envelopes, inclusion proofs, claims) on
// the fuzzer's bytes. What must hold: no crash, no sanitizer report, no
// exception escaping (accountable-audit would die on one).
#include <sodium.h>

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "core/tree_head.h"
#include "projections/service/proof_json.h"
#include "replay/certificate.h"

namespace {

using namespace accountable;
using nlohmann::json;

const SigningKey& Key() {
  static const SigningKey key = [] {
    auto secret = std::make_shared<crypto::LockedBytes>(crypto_sign_SECRETKEYBYTES);
    SigningKey k{secret, std::string(crypto_sign_PUBLICKEYBYTES, '\0')};
    const unsigned char seed[crypto_sign_SEEDBYTES] = {42};
    crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(k.public_key.data()), secret->data(), seed);
    return k;
  }();
  return key;
}

// What an honest signer of this document would have signed: false if it is
// not shaped like a certificate at all.
bool Resign(json* file) {
  if (!file->is_object() || !file->contains("certificate") || !(*file)["certificate"].is_object()) return false;
  json& c = (*file)["certificate"];
  c["public_key"] = crypto::ToHex(Key().public_key);
  json& h = c["signed_head"];
  if (h.is_object() && h.contains("treeSize") && h["treeSize"].is_number_unsigned() && h.contains("timestamp_ms") &&
      h["timestamp_ms"].is_number_unsigned()) {
    const std::string root = audit::Unb64(h.value("root", json()));
    const SignedTreeHead head =
        Sign(Key(), h["treeSize"].get<uint64_t>(), root, h["timestamp_ms"].get<int64_t>());
    h["signature"] = audit::B64(head.signature);
  }
  (*file)["signature"] = audit::B64(SignDetached(Key(), audit::CertificateSignedBytes(c)));
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 20)) return -1;
  static const bool sodium_ready = sodium_init() >= 0;
  if (!sodium_ready) return -1;
  json j = json::parse(data, data + size, nullptr, false);
  if (j.is_discarded()) return 0;
  (void)audit::VerifyInclusion(j);
  (void)audit::VerifyConsistency(j);
  nlohmann::ordered_json summary;
  (void)audit::VerifyCertificate(j, Key().public_key, &summary);
  if (Resign(&j)) (void)audit::VerifyCertificate(j, Key().public_key, &summary);
  return 0;
}
