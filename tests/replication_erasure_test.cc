// Erasure on every copy (docs/replication.md): a writer and two followers
// on a three-node NATS cluster; each copy verifies an erasure in its own
// vault, the writer records every verification, and the erasure
// certificate names the copies that verified it and those that have not.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "core/tree_head.h"
#include "events/event.h"
#include "projections/service/proof_json.h"
#include "replay/certificate.h"
#include "server/replica/verification.h"
#include "tests/nats_cluster.h"
#include "tests/replica_copies.h"

using namespace accountable;
using Code = Status::Code;

namespace {

// node -> its ReplicaErasureVerified in the account's stream.
std::map<std::string, std::pair<uint64_t, uint64_t>> CopyVerifications(Ledger& l, uint64_t id, uint64_t erased_seq) {
  std::vector<Ledger::Stored> events;
  REQUIRE(l.ReadStream(id, 1, 1000, &events).ok());
  std::map<std::string, std::pair<uint64_t, uint64_t>> out;  // node -> (hits, files_scanned)
  for (auto& e : events) {
    auto v = events::EventView::FromVerified(e.envelope);
    if (v.type() != fb::Payload::ReplicaErasureVerified) continue;
    auto* p = v.envelope()->payload_as_ReplicaErasureVerified();
    if (p->erased_seq() == erased_seq) out[p->node()->str()] = {p->hits(), p->files_scanned()};
  }
  return out;
}

uint64_t ErasedSeq(Accounts& a, uint64_t id) {
  std::vector<Ledger::Stored> events;
  REQUIRE(a.ledger().ReadStream(id, 1, 1000, &events).ok());
  for (auto& e : events)
    if (events::EventView::FromVerified(e.envelope).type() == fb::Payload::AccountErased) return e.seq;
  FAIL("account " << id << " is not erased");
  return 0;
}

nlohmann::json Certificate(Accounts& a, const std::string& keys, uint64_t id) {
  SigningKey key;
  REQUIRE(LoadOrCreateSigningKey(keys + "/signing", &key).ok());
  nlohmann::json cert;
  Status s = audit::ProveErasure(a.ledger(), a.vault(), key, id, 1, &cert);
  INFO(s.ToString());
  REQUIRE(s.ok());
  nlohmann::ordered_json summary;
  s = audit::VerifyCertificate(cert, key.public_key, &summary);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return cert;
}

std::set<std::string> Names(const nlohmann::json& list, bool with_node_member) {
  std::set<std::string> out;
  for (auto& e : list) out.insert(with_node_member ? e["node"].get<std::string>() : e.get<std::string>());
  return out;
}

}  // namespace

TEST_CASE("replication: an erasure is verified on all three copies", "[replication][erasure]") {
  test::NatsCluster nats;
  if (!nats.available()) {
    WARN("SKIPPED: " << nats.skip_reason());
    return;
  }
  REQUIRE(nats.WaitMetaLeader());
  test::TempDir dir("acc-repl-verify");
  const std::string keys = dir.Sub("keys");
  std::unique_ptr<Accounts> writer, f1, f2;
  replica::DaemonReplica wr, fr1, fr2;  // declared after the copies: they stop first
  writer = test::OpenCopy(dir.Sub("w"), keys, wr, {.replicate = nats.urls(), .node_name = "writer-1"});
  f1 = test::OpenCopy(dir.Sub("f1"), keys, fr1, {.follow = nats.urls(), .node_name = "follower-1"});
  f2 = test::OpenCopy(dir.Sub("f2"), keys, fr2, {.follow = nats.urls(), .node_name = "follower-2"});
  std::vector<std::string> known;
  REQUIRE(test::WaitFor([&] { return writer->KnownReplicas(&known).ok() && known.size() == 3; }));
  const uint64_t gone = test::RegisterAccount(*writer, "gone@example.org");
  const uint64_t later = test::RegisterAccount(*writer, "later@example.org");

  SweepReport rep;
  REQUIRE(writer->Erase({{gone, "test erasure", 0}}, &rep).ok());
  REQUIRE(rep.verified);
  const uint64_t erased_seq = ErasedSeq(*writer, gone);
  REQUIRE(test::WaitFor([&] { return CopyVerifications(writer->ledger(), gone, erased_seq).size() == 3; }));
  const auto copies = CopyVerifications(writer->ledger(), gone, erased_seq);
  for (const char* node : {"writer-1", "follower-1", "follower-2"}) {
    INFO(node);
    REQUIRE(copies.count(node) == 1);
    CHECK(copies.at(node).first == 0);    // no key bytes left in that copy's vault
    CHECK(copies.at(node).second > 0);    // and its scan read files
  }
  // The verifications replicate like any event.
  REQUIRE(test::WaitFor([&] { return f1->ledger().LastSeq() == writer->ledger().LastSeq(); }));
  CHECK(CopyVerifications(f1->ledger(), gone, erased_seq).size() == 3);

  nlohmann::json cert = Certificate(*writer, keys, gone);
  const auto& c = cert["certificate"]["copies"];
  CHECK(Names(c["verified"], true) == std::set<std::string>{"writer-1", "follower-1", "follower-2"});
  CHECK(c["not_verified"].empty());

  SECTION("a stopped follower is named as not yet verified") {
    fr2.Stop();
    f2.reset();
    SweepReport rep2;
    REQUIRE(writer->Erase({{later, "test erasure", 0}}, &rep2).ok());
    const uint64_t seq2 = ErasedSeq(*writer, later);
    REQUIRE(test::WaitFor([&] { return CopyVerifications(writer->ledger(), later, seq2).size() == 2; }));
    nlohmann::json cert2 = Certificate(*writer, keys, later);
    const auto& c2 = cert2["certificate"]["copies"];
    CHECK(Names(c2["verified"], true) == std::set<std::string>{"writer-1", "follower-1"});
    CHECK(Names(c2["not_verified"], false) == std::set<std::string>{"follower-2"});
  }

  SECTION("a certificate whose copies disagree with its events fails, even re-signed") {
    SigningKey key;
    REQUIRE(LoadOrCreateSigningKey(keys + "/signing", &key).ok());
    cert["certificate"]["copies"]["not_verified"].push_back("follower-1");  // also verified
    cert["signature"] = audit::B64(SignDetached(key, audit::CertificateSignedBytes(cert["certificate"])));
    nlohmann::ordered_json summary;
    Status s = audit::VerifyCertificate(cert, key.public_key, &summary);
    CHECK(s.code() == Code::kCorruption);
    CHECK(test::Contains(s.message(), "not_verified"));
  }
}

TEST_CASE("replication: copy names and verification messages are checked", "[replication][erasure]") {
  replica::VerifyMessage m;
  m.facts = {"follower-1", 7, 42, 3, 4096, 0, 1};
  replica::VerifyMessage back;
  REQUIRE(replica::DecodeVerifyMessage(replica::EncodeVerifyMessage(m), &back).ok());
  CHECK(back.facts.node == "follower-1");
  CHECK(back.facts.erased_seq == 42);
  CHECK(back.facts.compaction_passes == 1);
  CHECK(replica::DecodeVerifyMessage(R"({"type":"joined","node":"a b"})", &back).code() == Code::kInvalidArgument);
  CHECK(replica::DecodeVerifyMessage(R"({"type":"joined","node":"ok","extra":1})", &back).code() == Code::kInvalidArgument);
  CHECK(replica::DecodeVerifyMessage("not json", &back).code() == Code::kInvalidArgument);
  CHECK(replica::DecodeVerifyMessage(R"({"type":"joined","node":"copy-2"})", &back).ok());
  CHECK(back.joined);

  replica::DaemonReplica r;
  AccountsOptions ao;
  Status s = r.Open({.follow = "nats://127.0.0.1:1", .node_name = "mail@example.org"}, &ao);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(test::Contains(s.message(), "--node-name"));
  CHECK(replica::DefaultNodeName({.listen = "[::1]:7401"}) == "---1--7401");
  CHECK(replica::DefaultNodeName({.advertise = "db2.example:7400", .listen = "0.0.0.0:7400"}) == "db2.example-7400");
}
