// Replication (docs/replication.md) on a real three-node NATS JetStream
// cluster (tests/nats_cluster.h): a writer publishing every group, a
// follower applying them, the ExpectLastSeq fence, not_writer, and erasure
// reaching the follower's vault.
#include <catch2/catch.hpp>

#include <rocksdb/write_batch.h>

#include "core/byte_scan.h"
#include "tests/nats_cluster.h"
#include "tests/replica_copies.h"

using namespace accountable;
using Code = Status::Code;

namespace {

using test::OpenCopy;
constexpr const char* kWriterAddress = test::kCopyWriterAddress;

std::string RootAt(Ledger& l, uint64_t size) { return test::RootOf(l, size); }

// The writer may have recorded a copy's announcement since: at least seq.
bool WaitForSeq(Ledger& l, uint64_t seq) {
  return test::WaitFor([&] { return l.LastSeq() >= seq; });
}

uint64_t RegisterOne(Accounts& a, int i) {
  return test::RegisterAccount(a, "user" + std::to_string(i) + "@example.org");
}

struct Cluster {
  test::NatsCluster nats;
  bool Ready() {
    if (!nats.available()) return false;
    REQUIRE(nats.WaitMetaLeader());
    return true;
  }
};

}  // namespace

TEST_CASE("replication: the test cluster elects a JetStream meta leader", "[replication]") {
  Cluster c;
  if (!c.Ready()) {
    WARN("SKIPPED: " << c.nats.skip_reason());
    return;
  }
  std::unique_ptr<replica::NatsLog> log;
  Status s = replica::NatsLog::Open({.urls = c.nats.urls()}, &log);
  INFO(s.ToString());
  REQUIRE(s.ok());
  replica::NatsLogState st;
  REQUIRE(log->State(&st).ok());
  CHECK(st.last_stream_seq == 0);
}

TEST_CASE("replication: a follower reaches the writer's Merkle root at every size", "[replication]") {
  Cluster c;
  if (!c.Ready()) {
    WARN("SKIPPED: " << c.nats.skip_reason());
    return;
  }
  test::TempDir dir("acc-repl");
  replica::DaemonReplica wr, fr;
  auto writer = OpenCopy(dir.Sub("w"), dir.Sub("keys"), wr, {.replicate = c.nats.urls(), .node_name = "w"});
  std::vector<uint64_t> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(RegisterOne(*writer, i));
  Receipt rc;
  REQUIRE(writer->Update(ids[3], ProfileChange{std::string("Renamed"), {}, {}, {}, {}}, test::AdminCtx("test"), &rc).ok());
  // Started late: it catches up from the start of the log, then follows.
  auto follower = OpenCopy(dir.Sub("f"), dir.Sub("keys"), fr, {.follow = c.nats.urls(), .node_name = "f"});
  for (int i = 20; i < 30; ++i) ids.push_back(RegisterOne(*writer, i));
  const uint64_t n = writer->ledger().LastSeq();
  REQUIRE(WaitForSeq(follower->ledger(), n));
  for (uint64_t size = 1; size <= n; ++size) {
    INFO("size " << size);
    REQUIRE(RootAt(follower->ledger(), size) == RootAt(writer->ledger(), size));
  }
  std::vector<Ledger::Stored> we, fe;
  REQUIRE(writer->ledger().ReadRange(1, n, &we).ok());
  REQUIRE(follower->ledger().ReadRange(1, n, &fe).ok());
  REQUIRE(we.size() == fe.size());
  for (size_t i = 0; i < we.size(); ++i) CHECK(we[i].envelope == fe[i].envelope);
  // Reads on the follower see the writer's state, PII opened with the replicated key.
  AccountView wv, fv;
  REQUIRE(writer->Show(ids[3], &wv).ok());
  REQUIRE(follower->Show(ids[3], &fv).ok());
  CHECK(fv.display_name == "Renamed");
  REQUIRE(fv.pii);
  REQUIRE(wv.pii);
  CHECK(fv.pii->email == wv.pii->email);
  CHECK(fv.stream_version == wv.stream_version);

  SECTION("the follower refuses writes with not_writer, naming the writer, and stores nothing") {
    RegisterResult r;
    Status s = follower->Register(test::Reg("late@example.org"), &r);
    CHECK(s.code() == Code::kNotWriter);
    CHECK(test::Contains(s.message(), kWriterAddress));
    CHECK(follower->ledger().LastSeq() == n);
  }
}

TEST_CASE("replication: a writer whose view of the log is stale is fenced", "[replication]") {
  Cluster c;
  if (!c.Ready()) {
    WARN("SKIPPED: " << c.nats.skip_reason());
    return;
  }
  test::TempDir dir("acc-repl-fence");
  replica::DaemonReplica wr;
  auto writer = OpenCopy(dir.Sub("w"), dir.Sub("keys"), wr, {.replicate = c.nats.urls(), .node_name = "w"});
  RegisterOne(*writer, 1);
  const uint64_t before = writer->ledger().LastSeq();
  // Another writer appends to the log (it opened after the first's last publish).
  std::unique_ptr<replica::NatsLog> other;
  REQUIRE(replica::NatsLog::Open({.urls = c.nats.urls()}, &other).ok());
  ReplicatedGroup g;
  g.kind = ReplicatedGroup::Kind::kVault;
  g.batch = rocksdb::WriteBatch().Data();
  REQUIRE(other->Publish(g).ok());

  RegisterResult r;
  Status s = writer->Register(test::Reg("stale@example.org"), &r);
  INFO(s.ToString());
  CHECK(s.code() == Code::kNotWriter);  // not acknowledged
  CHECK(writer->ledger().LastSeq() == before);  // and not written here
  std::vector<Ledger::Stored> page;
  REQUIRE(writer->ledger().ReadRange(before + 1, 10, &page).ok());
  CHECK(page.empty());
  // Fenced for good: the next command is refused too, without trying.
  CHECK(writer->Register(test::Reg("again@example.org"), &r).code() == Code::kNotWriter);
  // The other writer's view is current: it goes on.
  CHECK(other->Publish(g).ok());
}

TEST_CASE("replication: an erasure leaves no trace of the key in the follower's vault", "[replication][erasure]") {
  Cluster c;
  if (!c.Ready()) {
    WARN("SKIPPED: " << c.nats.skip_reason());
    return;
  }
  test::TempDir dir("acc-repl-erase");
  replica::DaemonReplica wr, fr;
  auto writer = OpenCopy(dir.Sub("w"), dir.Sub("keys"), wr, {.replicate = c.nats.urls(), .node_name = "w"});
  auto follower = OpenCopy(dir.Sub("f"), dir.Sub("keys"), fr, {.follow = c.nats.urls(), .node_name = "f"});
  const uint64_t gone = RegisterOne(*writer, 1);
  const uint64_t kept = RegisterOne(*writer, 2);
  REQUIRE(WaitForSeq(follower->ledger(), writer->ledger().LastSeq()));
  std::vector<std::string> needles;  // the wrapped and the raw key, as the follower holds them
  REQUIRE(follower->vault().AccountKeyNeedles(gone, &needles).ok());
  REQUIRE(!needles.empty());
  ScanReport before;
  REQUIRE(ScanDirectory(dir.Sub("f") + "/vault", needles, &before).ok());
  CHECK(before.hits >= 1);  // the scan can find it: the check below can fail

  SweepReport rep;
  REQUIRE(writer->Erase({{gone, "test erasure", 0}}, &rep).ok());
  REQUIRE(rep.verified);
  REQUIRE(WaitForSeq(follower->ledger(), writer->ledger().LastSeq()));
  crypto::Key32 k;
  CHECK(follower->vault().GetAccountKey(gone, &k).code() == Code::kNotFound);
  CHECK(follower->vault().GetAccountKey(kept, &k).ok());
  ScanReport after;
  REQUIRE(ScanDirectory(dir.Sub("f") + "/vault", needles, &after).ok());
  CHECK(after.files_scanned > 0);
  CHECK(after.hits == 0);
  for (auto& s : needles) crypto::Wipe(&s);
}
