// WriterGate: stops the ledger's writer thread once, in the on_commit hook
// after a group's fsync and before its completions, so that the commands
// sent meanwhile queue behind it in a known order.
//
//   auto gate = std::make_shared<test::WriterGate>();
//   opts.on_commit = gate->Hook();          // AccountsOptions, before Open
//   test::WriterGate::OpenOnExit guard{gate.get()};
//   gate->Arm();
//   ...queue one command asynchronously...
//   REQUIRE(gate->WaitStopped());            // the writer is held
//   ...queue more...
//   gate->Open();
//
// Thread safety: thread-safe. Lifetime: the hook holds the gate (shared);
// OpenOnExit, declared after whatever owns the ledger, opens it on any
// exit, so a failed REQUIRE never leaves the writer (and a close) waiting.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

namespace accountable::test {

class WriterGate : public std::enable_shared_from_this<WriterGate> {
 public:
  struct OpenOnExit {
    WriterGate* gate;
    ~OpenOnExit() { gate->Open(); }
  };

  std::function<void(uint64_t)> Hook() {
    return [self = shared_from_this()](uint64_t) { self->MaybeHold(); };
  }
  // The next commit holds the writer until Open.
  void Arm() {
    std::lock_guard<std::mutex> l(mu_);
    armed_ = true;
  }
  bool WaitStopped(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return stopped_; });
  }
  void Open() {
    {
      std::lock_guard<std::mutex> l(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  void MaybeHold() {
    std::unique_lock<std::mutex> l(mu_);
    if (!armed_) return;
    armed_ = false;
    stopped_ = true;
    cv_.notify_all();
    cv_.wait(l, [&] { return open_; });
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;    // guarded by mu_
  bool stopped_ = false;  // guarded by mu_
  bool open_ = false;     // guarded by mu_
};

}  // namespace accountable::test
