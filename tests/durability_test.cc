// Durability: a child process appends from several threads and prints every
// seq that Append returned; we SIGKILL it at a random moment, reopen the
// ledger and check that nothing it reported is lost, that seqs have no gaps,
// that every stored envelope verifies and that history never changes.
#include <catch2/catch.hpp>

#include <chrono>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/ledger.h"
#include "tests/test_util.h"

namespace accountable {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRounds = 5;
constexpr uint64_t kChildAccounts = 4;  // append_child: one account per thread, ids 1..4

struct Round {
  std::vector<uint64_t> printed;  // seqs the child reported as durable
  int wait_status = 0;
  bool ended_early = false;       // the child closed its stdout before our kill
};

uint64_t ParseSeq(const std::string& line) {
  INFO("child printed '" << line << "'");
  REQUIRE(!line.empty());
  REQUIRE(line.find_first_not_of("0123456789") == std::string::npos);
  return std::stoull(line);
}

// Runs the child on dir for run_ms, counted from its first reported seq if
// after_first_output, else from the spawn (so some kills land in recovery).
Round RunAndKill(const std::string& dir, int run_ms, bool after_first_output) {
  Round r;
  test::Child child({ACCOUNTABLE_APPEND_CHILD, dir});
  test::LineReader reader(child.stdout_fd());
  std::vector<std::string> lines;
  bool open = true;
  for (int i = 0; after_first_output && open && lines.empty() && i < 600; ++i)
    open = reader.Poll(100, &lines);
  const auto deadline = Clock::now() + std::chrono::milliseconds(run_ms);
  for (auto now = Clock::now(); open && now < deadline; now = Clock::now()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    open = reader.Poll(static_cast<int>(left) + 1, &lines);
  }
  r.ended_early = !open;
  child.Kill();
  r.wait_status = child.Wait();
  reader.Drain(&lines);
  for (const auto& line : lines) r.printed.push_back(ParseSeq(line));
  return r;
}

// Every envelope in the ledger, checked: contiguous seqs 1..LastSeq, each
// verifies and carries its own seq, request ids unique.
std::vector<std::string> CheckLog(Ledger& l) {
  const uint64_t last = l.LastSeq();
  std::vector<Ledger::Stored> all;
  REQUIRE(l.ReadRange(1, last + 100, &all).ok());
  REQUIRE(all.size() == last);
  std::vector<std::string> envelopes;
  std::set<std::string> rids;
  for (uint64_t i = 0; i < all.size(); ++i) {
    REQUIRE(all[i].seq == i + 1);
    events::EventView v;
    Status s = events::EventView::Parse(all[i].envelope, &v);
    INFO("seq " << all[i].seq << ": " << s.ToString());
    REQUIRE(s.ok());
    REQUIRE(v.envelope()->seq() == all[i].seq);
    CHECK(v.envelope()->recorded_at_ms() > 0);
    CHECK(rids.insert(v.envelope()->request_id()->str()).second);
    envelopes.push_back(std::move(all[i].envelope));
  }
  return envelopes;
}

// Each child account's stream holds versions 1..StreamVersion, in seq order.
void CheckStreams(Ledger& l) {
  for (uint64_t account = 1; account <= kChildAccounts; ++account) {
    std::vector<Ledger::Stored> stream;
    REQUIRE(l.ReadStream(account, 1, l.LastSeq() + 1, &stream).ok());
    CHECK(stream.size() == l.StreamVersion(account));
    for (size_t i = 0; i < stream.size(); ++i) {
      events::EventView v;
      REQUIRE(events::EventView::Parse(stream[i].envelope, &v).ok());
      CHECK(v.envelope()->account_id() == account);
      if (i > 0) CHECK(stream[i].seq > stream[i - 1].seq);
    }
  }
}

TEST_CASE("durability: every seq reported before SIGKILL survives", "[durability]") {
  test::TempDir dir;
  const std::string path = dir.Sub("events");
  const unsigned seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> run_ms(20, 200);
  std::set<uint64_t> printed;
  std::vector<std::string> history;  // envelopes seen after the previous round
  for (int round = 0; round < kRounds; ++round) {
    INFO("round " << round);
    const Round r = RunAndKill(path, run_ms(rng), round % 2 == 1);
    CHECK_FALSE(r.ended_early);
    REQUIRE(WIFSIGNALED(r.wait_status));
    REQUIRE(WTERMSIG(r.wait_status) == SIGKILL);
    for (uint64_t s : r.printed) CHECK(printed.insert(s).second);  // never reported twice

    std::unique_ptr<Ledger> l;
    Status s = Ledger::Open(test::LedgerAt(path), &l);
    INFO(s.ToString());
    REQUIRE(s.ok());
    if (!printed.empty()) REQUIRE(*printed.rbegin() <= l->LastSeq());  // contiguous: all present
    const auto envelopes = CheckLog(*l);
    CheckStreams(*l);
    REQUIRE(envelopes.size() >= history.size());
    for (size_t i = 0; i < history.size(); ++i) REQUIRE(envelopes[i] == history[i]);
    history = envelopes;
  }
  CHECK(!printed.empty());  // odd rounds waited for output, so appends happened
}

}  // namespace
}  // namespace accountable
