#include "server/client/tls.h"

// Boost 1.74 awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace accountable {

namespace asio = boost::asio;

namespace {

std::string Reason(const boost::system::error_code& ec) {
  const unsigned long e = ERR_peek_last_error();
  const char* why = e != 0 ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return why ? why : ec.message();
}

}  // namespace

Status ClientTlsOptions::Check() const {
  if (cert_file.empty() != key_file.empty())
    return Status::InvalidArgument("a TLS client certificate and its key go together (--tls-cert, --tls-key)");
  if (!enabled() && (!cert_file.empty() || !server_name.empty()))
    return Status::InvalidArgument("TLS options need the CA to verify the server with (--tls-ca)");
  return Status::OK();
}

namespace tls_internal {

Status MakeContext(const ClientTlsOptions& o, std::unique_ptr<asio::ssl::context>* out) {
  ACC_RETURN_IF_ERROR(o.Check());
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION) != 1)
    return Status::InvalidArgument("this OpenSSL cannot do TLS 1.3");
  boost::system::error_code ec;
  ctx->load_verify_file(o.ca_file, ec);
  if (ec) return Status::InvalidArgument("TLS CA file " + o.ca_file + ": " + Reason(ec));
  ctx->set_verify_mode(asio::ssl::verify_peer);
  if (!o.cert_file.empty()) {
    ctx->use_certificate_chain_file(o.cert_file, ec);
    if (ec) return Status::InvalidArgument("TLS client certificate " + o.cert_file + ": " + Reason(ec));
    ctx->use_private_key_file(o.key_file, asio::ssl::context::pem, ec);
    if (!ec && SSL_CTX_check_private_key(ctx->native_handle()) != 1) ec = asio::error::invalid_argument;
    if (ec) return Status::InvalidArgument("TLS client key " + o.key_file + ": not a PEM key of the certificate: " +
                                           Reason(ec));
  }
  *out = std::move(ctx);
  return Status::OK();
}

Status ExpectPeer(SSL* ssl, const std::string& host_port, const ClientTlsOptions& o) {
  const std::string name = o.server_name.empty() ? host_port.substr(0, host_port.rfind(':')) : o.server_name;
  boost::system::error_code ec;
  asio::ip::make_address(name, ec);
  const bool set = ec ? SSL_set_tlsext_host_name(ssl, name.c_str()) == 1 && SSL_set1_host(ssl, name.c_str()) == 1
                      : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1;
  if (!set) return Status::InvalidArgument("TLS: cannot check the server's certificate for " + name);
  return Status::OK();
}

std::string Failure(SSL* ssl, const boost::system::error_code& ec) {
  const long verdict = SSL_get_verify_result(ssl);
  if (verdict != X509_V_OK) {
    ERR_clear_error();
    return std::string("server certificate refused: ") + X509_verify_cert_error_string(verdict);
  }
  return Reason(ec);
}

}  // namespace tls_internal

}  // namespace accountable
