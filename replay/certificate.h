// Certificate: an erasure certificate, the statement compliance staff give an
// auditor that an account was erased, checkable offline with nothing but the
// certificate and the operator's public key (docs/audit.md, "Erasure
// certificates", describes the format and what it does and does not prove).
//
//   Json cert;
//   Status s = ProveErasure(ledger, vault, signing_key, 42, now_ms, &cert);  // needs vault + KEK
//   ...
//   s = VerifyCertificate(cert, public_key, &summary);                      // offline
//
// The certificate carries the AccountErased and ErasureVerified envelopes
// with RFC 6962 inclusion proofs against a signed tree head, the vault's
// answer for the account's key (absent) and the result of opening every
// sealed payload of the account (all shredded). The whole body is signed
// with the tree-head key, so one altered byte fails verification.
//
// Thread safety: stateless.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/ledger.h"
#include "core/tree_head.h"
#include "core/vault.h"

namespace accountable::audit {

inline constexpr std::string_view kCertificateFormat = "accountable-erasure-certificate/1";

// Refused when the account is not erased, its erasure is not yet verified,
// its key is still in the vault, or any of its sealed payloads still opens.
Status ProveErasure(Ledger& ledger, Vault& vault, const SigningKey& key, uint64_t account_id, int64_t now_ms,
                    nlohmann::json* certificate);

// Checks the certificate's signature, the tree head's signature, both
// inclusion proofs and the events themselves. Corruption names the first
// failed check; InvalidArgument for a document that is not a certificate.
Status VerifyCertificate(const nlohmann::json& certificate, const std::string& public_key,
                         nlohmann::ordered_json* summary);
// The bytes the certificate's signature covers: a domain tag, then the
// body's canonical dump. Public so that tools can sign a body they built
// (the fuzz harness re-signs mutated certificates to reach the checks
// behind the signature).
std::string CertificateSignedBytes(const nlohmann::json& body);

}  // namespace accountable::audit
