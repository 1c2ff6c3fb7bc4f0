// A registration sent again while its first send is still queued: a client
// that timed out, or failed over to another copy, resends with the same
// request id and must get the first's account, not "email is already
// registered".
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "projections/service/accounts.h"
#include "tests/accounts_fixture.h"
#include "tests/writer_gate.h"

namespace {

using namespace accountable;
using Code = Status::Code;

// The completions of one test, recorded as they come (on the writer thread).
struct Answers {
  std::mutex mu;
  std::vector<std::pair<Status, RegisterResult>> got;
  Done<RegisterResult> Recorder() {
    return [this](Status s, RegisterResult r) {
      std::lock_guard<std::mutex> l(mu);
      got.emplace_back(std::move(s), r);
    };
  }
  bool WaitFor(size_t n) {
    return test::WaitFor([&] {
      std::lock_guard<std::mutex> l(mu);
      return got.size() >= n;
    });
  }
};

TEST_CASE("registration: sent again while the first is queued, it gets the first's answer", "[lifecycle][email]") {
  // Before f: the completions write here until the writer has stopped.
  std::atomic<uint64_t> first_id{0};
  Answers answers;
  auto gate = std::make_shared<test::WriterGate>();
  test::AccountsFixture f([gate](AccountsOptions& o) { o.on_commit = gate->Hook(); });
  test::WriterGate::OpenOnExit open_on_exit{gate.get()};
  gate->Arm();
  // The writer stops after this one's group, so the next ones stay queued.
  REQUIRE(f.a().Register(test::Reg("first@example.org"), [&](Status s, RegisterResult r) {
    if (s.ok()) first_id = r.account_id;
  }).ok());
  REQUIRE(gate->WaitStopped());
  Registration ann = test::Reg("ann@example.org");
  ann.request_id = "resent-registration-1";
  REQUIRE(f.a().Register(ann, answers.Recorder()).ok());
  REQUIRE(f.a().Register(ann, answers.Recorder()).ok());  // the resend: joins the first
  Registration other = ann;
  other.nickname = "Someone else";
  CHECK(f.a().Register(other, answers.Recorder()).Is(Code::kRequestReused));
  gate->Open();
  REQUIRE(answers.WaitFor(2));
  std::lock_guard<std::mutex> l(answers.mu);
  REQUIRE(answers.got.size() == 2);
  REQUIRE(answers.got[0].first.ok());
  REQUIRE(answers.got[1].first.ok());
  const RegisterResult& a = answers.got[0].second;
  const RegisterResult& b = answers.got[1].second;
  CHECK(a.account_id == b.account_id);
  CHECK(a.seq == b.seq);
  CHECK(a.duplicate != b.duplicate);  // the resend's is marked; either may come first
  CHECK(first_id != 0);
  CHECK(a.account_id != first_id);
  CHECK(f.Types(a.account_id) == std::vector<fb::Payload>{fb::Payload::Registered});
  // Sent again after it landed: the stored answer, as before.
  RegisterResult later;
  REQUIRE(f.a().Register(ann, &later).ok());
  CHECK(later.account_id == a.account_id);
  CHECK(later.duplicate);
}

}  // namespace
