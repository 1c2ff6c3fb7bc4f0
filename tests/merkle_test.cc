// RFC 6962 tree: known answers, the published proof vectors, and randomized
// cross-checks of the ledger's stored tree against a naive recomputation.
#include <rocksdb/db.h>
#include <sodium.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/crypto.h"
#include "core/merkle.h"
#include "core/sha256.h"
#include "projections/service/json_fields.h"
#include "projections/service/log_checks.h"
#include "tests/raw_events.h"
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

std::string Base64Member(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? Unbase64(j[key].get<std::string>()) : std::string();
}

std::vector<std::string> Proof(const nlohmann::json& j) {
  std::vector<std::string> out;
  if (j.contains("proof") && j["proof"].is_array())
    for (auto& p : j["proof"]) out.push_back(p.is_string() ? Unbase64(p.get<std::string>()) : std::string());
  return out;
}

using json_fields::UnsignedOrZero;

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

// The vectors live in the repository (tests/vectors/rfc6962, Apache-2.0,
// LICENSE beside them). MANIFEST names every file with its SHA-256, so a
// removed or altered vector fails here instead of shrinking the test.
TEST_CASE("merkle: every published RFC 6962 vector", "[merkle][vectors]") {
  REQUIRE(crypto::InitCrypto().ok());
  const std::filesystem::path dir = std::filesystem::path(ACCOUNTABLE_SOURCE_DIR) / "tests" / "vectors" / "rfc6962";
  std::ifstream manifest(dir / "MANIFEST");
  REQUIRE(manifest.good());
  size_t cases = 0, rejected = 0;
  std::string digest_hex, name;
  while (manifest >> digest_hex >> name) {
    INFO(name);
    std::ifstream f(dir / name, std::ios::binary);
    REQUIRE(f.good());
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    REQUIRE(crypto::ToHex(crypto::Sha256(bytes)) == digest_hex);
    auto j = nlohmann::json::parse(bytes, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    const bool want_err = j.value("wantErr", false);
    const bool inclusion = name.rfind("inclusion/", 0) == 0;
    Status s = inclusion ? mk::VerifyInclusion(UnsignedOrZero(j, "leafIdx"), UnsignedOrZero(j, "treeSize"),
                                               Base64Member(j, "leafHash"), Proof(j), Base64Member(j, "root"))
                         : mk::VerifyConsistency(UnsignedOrZero(j, "size1"), UnsignedOrZero(j, "size2"),
                                                 Base64Member(j, "root1"), Base64Member(j, "root2"), Proof(j));
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

TEST_CASE("merkle: SHA-256 (OpenSSL EVP) equals libsodium on random inputs", "[merkle][sha256]") {
  REQUIRE(crypto::InitCrypto().ok());
  std::mt19937_64 rng(256);
  std::string data(1001, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  for (size_t len = 0; len <= 1000; ++len) {
    const std::string_view m(data.data(), len);
    const std::string want = crypto::Sha256(m);
    Sha256 one;
    one.Update(m.data(), m.size());
    REQUIRE(std::string(View(one.Final())) == want);
    // The same bytes in three pieces split at random points.
    const size_t a = len ? rng() % (len + 1) : 0, b = a + (len - a ? rng() % (len - a + 1) : 0);
    Sha256 split;
    split.Update(m.data(), a);
    split.Update(m.data() + a, b - a);
    split.Update(m.data() + b, len - b);
    REQUIRE(std::string(View(split.Final())) == want);
    std::string prefixed(1, '\0');
    prefixed.append(m);
    REQUIRE(std::string(View(Sha256Of(0x00, m, {}))) == crypto::Sha256(prefixed));
  }
  // FIPS 180-4 examples.
  CHECK(crypto::ToHex(std::string(View(Sha256Of('a', "bc", "")))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(crypto::ToHex(std::string(View(Sha256Of('a', "bcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "")))) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

namespace {

void AppendConsents(Ledger& ledger, size_t first, size_t count) {
  std::vector<Ledger::Command> batch;
  for (size_t k = first; k < first + count; ++k) batch.push_back(test::Consent(k % 5 + 1, test::Name("r", k)));
  std::vector<Ledger::Appended> out;
  REQUIRE(ledger.Append(std::move(batch), &out).ok());
}

}  // namespace

TEST_CASE("merkle: the frontier is recovered after every restart, at every unstored level", "[merkle]") {
  test::TempDir dir("acc-merkle");
  // Sessions ending inside and at the edges of unstored subtrees (levels 1..3).
  const std::vector<size_t> ends = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 100, 127, 128, 129, 300};
  size_t size = 0;
  for (size_t end : ends) {
    std::unique_ptr<Ledger> ledger;
    REQUIRE(Ledger::Open(test::LedgerAt(dir.Sub("events")), &ledger).ok());
    REQUIRE(ledger->LastSeq() == size);
    AppendConsents(*ledger, size, end - size);
    size = end;
    REQUIRE(ledger->Close().ok());
  }
  std::unique_ptr<Ledger> ledger;
  REQUIRE(Ledger::Open(test::LedgerAt(dir.Sub("events")), &ledger).ok());
  std::vector<Ledger::Stored> events;
  REQUIRE(ledger->ReadRange(1, size, &events).ok());
  std::vector<std::string> leaves;
  for (auto& e : events) leaves.push_back(mk::LeafHash(e.envelope));
  mk::NodeReader read = mk::LedgerNodes(*ledger);
  for (size_t n = 1; n <= size; ++n) {
    std::string root;
    REQUIRE(mk::RootAt(read, n, &root).ok());
    REQUIRE(root == NaiveRoot(leaves, 0, n));
  }
  size_t scanned = 0;
  REQUIRE(mk::ScanLeaves(*ledger, 0, [&](uint64_t i, std::string_view h) {
            CHECK(i == scanned);
            CHECK(h == leaves[i]);
            return ++scanned < size;
          }).ok());
  CHECK(scanned == size);
}

TEST_CASE("merkle: one leaf run per group and nodes only at stored levels", "[merkle]") {
  test::TempDir dir("acc-merkle");
  std::unique_ptr<Ledger> ledger;
  REQUIRE(Ledger::Open(test::LedgerAt(dir.Sub("events")), &ledger).ok());
  AppendConsents(*ledger, 0, 100);  // one Append call: one group
  AppendConsents(*ledger, 100, 28);
  std::vector<std::pair<std::string, size_t>> rows;
  REQUIRE(ledger->Scan(Cf::kMerkle, "", [&](std::string_view k, std::string_view v) {
            rows.emplace_back(std::string(k), v.size());
            return true;
          }).ok());
  // Runs of leaves 0..99 and 100..127, then nodes 6/0, 6/1 and 7/0 in completion order.
  REQUIRE(rows.size() == 5);
  CHECK(rows[0] == std::make_pair(mk::LeafRunKey(99), size_t{100 * 32}));
  CHECK(rows[1] == std::make_pair(mk::LeafRunKey(127), size_t{28 * 32}));
  CHECK(rows[2] == std::make_pair(mk::NodeKey(6, 0), size_t{32}));
  CHECK(rows[3] == std::make_pair(mk::NodeKey(6, 1), size_t{32}));
  CHECK(rows[4] == std::make_pair(mk::NodeKey(7, 0), size_t{32}));
}

TEST_CASE("merkle: a ledger keeps the tree mode it was created with", "[merkle][ledger]") {
  test::TempDir dir("acc-merkle");
  LedgerOptions off = test::LedgerAt(dir.Sub("off"));
  off.merkle_tree = false;
  {
    std::unique_ptr<Ledger> ledger;
    REQUIRE(Ledger::Open(off, &ledger).ok());
    AppendConsents(*ledger, 0, 3);
    std::string root;
    CHECK(mk::RootAt(mk::LedgerNodes(*ledger), 3, &root).Is(Status::Code::kCorruption));
  }
  std::unique_ptr<Ledger> ledger;
  CHECK(Ledger::Open(test::LedgerAt(dir.Sub("off")), &ledger).Is(Status::Code::kInvalidArgument));
  REQUIRE(Ledger::Open(test::LedgerAt(dir.Sub("on")), &ledger).ok());
  AppendConsents(*ledger, 0, 3);
  REQUIRE(ledger->Close().ok());
  ledger.reset();
  off.dir = dir.Sub("on");
  CHECK(Ledger::Open(off, &ledger).Is(Status::Code::kInvalidArgument));
}

TEST_CASE("merkle: a ledger of another format version is refused", "[merkle][ledger]") {
  test::TempDir dir("acc-merkle");
  {
    std::unique_ptr<Ledger> ledger;
    REQUIRE(Ledger::Open(test::LedgerAt(dir.Sub("events")), &ledger).ok());
    REQUIRE(ledger->PutMeta("format_version", "1").ok());  // as the layout before kStoredLevelMin
  }
  std::unique_ptr<Ledger> ledger;
  Status s = Ledger::Open(test::LedgerAt(dir.Sub("events")), &ledger);
  CHECK(s.Is(Status::Code::kCorruption));
  CHECK(s.message().find("format version 1") != std::string::npos);
}

namespace {

Status Verify(const std::string& dir, audit::Json* j) {
  LedgerOptions o = test::LedgerAt(dir);
  o.read_only = true;
  std::unique_ptr<Ledger> ledger;
  REQUIRE(Ledger::Open(o, &ledger).ok());
  return audit::VerifyTree(*ledger, j);
}

// Flips a bit of leaf 20000's hash (seq 20001) inside its stored leaf run.
void FlipLeaf20000(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), h));
  it->Seek(mk::LeafRunKey(20000));  // the run holding leaf 20000
  REQUIRE(it->Valid());
  const uint64_t last = DecodeBE64(it->key().ToString().substr(1));
  std::string run = it->value().ToString();
  run[run.size() - (last - 20000 + 1) * 32] ^= 0x01;
  REQUIRE(db->Put(rocksdb::WriteOptions(), h, it->key(), run).ok());
}

}  // namespace

TEST_CASE("merkle: verify names the exact seq past its first pages", "[merkle][audit]") {
  test::TempDir dir("acc-merkle");
  constexpr size_t kEvents = 40000;  // more than two of VerifyTree's pages
  {
    std::unique_ptr<Ledger> ledger;
    REQUIRE(Ledger::Open(test::LedgerAt(dir.Sub("events")), &ledger).ok());
    for (size_t i = 0; i < kEvents; i += 4000) AppendConsents(*ledger, i, 4000);
  }
  audit::Json j;
  REQUIRE(Verify(dir.Sub("events"), &j).ok());
  CHECK(j["events"] == kEvents);
  SECTION("a flipped envelope byte") {
    test::EditCf(dir.Sub("events"), "events", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h) {
      std::string v;
      REQUIRE(db->Get(rocksdb::ReadOptions(), h, EncodeBE64(33333), &v).ok());
      v[v.size() / 2] ^= 0x01;
      REQUIRE(db->Put(rocksdb::WriteOptions(), h, EncodeBE64(33333), v).ok());
    });
    Status s = Verify(dir.Sub("events"), &j);
    CHECK(s.Is(Status::Code::kCorruption));
    CHECK(s.message().find("seq 33333:") != std::string::npos);
  }
  SECTION("a rewritten leaf hash") {
    test::EditCf(dir.Sub("events"), "merkle", FlipLeaf20000);
    Status s = Verify(dir.Sub("events"), &j);
    CHECK(s.Is(Status::Code::kCorruption));
    CHECK(s.message().find("seq 20001:") != std::string::npos);
  }
  SECTION("a deleted leaf run") {
    test::EditCf(dir.Sub("events"), "merkle", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h) {
      REQUIRE(db->Delete(rocksdb::WriteOptions(), h, mk::LeafRunKey(23999)).ok());  // leaves 20000..23999
    });
    Status s = Verify(dir.Sub("events"), &j);
    CHECK(s.Is(Status::Code::kCorruption));
    CHECK(s.message().find("seq 20001: its Merkle leaf is missing") != std::string::npos);
  }
  SECTION("a rewritten stored node") {
    test::EditCf(dir.Sub("events"), "merkle", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h) {
      REQUIRE(db->Put(rocksdb::WriteOptions(), h, mk::NodeKey(6, 3), std::string(32, 'x')).ok());
    });
    Status s = Verify(dir.Sub("events"), &j);
    CHECK(s.Is(Status::Code::kCorruption));
    CHECK(s.message().find("tree node 6/3 differs") != std::string::npos);
  }
  SECTION("a deleted stored node") {
    test::EditCf(dir.Sub("events"), "merkle", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h) {
      REQUIRE(db->Delete(rocksdb::WriteOptions(), h, mk::NodeKey(7, 100)).ok());
    });
    Status s = Verify(dir.Sub("events"), &j);
    CHECK(s.Is(Status::Code::kCorruption));
    CHECK(s.message().find("tree node 7/100 is missing") != std::string::npos);
  }
}

TEST_CASE("merkle: Ledger::Root in on_commit (the writer's frontier) equals the naive root, across restarts", "[merkle]") {
  test::TempDir dir("acc-merkle");
  // (size, root) as on_commit saw them, and the root one below from the stored rows.
  std::vector<std::tuple<uint64_t, std::string, std::string>> seen;
  Ledger* live = nullptr;
  LedgerOptions o = test::LedgerAt(dir.Sub("events"));
  // On the writer thread: Catch2 assertions stay on the test's thread.
  o.on_commit = [&](uint64_t last) {
    std::string at, below;
    if (!live->Root(last, &at).ok()) at = "failed";
    if (!live->Root(last - 1, &below).ok()) below = "failed";
    seen.emplace_back(last, at, below);
  };
  size_t size = 0;
  for (size_t session = 0; session < 3; ++session) {
    std::unique_ptr<Ledger> ledger;
    REQUIRE(Ledger::Open(o, &ledger).ok());
    live = ledger.get();
    for (size_t group = 1; group <= 40; group += 3) {  // 1, 4, 7, ..., 40 events
      AppendConsents(*ledger, size, group);
      size += group;
    }
    REQUIRE(ledger->Close().ok());
  }
  REQUIRE(seen.size() == 3 * 14);
  std::unique_ptr<Ledger> ledger;
  REQUIRE(Ledger::Open(test::LedgerAt(dir.Sub("events")), &ledger).ok());
  std::vector<Ledger::Stored> events;
  REQUIRE(ledger->ReadRange(1, size, &events).ok());
  REQUIRE(events.size() == size);
  std::vector<std::string> leaves;
  for (auto& e : events) leaves.push_back(mk::LeafHash(e.envelope));
  for (const auto& [last, at, below] : seen) {
    CHECK(at == NaiveRoot(leaves, 0, last));
    CHECK(below == (last == 1 ? mk::EmptyRoot() : NaiveRoot(leaves, 0, last - 1)));
  }
  std::string root;
  REQUIRE(ledger->Root(size, &root).ok());  // not the writer thread: stored rows
  CHECK(root == NaiveRoot(leaves, 0, size));
}
