// Internal to accountabled: its TLS flags, kept apart from the other flags
// (docs/operations.md, "TLS").
//
//   AddTlsFlags(app, options);
#pragma once

#include <CLI/CLI.hpp>

#include "server/daemon/server.h"

namespace accountable {

inline void AddTlsFlags(CLI::App& app, ServerOptions& o) {
  app.add_option("--tls-cert", o.tls_cert_file, "PEM certificate chain: serve TLS 1.3 only (needs --tls-key)");
  app.add_option("--tls-key", o.tls_key_file, "PEM private key of --tls-cert (mode 0600 or stricter)");
  app.add_option("--tls-client-ca", o.tls_client_ca_file,
                 "PEM CA: require a client certificate signed by it (mutual TLS)");
  app.add_flag("--insecure-plaintext", o.insecure_plaintext,
               "allow a non-loopback --listen without TLS (tokens and personal data cross the network in clear)");
}

}  // namespace accountable
