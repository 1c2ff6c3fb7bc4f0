// Internal to server/daemon: the server's TLS context, and the rule that a
// server reachable from other hosts speaks TLS.
//
//   std::unique_ptr<boost::asio::ssl::context> ctx;   // stays null for plain TCP
//   ACC_RETURN_IF_ERROR(CheckTransport(options));
//   ACC_RETURN_IF_ERROR(MakeServerTlsContext(options, &ctx));
//
// The context is shared by every session (OpenSSL locks it internally); it
// must outlive them.
#pragma once

// Boost 1.74 awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/ssl.hpp>

#include <memory>

#include "events/status.h"
#include "server/daemon/server.h"

namespace accountable {

// InvalidArgument for a certificate without its key (or the reverse), a
// client CA without a certificate, or a non-loopback host without TLS and
// without insecure_plaintext.
Status CheckTransport(const ServerOptions& o);

// A TLS 1.3 server context from the options' files; *out stays null when
// TLS is off. The key is read with crypto::ReadSecretFile and wiped after.
Status MakeServerTlsContext(const ServerOptions& o, std::unique_ptr<boost::asio::ssl::context>* out);

}  // namespace accountable
