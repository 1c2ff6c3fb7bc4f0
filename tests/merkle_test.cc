// RFC 6962 tree: known answers, the published proof vectors, and randomized
// cross-checks of the ledger's stored tree against a naive recomputation.
#include <sodium.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/crypto.h"
#include "core/merkle.h"
#include "test_util.h"

using namespace accountable;
namespace mk = accountable::merkle;

namespace {

std::string Unbase64(const std::string& s) {
  std::string out(s.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), s.c_str(), s.size(), nullptr, &len,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return "not base64";
  out.resize(len);
  return out;
}

std::string B64(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? Unbase64(j[key].get<std::string>()) : std::string();
}

std::vector<std::string> Proof(const nlohmann::json& j) {
  std::vector<std::string> out;
  if (j.contains("proof") && j["proof"].is_array())
    for (auto& p : j["proof"]) out.push_back(p.is_string() ? Unbase64(p.get<std::string>()) : std::string());
  return out;
}

uint64_t U(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number_unsigned() ? j[key].get<uint64_t>() : 0;
}

// RFC 6962 MTH, PATH and PROOF straight from the definitions, over leaf hashes.
std::string NaiveRoot(const std::vector<std::string>& l, size_t b, size_t e) {
  if (e - b == 1) return l[b];
  size_t k = 1;
  while (k * 2 < e - b) k *= 2;
  return mk::NodeHash(NaiveRoot(l, b, b + k), NaiveRoot(l, b + k, e));
}

size_t Split(size_t n) {
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

void NaivePath(const std::vector<std::string>& l, size_t m, size_t b, size_t e, std::vector<std::string>* out) {
  if (e - b <= 1) return;
  size_t k = Split(e - b);
  if (m < k) {
    NaivePath(l, m, b, b + k, out);
    out->push_back(NaiveRoot(l, b + k, e));
  } else {
    NaivePath(l, m - k, b + k, e, out);
    out->push_back(NaiveRoot(l, b, b + k));
  }
}

void NaiveSub(const std::vector<std::string>& l, size_t m, size_t b, size_t e, bool complete,
              std::vector<std::string>* out) {
  size_t n = e - b;
  if (m == n) {
    if (!complete) out->push_back(NaiveRoot(l, b, e));
    return;
  }
  size_t k = Split(n);
  if (m <= k) {
    NaiveSub(l, m, b, b + k, complete, out);
    out->push_back(NaiveRoot(l, b + k, e));
  } else {
    NaiveSub(l, m - k, b + k, e, false, out);
    out->push_back(NaiveRoot(l, b, b + k));
  }
}

}  // namespace

TEST_CASE("merkle: known answers of RFC 6962", "[merkle]") {
  REQUIRE(crypto::InitCrypto().ok());
  CHECK(crypto::ToHex(mk::EmptyRoot()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(crypto::ToHex(mk::LeafHash("")) == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  // inclusion/1/happy-path.json of the published vectors, embedded so this test stands alone.
  const std::vector<std::string> proof = {Unbase64("lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c="),
                                          Unbase64("Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4="),
                                          Unbase64("a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=")};
  const std::string root = Unbase64("XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=");
  const std::string leaf = Unbase64("bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=");
  CHECK(mk::VerifyInclusion(0, 8, leaf, proof, root).ok());
  CHECK_FALSE(mk::VerifyInclusion(1, 8, leaf, proof, root).ok());
  auto flipped = proof;
  flipped[1][0] ^= 1;
  CHECK_FALSE(mk::VerifyInclusion(0, 8, leaf, flipped, root).ok());
  CHECK_FALSE(mk::VerifyConsistency(0, 8, mk::EmptyRoot(), root, proof).ok());
}

TEST_CASE("merkle: every published RFC 6962 vector", "[merkle][vectors]") {
  REQUIRE(crypto::InitCrypto().ok());
  const std::filesystem::path dir = std::filesystem::path(ACCOUNTABLE_SOURCE_DIR) / ".." / "shared" / "vectors" / "rfc6962";
  if (!std::filesystem::exists(dir)) {
    WARN("vectors not present at " << dir.string() << "; only the embedded known answers ran");
    return;
  }
  size_t cases = 0, rejected = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.path().extension() != ".json") continue;
    std::ifstream f(e.path());
    auto j = nlohmann::json::parse(f, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    const bool want_err = j.value("wantErr", false);
    const bool inclusion = e.path().string().find("/inclusion/") != std::string::npos;
    Status s = inclusion ? mk::VerifyInclusion(U(j, "leafIdx"), U(j, "treeSize"), B64(j, "leafHash"), Proof(j), B64(j, "root"))
                         : mk::VerifyConsistency(U(j, "size1"), U(j, "size2"), B64(j, "root1"), B64(j, "root2"), Proof(j));
    INFO(e.path().string());
    CHECK(s.ok() == !want_err);
    ++cases;
    rejected += want_err;
  }
  CHECK(cases == 196);
  CHECK(rejected > 0);
}

TEST_CASE("merkle: the ledger's stored tree matches a naive recomputation for sizes 1..2000", "[merkle]") {
  test::TempDir dir("acc-merkle");
  std::unique_ptr<Ledger> ledger;
  REQUIRE(Ledger::Open(test::LedgerAt(dir.Sub("events")), &ledger).ok());
  constexpr size_t kLeaves = 2000;
  for (size_t i = 0; i < kLeaves; i += 500) {
    std::vector<Ledger::Command> batch;
    for (size_t k = i; k < i + 500; ++k) batch.push_back(test::Consent(k % 7 + 1, test::Name("m", k)));
    std::vector<Ledger::Appended> out;
    REQUIRE(ledger->Append(std::move(batch), &out).ok());
  }
  std::vector<Ledger::Stored> events;
  REQUIRE(ledger->ReadRange(1, kLeaves, &events).ok());
  REQUIRE(events.size() == kLeaves);
  std::vector<std::string> leaves;
  for (auto& e : events) leaves.push_back(mk::LeafHash(e.envelope));
  mk::NodeReader read = mk::LedgerNodes(*ledger);
  std::mt19937_64 rng(6962);
  for (size_t n = 1; n <= kLeaves; ++n) {
    std::string root;
    REQUIRE(mk::RootAt(read, n, &root).ok());
    REQUIRE(root == NaiveRoot(leaves, 0, n));
    if (n % 7 != 0 && n > 64) continue;  // proofs on a subset keep this fast
    const size_t m = rng() % n;
    std::vector<std::string> path, want;
    REQUIRE(mk::InclusionProof(read, m, n, &path).ok());
    NaivePath(leaves, m, 0, n, &want);
    CHECK(path == want);
    CHECK(mk::VerifyInclusion(m, n, leaves[m], path, root).ok());
    const size_t old = 1 + rng() % n;
    std::string old_root;
    REQUIRE(mk::RootAt(read, old, &old_root).ok());
    std::vector<std::string> cp, cwant;
    REQUIRE(mk::ConsistencyProof(read, old, n, &cp).ok());
    if (old < n) NaiveSub(leaves, old, 0, n, true, &cwant);
    CHECK(cp == cwant);
    CHECK(mk::VerifyConsistency(old, n, old_root, root, cp).ok());
    if (old < n) CHECK_FALSE(mk::VerifyConsistency(old, n, root, root, cp).ok());
  }
}
