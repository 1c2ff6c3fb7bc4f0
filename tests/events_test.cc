// events: schema round trips, in-place sequencing, and the verifier's
// refusal of every kind of damaged buffer.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "events/event.h"
#include "tests/test_util.h"

namespace accountable {
namespace {

using events::EnvelopeBuilder;
using events::EventView;
using events::Header;

constexpr uint64_t kAccount = 4242;

Header MakeHeader(uint64_t account, fb::Actor actor = fb::Actor::Admin) {
  return Header{account, test::kTestTimeMs + 17, actor, "req-" + std::to_string(account), "1.02"};
}

void CheckHeader(const EventView& v, const Header& h) {
  const fb::Envelope* e = v.envelope();
  CHECK(e->seq() == 0);
  CHECK(e->recorded_at_ms() == 0);
  CHECK(e->account_id() == h.account_id);
  CHECK(e->occurred_at_ms() == h.occurred_at_ms);
  CHECK(e->actor() == h.actor);
  REQUIRE(e->request_id() != nullptr);
  CHECK(e->request_id()->str() == h.request_id);
  REQUIRE(e->policy_version() != nullptr);
  CHECK(e->policy_version()->str() == h.policy_version);
}

std::string Bytes(const flatbuffers::Vector<uint8_t>* v) {
  return v ? std::string(reinterpret_cast<const char*>(v->data()), v->size()) : std::string();
}

// Offset of a field of the root Envelope table inside the buffer (0: absent).
size_t EnvelopeFieldPos(const std::string& bytes, flatbuffers::voffset_t field) {
  const auto* table = reinterpret_cast<const flatbuffers::Table*>(fb::GetEnvelope(bytes.data()));
  auto off = table->GetOptionalFieldOffset(field);
  if (off == 0) return 0;
  return static_cast<size_t>(reinterpret_cast<const char*>(table) - bytes.data()) + off;
}

void WriteU32(std::string* bytes, size_t pos, uint32_t v) { std::memcpy(bytes->data() + pos, &v, 4); }
uint32_t ReadU32(const std::string& bytes, size_t pos) {
  uint32_t v;
  std::memcpy(&v, bytes.data() + pos, 4);
  return v;
}

bool Parses(std::string_view bytes) {
  EventView v;
  Status s = EventView::Parse(bytes, &v);
  if (!s.ok()) CHECK(s.Is(Status::Code::kCorruption));
  return s.ok();
}

// Reads every field a consumer would read; must not crash on any buffer that verified.
size_t TouchAll(const EventView& v) {
  const fb::Envelope* e = v.envelope();
  size_t n = e->seq() + e->account_id() + static_cast<size_t>(e->actor());
  if (e->request_id()) n += e->request_id()->size();
  if (e->policy_version()) n += e->policy_version()->size();
  n += events::PayloadName(v.type()).size();
  if (const fb::Sealed* s = v.sealed(); s && s->box()) n += s->box()->size();
  if (auto* c = e->payload_as_ConsentGiven(); c && c->policy_version()) n += c->policy_version()->size();
  if (auto* r = e->payload_as_Registered(); r && r->consents()) n += r->consents()->size();
  return n;
}

std::vector<std::string> SampleEnvelopes() {
  std::vector<std::string> out;
  out.push_back(test::ConsentEnvelope(kAccount, "rid-consent"));
  out.push_back(test::AccessRequestedEnvelope(kAccount, "rid-access"));
  EnvelopeBuilder b;
  auto& fbb = b.fbb();
  auto consents = fbb.CreateVector(std::vector<fb::Purpose>{fb::Purpose::PrivacyPolicy});
  auto reg = fb::CreateRegistered(fbb, fbb.CreateString("1.01"), consents,
                                  b.Sealed(fb::KeyKind::AccountDek, std::string(80, 'x')));
  out.push_back(b.Finish(MakeHeader(kAccount), fb::Payload::Registered, reg.Union()));
  return out;
}

TEST_CASE("events: ConsentGiven round trip", "[events]") {
  EnvelopeBuilder b;
  auto& fbb = b.fbb();
  auto payload = fb::CreateConsentGiven(fbb, fb::Purpose::ThirdPartyForwarding,
                                        fbb.CreateString("1.02"), true);
  const Header h = MakeHeader(kAccount, fb::Actor::Holder);
  const std::string bytes = b.Finish(h, fb::Payload::ConsentGiven, payload.Union());
  EventView v;
  REQUIRE(EventView::Parse(bytes, &v).ok());
  CheckHeader(v, h);
  CHECK(v.type() == fb::Payload::ConsentGiven);
  CHECK(v.bytes().data() == bytes.data());
  CHECK(v.sealed() == nullptr);
  const auto* c = v.envelope()->payload_as_ConsentGiven();
  REQUIRE(c != nullptr);
  CHECK(c->purpose() == fb::Purpose::ThirdPartyForwarding);
  CHECK(c->policy_version()->str() == "1.02");
  CHECK(c->implicit());
  CHECK(v.envelope()->payload_as_Registered() == nullptr);
}

TEST_CASE("events: Registered round trip keeps the sealed box opaque", "[events]") {
  EnvelopeBuilder b;
  auto& fbb = b.fbb();
  const std::string box = "\x01\x02\x00\xff sealed bytes" + std::string(50, '\x7f');
  std::vector<fb::Purpose> consents = {fb::Purpose::PrivacyPolicy, fb::Purpose::Surveys};
  auto cv = fbb.CreateVector(consents);
  auto payload = fb::CreateRegistered(fbb, fbb.CreateString("1.01"), cv,
                                      b.Sealed(fb::KeyKind::AccountDek, box));
  const Header h = MakeHeader(kAccount, fb::Actor::Import);
  const std::string bytes = b.Finish(h, fb::Payload::Registered, payload.Union());
  EventView v;
  REQUIRE(EventView::Parse(bytes, &v).ok());
  CheckHeader(v, h);
  REQUIRE(v.type() == fb::Payload::Registered);
  const auto* r = v.envelope()->payload_as_Registered();
  CHECK(r->policy_version()->str() == "1.01");
  REQUIRE(r->consents()->size() == 2);
  CHECK(r->consents()->Get(0) == fb::Purpose::PrivacyPolicy);
  CHECK(r->consents()->Get(1) == fb::Purpose::Surveys);
  REQUIRE(v.sealed() != nullptr);
  CHECK(v.sealed() == r->pii());
  CHECK(v.sealed()->key_kind() == fb::KeyKind::AccountDek);
  CHECK(Bytes(v.sealed()->box()) == box);
}

TEST_CASE("events: metadata-only payloads round trip", "[events]") {
  EnvelopeBuilder b;
  auto& fbb = b.fbb();
  const std::string digest(32, '\xab');
  auto policy = fb::CreatePolicyPublished(
      fbb, fbb.CreateString("2.00"), 123456,
      fbb.CreateVector(reinterpret_cast<const uint8_t*>(digest.data()), digest.size()));
  const std::string p_bytes = b.Finish(MakeHeader(0, fb::Actor::System), fb::Payload::PolicyPublished,
                                       policy.Union());
  auto verified = fb::CreateErasureVerified(fbb, 77, 12, 4096, 0, 2);
  const std::string e_bytes = b.Finish(MakeHeader(9), fb::Payload::ErasureVerified, verified.Union());
  auto disclosure = fb::CreateDisclosureRecordedDirect(fbb, "US", fb::LegalBasis::LegalObligation, 42,
                                                       fb::Safeguard::StandardContractualClauses, true);
  const std::string d_bytes = b.Finish(MakeHeader(10), fb::Payload::DisclosureRecorded,
                                       disclosure.Union());

  EventView p, e, d;
  REQUIRE(EventView::Parse(p_bytes, &p).ok());
  REQUIRE(EventView::Parse(e_bytes, &e).ok());
  REQUIRE(EventView::Parse(d_bytes, &d).ok());
  CheckHeader(p, MakeHeader(0, fb::Actor::System));
  CHECK(p.envelope()->payload_as_PolicyPublished()->version()->str() == "2.00");
  CHECK(p.envelope()->payload_as_PolicyPublished()->published_at_ms() == 123456);
  CHECK(Bytes(p.envelope()->payload_as_PolicyPublished()->text_sha256()) == digest);
  const auto* ev = e.envelope()->payload_as_ErasureVerified();
  REQUIRE(ev != nullptr);
  CHECK(ev->erased_seq() == 77);
  CHECK(ev->files_scanned() == 12);
  CHECK(ev->bytes_scanned() == 4096);
  CHECK(ev->hits() == 0);
  CHECK(ev->compaction_passes() == 2);
  const auto* dr = d.envelope()->payload_as_DisclosureRecorded();
  REQUIRE(dr != nullptr);
  CHECK(dr->recipient_id() == 42);
  CHECK(dr->country()->str() == "US");
  CHECK(dr->legal_basis() == fb::LegalBasis::LegalObligation);
  CHECK(dr->safeguard_kind() == fb::Safeguard::StandardContractualClauses);
  CHECK(dr->has_reference());
}

TEST_CASE("events: AccessLogged is sealed under a day key and linked to no account", "[events]") {
  EnvelopeBuilder b;
  auto payload = fb::CreateAccessLogged(b.fbb(), 20240131, b.Sealed(fb::KeyKind::DayKey, "box"));
  const std::string bytes = b.Finish(MakeHeader(0, fb::Actor::System), fb::Payload::AccessLogged,
                                     payload.Union());
  EventView v;
  REQUIRE(EventView::Parse(bytes, &v).ok());
  CHECK(v.envelope()->account_id() == 0);
  CHECK(v.envelope()->payload_as_AccessLogged()->day() == 20240131u);
  REQUIRE(v.sealed() != nullptr);
  CHECK(v.sealed()->key_kind() == fb::KeyKind::DayKey);
  CHECK(Bytes(v.sealed()->box()) == "box");
}

TEST_CASE("events: one builder makes independent envelopes in a row", "[events]") {
  EnvelopeBuilder b;
  auto p1 = fb::CreateDeletionRequested(b.fbb(), 1000);
  const std::string first = b.Finish(MakeHeader(1), fb::Payload::DeletionRequested, p1.Union());
  auto p2 = fb::CreateDeletionCancelled(b.fbb(), 2000);
  const std::string second = b.Finish(MakeHeader(2), fb::Payload::DeletionCancelled, p2.Union());
  EventView v1, v2;
  REQUIRE(EventView::Parse(first, &v1).ok());
  REQUIRE(EventView::Parse(second, &v2).ok());
  CHECK(v1.envelope()->payload_as_DeletionRequested()->grace_deadline_ms() == 1000);
  CHECK(v2.envelope()->payload_as_DeletionCancelled()->grace_deadline_ms() == 2000);
  CHECK(v1.envelope()->account_id() == 1);
  CHECK(v2.envelope()->account_id() == 2);
}

TEST_CASE("events: PatchSequence writes seq and recorded_at in place", "[events]") {
  std::string bytes = test::ConsentEnvelope(kAccount, "rid-patch");
  const std::string original = bytes;
  REQUIRE(events::PatchSequence(&bytes, 987654321, 1234));
  CHECK(bytes.size() == original.size());
  EventView v;
  REQUIRE(EventView::Parse(bytes, &v).ok());
  CHECK(v.envelope()->seq() == 987654321u);
  CHECK(v.envelope()->recorded_at_ms() == 1234);
  CHECK(v.envelope()->account_id() == kAccount);
  CHECK(v.envelope()->request_id()->str() == "rid-patch");
  CHECK(v.envelope()->payload_as_ConsentGiven()->purpose() == fb::Purpose::Surveys);

  // Patching again (a retried write) replaces the values; only those bytes differ.
  REQUIRE(events::PatchSequence(&bytes, 5, 6));
  REQUIRE(EventView::Parse(bytes, &v).ok());
  CHECK(v.envelope()->seq() == 5u);
  CHECK(v.envelope()->recorded_at_ms() == 6);
  size_t differing = 0;
  for (size_t i = 0; i < bytes.size(); ++i) differing += bytes[i] != original[i];
  CHECK(differing >= 2);
  CHECK(differing <= 16);
}

TEST_CASE("events: PatchSequence refuses an envelope without the fields", "[events]") {
  // Built without EnvelopeBuilder: zero seq / recorded_at are omitted.
  flatbuffers::FlatBufferBuilder fbb;
  auto payload = fb::CreateAccessRequested(fbb, fb::AccessChannel::Admin);
  auto env = fb::CreateEnvelope(fbb, 0, 7, 1, 0, fb::Actor::Admin, fbb.CreateString("r"),
                                fbb.CreateString("1.01"), fb::Payload::AccessRequested,
                                payload.Union());
  fb::FinishEnvelopeBuffer(fbb, env);
  std::string bytes(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  EventView v;
  REQUIRE(EventView::Parse(bytes, &v).ok());
  CHECK_FALSE(events::PatchSequence(&bytes, 3, 4));
}

TEST_CASE("events: names are stable and purposes parse back", "[events]") {
  CHECK(events::PayloadName(fb::Payload::Registered) == "registered");
  CHECK(events::PayloadName(fb::Payload::AccessLogged) == "access_logged");
  CHECK(events::PayloadName(static_cast<fb::Payload>(200)) == "unknown");
  for (int i = 0; i <= static_cast<int>(fb::Purpose::MAX); ++i) {
    auto p = static_cast<fb::Purpose>(i);
    auto back = events::ParsePurpose(events::PurposeName(p));
    REQUIRE(back.has_value());
    CHECK(*back == p);
  }
  CHECK(events::ParsePurpose("cookies_analytics_marketing") == fb::Purpose::CookiesAnalyticsMarketing);
  CHECK_FALSE(events::ParsePurpose("Surveys").has_value());
  CHECK_FALSE(events::ParsePurpose("").has_value());
  CHECK(events::ActorName(fb::Actor::Import) == "import");
  CHECK(events::ErasureReasonName(fb::ErasureReason::RetentionInactive) == "retention_inactive");
}

TEST_CASE("events: empty and tiny buffers are corrupt", "[events][verify]") {
  CHECK_FALSE(Parses(std::string_view()));
  CHECK_FALSE(Parses(std::string()));
  CHECK_FALSE(Parses(std::string(4, '\0')));
  CHECK_FALSE(Parses(std::string(8, '\0')));
  CHECK_FALSE(Parses("ACEV"));
}

TEST_CASE("events: truncated buffers fail verification", "[events][verify]") {
  for (const std::string& bytes : SampleEnvelopes()) {
    REQUIRE(Parses(bytes));
    // Anything that cuts into the tables fails; at most trailing alignment
    // padding may be dropped and still verify.
    for (size_t len = 0; len + 8 <= bytes.size(); ++len) {
      INFO("length " << len << " of " << bytes.size());
      CHECK_FALSE(Parses(std::string_view(bytes.data(), len)));
    }
  }
}

TEST_CASE("events: a wrong file identifier fails verification", "[events][verify]") {
  std::string bytes = test::ConsentEnvelope(kAccount, "rid");
  REQUIRE(std::string_view(bytes.data() + 4, 4) == "ACEV");
  for (size_t i = 4; i < 8; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      CHECK_FALSE(Parses(bad));
    }
  }
  std::string other = bytes;
  std::memcpy(other.data() + 4, "ACEW", 4);
  CHECK_FALSE(Parses(other));
}

TEST_CASE("events: corrupted offsets fail verification", "[events][verify]") {
  for (const std::string& bytes : SampleEnvelopes()) {
    // Every single-bit flip of the root offset.
    for (int bit = 0; bit < 32; ++bit) {
      std::string bad = bytes;
      WriteU32(&bad, 0, ReadU32(bytes, 0) ^ (1u << bit));
      INFO("root offset bit " << bit);
      CHECK_FALSE(Parses(bad));
    }
    // Offsets to the request id and the payload pointing past the end.
    for (auto field : {fb::Envelope::VT_REQUEST_ID, fb::Envelope::VT_PAYLOAD,
                       fb::Envelope::VT_POLICY_VERSION}) {
      const size_t pos = EnvelopeFieldPos(bytes, field);
      REQUIRE(pos != 0);
      for (uint32_t v : {static_cast<uint32_t>(bytes.size()), 0x7fffffffu, 0xfffffffcu}) {
        std::string bad = bytes;
        WriteU32(&bad, pos, v);
        CHECK_FALSE(Parses(bad));
      }
    }
    // The request id's length running past the end.
    const size_t rid_pos = EnvelopeFieldPos(bytes, fb::Envelope::VT_REQUEST_ID);
    std::string bad = bytes;
    WriteU32(&bad, rid_pos + ReadU32(bytes, rid_pos), static_cast<uint32_t>(bytes.size()));
    CHECK_FALSE(Parses(bad));
  }
}

TEST_CASE("events: unknown or missing payloads are corrupt", "[events][verify]") {
  std::string bytes = test::ConsentEnvelope(kAccount, "rid");
  const size_t type_pos = EnvelopeFieldPos(bytes, fb::Envelope::VT_PAYLOAD_TYPE);
  REQUIRE(type_pos != 0);
  for (int t : {0, static_cast<int>(fb::Payload::MAX) + 1, 200, 255}) {
    std::string bad = bytes;
    bad[type_pos] = static_cast<char>(t);
    CHECK_FALSE(Parses(bad));
  }

  flatbuffers::FlatBufferBuilder fbb;  // a type tag with no payload table
  auto env = fb::CreateEnvelope(fbb, 0, 1, 0, 0, fb::Actor::Holder, fbb.CreateString("r"),
                                fbb.CreateString("1.01"), fb::Payload::ConsentGiven, 0);
  fb::FinishEnvelopeBuffer(fbb, env);
  CHECK_FALSE(Parses({reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize()}));
}

TEST_CASE("events: random byte flips never crash the reader", "[events][verify]") {
  std::mt19937 rng(20240131);
  size_t parsed = 0, refused = 0, touched = 0;
  for (const std::string& bytes : SampleEnvelopes()) {
    for (size_t pos = 0; pos < bytes.size(); ++pos) {
      for (int round = 0; round < 4; ++round) {
        std::string bad = bytes;
        bad[pos] = static_cast<char>(bad[pos] ^ static_cast<char>(1 + rng() % 255));
        EventView v;
        Status s = EventView::Parse(bad, &v);
        if (s.ok()) {
          ++parsed;
          touched += TouchAll(v);
        } else {
          CHECK(s.Is(Status::Code::kCorruption));
          ++refused;
        }
      }
    }
  }
  // Flips in scalar fields still verify; flips in the structure must not.
  CHECK(parsed > 0);
  CHECK(refused > 0);
  CHECK(touched > 0);
}

TEST_CASE("events: oversized buffers are refused", "[events][verify]") {
  EnvelopeBuilder b;
  auto& fbb = b.fbb();
  auto payload = fb::CreateConsentGiven(fbb, fb::Purpose::Surveys,
                                        fbb.CreateString(std::string(events::kEnvelopeBytesMax, 'v')), false);
  const std::string big = b.Finish(MakeHeader(1), fb::Payload::ConsentGiven, payload.Union());
  REQUIRE(big.size() > events::kEnvelopeBytesMax);
  EventView v;
  Status s = EventView::Parse(big, &v);
  CHECK(s.Is(Status::Code::kCorruption));
  CHECK(s.message().find("limit") != std::string::npos);

  // Trailing bytes are ignored by the verifier, but not past the limit.
  std::string padded = test::ConsentEnvelope(1, "r");
  padded.resize(events::kEnvelopeBytesMax, '\0');
  CHECK(Parses(padded));
  padded.push_back('\0');
  CHECK_FALSE(Parses(padded));
}

TEST_CASE("events: ReadPii verifies before reading", "[events][verify]") {
  flatbuffers::FlatBufferBuilder fbb;
  auto root = fb::CreateLoginPiiDirect(fbb, "192.0.2.1", "curl/8");
  const std::string good = events::FinishPii(fbb, root);
  const fb::LoginPii* pii = nullptr;
  REQUIRE(events::ReadPii(good, &pii).ok());
  CHECK(pii->ip()->str() == "192.0.2.1");
  CHECK(pii->user_agent()->str() == "curl/8");

  std::mt19937 rng(7);
  std::string garbage(64, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  const fb::RegistrationPii* reg = nullptr;
  for (const std::string& bad : {garbage, std::string(), std::string(3, 'x'), std::string(64, '\xff'),
                                 good.substr(0, good.size() / 2)}) {
    Status s = events::ReadPii(bad, &reg);
    CHECK(s.Is(Status::Code::kCorruption));
  }
  CHECK(reg == nullptr);
}

}  // namespace
}  // namespace accountable
