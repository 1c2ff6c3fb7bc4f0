// bench_mix: what accountable-bench sends. One Mix per connection picks the
// next request of the mix and builds it as a finished FlatBuffers Request
// (docs/protocol.md); Done() takes the reply's code back. Not a library.
//
//   Mix m("cheap", stem, my_accounts, &all_accounts, seed);
//   Mix::Op op = m.Next(fbb, correlation_id);   // fbb holds the Request
//   ... send, await the reply ...
//   m.Done(op, code);
//
// Mixes (every request appends exactly one event when it succeeds):
//   cheap - consent give/withdraw, profile update, record-access, round
//           robin, on the connection's own prepared accounts; a connection
//           never has two requests in flight for one account, so consent
//           toggles never race;
//   auth  - register a new account + login to a prepared one (Argon2id
//           dominates: the server's --argon2-* settings decide the rate).
//
// Thread safety: one Mix per connection, used by one thread.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "server/client/wire.h"

namespace accountable::bench {

inline constexpr const char* kBenchPassword = "bench-password-1";

struct Account {
  uint64_t id = 0;
  std::string email;
  bool surveys_given = false;  // consent state we set; only the owning connection touches it
  bool busy = false;           // a request for it is in flight
  uint64_t updates = 0;
};

// The body of a registration with the bench's fixed password and fields.
flatbuffers::Offset<void> RegisterBody(flatbuffers::FlatBufferBuilder& f, const std::string& nick,
                                       const std::string& email);

// Finishes fbb as a Request (identifier "ACWP") around body.
void FinishRequest(flatbuffers::FlatBufferBuilder& fbb, uint64_t correlation_id, wire::Body type,
                   flatbuffers::Offset<void> body, const std::string& request_id = "");

class Mix {
 public:
  struct Op {
    int account = -1;  // index into the connection's accounts, -1 for none
    int kind = 0;
  };

  // new_stem makes the auth mix's new e-mail addresses and nicknames unique
  // across connections and runs.
  Mix(std::string mix, std::string new_stem, std::vector<Account> mine, const std::vector<Account>* all,
      uint64_t seed);

  Op Next(flatbuffers::FlatBufferBuilder& fbb, uint64_t correlation_id);
  void Done(const Op& op, uint8_t code);
  static bool IsRegistration(const Op& op);

 private:
  Op NextAuth(flatbuffers::FlatBufferBuilder& fbb, uint64_t corr);
  Op NextCheap(flatbuffers::FlatBufferBuilder& fbb, uint64_t corr);
  int PickIdle();

  bool auth_;
  std::string new_stem_;
  std::vector<Account> mine_;
  const std::vector<Account>* all_;
  size_t cursor_ = 0;
  uint64_t counter_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace accountable::bench
