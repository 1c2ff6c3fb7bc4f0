// A follower seeded from a checkpoint of another copy (docs/replication.md,
// docs/operations.md "Seeding a follower from a checkpoint"): it resumes the
// stream after the position the checkpoint recorded, so it needs none of
// the messages before it; a copy the stream's retention has passed stops
// and says to rebuild it from a checkpoint.
#include <catch2/catch.hpp>

#include <filesystem>
#include <mutex>

#include "projections/service/backup.h"
#include "server/replica/follower.h"
#include "tests/nats_cluster.h"
#include "tests/replica_copies.h"

using namespace accountable;
namespace fs = std::filesystem;

namespace {

// Removes the stream's messages below stream sequence keep_from, as
// retention (MaxAge) would.
void PurgeBelow(const std::string& urls, uint64_t keep_from) {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  REQUIRE(natsConnection_ConnectTo(&nc, urls.c_str()) == NATS_OK);
  REQUIRE(natsConnection_JetStream(&js, nc, nullptr) == NATS_OK);
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Purge.Sequence = keep_from;  // up to, not including
  jsErrCode jerr = static_cast<jsErrCode>(0);
  CHECK(js_PurgeStream(js, "ACCOUNTABLE", &o, &jerr) == NATS_OK);
  jsStreamInfo* si = nullptr;
  REQUIRE(js_GetStreamInfo(&si, js, "ACCOUNTABLE", nullptr, &jerr) == NATS_OK);
  CHECK(si->State.FirstSeq == keep_from);
  jsStreamInfo_Destroy(si);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
}

// What stopped a follower, from its thread.
struct StopReason {
  std::mutex mu;
  bool stopped = false;  // under mu
  Status status;         // under mu
  std::function<void(Status)> Callback() {
    return [this](Status s) {
      std::lock_guard<std::mutex> l(mu);
      stopped = true;
      status = std::move(s);
    };
  }
  bool Stopped() {
    std::lock_guard<std::mutex> l(mu);
    return stopped;
  }
};

}  // namespace

TEST_CASE("replication: a follower rebuilt from a checkpoint of another copy", "[replication][checkpoint]") {
  test::NatsCluster nats;
  if (!nats.available()) {
    WARN("SKIPPED: " << nats.skip_reason());
    return;
  }
  REQUIRE(nats.WaitMetaLeader());
  test::TempDir dir("acc-repl-seed");
  const std::string keys = dir.Sub("keys");
  StopReason why;  // outlives the copy that reports to it
  std::unique_ptr<Accounts> writer, a, bcopy, c;
  replica::DaemonReplica wr, ar, br, cr;  // declared after the copies: they stop first
  writer = test::OpenCopy(dir.Sub("w"), keys, wr, {.replicate = nats.urls(), .node_name = "w"});
  a = test::OpenCopy(dir.Sub("a"), keys, ar, {.follow = nats.urls(), .node_name = "a"});
  std::vector<uint64_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(test::RegisterAccount(*writer, "early" + std::to_string(i) + "@example.org"));
  REQUIRE(test::WaitFor([&] { return a->ledger().LastSeq() == writer->ledger().LastSeq(); }));

  // A checkpoint of follower A (both stores, as a backup takes them).
  BackupReport b;
  Status s = a->Backup({.dest = dir.Sub("checkpoint")}, &b);
  INFO(s.ToString());
  REQUIRE(s.ok());
  uint64_t resume = 0;
  REQUIRE(replica::ResumePoint(*a, &resume).ok());
  CHECK(resume > 10);  // ten registrations, each an event group and a vault batch
  for (int i = 0; i < 10; ++i) ids.push_back(test::RegisterAccount(*writer, "late" + std::to_string(i) + "@example.org"));
  // Retention drops everything before the checkpoint: B cannot read it.
  PurgeBelow(nats.urls(), resume);

  fs::create_directories(dir.Sub("b"));
  for (const char* store : {"events", "vault"})
    fs::copy(dir.Sub("checkpoint") + "/" + store, dir.Sub("b") + "/" + store, fs::copy_options::recursive);
  bcopy = test::OpenCopy(dir.Sub("b"), keys, br, {.follow = nats.urls(), .node_name = "b"});
  const uint64_t n = writer->ledger().LastSeq();
  REQUIRE(test::WaitFor([&] { return bcopy->ledger().LastSeq() >= n; }));
  CHECK(test::RootOf(bcopy->ledger(), n) == test::RootOf(writer->ledger(), n));
  for (uint64_t id : {ids.front(), ids.back()}) {
    AccountView wv, bv;
    REQUIRE(writer->Show(id, &wv).ok());
    REQUIRE(bcopy->Show(id, &bv).ok());
    REQUIRE(bv.pii);
    CHECK(bv.pii->email == wv.pii->email);  // keys from the checkpoint and from the stream alike
  }

  SECTION("a new copy the stream's retention has passed stops and asks for a checkpoint") {
    c = test::OpenCopy(dir.Sub("c"), keys, cr, {.follow = nats.urls(), .node_name = "c"}, why.Callback());
    REQUIRE(test::WaitFor([&] { return why.Stopped(); }));
    std::lock_guard<std::mutex> l(why.mu);
    INFO(why.status.ToString());
    CHECK(why.status.code() == Status::Code::kCorruption);
    CHECK(test::Contains(why.status.message(), "resumes at stream sequence 1 "));
    CHECK(test::Contains(why.status.message(), "now starts at " + std::to_string(resume)));
    CHECK(test::Contains(why.status.message(), "rebuild this copy from a checkpoint of another copy"));
    CHECK(c->ledger().LastSeq() == 0);
  }
}
