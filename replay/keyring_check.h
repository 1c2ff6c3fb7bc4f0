// Keyring checks for accountable-audit: which signing key a head or an
// erasure certificate must verify under, from a copy of the ledger's
// signing.keyring (core/signing_keyring.h; docs/audit.md, "Keyring").
//
//   std::string pk;
//   Status s = audit::KeyForCertificate("signing.keyring", pinned_pk, cert, &pk);
//   if (s.ok()) s = audit::VerifyCertificate(cert, pk, &summary);
//
// pinned_pk (may be empty) is a public key the auditor holds from elsewhere
// (signing.pub when they first got it): the keyring must contain it.
// A keyring that fails ParseKeyring (an edited line) is refused: Corruption
// naming the line.
//
// Thread safety: stateless functions.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/ledger.h"
#include "events/status.h"

namespace accountable::audit {

// The key of the ledger's latest signed head (the newest key whose tree
// sizes cover the head's size); *key_id names it.
Status KeyForLatestHead(Ledger& ledger, const std::string& keyring_file, const std::string& pinned_pk,
                        std::string* pk, std::string* key_id);
// The key a certificate names, if the keyring holds it and its range of
// tree sizes covers the certificate's signed head.
Status KeyForCertificate(const std::string& keyring_file, const std::string& pinned_pk, const nlohmann::json& file,
                         std::string* pk);

}  // namespace accountable::audit
