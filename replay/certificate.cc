// Certificate: see certificate.h. Format: docs/audit.md ("Erasure certificates").
#include "replay/certificate.h"

#include <sodium.h>

#include <algorithm>
#include <set>

#include "core/crypto.h"
#include "core/merkle.h"
#include "events/vocabulary.h"
#include "projections/fold/projector.h"
#include "projections/service/accounts.h"
#include "projections/service/history.h"
#include "projections/service/json_fields.h"
#include "projections/service/log_checks.h"

namespace accountable::audit {
namespace {

using nlohmann::json;

// Domain separation: a certificate signature can never pass as a tree-head
// signature (which starts "accountable-sth-v1"), nor the other way round.
constexpr std::string_view kCertificateDomain = "accountable-erasure-certificate-v1";

// One copy's ReplicaErasureVerified (docs/replication.md, "Erasure on every copy").
struct CopyVerified {
  std::string node, envelope;
  uint64_t seq = 0;
};

// What the account's stream says about its erasure.
struct ErasureEvents {
  std::string erased, verified;  // envelope bytes
  uint64_t erased_seq = 0, verified_seq = 0;
  std::vector<CopyVerified> copies;  // at most one per node, the first
  json sealed = json::array();   // one {seq, type, result} per sealed payload
  bool any_opened = false;
};

void AddCopy(const events::EventView& v, ErasureEvents* out) {
  auto* p = v.envelope()->payload_as_ReplicaErasureVerified();
  if (p->erased_seq() != out->erased_seq || !p->node()) return;
  for (const CopyVerified& c : out->copies)
    if (c.node == p->node()->str()) return;
  out->copies.push_back({p->node()->str(), std::string(v.bytes()), v.envelope()->seq()});
}

// Copies that announced themselves before the erasure (kMetaReplicaPrefix
// rows hold the ReplicaJoined seq): each is expected to verify it.
Status ExpectedCopies(Ledger& ledger, uint64_t erased_seq, std::vector<std::string>* out) {
  return ledger.Scan(Cf::kMeta, kMetaReplicaPrefix, [&](std::string_view k, std::string_view v) {
    if (v.size() == 8 && DecodeBE64(v) < erased_seq) out->emplace_back(k.substr(kMetaReplicaPrefix.size()));
    return out->size() < Accounts::kReplicasMax;
  });
}

Status CollectEvents(Ledger& ledger, Vault& vault, uint64_t id, ErasureEvents* out) {
  Status inner;
  ACC_RETURN_IF_ERROR(ForEachStreamEvent(ledger, id, kWholeLog, [&](const events::EventView& v) {
    const uint64_t seq = v.envelope()->seq();
    if (v.type() == fb::Payload::AccountErased) {
      out->erased_seq = seq, out->erased = std::string(v.bytes());
    } else if (v.type() == fb::Payload::ErasureVerified &&
               v.envelope()->payload_as_ErasureVerified()->erased_seq() == out->erased_seq) {
      out->verified_seq = seq, out->verified = std::string(v.bytes());
    } else if (v.type() == fb::Payload::ReplicaErasureVerified) {
      AddCopy(v, out);
    }
    std::string_view box = SealedBox(v);
    if (box.empty()) return true;
    std::string plain;
    Status s = OpenForAccount(vault, id, v.type(), v.envelope()->request_id()->str(), box, &plain);
    std::fill(plain.begin(), plain.end(), '\0');
    if (s.ok()) out->any_opened = true;
    else if (!s.Is(Status::Code::kShredded) && !s.Is(Status::Code::kCorruption)) inner = s;
    out->sealed.push_back({{"seq", seq}, {"type", events::PayloadName(v.type())},
                           {"result", s.ok() ? "opened" : Status::CodeName(s.code())}});
    return inner.ok();
  }));
  return inner;
}

// The latest signed head if it covers `seq`; otherwise a new one over the log.
Status HeadCovering(Ledger& ledger, const SigningKey& key, uint64_t seq, int64_t now_ms, SignedTreeHead* out) {
  Status s = ReadLatestHead(ledger, out);
  if (s.ok()) {
    ACC_RETURN_IF_ERROR(VerifyHead(key.public_key, *out));
    if (out->size >= seq) return Status::OK();
  } else if (!s.Is(Status::Code::kNotFound)) {
    return s;
  }
  std::string root;
  ACC_RETURN_IF_ERROR(merkle::RootAt(merkle::LedgerNodes(ledger), ledger.LastSeq(), &root));
  *out = Sign(key, ledger.LastSeq(), root, now_ms);
  return Status::OK();
}

Status Included(Ledger& ledger, const SignedTreeHead& head, uint64_t seq, const std::string& envelope, json* out) {
  Json proof;
  ACC_RETURN_IF_ERROR(ProveInclusion(ledger, seq, head.size, &proof));
  if (proof["root"] != B64(head.root))
    return Status::Corruption("the log's root at size " + std::to_string(head.size) + " differs from its signed head");
  *out = {{"seq", seq}, {"envelope", B64(envelope)}, {"inclusion", json::parse(proof.dump())}};
  return Status::OK();
}

// The "copies" member: each copy's verification with its inclusion proof,
// and the expected copies without one. Absent when the ledger never
// replicated (no copy known, none verified).
Status CopiesMember(Ledger& ledger, const SignedTreeHead& head, const ErasureEvents& ev, json* body) {
  std::vector<std::string> expected;
  ACC_RETURN_IF_ERROR(ExpectedCopies(ledger, ev.erased_seq, &expected));
  if (expected.empty() && ev.copies.empty()) return Status::OK();
  json verified = json::array(), missing = json::array();
  for (const CopyVerified& c : ev.copies) {
    json e;
    ACC_RETURN_IF_ERROR(Included(ledger, head, c.seq, c.envelope, &e));
    e["node"] = c.node;
    verified.push_back(std::move(e));
  }
  for (const std::string& n : expected)
    if (std::none_of(ev.copies.begin(), ev.copies.end(), [&](const CopyVerified& c) { return c.node == n; }))
      missing.push_back(n);
  (*body)["copies"] = {{"verified", std::move(verified)}, {"not_verified", std::move(missing)}};
  return Status::OK();
}

}  // namespace

Status ProveErasure(Ledger& ledger, Vault& vault, const SigningKey& key, uint64_t id, int64_t now_ms,
                    json* certificate) {
  const std::string who = "account " + std::to_string(id);
  ErasureEvents ev;
  ACC_RETURN_IF_ERROR(CollectEvents(ledger, vault, id, &ev));
  if (ev.erased_seq == 0) return Status::Refused(who + " is not erased");
  if (ev.verified_seq == 0)
    return Status::Refused(who + ": the erasure is not verified yet (the service finishes it when it next opens)");
  crypto::Key32 dek;
  Status ks = vault.GetAccountKey(id, &dek);
  if (ks.ok()) return Status::Refused("the vault still holds the key of " + who);
  if (!ks.Is(Status::Code::kNotFound)) return ks;
  if (ev.any_opened) return Status::Refused("a sealed payload of " + who + " still opens");
  SignedTreeHead head;
  uint64_t newest = ev.verified_seq;
  for (const CopyVerified& c : ev.copies) newest = std::max(newest, c.seq);
  ACC_RETURN_IF_ERROR(HeadCovering(ledger, key, newest, now_ms, &head));
  json body = {{"format", kCertificateFormat},
               {"account_id", id},
               {"generated_at_ms", now_ms},
               {"public_key", crypto::ToHex(key.public_key)},
               {"signed_head", json::parse(HeadJson(head).dump())},
               {"vault", {{"account_key", "absent"}}},
               {"sealed_payloads", ev.sealed}};
  ACC_RETURN_IF_ERROR(Included(ledger, head, ev.erased_seq, ev.erased, &body["account_erased"]));
  ACC_RETURN_IF_ERROR(Included(ledger, head, ev.verified_seq, ev.verified, &body["erasure_verified"]));
  ACC_RETURN_IF_ERROR(CopiesMember(ledger, head, ev, &body));
  const std::string sig = SignDetached(key, CertificateSignedBytes(body));
  *certificate = {{"certificate", std::move(body)}, {"signature", B64(sig)}};
  return Status::OK();
}

std::string CertificateSignedBytes(const json& body) {
  std::string msg(kCertificateDomain);
  msg.push_back('\0');
  msg += body.dump();  // nlohmann::json keeps keys sorted: one canonical form
  return msg;
}

namespace {

Status Fail(const std::string& what) { return Status::Corruption("certificate: " + what); }

// Certificates come from outside: every member is read through these.
using json_fields::HasMemberOfType;
using json_fields::MemberOrNull;

// One event of the certificate: its envelope is the leaf the proof includes
// under the signed root, and it says what the certificate claims it says.
Status CheckEvent(const json& e, const char* name, uint64_t id, fb::Payload type, const SignedTreeHead& head,
                  events::EventView* view, std::string* bytes) {
  const std::string at = std::string(name) + ": ";
  if (!HasMemberOfType(e, "seq", json::value_t::number_unsigned) ||
      !HasMemberOfType(e, "envelope", json::value_t::string) || !HasMemberOfType(e, "inclusion", json::value_t::object))
    return Fail(at + "needs seq, envelope and inclusion");
  const uint64_t seq = e["seq"].get<uint64_t>();
  *bytes = Unb64(e["envelope"]);
  if (!events::EventView::Parse(*bytes, view).ok()) return Fail(at + "the envelope is not a valid event");
  const fb::Envelope* env = view->envelope();
  if (view->type() != type || env->seq() != seq || env->account_id() != id)
    return Fail(at + "the envelope is not the " + std::string(events::PayloadName(type)) + " event of account " +
                std::to_string(id) + " at seq " + std::to_string(seq));
  const json& in = e["inclusion"];
  if (in.value("leafIdx", json()) != seq - 1 || in.value("treeSize", json()) != head.size ||
      in.value("root", json()) != B64(head.root))
    return Fail(at + "the inclusion proof is not for this seq under the signed head");
  if (in.value("leafHash", json()) != B64(merkle::LeafHash(*bytes)))
    return Fail(at + "the envelope does not hash to the proof's leaf");
  Status s = VerifyInclusion(in);
  if (!s.ok()) return Fail(at + s.message());
  return Status::OK();
}

Status CheckHead(const json& c, const std::string& public_key, SignedTreeHead* head) {
  const json& h = MemberOrNull(c, "signed_head");
  if (!HasMemberOfType(h, "treeSize", json::value_t::number_unsigned) ||
      !HasMemberOfType(h, "timestamp_ms", json::value_t::number_unsigned))
    return Fail("signed_head needs treeSize, root, timestamp_ms and signature");
  head->size = h["treeSize"].get<uint64_t>();
  head->root = Unb64(h.value("root", json()));
  head->timestamp_ms = h["timestamp_ms"].get<int64_t>();
  head->signature = Unb64(h.value("signature", json()));
  Status s = VerifyHead(public_key, *head);
  return s.ok() ? s : Fail("signed_head: " + s.message());
}

// "copies" (optional): every verification is a ReplicaErasureVerified of
// this erasure included under the signed head, with no key bytes found,
// one per node; not_verified names other, well-formed nodes.
Status CheckCopies(const json& c, uint64_t id, uint64_t erased_seq, const SignedTreeHead& head,
                   nlohmann::ordered_json* summary) {
  if (!c.contains("copies")) return Status::OK();
  const json& copies = c["copies"];
  if (!copies.is_object() || !HasMemberOfType(copies, "verified", json::value_t::array) ||
      !HasMemberOfType(copies, "not_verified", json::value_t::array))
    return Fail("copies needs the lists verified and not_verified");
  std::set<std::string> nodes;
  for (const json& e : copies["verified"]) {
    events::EventView v;
    std::string bytes;
    ACC_RETURN_IF_ERROR(CheckEvent(e, "copies.verified", id, fb::Payload::ReplicaErasureVerified, head, &v, &bytes));
    auto* p = v.envelope()->payload_as_ReplicaErasureVerified();
    const std::string node = p->node() ? p->node()->str() : std::string();
    if (p->erased_seq() != erased_seq) return Fail("copy " + node + " verified another erasure");
    if (p->hits() != 0) return Fail("copy " + node + ": the vault scan found key bytes");
    if (MemberOrNull(e, "node") != node || !nodes.insert(node).second)
      return Fail("copies.verified: node names do not match their events, or repeat");
  }
  nlohmann::ordered_json missing = nlohmann::ordered_json::array();
  for (const json& n : copies["not_verified"]) {
    if (!n.is_string() || !events::IsNodeName(n.get<std::string>()) || nodes.count(n.get<std::string>()))
      return Fail("copies.not_verified: a node name that is malformed or also verified");
    missing.push_back(n.get<std::string>());
  }
  (*summary)["copies_verified"] = nlohmann::ordered_json(nodes);
  (*summary)["copies_not_verified"] = std::move(missing);
  return Status::OK();
}

Status CheckClaims(const json& c) {
  if (MemberOrNull(c, "vault") != json{{"account_key", "absent"}})
    return Fail("the vault does not report the key absent");
  const json& sealed = MemberOrNull(c, "sealed_payloads");
  if (!sealed.is_array()) return Fail("sealed_payloads must be a list");
  for (const json& p : sealed)
    if (!p.is_object() || p.value("result", json()) != "shredded")
      return Fail("a sealed payload did not fail as shredded");
  return Status::OK();
}

}  // namespace

Status VerifyCertificate(const json& file, const std::string& public_key, nlohmann::ordered_json* summary) {
  if (!file.is_object() || !HasMemberOfType(file, "certificate", json::value_t::object) ||
      !HasMemberOfType(file, "signature", json::value_t::string) ||
      file["certificate"].value("format", json()) != kCertificateFormat)
    return Status::InvalidArgument(std::string("not an erasure certificate (") + std::string(kCertificateFormat) + ")");
  const json& c = file["certificate"];
  if (c.value("public_key", json()) != crypto::ToHex(public_key))
    return Fail("signed by another key than the one given");
  const std::string msg = CertificateSignedBytes(c), sig = Unb64(file["signature"]);
  if (sig.size() != crypto_sign_BYTES ||
      crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.data()),
                                  reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                                  reinterpret_cast<const unsigned char*>(public_key.data())) != 0)
    return Fail("the signature over the certificate does not verify");
  if (!HasMemberOfType(c, "account_id", json::value_t::number_unsigned) ||
      !HasMemberOfType(c, "generated_at_ms", json::value_t::number_unsigned))
    return Fail("account_id or generated_at_ms missing");
  const uint64_t id = c["account_id"].get<uint64_t>();
  SignedTreeHead head;
  ACC_RETURN_IF_ERROR(CheckHead(c, public_key, &head));
  events::EventView erased, verified;
  std::string erased_bytes, verified_bytes;
  ACC_RETURN_IF_ERROR(CheckEvent(MemberOrNull(c, "account_erased"), "account_erased", id, fb::Payload::AccountErased,
                                 head, &erased, &erased_bytes));
  ACC_RETURN_IF_ERROR(CheckEvent(MemberOrNull(c, "erasure_verified"), "erasure_verified", id,
                                 fb::Payload::ErasureVerified, head, &verified, &verified_bytes));
  const fb::ErasureVerified* ev = verified.envelope()->payload_as_ErasureVerified();
  if (ev->erased_seq() != erased.envelope()->seq()) return Fail("ErasureVerified proves another erasure");
  if (ev->hits() != 0) return Fail("the vault scan found key bytes");
  ACC_RETURN_IF_ERROR(CheckClaims(c));
  *summary = {{"account_id", id},
              {"erased_seq", erased.envelope()->seq()},
              {"erasure_reason", events::ErasureReasonName(erased.envelope()->payload_as_AccountErased()->reason())},
              {"verified_seq", verified.envelope()->seq()},
              {"files_scanned", ev->files_scanned()},
              {"bytes_scanned", ev->bytes_scanned()},
              {"sealed_payloads_shredded", MemberOrNull(c, "sealed_payloads").size()},
              {"tree_size", head.size},
              {"generated_at_ms", c["generated_at_ms"]},
              {"head_timestamp_ms", head.timestamp_ms}};
  return CheckCopies(c, id, erased.envelope()->seq(), head, summary);
}

}  // namespace accountable::audit
