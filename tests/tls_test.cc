// TLS (issue 13): accountabled over TLS 1.3, mutual TLS, and every way a
// connection can be wrong: an untrusted or expired server certificate, a
// client without a certificate or with a stranger's, a plaintext client on
// a TLS port, a handshake that never ends, a non-loopback plaintext listen.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "tests/server_test_util.h"
#include "tests/tls_pki.h"

namespace {

using namespace accountable;
using Code = Status::Code;
using wire::Body;
using Json = nlohmann::json;

Status ConnectTls(const test::ServerFixture& f, const ClientTlsOptions& tls, const std::string& token,
                  std::unique_ptr<Client>* c) {
  return Client::Connect(f.address(), token, tls, c);
}

// The server still serves a client that does everything right.
void ExpectServes(const test::ServerFixture& f, const ClientTlsOptions& tls) {
  std::unique_ptr<Client> c;
  Status s = ConnectTls(f, tls, test::kWriterToken, &c);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(test::RoundTrip(*c, Body::Stats, test::StatsBody()).status.ok());
}

}  // namespace

TEST_CASE("tls: the library, the CLI and the audit tool over mutual TLS", "[tls][server][cli][audit]") {
  test::TestPki pki;
  test::ServerFixture f([&](ServerOptions& o) { pki.Serve(o, true); });
  std::unique_ptr<Client> lib;
  REQUIRE(ConnectTls(f, pki.Client(true), test::kWriterToken, &lib).ok());
  const Client::Reply reg = test::RoundTrip(*lib, Body::Register, test::RegisterBody("lib@example.org"));
  REQUIRE(reg.status.ok());

  test::TempDir dir("acc-tls-cli");
  test::WriteSecretFile(dir.Sub("writer.token"), test::kWriterToken + "\n");
  test::WriteSecretFile(dir.Sub("auditor.token"), test::kAuditorToken + "\n");
  std::ofstream(dir.Sub("signing.pub")) << crypto::ToHex(f.accounts().public_key()) << "\n";
  const std::vector<std::string> tls = {"--tls-ca", pki.ca, "--tls-cert", pki.client_cert, "--tls-key", pki.client_key};
  auto run = [&](const char* program, const std::string& token, std::vector<std::string> args) {
    std::vector<std::string> argv = {program, "--server", f.address(), "--token-file", dir.Sub(token), "--json"};
    argv.insert(argv.end(), tls.begin(), tls.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return test::Exec(argv, std::string(test::kServerPassword) + "\n", dir.path().string());
  };
  test::ExecResult cli = run(ACCOUNTABLE_CLI, "writer.token",
                             {"register", "--nickname", "Tls", "--email", "cli-tls@example.org", "--password-stdin",
                              "--gender", "female", "--birthdate", "1990-04-01", "--ip", "192.0.2.10",
                              "--accept-policy", "1.01"});
  INFO(cli.out << cli.err);
  REQUIRE(cli.code == 0);
  const Json j = Json::parse(cli.out.substr(0, cli.out.find('\n')));
  const uint64_t id = j.value("account_id", uint64_t{0});
  REQUIRE(id == reg.account_id + 1);
  test::ExecResult show = run(ACCOUNTABLE_CLI, "writer.token", {"show", std::to_string(id)});
  INFO(show.out << show.err);
  CHECK(show.code == 0);
  CHECK(show.out.find("\"display_name\":\"Tls\"") != std::string::npos);  // a writer sees no personal data
  test::ExecResult verify = run(ACCOUNTABLE_AUDIT, "auditor.token", {"verify", "--pubkey", dir.Sub("signing.pub")});
  INFO(verify.out << verify.err);
  CHECK(verify.code == 0);
  CHECK(verify.out.find("\"events\":" + std::to_string(f.accounts().ledger().LastSeq())) != std::string::npos);

  // The same commands without a client certificate are refused, and say so.
  test::ExecResult bare = test::Exec({ACCOUNTABLE_CLI, "--server", f.address(), "--token-file", dir.Sub("writer.token"),
                                      "--tls-ca", pki.ca, "show", std::to_string(id)}, "", dir.path().string());
  CHECK(bare.code != 0);
  CHECK((bare.out + bare.err).find("client certificate") != std::string::npos);
  CHECK((bare.out + bare.err).find("display_name") == std::string::npos);
  // The TLS flags mean nothing without --server: refused, not ignored.
  test::ExecResult offline = test::Exec({ACCOUNTABLE_AUDIT, "--data", f.data_dir(), "--tls-ca", pki.ca, "verify"}, "",
                                        dir.path().string());
  CHECK(offline.code == 2);
  CHECK(offline.err.find("--server") != std::string::npos);
}

TEST_CASE("tls: a client refuses an untrusted, expired or misnamed server certificate", "[tls][server]") {
  test::TestPki pki;
  auto refused = [&](const test::ServerFixture& f, const ClientTlsOptions& tls, const std::string& why) {
    std::unique_ptr<Client> c;
    Status s = ConnectTls(f, tls, test::kWriterToken, &c);
    INFO(s.ToString());
    CHECK(s.code() == Code::kIOError);
    CHECK(test::Contains(s.message(), "TLS handshake with " + f.address() + " failed: server certificate refused"));
    CHECK(test::Contains(s.message(), why));
    CHECK(c == nullptr);
  };
  {
    test::ServerFixture f([&](ServerOptions& o) { pki.Serve(o, false); });
    ClientTlsOptions wrong_ca = pki.Client(false);
    wrong_ca.ca_file = pki.other_ca;
    refused(f, wrong_ca, "unable to get local issuer certificate");
    ClientTlsOptions misnamed = pki.Client(false);
    misnamed.server_name = "db.example.org";
    refused(f, misnamed, "mismatch");
    ClientTlsOptions by_name = pki.Client(false);
    by_name.server_name = "localhost";  // the certificate's DNS name, dialled at its IP
    ExpectServes(f, by_name);
    ExpectServes(f, pki.Client(false));  // refusals cost the server nothing
  }
  {
    test::ServerFixture f([&](ServerOptions& o) {
      pki.Serve(o, false);
      o.tls_cert_file = pki.expired_cert;
    });
    refused(f, pki.Client(false), "certificate has expired");
  }
  // A TLS client at a plaintext port fails fast with an error, not a hang.
  test::ServerFixture plain;
  std::unique_ptr<Client> c;
  Status s = ConnectTls(plain, pki.Client(false), test::kWriterToken, &c);
  CHECK(s.code() == Code::kIOError);
  CHECK(test::Contains(s.message(), "TLS handshake"));
}

TEST_CASE("tls: mutual TLS refuses a client without a certificate or with a stranger's", "[tls][server]") {
  test::TestPki pki;
  test::ServerFixture f([&](ServerOptions& o) { pki.Serve(o, true); });
  auto refused = [&](const ClientTlsOptions& tls) {
    std::unique_ptr<Client> c;
    Status s = ConnectTls(f, tls, test::kWriterToken, &c);
    INFO(s.ToString());
    CHECK(s.code() == Code::kIOError);
    CHECK(test::Contains(s.message(), "client certificate"));
    CHECK_FALSE(test::Contains(s.message(), test::kWriterToken));
    CHECK(c == nullptr);
  };
  refused(pki.Client(false));
  ClientTlsOptions stranger = pki.Client(false);
  stranger.cert_file = pki.stranger_cert;
  stranger.key_file = pki.stranger_key;
  refused(stranger);
  ExpectServes(f, pki.Client(true));
  // Options that cannot work are refused before connecting.
  ClientTlsOptions half = pki.Client(false);
  half.cert_file = pki.client_cert;
  std::unique_ptr<Client> c;
  CHECK(ConnectTls(f, half, test::kWriterToken, &c).code() == Code::kInvalidArgument);
  ClientTlsOptions no_ca = pki.Client(true);
  no_ca.ca_file.clear();
  CHECK(ConnectTls(f, no_ca, test::kWriterToken, &c).code() == Code::kInvalidArgument);
}

TEST_CASE("tls: a plaintext client on a TLS port is closed at once; others go on", "[tls][server]") {
  test::TestPki pki;
  test::ServerFixture f([&](ServerOptions& o) { pki.Serve(o, false); });
  std::unique_ptr<Client> before;
  REQUIRE(ConnectTls(f, pki.Client(false), test::kWriterToken, &before).ok());
  const auto start = std::chrono::steady_clock::now();
  test::RawConn raw(f.port());
  REQUIRE(raw.connected());
  REQUIRE(raw.Send(test::HelloFrame(1, test::kWriterToken)));
  // The handshake fails on the first bytes and the server closes, sending
  // nothing, well before the 5 s handshake timeout.
  std::vector<test::RawReply> frames;
  CHECK(raw.WaitClosed(3000, &frames));
  CHECK(frames.empty());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  CHECK(test::RoundTrip(*before, Body::Stats, test::StatsBody()).status.ok());
  ExpectServes(f, pki.Client(false));
  std::unique_ptr<Client> plain;
  CHECK_FALSE(Client::Connect(f.address(), test::kWriterToken, &plain).ok());
}

TEST_CASE("tls: a handshake that never finishes frees its slot at handshake_timeout_ms", "[tls][server][limits]") {
  test::TestPki pki;
  test::ServerFixture f([&](ServerOptions& o) {
    pki.Serve(o, false);
    o.unauthenticated_max = 1;
    o.handshake_timeout_ms = 300;
  });
  const auto start = std::chrono::steady_clock::now();  // the accept, and so the deadline, come after
  test::RawConn silent(f.port());
  REQUIRE(silent.connected());
  REQUIRE(silent.Send(std::string("\x16\x03\x01\x02\x00\x01", 6)));  // a ClientHello that stops short
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the server count it
  std::unique_ptr<Client> c;
  CHECK_FALSE(ConnectTls(f, pki.Client(false), test::kWriterToken, &c).ok());  // the one slot is taken
  CHECK(silent.WaitClosed(3000));
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= std::chrono::milliseconds(300));
  CHECK(waited < std::chrono::milliseconds(2500));
  Status s;
  for (int i = 0; i < 100 && !(s = ConnectTls(f, pki.Client(false), test::kWriterToken, &c)).ok(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  INFO(s.ToString());
  CHECK(s.ok());
}

TEST_CASE("tls: a reload serves a renewed certificate to new connections; open ones go on; bad files keep the old",
          "[tls][server]") {
  test::TestPki pki;
  test::TempDir dir("acc-tls-reload");
  const std::string cert = dir.Sub("server.pem"), key = dir.Sub("server.key");
  auto install = [&](const std::string& from_cert, const std::string& from_key) {
    test::WriteSecretFile(cert, test::Slurp(from_cert));
    test::WriteSecretFile(key, test::Slurp(from_key));
  };
  install(pki.server_cert, pki.server_key);
  test::ServerFixture f([&](ServerOptions& o) {
    o.tls_cert_file = cert;
    o.tls_key_file = key;
  });
  ClientTlsOptions old_ca = pki.Client(false), new_ca = old_ca;
  new_ca.ca_file = pki.other_ca;
  std::unique_ptr<Client> open;
  REQUIRE(ConnectTls(f, old_ca, test::kWriterToken, &open).ok());

  install(pki.renewed_cert, pki.renewed_key);
  bool reloaded = false;
  REQUIRE(f.server().ReloadTls(&reloaded).ok());
  CHECK(reloaded);
  CHECK(test::RoundTrip(*open, Body::Stats, test::StatsBody()).status.ok());  // shook hands before: unaffected
  std::unique_ptr<Client> c;
  CHECK_FALSE(ConnectTls(f, old_ca, test::kWriterToken, &c).ok());  // the old certificate is gone
  ExpectServes(f, new_ca);

  // A half-written or mismatched pair is refused; the renewed one stays.
  test::WriteSecretFile(cert, "-----BEGIN CERTIFICATE-----\nnot base64\n");
  Status bad = f.server().ReloadTls(&reloaded);
  INFO(bad.ToString());
  CHECK(bad.code() == Code::kInvalidArgument);
  install(pki.server_cert, pki.renewed_key);
  CHECK(f.server().ReloadTls(&reloaded).code() == Code::kInvalidArgument);
  ExpectServes(f, new_ca);

  test::ServerFixture plain;
  REQUIRE(plain.server().ReloadTls(&reloaded).ok());
  CHECK_FALSE(reloaded);
}

TEST_CASE("tls: a non-loopback listen needs TLS or --insecure-plaintext; bad TLS files are refused",
          "[tls][server]") {
  test::TestPki pki;
  test::TempDir dir("acc-tls-start");
  // For starts that must fail: the transport and the files are checked
  // before the server touches the ledger, so none is needed.
  Accounts* none = nullptr;
  auto start = [&](const std::function<void(ServerOptions&)>& tweak) {
    ServerOptions o;
    o.host = "0.0.0.0";
    o.port = 0;
    tweak(o);
    std::unique_ptr<Server> server;
    Status s = Server::Start(o, none, &server);
    if (server) server->Stop();
    return s;
  };
  Status s = start([](ServerOptions&) {});
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(test::Contains(s.message(), "without TLS"));
  CHECK(test::Contains(s.message(), "--insecure-plaintext"));
  {
    test::ServerFixture plain([](ServerOptions& o) {
      o.host = "0.0.0.0";
      o.insecure_plaintext = true;
    });
    CHECK(test::RoundTrip(*plain.Connect(test::kWriterToken), Body::Stats, test::StatsBody()).status.ok());
  }
  {
    test::ServerFixture tls([&](ServerOptions& o) {
      o.host = "0.0.0.0";
      pki.Serve(o, true);
    });
    ExpectServes(tls, pki.Client(true));
  }
  // Half a pair, a wrong key, a key others may read, a missing file.
  CHECK(start([&](ServerOptions& o) { o.tls_cert_file = pki.server_cert; }).code() == Code::kInvalidArgument);
  CHECK(start([&](ServerOptions& o) {
          pki.Serve(o, false);
          o.tls_key_file = pki.client_key;
        }).code() == Code::kInvalidArgument);
  test::WriteSecretFile(dir.Sub("open.key"), test::Slurp(pki.server_key), 0644);
  s = start([&](ServerOptions& o) {
    pki.Serve(o, false);
    o.tls_key_file = dir.Sub("open.key");
  });
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(test::Contains(s.message(), "mode 0644"));
  CHECK_FALSE(test::Contains(s.message(), "PRIVATE KEY"));
  s = start([&](ServerOptions& o) {
    pki.Serve(o, false);
    o.tls_client_ca_file = dir.Sub("missing.pem");
  });
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(test::Contains(s.message(), "missing.pem"));

  // accountabled says so at start and exits 2, before it opens the ledger.
  test::WriteSecretFile(dir.Sub("tokens"), test::kWriterToken + " writer\n");
  test::ExecResult r = test::Exec({ACCOUNTABLE_SERVER, "--data", dir.Sub("data"), "--listen", "0.0.0.0:0",
                                   "--token-file", dir.Sub("tokens")}, "", dir.path().string());
  CHECK(r.code == 2);
  CHECK(test::Contains(r.out + r.err, "--insecure-plaintext"));
  CHECK_FALSE(std::filesystem::exists(dir.Sub("data")));
}
