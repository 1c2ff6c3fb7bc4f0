// Shared by the benchmark programs: argument lists and the envelopes they
// append. Not a test, not a library.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "core/vault.h"
#include "events/event.h"

namespace accountable::bench {

// "1,4,16" -> {1, 4, 16}; nullopt on anything else (or a 0 unless allowed),
// so each program can print its own usage.
inline std::optional<std::vector<size_t>> ParseList(const std::string& s, bool allow_zero = false) {
  std::vector<size_t> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    char* end = nullptr;
    const std::string item = s.substr(pos, comma - pos);
    const unsigned long v = std::strtoul(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || (v == 0 && !allow_zero)) return std::nullopt;
    out.push_back(v);
    pos = comma + 1;
  }
  return out;
}

// Calls take(flag, value) for every "--flag value" pair of argv; take returns
// false for a flag it does not know. usage(why) must not return.
template <typename Take, typename Usage>
void ForEachFlag(int argc, char** argv, Take&& take, Usage&& usage) {
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) usage("every flag takes a value");
    if (!take(std::string(argv[i]), std::string(argv[i + 1]))) usage("unknown flag");
  }
}

// The policy every ledger starts with (a fixed, fake digest).
inline std::string PolicyEnvelope(int64_t at_ms, const std::string& request_id) {
  events::EnvelopeBuilder b;
  auto& fbb = b.fbb();
  std::string digest(32, '\x11');
  auto p = fb::CreatePolicyPublished(fbb, fbb.CreateString("1.01"), at_ms,
                                     fbb.CreateVector(reinterpret_cast<const uint8_t*>(digest.data()), 32));
  events::Header h{0, at_ms, fb::Actor::System, request_id, "1.01"};
  return b.Finish(h, fb::Payload::PolicyPublished, p.Union());
}

// A registration carrying `box` as its sealed PII.
inline std::string RegisteredEnvelope(uint64_t account, int64_t at_ms, const std::string& request_id,
                                      const std::string& box) {
  events::EnvelopeBuilder b;
  auto& fbb = b.fbb();
  std::vector<fb::Purpose> consents = {fb::Purpose::PrivacyPolicy};
  auto cv = fbb.CreateVector(consents);
  auto sealed = b.Sealed(fb::KeyKind::AccountDek, box);
  auto p = fb::CreateRegistered(fbb, fbb.CreateString("1.01"), cv, sealed);
  events::Header h{account, at_ms, fb::Actor::Holder, request_id, "1.01"};
  return b.Finish(h, fb::Payload::Registered, p.Union());
}

// A successful login whose IP and user agent (`plain`) are sealed under the account's DEK.
inline std::string LoginEnvelope(uint64_t account, int64_t at_ms, const std::string& request_id,
                                 const crypto::Key32& dek, const std::string& plain) {
  std::string box = SealForAccount(dek, account, fb::Payload::LoginSucceeded, request_id, plain);
  events::EnvelopeBuilder b;
  auto sealed = b.Sealed(fb::KeyKind::AccountDek, box);
  auto p = fb::CreateLoginSucceeded(b.fbb(), fb::LoginMethod::Email, sealed);
  events::Header h{account, at_ms, fb::Actor::Holder, request_id, "1.01"};
  return b.Finish(h, fb::Payload::LoginSucceeded, p.Union());
}

}  // namespace accountable::bench
