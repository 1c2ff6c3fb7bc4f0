// The account-row encoding (projections/fold/account_state.h, version 2): random
// states round-trip exactly; every truncation, trailing byte, bad field and
// random buffer is Corruption, never a crash or a read past the end (run
// under ASan to see the latter).
#include <catch2/catch.hpp>

#include <limits>
#include <random>
#include <string>

#include "projections/fold/account_state.h"

namespace {

using namespace accountable;
using Code = Status::Code;

std::string RandomString(std::mt19937_64& rng) {
  // Mostly short (policy versions, reasons), sometimes empty or long.
  const size_t n = rng() % 8 == 0 ? rng() % 3000 : rng() % 12;
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

int64_t RandomSigned(std::mt19937_64& rng) {
  switch (rng() % 4) {
    case 0: return 0;
    case 1: return static_cast<int64_t>(rng());  // any bit pattern, negative too
    case 2: return rng() % 2 ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
    default: return 1'700'000'000'000 + static_cast<int64_t>(rng() % 100'000'000'000);
  }
}

uint64_t RandomUnsigned(std::mt19937_64& rng) {
  switch (rng() % 3) {
    case 0: return rng() % 200;
    case 1: return ~uint64_t{0};
    default: return rng();
  }
}

AccountState RandomState(std::mt19937_64& rng) {
  AccountState s;
  s.status = static_cast<AccountStatus>(rng() % 4);
  s.account_id = RandomUnsigned(rng);
  s.registered_at_ms = RandomSigned(rng);
  s.last_active_at_ms = RandomSigned(rng);
  s.accepted_policy_version = RandomString(rng);
  s.deletion_deadline_ms = RandomSigned(rng);
  s.erased_at_ms = RandomSigned(rng);
  s.erasure_reason = RandomString(rng);
  s.erased_seq = RandomUnsigned(rng);
  s.erasure_verified = rng() % 2;
  s.last_seq = RandomUnsigned(rng);
  s.credential_seq = RandomUnsigned(rng);
  for (ConsentState& c : s.consents)
    c = {rng() % 2 == 0, rng() % 2 == 0, RandomString(rng), RandomSigned(rng)};
  return s;
}

AccountState Typical() {
  AccountState s;
  s.status = AccountStatus::kActive;
  s.account_id = 42;
  s.registered_at_ms = 1'700'000'000'000;
  s.last_active_at_ms = 1'700'000'100'000;
  s.accepted_policy_version = "1.01";
  s.last_seq = 12345;
  s.credential_seq = 7;
  s.consents[0] = {true, false, "1.01", 1'700'000'000'000};
  return s;
}

bool IsCorruption(std::string_view bytes) {
  AccountState out;
  return DecodeState(bytes, &out).code() == Code::kCorruption;
}

}  // namespace

TEST_CASE("account state: random states round-trip exactly", "[account_state]") {
  std::mt19937_64 rng(2026);
  std::string reused;
  AccountState decoded = RandomState(rng);  // decoding over a used state must overwrite all of it
  for (int i = 0; i < 2000; ++i) {
    const AccountState s = RandomState(rng);
    const std::string bytes = EncodeState(s);
    REQUIRE(bytes[0] == 2);
    EncodeState(s, &reused);
    CHECK(reused == bytes);
    REQUIRE(DecodeState(bytes, &decoded).ok());
    CHECK(decoded == s);
  }
  const AccountState empty;
  REQUIRE(DecodeState(EncodeState(empty), &decoded).ok());
  CHECK(decoded == empty);
}

TEST_CASE("account state: a typical row is small", "[account_state]") {
  // The row is rewritten for every event of the account: keep it compact.
  CHECK(EncodeState(Typical()).size() < 64);
}

TEST_CASE("account state: every truncation and any trailing byte is Corruption", "[account_state]") {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200; ++i) {
    const AccountState s = i == 0 ? Typical() : RandomState(rng);
    const std::string bytes = EncodeState(s);
    for (size_t n = 0; n < bytes.size(); ++n) {
      INFO("prefix of " << n << " of " << bytes.size() << " bytes");
      // A copy of exactly n bytes, so that ASan sees any read beyond it.
      const std::string prefix = bytes.substr(0, n);
      REQUIRE(IsCorruption(prefix));
    }
    CHECK(IsCorruption(bytes + '\0'));
    CHECK(IsCorruption(bytes + bytes));
  }
}

TEST_CASE("account state: bad versions and fields are Corruption", "[account_state]") {
  const std::string good = EncodeState(Typical());
  auto with = [&](size_t at, char c) {
    std::string b = good;
    b[at] = c;
    return b;
  };
  CHECK(IsCorruption(""));
  CHECK(IsCorruption(with(0, 1)));                    // version 1 (CBOR) rows are not read
  CHECK(IsCorruption(with(0, 3)));                    // a newer version
  CHECK(IsCorruption(with(0, '\xa2')));               // what a CBOR map starts with
  CHECK(IsCorruption(with(1, 4)));                    // status beyond kErased
  CHECK(IsCorruption(with(2, 2)));                    // unknown flag bits
  CHECK(IsCorruption(std::string("\x02\x01\x00", 3) + std::string(10, '\xff') + '\x01'));  // 11-byte varint
  CHECK(IsCorruption(std::string("\x02\x01\x00", 3) + std::string(9, '\xff') + '\x02'));   // bit 64 set
  // A string length far beyond the row, and one beyond any envelope.
  std::string huge("\x02\x01\x00", 3);
  huge += std::string(8, '\x00');                     // eight varint fields of 0
  huge += std::string("\xff\xff\xff\xff\x0f", 5);     // length 2^32-1
  CHECK(IsCorruption(huge));
  std::string long_row = huge.substr(0, 11) + std::string("\x81\x80\x04", 3) + std::string(65537, 'x');
  CHECK(IsCorruption(long_row));                      // 65,537 bytes: over the envelope limit

  // The consent count is the byte after the two strings; more than there
  // are purposes is Corruption, fewer (a row from before a purpose existed)
  // leaves the rest at their defaults.
  AccountState s = Typical();
  s.consents = {};
  std::string bytes = EncodeState(s);
  const size_t count_at = bytes.size() - 1 - kPurposeCount * 3;  // each consent: flags, varint 0, length 0
  REQUIRE(bytes[count_at] == static_cast<char>(kPurposeCount));
  std::string more = bytes;
  more[count_at] = static_cast<char>(kPurposeCount + 1);
  more += std::string(3, '\0');
  CHECK(IsCorruption(more));
  std::string fewer = bytes.substr(0, count_at + 1 + 3);
  fewer[count_at] = 1;
  AccountState out;
  REQUIRE(DecodeState(fewer, &out).ok());
  CHECK(out == s);
  std::string bad_flags = bytes;
  bad_flags[count_at + 1] = 4;
  CHECK(IsCorruption(bad_flags));
}

TEST_CASE("account state: random bytes are Corruption, never a crash", "[account_state][fuzz]") {
  std::mt19937_64 rng(99);
  for (int i = 0; i < 20000; ++i) {
    std::string b(rng() % 200, '\0');
    for (char& c : b) c = static_cast<char>(rng());
    if (!b.empty() && i % 2 == 0) b[0] = 2;  // get past the version byte half of the time
    INFO("case " << i);
    REQUIRE(IsCorruption(b));
  }
  // Valid rows with bytes flipped: whatever decodes must encode to a row
  // that decodes to the same state (no half-read fields).
  for (int i = 0; i < 5000; ++i) {
    std::string b = EncodeState(RandomState(rng));
    for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) b[rng() % b.size()] = static_cast<char>(rng());
    AccountState out, again;
    if (!DecodeState(b, &out).ok()) continue;
    REQUIRE(DecodeState(EncodeState(out), &again).ok());
    CHECK(again == out);
  }
}
