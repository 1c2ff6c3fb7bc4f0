// ClientTlsOptions: how the Client library (and so the CLI and the audit
// tool) reaches an accountabled that listens with TLS (docs/protocol.md,
// "TLS"). TLS 1.3 only; the server's certificate must chain to ca_file and
// name the host dialled (or server_name).
//
//   ClientTlsOptions tls;
//   tls.ca_file = "ca.pem";                       // turns TLS on
//   tls.cert_file = "me.pem"; tls.key_file = "me.key";  // mutual TLS
//   Status s = Client::Connect("db.example.org:7400", token, tls, &client);
//
// A plain value; copy it freely.
#pragma once

#include <memory>
#include <string>

#include "events/status.h"

// Only client.cc needs the definitions.
namespace boost::asio::ssl { class context; }
namespace boost::system { class error_code; }
typedef struct ssl_st SSL;

namespace accountable {

struct ClientTlsOptions {
  std::string ca_file;      // PEM CA certificates to verify the server with; empty: plain TCP
  std::string cert_file;    // PEM client certificate (chain), for a server that requires one
  std::string key_file;     // its PEM private key
  std::string server_name;  // SNI and the name checked in the certificate; empty: the host dialled
  bool enabled() const { return !ca_file.empty(); }
  // InvalidArgument for a half-given pair or a certificate without a CA.
  Status Check() const;
};

namespace tls_internal {
// For client.cc: a TLS 1.3 client context that verifies the server against
// o.ca_file and presents o.cert_file if given.
Status MakeContext(const ClientTlsOptions& o, std::unique_ptr<boost::asio::ssl::context>* out);
// Before a client handshake on ssl: the name the server's certificate must
// carry (o.server_name, else the host of host_port). An IP address is
// matched against the certificate's IP entries; a name is sent as SNI and
// matched against its DNS names.
Status ExpectPeer(SSL* ssl, const std::string& host_port, const ClientTlsOptions& o);
// Why a handshake on ssl failed, for an error message: the certificate
// check's verdict if that failed, else OpenSSL's reason.
std::string Failure(SSL* ssl, const boost::system::error_code& ec);
}  // namespace tls_internal

}  // namespace accountable
