// The Batch and TreeHead operations of the wire protocol.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "core/tree_head.h"
#include "server_test_util.h"

using namespace accountable;

namespace {

flatbuffers::Offset<wire::Request> Sub(flatbuffers::FlatBufferBuilder& f, uint64_t corr, int i) {
  const std::string nick = test::Name("batch", uint64_t(i)), email = nick + "@example.org";
  auto body = wire::CreateRegisterDirect(f, nick.c_str(), email.c_str(), "password-123", "female", "1990-01-01",
                                         "192.0.2.1", "", "", "1.01");
  return wire::CreateRequest(f, corr, 0, wire::Body::Register, body.Union());
}

}  // namespace

TEST_CASE("server: a batch runs its requests in order, one result each", "[server][batch]") {
  test::ServerFixture fx;
  auto c = fx.Connect(test::kWriterToken);
  const uint64_t before = fx.accounts().ledger().LastSeq();
  Client::Reply rep;
  REQUIRE(c->Call(wire::Body::Batch, [](flatbuffers::FlatBufferBuilder& f) {
    std::vector<flatbuffers::Offset<wire::Request>> reqs;
    for (int i = 0; i < 3; ++i) reqs.push_back(Sub(f, 100 + i, i));
    // A duplicate email (refused), a forbidden op, and a nested Hello (not allowed).
    reqs.push_back(Sub(f, 103, 0));
    reqs.push_back(wire::CreateRequest(f, 104, 0, wire::Body::ReadLog, wire::CreateReadLog(f, 1, 10).Union()));
    reqs.push_back(wire::CreateRequest(f, 105, 0, wire::Body::Hello, wire::CreateHelloDirect(f, "x", "y").Union()));
    return wire::CreateBatchDirect(f, &reqs).Union();
  }, &rep).ok());
  REQUIRE(rep.status.ok());
  REQUIRE(rep.results.size() == 6);
  std::vector<uint8_t> codes;
  std::vector<uint64_t> corrs, seqs;
  for (auto& bytes : rep.results) {
    const wire::Response* r = nullptr;
    REQUIRE(wire::ParseResponse(bytes, &r).ok());
    codes.push_back(r->code());
    corrs.push_back(r->correlation_id());
    seqs.push_back(r->seq());
  }
  CHECK(corrs == std::vector<uint64_t>{100, 101, 102, 103, 104, 105});
  CHECK(codes == std::vector<uint8_t>{0, 0, 0, uint8_t(Status::Code::kRefused),
                                      uint8_t(wire::ProtocolCode::kForbidden),
                                      uint8_t(wire::ProtocolCode::kUnknownOperation)});
  CHECK(seqs[0] == before + 1);  // in order
  CHECK(seqs[2] == before + 3);
  CHECK(fx.accounts().ledger().LastSeq() == before + 3);
}

TEST_CASE("server: an empty or oversized batch is refused whole", "[server][batch]") {
  test::ServerFixture fx;
  auto c = fx.Connect(test::kWriterToken);
  Client::Reply rep;
  REQUIRE(c->Call(wire::Body::Batch, [](flatbuffers::FlatBufferBuilder& f) {
    std::vector<flatbuffers::Offset<wire::Request>> none;
    return wire::CreateBatchDirect(f, &none).Union();
  }, &rep).ok());
  CHECK(rep.status.Is(Status::Code::kInvalidArgument));
  const uint64_t before = fx.accounts().ledger().LastSeq();
  REQUIRE(c->Call(wire::Body::Batch, [](flatbuffers::FlatBufferBuilder& f) {
    std::vector<flatbuffers::Offset<wire::Request>> reqs;
    for (int i = 0; i <= int(wire::kBatchRequestsMax); ++i) reqs.push_back(Sub(f, i + 1, i));
    return wire::CreateBatchDirect(f, &reqs).Union();
  }, &rep).ok());
  CHECK(rep.status.Is(Status::Code::kInvalidArgument));
  CHECK(fx.accounts().ledger().LastSeq() == before);
}

TEST_CASE("server: an auditor gets the signed tree head, a writer does not", "[server][treehead]") {
  test::ServerFixture fx;
  auto w = fx.Connect(test::kWriterToken);
  Client::Reply rep;
  REQUIRE(w->Call(wire::Body::Register, [](flatbuffers::FlatBufferBuilder& f) {
    return wire::CreateRegisterDirect(f, "th", "th@example.org", "password-123", "female", "1990-01-01", "192.0.2.1",
                                      "", "", "1.01").Union();
  }, &rep).ok());
  REQUIRE(rep.status.ok());
  REQUIRE(w->Call(wire::Body::TreeHead, [](flatbuffers::FlatBufferBuilder& f) { return wire::CreateTreeHead(f).Union(); },
                  &rep).ok());
  CHECK(rep.status.Is(Status::Code::kRefused));
  auto a = fx.Connect(test::kAuditorToken);
  REQUIRE(a->Call(wire::Body::TreeHead, [](flatbuffers::FlatBufferBuilder& f) { return wire::CreateTreeHead(f).Union(); },
                  &rep).ok());
  REQUIRE(rep.status.ok());
  auto j = nlohmann::json::parse(rep.json);
  CHECK(j["tree_size"].get<uint64_t>() == fx.accounts().ledger().LastSeq());
  CHECK(j["public_key"] == crypto::ToHex(fx.accounts().public_key()));
  std::string stored;
  SignedTreeHead h;
  REQUIRE(fx.accounts().ledger().Get(Cf::kMeta, kMetaLatestHead, &stored).ok());
  REQUIRE(DecodeHead(stored, &h).ok());
  CHECK(VerifyHead(fx.accounts().public_key(), h).ok());
  CHECK(j["signature"] == crypto::ToHex(h.signature));
}
