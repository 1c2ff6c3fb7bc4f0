#include "projections/fold/account_state.h"
#include "events/fields.h"

#include <algorithm>
#include <cstring>

namespace accountable {

std::string_view StatusName(AccountStatus s) {
  switch (s) {
    case AccountStatus::kNone: return "none";
    case AccountStatus::kActive: return "active";
    case AccountStatus::kPendingDeletion: return "pending_deletion";
    case AccountStatus::kErased: return "erased";
  }
  return "unknown";
}

bool IsAdminActor(fb::Actor a) { return a == fb::Actor::Admin || a == fb::Actor::ImportAdmin; }

bool IsImportedActor(fb::Actor a) { return a == fb::Actor::Import || a == fb::Actor::ImportAdmin; }

bool IsHolderActivity(const events::EventView& e) {
  const fb::Actor actor = e.envelope()->actor();
  // Import stands for what the holder did on the old system; an admin's act,
  // live or imported (ImportAdmin), is not the holder's use of the forum.
  if (actor != fb::Actor::Holder && actor != fb::Actor::Import) return false;
  switch (e.type()) {
    case fb::Payload::Registered:
    case fb::Payload::LoginSucceeded:
    case fb::Payload::ConsentGiven:
    case fb::Payload::ConsentWithdrawn:
    case fb::Payload::ProfileUpdated:
    case fb::Payload::CredentialsChanged:
    case fb::Payload::DeletionCancelled:
    case fb::Payload::ActivityRecorded:
      return true;
    default:
      return false;
  }
}

namespace {

void SetConsent(AccountState& s, fb::Purpose p, bool given, bool implicit,
                const flatbuffers::String* version, int64_t at_ms) {
  auto i = static_cast<size_t>(p);
  if (i >= kPurposeCount) return;  // a purpose from a newer schema: not ours to fold
  s.consents[i] = {given, implicit, events::StringOrEmpty(version), at_ms};
}

}  // namespace

void Apply(AccountState& s, const events::EventView& e) {
  const fb::Envelope* env = e.envelope();
  const int64_t at_ms = env->occurred_at_ms();
  s.last_seq = env->seq();
  if (IsHolderActivity(e)) s.last_active_at_ms = std::max(s.last_active_at_ms, at_ms);
  switch (e.type()) {
    case fb::Payload::Registered: {
      auto* p = env->payload_as_Registered();
      s.status = AccountStatus::kActive;
      s.account_id = env->account_id();
      s.registered_at_ms = at_ms;
      s.credential_seq = env->seq();
      s.accepted_policy_version = events::StringOrEmpty(p->policy_version());
      if (p->consents())
        for (auto c : *p->consents())
          SetConsent(s, static_cast<fb::Purpose>(c), true, false, p->policy_version(), at_ms);
      break;
    }
    case fb::Payload::ConsentGiven: {
      auto* p = env->payload_as_ConsentGiven();
      SetConsent(s, p->purpose(), true, p->implicit(), p->policy_version(), at_ms);
      if (p->purpose() == fb::Purpose::PrivacyPolicy && p->policy_version())
        s.accepted_policy_version = p->policy_version()->str();
      break;
    }
    case fb::Payload::ConsentWithdrawn: {
      auto* p = env->payload_as_ConsentWithdrawn();
      SetConsent(s, p->purpose(), false, false, p->policy_version(), at_ms);
      break;
    }
    case fb::Payload::CredentialsChanged:
      s.credential_seq = env->seq();
      break;
    case fb::Payload::DeletionRequested:
      s.status = AccountStatus::kPendingDeletion;
      s.deletion_deadline_ms = env->payload_as_DeletionRequested()->grace_deadline_ms();
      break;
    case fb::Payload::DeletionCancelled:
      s.status = AccountStatus::kActive;
      s.deletion_deadline_ms = 0;
      break;
    case fb::Payload::AccountErased:
      s.status = AccountStatus::kErased;
      s.erased_at_ms = at_ms;
      s.erasure_reason = events::ErasureReasonName(env->payload_as_AccountErased()->reason());
      s.erased_seq = env->seq();
      s.deletion_deadline_ms = 0;
      break;
    case fb::Payload::ErasureVerified:
      s.erasure_verified = true;
      break;
    default:
      break;
  }
}

namespace {

// Row layout, version 2 (docs/architecture.md, Event DB: accounts rows):
//   u8 version = 2, u8 status, u8 flags (bit 0: erasure_verified),
//   varint account_id, registered_at_ms (zigzag), last_active_at_ms (zigzag),
//   deletion_deadline_ms (zigzag), erased_at_ms (zigzag), erased_seq,
//   last_seq, credential_seq, string accepted_policy_version,
//   string erasure_reason, u8 consent count (<= kPurposeCount), then per
//   consent: u8 flags (bit 0 given, bit 1 implicit), changed_at_ms (zigzag),
//   string policy_version.
// varint = LEB128, at most 10 bytes; string = varint length, then the bytes.
// Fixed field order and no field names: one Get, one decode per event on the
// writer thread, so the row is read far more often than it changes shape.
constexpr uint8_t kStateVersion = 2;
constexpr size_t kVarintBytesMax = 10;
// Strings come from one verified envelope: none can be longer than it.
constexpr size_t kStateStringBytesMax = events::kEnvelopeBytesMax;
constexpr uint8_t kFlagErasureVerified = 1;
constexpr uint8_t kConsentGiven = 1, kConsentImplicit = 2;

uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// Writers into a buffer already sized for the worst case (StateBytesBound):
// one resize per row instead of a bounds check and append per field.
char* PutVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

char* PutString(char* p, std::string_view s) {
  p = PutVarint(p, s.size());
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

size_t StateBytesBound(const AccountState& s) {
  constexpr size_t kFixed = 3 + 8 * kVarintBytesMax + 2 * kVarintBytesMax + 1;
  constexpr size_t kPerConsent = 1 + 2 * kVarintBytesMax;
  size_t n = kFixed + kPurposeCount * kPerConsent + s.accepted_policy_version.size() + s.erasure_reason.size();
  for (const ConsentState& c : s.consents) n += c.policy_version.size();
  return n;
}

// Bounds-checked reader: every getter fails (and stays failed) rather than
// read past the end.
class Reader {
 public:
  explicit Reader(std::string_view b) : p_(b.data()), end_(b.data() + b.size()) {}
  bool ok() const { return ok_; }
  bool done() const { return p_ == end_; }

  uint8_t Byte() {
    if (!ok_ || p_ == end_) return Fail();
    return static_cast<uint8_t>(*p_++);
  }
  uint64_t Varint() {
    uint64_t v = 0;
    for (size_t i = 0; i < kVarintBytesMax; ++i) {
      const uint8_t b = Byte();
      if (!ok_) return 0;
      // The tenth byte holds bit 63 only: anything more would overflow.
      if (i == kVarintBytesMax - 1 && b > 1) return Fail();
      v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
      if ((b & 0x80) == 0) return v;
    }
    return Fail();
  }
  int64_t Signed() { return UnZigZag(Varint()); }
  void String(std::string* out) {
    const uint64_t n = Varint();
    if (!ok_ || n > kStateStringBytesMax || n > static_cast<uint64_t>(end_ - p_)) {
      Fail();
      return;
    }
    out->assign(p_, n);
    p_ += n;
  }

 private:
  uint8_t Fail() {
    ok_ = false;
    return 0;
  }
  const char* p_;
  const char* end_;
  bool ok_ = true;
};

}  // namespace

void EncodeState(const AccountState& s, std::string* out) {
  out->resize(StateBytesBound(s));
  char* p = out->data();
  *p++ = static_cast<char>(kStateVersion);
  *p++ = static_cast<char>(s.status);
  *p++ = static_cast<char>(s.erasure_verified ? kFlagErasureVerified : 0);
  p = PutVarint(p, s.account_id);
  p = PutVarint(p, ZigZag(s.registered_at_ms));
  p = PutVarint(p, ZigZag(s.last_active_at_ms));
  p = PutVarint(p, ZigZag(s.deletion_deadline_ms));
  p = PutVarint(p, ZigZag(s.erased_at_ms));
  p = PutVarint(p, s.erased_seq);
  p = PutVarint(p, s.last_seq);
  p = PutVarint(p, s.credential_seq);
  p = PutString(p, s.accepted_policy_version);
  p = PutString(p, s.erasure_reason);
  *p++ = static_cast<char>(kPurposeCount);
  for (const ConsentState& c : s.consents) {
    *p++ = static_cast<char>((c.given ? kConsentGiven : 0) | (c.implicit ? kConsentImplicit : 0));
    p = PutVarint(p, ZigZag(c.changed_at_ms));
    p = PutString(p, c.policy_version);
  }
  out->resize(static_cast<size_t>(p - out->data()));
}

std::string EncodeState(const AccountState& s) {
  std::string out;
  EncodeState(s, &out);
  return out;
}

Status DecodeState(std::string_view bytes, AccountState* out) {
  Reader r(bytes);
  if (r.Byte() != kStateVersion || !r.ok()) return Status::Corruption("account state row is not version 2");
  const uint8_t status = r.Byte();
  const uint8_t flags = r.Byte();
  if (!r.ok() || status > static_cast<uint8_t>(AccountStatus::kErased) || (flags & ~kFlagErasureVerified) != 0)
    return Status::Corruption("account state row has a bad status or flags");
  AccountState& s = *out;
  s.status = static_cast<AccountStatus>(status);
  s.erasure_verified = (flags & kFlagErasureVerified) != 0;
  s.account_id = r.Varint();
  s.registered_at_ms = r.Signed();
  s.last_active_at_ms = r.Signed();
  s.deletion_deadline_ms = r.Signed();
  s.erased_at_ms = r.Signed();
  s.erased_seq = r.Varint();
  s.last_seq = r.Varint();
  s.credential_seq = r.Varint();
  r.String(&s.accepted_policy_version);
  r.String(&s.erasure_reason);
  const uint8_t count = r.Byte();
  if (!r.ok() || count > kPurposeCount) return Status::Corruption("account state row is truncated or malformed");
  for (size_t i = 0; i < kPurposeCount; ++i) {
    ConsentState& c = s.consents[i];
    if (i >= count) {  // written before this purpose existed
      c = ConsentState();
      continue;
    }
    const uint8_t cf = r.Byte();
    if ((cf & ~(kConsentGiven | kConsentImplicit)) != 0) return Status::Corruption("account state row has bad consent flags");
    c.given = (cf & kConsentGiven) != 0;
    c.implicit = (cf & kConsentImplicit) != 0;
    c.changed_at_ms = r.Signed();
    r.String(&c.policy_version);
  }
  if (!r.ok()) return Status::Corruption("account state row is truncated or malformed");
  if (!r.done()) return Status::Corruption("account state row has trailing bytes");
  return Status::OK();
}

}  // namespace accountable
