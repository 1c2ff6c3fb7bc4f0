// ProofJson: see proof_json.h.
#include "projections/service/proof_json.h"

#include <sodium.h>

#include "core/merkle.h"
#include "projections/service/accounts.h"
#include "projections/service/json_fields.h"

namespace accountable::audit {

std::string B64(std::string_view bin) {
  std::string out(sodium_base64_ENCODED_LEN(bin.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()), bin.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

// Malformed base64 decodes to a value that can never verify, never to an exception.
std::string Unb64(const nlohmann::json& v) {
  if (!v.is_string()) return "";
  const std::string s = v.get<std::string>();
  std::string out(s.size(), '\0');
  size_t decoded_bytes = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), s.c_str(), s.size(), nullptr,
                        &decoded_bytes, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return "";
  out.resize(decoded_bytes);
  return out;
}

namespace {

using json_fields::UnsignedOrZero;

std::vector<std::string> ProofOf(const nlohmann::json& j) {
  std::vector<std::string> out;
  if (j.contains("proof") && j["proof"].is_array())
    for (auto& p : j["proof"]) out.push_back(Unb64(p));
  return out;
}

Status CheckSize(Ledger& ledger, uint64_t size) {
  if (size > ledger.LastSeq())
    return Status::InvalidArgument("tree size " + std::to_string(size) + " is beyond the log (" +
                                   std::to_string(ledger.LastSeq()) + " events)");
  return Status::OK();
}

}  // namespace

Status TreeHead(Ledger& ledger, uint64_t size, Json* out) {
  if (size == 0) size = ledger.LastSeq();
  ACC_RETURN_IF_ERROR(CheckSize(ledger, size));
  std::string root;
  ACC_RETURN_IF_ERROR(merkle::RootAt(merkle::LedgerNodes(ledger), size, &root));
  *out = {{"treeSize", size}, {"root", B64(root)}};
  return Status::OK();
}

Status ProveInclusion(Ledger& ledger, uint64_t seq, uint64_t size, Json* out) {
  if (size == 0) size = ledger.LastSeq();
  ACC_RETURN_IF_ERROR(CheckSize(ledger, size));
  if (seq == 0 || seq > size) return Status::InvalidArgument("seq must be 1..tree size");
  std::string root, leaf;
  std::vector<std::string> proof;
  ACC_RETURN_IF_ERROR(merkle::RootAt(merkle::LedgerNodes(ledger), size, &root));
  ACC_RETURN_IF_ERROR(merkle::LedgerNodes(ledger)(0, seq - 1, &leaf));
  ACC_RETURN_IF_ERROR(merkle::InclusionProof(merkle::LedgerNodes(ledger), seq - 1, size, &proof));
  Json p = Json::array();
  for (auto& h : proof) p.push_back(B64(h));
  *out = {{"leafIdx", seq - 1}, {"treeSize", size}, {"root", B64(root)}, {"leafHash", B64(leaf)}, {"proof", p}};
  return Status::OK();
}

Status ProveConsistency(Ledger& ledger, uint64_t old_size, uint64_t new_size, Json* out) {
  ACC_RETURN_IF_ERROR(CheckSize(ledger, new_size));
  std::string r1, r2;
  std::vector<std::string> proof;
  ACC_RETURN_IF_ERROR(merkle::ConsistencyProof(merkle::LedgerNodes(ledger), old_size, new_size, &proof));
  ACC_RETURN_IF_ERROR(merkle::RootAt(merkle::LedgerNodes(ledger), old_size, &r1));
  ACC_RETURN_IF_ERROR(merkle::RootAt(merkle::LedgerNodes(ledger), new_size, &r2));
  Json p = Json::array();
  for (auto& h : proof) p.push_back(B64(h));
  *out = {{"size1", old_size}, {"size2", new_size}, {"root1", B64(r1)}, {"root2", B64(r2)}, {"proof", p}};
  return Status::OK();
}

// Proofs come from files and from servers: j.value() throws on anything but
// an object (found by fuzz-audit), so the document's shape is checked first.
Status VerifyInclusion(const nlohmann::json& j) {
  if (!j.is_object()) return Status::InvalidArgument("not an inclusion proof: a JSON object is expected");
  return merkle::VerifyInclusion(UnsignedOrZero(j, "leafIdx"), UnsignedOrZero(j, "treeSize"),
                                 Unb64(j.value("leafHash", nlohmann::json())), ProofOf(j),
                                 Unb64(j.value("root", nlohmann::json())));
}

Status VerifyConsistency(const nlohmann::json& j) {
  if (!j.is_object()) return Status::InvalidArgument("not a consistency proof: a JSON object is expected");
  return merkle::VerifyConsistency(UnsignedOrZero(j, "size1"), UnsignedOrZero(j, "size2"),
                                   Unb64(j.value("root1", nlohmann::json())), Unb64(j.value("root2", nlohmann::json())),
                                   ProofOf(j));
}

Status ReadLatestHead(Ledger& ledger, SignedTreeHead* out) {
  std::string stored;
  Status s = ledger.Get(Cf::kMeta, kMetaLatestHead, &stored);
  if (s.Is(Status::Code::kNotFound)) return Status::NotFound("the log has no signed tree head yet");
  ACC_RETURN_IF_ERROR(s);
  return DecodeHead(stored, out);
}

Json HeadJson(const SignedTreeHead& h) {
  return {{"treeSize", h.size}, {"root", B64(h.root)}, {"timestamp_ms", h.timestamp_ms},
          {"signature", B64(h.signature)}};
}

}  // namespace accountable::audit
