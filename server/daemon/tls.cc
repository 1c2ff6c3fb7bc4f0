#include "server/daemon/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/crypto.h"

namespace accountable {

namespace asio = boost::asio;

namespace {

// A PEM key with its chain fits easily; a larger file is not a key.
constexpr size_t kKeyFileBytesMax = 64 << 10;

// OpenSSL's reason for the last failure (it names no secret), and clears
// the queue so it cannot be blamed on a later call.
std::string OpenSslReason(const boost::system::error_code& ec) {
  const unsigned long e = ERR_peek_last_error();
  std::string why = e != 0 ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown" : ec.message();
  ERR_clear_error();
  return why;
}

}  // namespace

Status CheckTransport(const ServerOptions& o) {
  if (o.tls_cert_file.empty() != o.tls_key_file.empty())
    return Status::InvalidArgument("--tls-cert and --tls-key go together");
  if (!o.tls_client_ca_file.empty() && o.tls_cert_file.empty())
    return Status::InvalidArgument("--tls-client-ca needs --tls-cert and --tls-key");
  if (!o.tls_cert_file.empty() || o.insecure_plaintext) return Status::OK();
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(o.host, ec);
  if (ec || addr.is_loopback()) return Status::OK();  // Listen reports a bad address
  return Status::InvalidArgument("listening on " + o.host +
                                 " without TLS would send tokens and personal data in clear: give --tls-cert and "
                                 "--tls-key, or --insecure-plaintext to do it anyway");
}

Status MakeServerTlsContext(const ServerOptions& o, std::unique_ptr<asio::ssl::context>* out) {
  out->reset();
  if (o.tls_cert_file.empty()) return Status::OK();
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION) != 1)
    return Status::InvalidArgument("this OpenSSL cannot do TLS 1.3");
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(o.tls_cert_file, ec);
  if (ec) return Status::InvalidArgument("--tls-cert " + o.tls_cert_file + ": " + OpenSslReason(ec));
  std::string key;
  Status s = crypto::ReadSecretFile(o.tls_key_file, kKeyFileBytesMax, &key);
  if (s.Is(Status::Code::kNotFound)) return Status::InvalidArgument("--tls-key: cannot open " + o.tls_key_file);
  ACC_RETURN_IF_ERROR(s);
  ctx->use_private_key(asio::buffer(key), asio::ssl::context::pem, ec);
  crypto::Wipe(&key);
  if (!ec && SSL_CTX_check_private_key(native) != 1) ec = asio::error::invalid_argument;
  if (ec)
    return Status::InvalidArgument("--tls-key " + o.tls_key_file + ": not the key of --tls-cert or not a PEM key: " +
                                   OpenSslReason(ec));
  if (!o.tls_client_ca_file.empty()) {
    ctx->load_verify_file(o.tls_client_ca_file, ec);
    STACK_OF(X509_NAME)* names = ec ? nullptr : SSL_load_client_CA_file(o.tls_client_ca_file.c_str());
    if (ec || names == nullptr)
      return Status::InvalidArgument("--tls-client-ca " + o.tls_client_ca_file + ": " + OpenSslReason(ec));
    SSL_CTX_set_client_CA_list(native, names);  // takes ownership; tells clients which CA to present
    ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }
  *out = std::move(ctx);
  return Status::OK();
}

}  // namespace accountable
