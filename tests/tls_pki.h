// A throwaway PKI for the TLS tests, made at test time with the openssl
// command-line tool (present wherever libssl is): two CAs, a server
// certificate for 127.0.0.1 and localhost, the same key's certificate
// already expired, a client certificate from the first CA and one from the
// second ("a stranger"). EC P-256 keys: fast to make.
//
//   test::TestPki pki;                     // in its own temp dir
//   o.tls_cert_file = pki.server_cert;     // ServerOptions
//   tls.ca_file = pki.ca;                  // ClientTlsOptions
//
// Uses Catch2 (REQUIRE), so only the test binary includes it.
#pragma once

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <string>
#include <vector>

#include "server/client/tls.h"
#include "server/daemon/server.h"
#include "tests/test_util.h"

namespace accountable::test {

class TestPki {
  TempDir dir_{"acc-tls-pki"};  // first: the paths below are made from it

 public:
  TestPki() {
    MakeCa("ca", "accountable test CA");
    MakeCa("other-ca", "another CA");
    Sign("server", "ca", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost", 2);
    // The server's key again, in a certificate that expired yesterday.
    Sign("expired", "ca", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost", -1, Path("server.key"));
    Sign("client", "ca", "client-1", "extendedKeyUsage=clientAuth", 2);
    Sign("stranger", "other-ca", "client-2", "extendedKeyUsage=clientAuth", 2);
    // A renewed server certificate from the other CA, for reload tests.
    Sign("renewed", "other-ca", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost", 2);
  }

  std::string Path(const std::string& name) const { return dir_.Sub(name); }
  const std::string ca = Path("ca.pem"), other_ca = Path("other-ca.pem");
  const std::string server_cert = Path("server.pem"), server_key = Path("server.key");
  const std::string expired_cert = Path("expired.pem");
  const std::string client_cert = Path("client.pem"), client_key = Path("client.key");
  const std::string stranger_cert = Path("stranger.pem"), stranger_key = Path("stranger.key");
  const std::string renewed_cert = Path("renewed.pem"), renewed_key = Path("renewed.key");

  // A server with this PKI's certificate; mutual: clients need one from ca.
  void Serve(ServerOptions& o, bool mutual) const {
    o.tls_cert_file = server_cert;
    o.tls_key_file = server_key;
    if (mutual) o.tls_client_ca_file = ca;
  }
  // A client that trusts ca; with its certificate if `with_cert`.
  ClientTlsOptions Client(bool with_cert) const {
    ClientTlsOptions t;
    t.ca_file = ca;
    if (with_cert) {
      t.cert_file = client_cert;
      t.key_file = client_key;
    }
    return t;
  }

 private:
  void Openssl(std::vector<std::string> args) const {
    args.insert(args.begin(), kOpenssl);
    ExecResult r = Exec(args, "", dir_.path().string());
    INFO(r.err);
    REQUIRE(r.code == 0);
  }
  void NewKey(const std::string& name) const {
    Openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", Path(name + ".key")});
    REQUIRE(::chmod(Path(name + ".key").c_str(), 0600) == 0);  // the server reads keys as secrets
  }
  void MakeCa(const std::string& name, const std::string& cn) const {
    NewKey(name);
    Openssl({"req", "-x509", "-new", "-key", Path(name + ".key"), "-out", Path(name + ".pem"), "-days", "2", "-subj",
             "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign"});
  }
  void Sign(const std::string& name, const std::string& ca_name, const std::string& cn, const std::string& ext,
            int days, std::string key = "") const {
    if (key.empty()) {
      NewKey(name);
      key = Path(name + ".key");
    }
    Openssl({"req", "-new", "-key", key, "-out", Path(name + ".csr"), "-subj", "/CN=" + cn});
    WriteSecretFile(Path(name + ".ext"), ext + "\n");
    Openssl({"x509", "-req", "-in", Path(name + ".csr"), "-CA", Path(ca_name + ".pem"), "-CAkey",
             Path(ca_name + ".key"), "-CAcreateserial", "-days", std::to_string(days), "-extfile",
             Path(name + ".ext"), "-out", Path(name + ".pem")});
  }

  static constexpr const char* kOpenssl = "/usr/bin/openssl";
};

}  // namespace accountable::test
