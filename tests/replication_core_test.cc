// The replication seam in core (core/replication.h) without NATS: groups a
// ledger publishes, applied to another ledger, reach the same roots; a
// failed publish writes nothing; a tampered root, a gap and malformed
// messages are refused.
#include <catch2/catch.hpp>

#include "core/merkle.h"
#include "core/replication.h"
#include "tests/ledger_fixture.h"
#include "tests/test_util.h"

using namespace accountable;
using Code = Status::Code;

namespace {

using test::CaptureSink;

std::string Root(Ledger& l, uint64_t size) {
  std::string root;
  REQUIRE(merkle::RootAt(merkle::LedgerNodes(l), size, &root).ok());
  return root;
}

void AppendN(Ledger& l, int from, int n) {
  for (int i = from; i < from + n; ++i) {
    std::vector<Ledger::Command> batch;
    batch.push_back(test::Consent(static_cast<uint64_t>(i % 5 + 1), test::Name("r", static_cast<uint64_t>(i))));
    std::vector<Ledger::Appended> out;
    Status s = l.Append(std::move(batch), &out);
    INFO(s.ToString());
    REQUIRE(s.ok());
  }
}

}  // namespace

TEST_CASE("replication core: applied groups reach the writer's root; bad groups are refused", "[replication]") {
  test::TempDir dir("acc-repl-core");
  CaptureSink sink;
  LedgerOptions wo = test::LedgerAt(dir.Sub("w"));
  wo.sink = &sink;
  auto writer = test::OpenLedger(wo);
  AppendN(*writer, 0, 70);  // past a stored Merkle level (2^6 leaves)
  REQUIRE(sink.groups.size() == 70);
  CHECK(sink.groups.back().last_seq == 70);
  CHECK(sink.groups.back().root == Root(*writer, 70));

  auto follower = test::OpenLedger(test::LedgerAt(dir.Sub("f")));
  // A group that does not follow the follower's last seq writes nothing.
  CHECK(follower->ApplyReplicated(sink.groups[1]).code() == Code::kInvalidArgument);
  CHECK(follower->LastSeq() == 0);
  for (const auto& g : sink.groups) {
    Status s = follower->ApplyReplicated(g);
    INFO(s.ToString());
    REQUIRE(s.ok());
  }
  for (uint64_t size = 1; size <= 70; ++size) REQUIRE(Root(*follower, size) == Root(*writer, size));

  SECTION("a root that differs from the writer's is Corruption") {
    AppendN(*writer, 70, 1);
    ReplicatedGroup g = sink.groups.back();
    g.root[0] = static_cast<char>(g.root[0] ^ 1);
    Status s = follower->ApplyReplicated(g);
    CHECK(s.code() == Code::kCorruption);
    CHECK(test::Contains(s.message(), "differs from the writer's"));
  }
  SECTION("the encoding round-trips and malformed messages are refused") {
    ReplicatedGroup back;
    REQUIRE(DecodeGroup(EncodeGroup(sink.groups[5]), &back).ok());
    CHECK(back.first_seq == 6);
    CHECK(back.root == sink.groups[5].root);
    CHECK(back.batch == sink.groups[5].batch);
    CHECK(DecodeGroup("ACG", &back).code() == Code::kInvalidArgument);
    std::string bad = EncodeGroup(sink.groups[5]);
    bad[4] = 9;  // unknown kind
    CHECK(DecodeGroup(bad, &back).code() == Code::kInvalidArgument);
    ReplicatedGroup empty;  // an event group with no seqs
    CHECK(DecodeGroup(EncodeGroup(empty), &back).code() == Code::kInvalidArgument);
  }
}

TEST_CASE("replication core: a refused publish fails the group and writes nothing", "[replication]") {
  test::TempDir dir("acc-repl-refuse");
  CaptureSink sink;
  LedgerOptions wo = test::LedgerAt(dir.Sub("w"));
  wo.sink = &sink;
  auto writer = test::OpenLedger(wo);
  AppendN(*writer, 0, 3);
  sink.refuse = Status::NotWriter("fenced");
  std::vector<Ledger::Command> batch;
  batch.push_back(test::Consent(1, "after-fence"));
  std::vector<Ledger::Appended> out;
  CHECK(writer->Append(std::move(batch), &out).code() == Code::kNotWriter);
  CHECK(writer->LastSeq() == 3);
  uint64_t seq = 0;
  CHECK(writer->LookupRequest("after-fence", &seq).code() == Code::kNotFound);
  // Once the log takes groups again, the seqs and the tree go on without a hole.
  sink.refuse = Status::OK();
  AppendN(*writer, 3, 2);
  CHECK(writer->LastSeq() == 5);
  CHECK(sink.groups.back().root == Root(*writer, 5));
}
