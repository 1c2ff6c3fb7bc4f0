// The auditor over the wire: the InclusionProof and ConsistencyProof
// operations (roles, defaults, bad input) and replay/online.h, the offline
// audit commands run against a live server, including a rewritten envelope
// that the online verify must trace to its seq.
#include <rocksdb/db.h>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <thread>

#include "core/coding.h"
#include "core/crypto.h"
#include "core/merkle.h"
#include "replay/online.h"
#include "projections/service/log_checks.h"
#include "tests/raw_events.h"
#include "server_test_util.h"

using namespace accountable;

namespace {

using Code = Status::Code;

test::BodyFn InclusionBody(uint64_t seq, uint64_t size) {
  return [=](flatbuffers::FlatBufferBuilder& f) { return wire::CreateInclusionProof(f, seq, size).Union(); };
}

test::BodyFn ConsistencyBody(uint64_t old_size, uint64_t new_size) {
  return [=](flatbuffers::FlatBufferBuilder& f) { return wire::CreateConsistencyProof(f, old_size, new_size).Union(); };
}

using test::CallOk;

nlohmann::json JsonOf(const Client::Reply& rep) {
  INFO(rep.status.ToString());
  REQUIRE(rep.status.ok());
  auto j = nlohmann::json::parse(rep.json, nullptr, false);
  REQUIRE(j.is_object());
  return j;
}

// The signed head as the server states it: {tree_size, root (hex), ...}.
nlohmann::json Head(Client& c) {
  return JsonOf(CallOk(c, wire::Body::TreeHead,
                       [](flatbuffers::FlatBufferBuilder& f) { return wire::CreateTreeHead(f).Union(); }));
}

std::string HexOfB64(const nlohmann::json& v) { return crypto::ToHex(audit::Unb64(v)); }

// Appends n access-log events (no Argon2id), pipelined in chunks so that
// group commit keeps it fast without overrunning the in-flight limit.
void AppendAccessLogs(Client& w, int n) {
  constexpr int kChunk = 128;
  for (int done = 0; done < n;) {
    const int chunk = std::min(kChunk, n - done);
    for (int i = 0; i < chunk; ++i) {
      uint64_t corr = 0;
      REQUIRE(w.Send(wire::Body::RecordAccess, test::RecordAccessBody(test::Name("/p", uint64_t(done + i))), &corr).ok());
    }
    for (int i = 0; i < chunk; ++i) {
      Client::Reply rep;
      REQUIRE(w.Receive(&rep).ok());
      REQUIRE(rep.status.ok());
    }
    done += chunk;
  }
}

void RegisterSome(Client& w, int n, int first = 0) {
  for (int i = first; i < first + n; ++i) {
    auto rep = CallOk(w, wire::Body::Register, test::RegisterBody(test::Name("audit", uint64_t(i)) + "@example.org"));
    INFO(rep.status.ToString());
    REQUIRE(rep.status.ok());
  }
}

}  // namespace

TEST_CASE("server audit: an inclusion proof verifies and its root is the signed head's", "[server][audit]") {
  test::ServerFixture fx;
  RegisterSome(*fx.Connect(test::kWriterToken), 4);
  for (const auto& token : {test::kAuditorToken, test::kAdminToken}) {
    auto c = fx.Connect(token);
    const auto head = Head(*c);
    const uint64_t size = head["tree_size"].get<uint64_t>();
    REQUIRE(size == fx.accounts().ledger().LastSeq());
    for (uint64_t seq : {uint64_t(1), uint64_t(3), size}) {
      auto j = JsonOf(CallOk(*c, wire::Body::InclusionProof, InclusionBody(seq, 0)));  // 0: the signed head's size
      CHECK(audit::VerifyInclusion(j).ok());
      CHECK(j["leafIdx"] == seq - 1);
      CHECK(j["treeSize"] == size);
      CHECK(HexOfB64(j["root"]) == head["root"]);
      // The leaf is the hash of the envelope the log serves for that seq.
      std::vector<Ledger::Stored> one;
      REQUIRE(fx.accounts().ledger().ReadRange(seq, 1, &one).ok());
      REQUIRE(one.size() == 1);
      CHECK(HexOfB64(j["leafHash"]) == crypto::ToHex(merkle::LeafHash(one[0].envelope)));
    }
  }
}

TEST_CASE("server audit: a consistency proof links a head saved earlier to a later one", "[server][audit]") {
  test::ServerFixture fx;
  auto w = fx.Connect(test::kWriterToken);
  auto a = fx.Connect(test::kAuditorToken);
  RegisterSome(*w, 2);
  const auto before = Head(*a);
  RegisterSome(*w, 3, 2);
  AppendAccessLogs(*w, 5);
  const auto after = Head(*a);
  const uint64_t n1 = before["tree_size"].get<uint64_t>(), n2 = after["tree_size"].get<uint64_t>();
  REQUIRE(n2 == n1 + 8);

  auto j = JsonOf(CallOk(*a, wire::Body::ConsistencyProof, ConsistencyBody(n1, 0)));  // 0: the latest head
  CHECK(j["size1"] == n1);
  CHECK(j["size2"] == n2);
  CHECK(HexOfB64(j["root1"]) == before["root"]);
  CHECK(HexOfB64(j["root2"]) == after["root"]);
  CHECK(!j["proof"].empty());
  CHECK(audit::VerifyConsistency(j).ok());
  // The same proof does not link another old root to the new one.
  auto forged = j;
  forged["root1"] = j["root2"];
  CHECK(audit::VerifyConsistency(forged).Is(Code::kCorruption));

  // Explicit sizes, and equal sizes (an empty proof), work as well.
  auto explicit_sizes = JsonOf(CallOk(*a, wire::Body::ConsistencyProof, ConsistencyBody(n1, n2)));
  CHECK(explicit_sizes == j);
  auto same = JsonOf(CallOk(*a, wire::Body::ConsistencyProof, ConsistencyBody(n2, n2)));
  CHECK(same["proof"].empty());
  CHECK(audit::VerifyConsistency(same).ok());
}

TEST_CASE("server audit: a writer may not ask for proofs", "[server][audit][roles]") {
  test::ServerFixture fx;
  auto w = fx.Connect(test::kWriterToken);
  const uint64_t before = fx.accounts().ledger().LastSeq();
  for (const auto& [type, body] : {std::pair{wire::Body::InclusionProof, InclusionBody(1, 0)},
                                   std::pair{wire::Body::ConsistencyProof, ConsistencyBody(1, 0)}}) {
    auto rep = CallOk(*w, type, body);
    CHECK(rep.code == uint8_t(wire::ProtocolCode::kForbidden));
    CHECK(rep.status.Is(Code::kRefused));
    CHECK(rep.json.empty());
  }
  audit::Json j;
  CHECK(audit::OnlineProveInclusion(*w, 1, 0, &j).Is(Code::kRefused));
  CHECK(audit::OnlineVerify(*w, fx.accounts().public_key(), &j).Is(Code::kRefused));
  // The connection stays usable and nothing was appended.
  CHECK(CallOk(*w, wire::Body::Stats, test::StatsBody()).status.ok());
  CHECK(fx.accounts().ledger().LastSeq() == before);
}

TEST_CASE("server audit: bad seqs and sizes are InvalidArgument and change nothing", "[server][audit]") {
  test::ServerFixture fx;
  RegisterSome(*fx.Connect(test::kWriterToken), 2);
  auto a = fx.Connect(test::kAuditorToken);
  const uint64_t size = fx.accounts().ledger().LastSeq();
  REQUIRE(size == 3);
  struct Case {
    const char* what;
    wire::Body type;
    test::BodyFn body;
  };
  const std::vector<Case> cases = {
      {"seq 0", wire::Body::InclusionProof, InclusionBody(0, 0)},
      {"seq beyond the tree size", wire::Body::InclusionProof, InclusionBody(3, 2)},
      {"seq beyond the signed head", wire::Body::InclusionProof, InclusionBody(size + 1, 0)},
      {"tree size beyond the log", wire::Body::InclusionProof, InclusionBody(1, size + 1)},
      {"old size 0", wire::Body::ConsistencyProof, ConsistencyBody(0, size)},
      {"old size 0, new size default", wire::Body::ConsistencyProof, ConsistencyBody(0, 0)},
      {"old size above new size", wire::Body::ConsistencyProof, ConsistencyBody(3, 2)},
      {"old size above the signed head", wire::Body::ConsistencyProof, ConsistencyBody(size + 1, 0)},
      {"new size beyond the log", wire::Body::ConsistencyProof, ConsistencyBody(1, size + 1)},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    auto rep = CallOk(*a, c.type, c.body);
    CHECK(rep.status.Is(Code::kInvalidArgument));
    CHECK(!rep.status.message().empty());
    CHECK(rep.json.empty());
  }
  audit::Json j;
  CHECK(audit::OnlineProveConsistency(*a, 3, 2, &j).Is(Code::kInvalidArgument));
  // Nothing was appended, and the same connection still gets good proofs.
  CHECK(fx.accounts().ledger().LastSeq() == size);
  CHECK(audit::VerifyInclusion(JsonOf(CallOk(*a, wire::Body::InclusionProof, InclusionBody(size, size)))).ok());
}

TEST_CASE("server audit: online verify and proofs match the offline ones over several pages", "[server][audit][online]") {
  test::ServerFixture fx;
  auto w = fx.Connect(test::kWriterToken);
  RegisterSome(*w, 2);
  // More events than one ReadLog page holds, so OnlineVerify must page.
  AppendAccessLogs(*w, int(wire::kReadEventsMax) + 100);
  auto a = fx.Connect(test::kAuditorToken);
  Ledger& ledger = fx.accounts().ledger();
  const uint64_t size = ledger.LastSeq();
  REQUIRE(size == 3 + wire::kReadEventsMax + 100);

  audit::Json v;
  Status s = audit::OnlineVerify(*a, fx.accounts().public_key(), &v);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(v["events"] == size);
  CHECK(v["pages"].get<uint64_t>() >= 2);
  audit::Json offline;
  REQUIRE(audit::VerifySignedHead(ledger, fx.accounts().public_key(), &offline).ok());
  CHECK(v["signed_head"] == offline["signed_head"]);

  audit::Json head, offline_head;
  REQUIRE(audit::OnlineTreeHead(*a, &head).ok());
  REQUIRE(audit::TreeHead(ledger, size, &offline_head).ok());
  CHECK(head["treeSize"] == size);
  CHECK(head["root"] == offline_head["root"]);

  for (uint64_t seq : {uint64_t(1), uint64_t(2), uint64_t(1000), size}) {
    audit::Json on, off;
    REQUIRE(audit::OnlineProveInclusion(*a, seq, 0, &on).ok());
    REQUIRE(audit::ProveInclusion(ledger, seq, size, &off).ok());
    CHECK(on == off);
  }
  const std::vector<std::pair<uint64_t, uint64_t>> sizes = {{1, size}, {3, 1027}, {1024, size}, {size, size}};
  for (auto [m, n] : sizes) {
    audit::Json on, off;
    REQUIRE(audit::OnlineProveConsistency(*a, m, n, &on).ok());
    REQUIRE(audit::ProveConsistency(ledger, m, n, &off).ok());
    CHECK(on == off);
  }
}

TEST_CASE("server audit: online verify refuses a head signed by another key", "[server][audit][online]") {
  test::ServerFixture fx;
  auto a = fx.Connect(test::kAuditorToken);
  std::string other = fx.accounts().public_key();
  other[0] ^= 0x01;
  audit::Json j;
  Status s = audit::OnlineVerify(*a, other, &j);
  CHECK(s.Is(Code::kCorruption));
  CHECK(s.message().find("signature") != std::string::npos);
  CHECK(audit::OnlineVerify(*a, "short", &j).Is(Code::kInvalidArgument));
}

namespace {

// Accounts plus a server over a data dir the test names, so the test can
// stop it, edit the files and serve them again.
struct Served {
  explicit Served(const std::string& data) {
    AccountsOptions ao;
    ao.data_dir = data;
    ao.password_cost = {1, 8u << 20};
    REQUIRE(Accounts::Open(ao, &accounts).ok());
    ServerOptions o;
    o.port = 0;
    o.worker_threads = 4;
    o.sweep_interval_ms = 0;
    o.token_digests = {{TokenDigest(test::kWriterToken), wire::Role::Writer},
                       {TokenDigest(test::kAuditorToken), wire::Role::Auditor}};
    REQUIRE(Server::Start(o, accounts.get(), &server).ok());
  }
  ~Served() {
    server->Stop();
    server.reset();
    CHECK(accounts->Close().ok());
  }
  std::unique_ptr<Client> Connect(const std::string& token) {
    std::unique_ptr<Client> c;
    REQUIRE(Client::Connect("127.0.0.1:" + std::to_string(server->port()), token, &c).ok());
    return c;
  }
  std::unique_ptr<Accounts> accounts;
  std::unique_ptr<Server> server;
};

}  // namespace

TEST_CASE("server audit: online verify names the first rewritten envelope", "[server][audit][online][tamper]") {
  test::TempDir dir("acc-online-audit");
  const std::string data = dir.Sub("data");
  std::string public_key;
  {
    Served live(data);
    RegisterSome(*live.Connect(test::kWriterToken), 6);  // seqs 2..7 carry sealed boxes
    public_key = live.accounts->public_key();
    audit::Json j;
    REQUIRE(audit::OnlineVerify(*live.Connect(test::kAuditorToken), public_key, &j).ok());
    CHECK(j["events"] == 7);
  }
  test::FlipEnvelopeBit(data + "/events", 5);
  test::FlipEnvelopeBit(data + "/events", 6);  // only the first is named
  Served live(data);
  audit::Json j;
  Status s = audit::OnlineVerify(*live.Connect(test::kAuditorToken), public_key, &j);
  INFO(s.ToString());
  REQUIRE(s.Is(Code::kCorruption));
  CHECK(s.message().rfind("seq 5:", 0) == 0);
  CHECK(s.message().find("differs from the one the signed head covers") != std::string::npos);
}

TEST_CASE("server audit: with a signing interval the timer signs the log's tail", "[server][audit][sth]") {
  test::ServerFixture fx([](ServerOptions& o) { o.sign_interval_ms = 50; });
  auto w = fx.Connect(test::kWriterToken);
  auto a = fx.Connect(test::kAuditorToken);
  AppendAccessLogs(*w, 3);
  const uint64_t last = fx.accounts().ledger().LastSeq();
  uint64_t signed_size = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (signed_size < last && std::chrono::steady_clock::now() < deadline) {
    signed_size = Head(*a)["tree_size"].get<uint64_t>();
    if (signed_size < last) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // The commit path signs at most once per 50 ms; no commit follows the last
  // one, so the tail is covered only because the commit or the timer signed it.
  CHECK(signed_size == last);
}

TEST_CASE("accountable-audit --server: the auditor's commands over the wire", "[server][audit][online][cli]") {
  test::ServerFixture fx;
  RegisterSome(*fx.Connect(test::kWriterToken), 3);
  test::TempDir dir("acc-audit-cli");
  test::WriteSecretFile(dir.Sub("auditor.token"), std::string(test::kAuditorToken) + "\n");
  test::WriteSecretFile(dir.Sub("writer.token"), std::string(test::kWriterToken) + "\n");
  std::ofstream(dir.Sub("signing.pub")) << crypto::ToHex(fx.accounts().public_key()) << "\n";
  auto run = [&](const std::string& token, std::vector<std::string> args) {
    args.insert(args.begin(), {ACCOUNTABLE_AUDIT, "--server", fx.address(), "--token-file", dir.Sub(token)});
    return test::Exec(args, "", dir.path().string());
  };
  test::ExecResult verify = run("auditor.token", {"verify", "--pubkey", dir.Sub("signing.pub")});
  INFO(verify.out << verify.err);
  CHECK(verify.code == 0);
  CHECK(verify.out.find("\"events\":4") != std::string::npos);  // the policy and three registrations
  test::ExecResult proof = run("auditor.token", {"prove-inclusion", "2"});
  REQUIRE(proof.code == 0);
  std::ofstream(dir.Sub("i.json")) << proof.out;
  CHECK(test::Exec({ACCOUNTABLE_AUDIT, "verify-inclusion", dir.Sub("i.json")}, "", dir.path().string()).code == 0);
  CHECK(run("auditor.token", {"prove-consistency", "2", "4"}).code == 0);
  CHECK(run("auditor.token", {"tree-head"}).out.find("\"signature\"") != std::string::npos);
  CHECK(run("writer.token", {"tree-head"}).code == 6);   // a writer may not audit
  CHECK(run("auditor.token", {"replay"}).code == 2);     // data-directory commands are not online
  CHECK(run("missing.token", {"tree-head"}).code == 6);
}
