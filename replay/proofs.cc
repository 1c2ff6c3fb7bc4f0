#include "replay/proofs.h"

#include <sodium.h>

#include "core/merkle.h"
#include "core/tree_head.h"

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
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), s.c_str(), s.size(), nullptr, &len,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return "";
  out.resize(len);
  return out;
}

namespace {

constexpr size_t kPageEvents = 4096;

uint64_t U(const nlohmann::json& j, const char* k) {
  return j.contains(k) && j[k].is_number_unsigned() ? j[k].get<uint64_t>() : 0;
}

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

Status VerifyInclusion(const nlohmann::json& j) {
  return merkle::VerifyInclusion(U(j, "leafIdx"), U(j, "treeSize"), Unb64(j.value("leafHash", nlohmann::json())),
                                 ProofOf(j), Unb64(j.value("root", nlohmann::json())));
}

Status VerifyConsistency(const nlohmann::json& j) {
  return merkle::VerifyConsistency(U(j, "size1"), U(j, "size2"), Unb64(j.value("root1", nlohmann::json())),
                                   Unb64(j.value("root2", nlohmann::json())), ProofOf(j));
}

// Root of the leaves pushed so far, from scratch: a stack of perfect subtrees
// that merge when equal in size (the binary counter of the leaf count).
class RootBuilder {
 public:
  void Push(std::string leaf) {
    uint64_t size = 1;
    while (!stack_.empty() && stack_.back().first == size) {
      leaf = merkle::NodeHash(stack_.back().second, leaf);
      size *= 2;
      stack_.pop_back();
    }
    stack_.emplace_back(size, std::move(leaf));
  }
  std::string Root() const {
    if (stack_.empty()) return merkle::EmptyRoot();
    std::string r = stack_.back().second;
    for (auto it = stack_.rbegin() + 1; it != stack_.rend(); ++it) r = merkle::NodeHash(it->second, r);
    return r;
  }

 private:
  std::vector<std::pair<uint64_t, std::string>> stack_;
};

Status VerifyTree(Ledger& ledger, Json* out) {
  std::vector<Ledger::Stored> page;
  RootBuilder rebuilt;
  uint64_t expect = 1;
  for (;;) {
    ACC_RETURN_IF_ERROR(ledger.ReadRange(expect, kPageEvents, &page));
    for (auto& st : page) {
      const std::string at = "seq " + std::to_string(st.seq);
      if (st.seq != expect) return Status::Corruption("seq " + std::to_string(expect) + " is missing");
      events::EventView v;
      Status s = events::EventView::Parse(st.envelope, &v);
      if (!s.ok()) return Status::Corruption(at + ": " + s.message());
      if (v.envelope()->seq() != st.seq) return Status::Corruption(at + " holds the envelope of another seq");
      std::string stored;
      ACC_RETURN_IF_ERROR(merkle::LedgerNodes(ledger)(0, st.seq - 1, &stored));
      std::string leaf = merkle::LeafHash(st.envelope);
      if (stored != leaf) return Status::Corruption(at + ": envelope does not match its Merkle leaf (rewritten?)");
      rebuilt.Push(std::move(leaf));
      ++expect;
    }
    if (page.size() < kPageEvents) break;
  }
  ACC_RETURN_IF_ERROR(TreeHead(ledger, 0, out));
  if ((*out)["root"] != B64(rebuilt.Root()))
    return Status::Corruption("the stored tree's root differs from the root recomputed from every envelope");
  (*out)["events"] = expect - 1;
  return Status::OK();
}

Status VerifySignedHead(Ledger& ledger, const std::string& public_key, Json* out) {
  std::string stored;
  Status s = ledger.Get(Cf::kMeta, "sth/latest", &stored);
  if (s.Is(Status::Code::kNotFound)) return Status::NotFound("the log has no signed tree head");
  ACC_RETURN_IF_ERROR(s);
  SignedTreeHead h;
  ACC_RETURN_IF_ERROR(DecodeHead(stored, &h));
  ACC_RETURN_IF_ERROR(VerifyHead(public_key, h));
  Json recomputed;
  ACC_RETURN_IF_ERROR(TreeHead(ledger, h.size, &recomputed));
  if (recomputed["root"] != B64(h.root))
    return Status::Corruption("the signed head's root differs from the log's root at size " + std::to_string(h.size));
  (*out)["signed_head"] = {{"treeSize", h.size}, {"root", B64(h.root)}, {"timestamp_ms", h.timestamp_ms},
                           {"signature", B64(h.signature)}};
  return Status::OK();
}

}  // namespace accountable::audit
