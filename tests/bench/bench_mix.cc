#include "bench_mix.h"

#include <cstdio>

namespace accountable::bench {

namespace {

enum Kind { kConsent = 0, kUpdate = 1, kAccess = 2, kRegister = 3, kLogin = 4 };

}  // namespace

flatbuffers::Offset<void> RegisterBody(flatbuffers::FlatBufferBuilder& f, const std::string& nick,
                                       const std::string& email) {
  return wire::CreateRegisterDirect(f, nick.c_str(), email.c_str(), kBenchPassword, "unspecified", "1990-01-01",
                                    "192.0.2.1", "accountable-bench/1", "", "1.01")
      .Union();
}

void FinishRequest(flatbuffers::FlatBufferBuilder& fbb, uint64_t corr, wire::Body type,
                   flatbuffers::Offset<void> body, const std::string& request_id) {
  auto rid = request_id.empty() ? 0 : fbb.CreateString(request_id);
  fbb.Finish(wire::CreateRequest(fbb, corr, rid, type, body), wire::RequestIdentifier());
}

Mix::Mix(std::string mix, std::string new_stem, std::vector<Account> mine, const std::vector<Account>* all,
         uint64_t seed)
    : auth_(mix == "auth"), new_stem_(std::move(new_stem)), mine_(std::move(mine)), all_(all), rng_(seed) {}

Mix::Op Mix::Next(flatbuffers::FlatBufferBuilder& fbb, uint64_t corr) {
  fbb.Clear();
  return auth_ ? NextAuth(fbb, corr) : NextCheap(fbb, corr);
}

Mix::Op Mix::NextAuth(flatbuffers::FlatBufferBuilder& fbb, uint64_t corr) {
  Op op;
  if (counter_++ % 2 == 0 || all_->empty()) {  // register a fresh account
    op.kind = kRegister;
    const std::string n = new_stem_ + "-" + std::to_string(counter_);
    FinishRequest(fbb, corr, wire::Body::Register, RegisterBody(fbb, "n" + n, n + "@bench.example.org"));
    return op;
  }
  op.kind = kLogin;
  const Account& a = (*all_)[rng_() % all_->size()];
  FinishRequest(fbb, corr, wire::Body::Login,
                wire::CreateLoginDirect(fbb, a.email.c_str(), 0, kBenchPassword, "192.0.2.7", "accountable-bench/1")
                    .Union());
  return op;
}

// An account of ours with no request in flight, or -1.
int Mix::PickIdle() {
  for (size_t i = 0; i < mine_.size(); ++i) {
    const size_t k = (cursor_ + i) % mine_.size();
    if (!mine_[k].busy) {
      cursor_ = k + 1;
      return int(k);
    }
  }
  return -1;
}

// consent, update, record-access, consent, ...
Mix::Op Mix::NextCheap(flatbuffers::FlatBufferBuilder& fbb, uint64_t corr) {
  Op op;
  op.kind = int(counter_++ % 3);
  if (op.kind != kAccess) op.account = PickIdle();
  if (op.account < 0) {  // a record-access, by turn or because all our accounts are busy
    op.kind = kAccess;
    FinishRequest(fbb, corr, wire::Body::RecordAccess,
                  wire::CreateRecordAccessDirect(fbb, "198.51.100.23", "Firefox 128", "Example ISP",
                                                 "https://example.org/", "Linux", "/forum/thread/42")
                      .Union());
    return op;
  }
  Account& a = mine_[size_t(op.account)];
  a.busy = true;
  if (op.kind == kConsent) {
    FinishRequest(fbb, corr, wire::Body::Consent,
                  wire::CreateConsentDirect(fbb, a.id, "surveys", !a.surveys_given).Union());
    return op;
  }
  // snprintf, not operator+: GCC 12 warns falsely (-Wrestrict) on "b" + std::to_string(...).
  char nick[48];
  std::snprintf(nick, sizeof nick, "b%lluu%llu", static_cast<unsigned long long>(a.id),
                static_cast<unsigned long long>(++a.updates));
  FinishRequest(fbb, corr, wire::Body::Update, wire::CreateUpdateDirect(fbb, a.id, nick).Union());
  return op;
}

bool Mix::IsRegistration(const Op& op) { return op.kind == kRegister; }

void Mix::Done(const Op& op, uint8_t code) {
  if (op.account < 0) return;
  Account& a = mine_[size_t(op.account)];
  a.busy = false;
  if (op.kind == kConsent && code == 0) a.surveys_given = !a.surveys_given;
}

}  // namespace accountable::bench
