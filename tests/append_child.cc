// accountable-append-child DIR: appends to the Ledger at DIR forever.
//
// Several threads each own one account stream and append batches of 1-3
// ConsentGiven events with expected versions, sometimes plus an unlinked
// AccessRequested event. Every seq that Append returned (durable after the
// fsync) is printed on its own line and flushed before the next Append.
// The durability test SIGKILLs this program at random moments and checks
// that every printed seq survived. Any unexpected result exits non-zero,
// so the test can tell a failure from its own kill.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/ledger.h"
#include "tests/test_util.h"

namespace {

using accountable::Ledger;
using accountable::Status;

constexpr int kThreads = 4;
std::mutex out_mu;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "append-child: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(2);
}

void Report(const std::vector<Ledger::Appended>& results) {
  std::lock_guard<std::mutex> l(out_mu);
  for (const auto& r : results) std::printf("%llu\n", static_cast<unsigned long long>(r.seq));
  std::fflush(stdout);
}

// One batch for the thread's account at its current version, plus sometimes
// an event linked to no account.
std::vector<Ledger::Command> MakeBatch(uint64_t account, uint64_t version, const std::string& rid,
                                       uint64_t i) {
  std::vector<Ledger::Command> batch;
  const uint64_t n = 1 + i % 3;
  for (uint64_t k = 0; k < n; ++k)
    batch.push_back(accountable::test::Consent(account, rid + "-" + std::to_string(k), version + k));
  if (i % 5 == 0)
    batch.push_back({accountable::test::AccessRequestedEnvelope(0, rid + "-x"), std::nullopt});
  return batch;
}

void Run(Ledger* ledger, int thread) {
  const uint64_t account = static_cast<uint64_t>(thread) + 1;
  uint64_t version = ledger->StreamVersion(account);
  const std::string prefix = "child-" + std::to_string(::getpid()) + "-" + std::to_string(thread);
  for (uint64_t i = 0;; ++i) {
    auto batch = MakeBatch(account, version, prefix + "-" + std::to_string(i), i);
    const size_t n = batch.size();
    std::vector<Ledger::Appended> results;
    Status s = ledger->Append(std::move(batch), &results);
    if (!s.ok()) Fail("append failed: " + s.ToString());
    if (results.size() != n) Fail("wrong number of results");
    for (const auto& r : results) {
      if (r.duplicate || r.seq == 0) Fail("unexpected duplicate or zero seq");
      if (r.version != 0 && r.version != ++version) Fail("stream version out of order");
    }
    Report(results);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s LEDGER_DIR\n", argv[0]);
    return 1;
  }
  std::unique_ptr<Ledger> ledger;
  Status s = Ledger::Open(accountable::LedgerOptions{.dir = argv[1]}, &ledger);
  if (!s.ok()) {
    std::fprintf(stderr, "append-child: %s\n", s.ToString().c_str());
    return 1;
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(Run, ledger.get(), t);
  for (auto& t : threads) t.join();  // never returns: the test kills us
  return 0;
}
