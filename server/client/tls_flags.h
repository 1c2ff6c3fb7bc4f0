// The client programs' TLS flags (accountable, accountable-audit), one
// definition for both. Header-only: the client library does not link CLI11.
//
//   ClientTlsOptions tls;
//   AddClientTlsFlags(app, tls);
#pragma once

#include <CLI/CLI.hpp>

#include "server/client/tls.h"

namespace accountable {

inline void AddClientTlsFlags(CLI::App& app, ClientTlsOptions& o) {
  app.add_option("--tls-ca", o.ca_file, "with --server: connect over TLS 1.3, verifying the server against this PEM CA");
  app.add_option("--tls-cert", o.cert_file, "with --tls-ca: PEM client certificate, for a server with mutual TLS");
  app.add_option("--tls-key", o.key_file, "the PEM private key of --tls-cert");
  app.add_option("--tls-server-name", o.server_name,
                 "the name the server's certificate must carry (default: the host of --server)");
}

// Embedded and offline modes have no connection to protect.
inline bool AnyClientTls(const ClientTlsOptions& o) {
  return o.enabled() || !o.cert_file.empty() || !o.key_file.empty() || !o.server_name.empty();
}

}  // namespace accountable
