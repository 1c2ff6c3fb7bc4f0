#include "replay/online.h"

#include <sodium.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "core/crypto.h"
#include "core/merkle.h"
#include "core/tree_head.h"
#include "events/event.h"
#include "projections/service/json_fields.h"

namespace accountable::audit {
namespace {

bool Unhex(const Json& j, const char* key, size_t bytes, std::string* out) {
  return j.contains(key) && j[key].is_string() && crypto::FromHex(j[key].get<std::string>(), bytes, out);
}

using json_fields::UnsignedOrZero;

// One request whose answer is a JSON document; the server's refusals pass
// through unchanged, a document that is not a JSON object is Corruption.
Status CallJson(Client& client, wire::Body type, const Client::BodyFn& body, Json* out) {
  Client::Reply rep;
  ACC_RETURN_IF_ERROR(client.Call(type, body, &rep));
  ACC_RETURN_IF_ERROR(rep.status);
  Json j = Json::parse(rep.json, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Status::Corruption(std::string(wire::BodyName(type)) + ": the server's answer is not a JSON object");
  *out = std::move(j);
  return Status::OK();
}

Status FetchHead(Client& client, SignedTreeHead* h) {
  Json j;
  ACC_RETURN_IF_ERROR(CallJson(client, wire::Body::TreeHead,
                               [](flatbuffers::FlatBufferBuilder& f) { return wire::CreateTreeHead(f).Union(); }, &j));
  if (!j.contains("tree_size") || !j["tree_size"].is_number_unsigned() || !j.contains("timestamp_ms") ||
      !j["timestamp_ms"].is_number_integer() || !Unhex(j, "root", merkle::kHashBytes, &h->root) ||
      !Unhex(j, "signature", crypto_sign_BYTES, &h->signature))
    return Status::Corruption("the server's tree head is malformed");
  h->size = j["tree_size"].get<uint64_t>();
  h->timestamp_ms = j["timestamp_ms"].get<int64_t>();
  return Status::OK();
}

// The perfect subtrees over the leaves pushed so far, largest first: exactly
// the nodes merkle::RootAt reads for that size, so the root of a log of any
// length costs O(log n) memory and reuses the one RFC 6962 fold.
class Frontier {
 public:
  void Push(std::string hash) {
    uint8_t level = 0;
    while (!nodes_.empty() && nodes_.back().level == level) {
      hash = merkle::NodeHash(nodes_.back().hash, hash);
      nodes_.pop_back();
      ++level;
    }
    nodes_.push_back({level, leaves_ >> level, std::move(hash)});
    ++leaves_;
  }

  uint64_t leaves() const { return leaves_; }

  Status Root(std::string* root) const {
    return merkle::RootAt([this](uint8_t level, uint64_t index, std::string* h) {
      for (const Node& n : nodes_)
        if (n.level == level && n.index == index) {
          *h = n.hash;
          return Status::OK();
        }
      return Status::Corruption("frontier has no node " + std::to_string(level) + "/" + std::to_string(index));
    }, leaves_, root);
  }

 private:
  struct Node {
    uint8_t level;
    uint64_t index;
    std::string hash;
  };
  std::vector<Node> nodes_;
  uint64_t leaves_ = 0;
};

Status CheckEnvelope(uint64_t expect, uint64_t seq, const std::string& envelope) {
  const std::string at = "seq " + std::to_string(expect);
  if (seq != expect) return Status::Corruption(at + " is missing");
  events::EventView v;
  Status s = events::EventView::Parse(envelope, &v);
  if (!s.ok()) return Status::Corruption(at + ": " + s.message());
  if (v.envelope()->seq() != seq)
    return Status::Corruption(at + " holds an envelope for seq " + std::to_string(v.envelope()->seq()));
  return Status::OK();
}

// Pushes the leaves of seqs from..to (inclusive) onto the frontier, one
// ReadLog page at a time; a page may hold fewer events than asked for.
Status StreamLeaves(Client& client, uint64_t from, uint64_t to, Frontier* frontier, uint64_t* pages) {
  for (uint64_t next = from; next <= to;) {
    const auto want = static_cast<uint32_t>(std::min<uint64_t>(to - next + 1, wire::kReadEventsMax));
    Client::Reply rep;
    ACC_RETURN_IF_ERROR(client.Call(wire::Body::ReadLog, [&](flatbuffers::FlatBufferBuilder& f) {
      return wire::CreateReadLog(f, next, want).Union();
    }, &rep));
    ACC_RETURN_IF_ERROR(rep.status);
    ++*pages;
    if (rep.events.empty())
      return Status::Corruption("seq " + std::to_string(next) + " is missing: the log ends before the signed head's size " +
                                std::to_string(to));
    for (const auto& [seq, envelope] : rep.events) {
      if (next > to) break;
      ACC_RETURN_IF_ERROR(CheckEnvelope(next, seq, envelope));
      frontier->Push(merkle::LeafHash(envelope));
      ++next;
    }
  }
  return Status::OK();
}

// The signed tree's root at `size` (base64): a consistency proof from size to
// the head that verifies against the signed root authenticates it.
Status SignedRootAt(Client& client, const SignedTreeHead& h, uint64_t size, std::string* root) {
  Json j;
  ACC_RETURN_IF_ERROR(OnlineProveConsistency(client, size, h.size, &j));
  if (j["root2"] != B64(h.root))
    return Status::Corruption("the server's tree at size " + std::to_string(h.size) + " is not the one it signed");
  *root = j["root1"].get<std::string>();
  return Status::OK();
}

// Called when the root over seqs 1..head size differs from the signed one.
// Prefixes below the first rewritten seq match the signed tree's prefix roots
// and prefixes from it on do not, so a binary search finds it. Each probe
// extends the last matching prefix, so the log is read at most once more.
Status FirstBadSeq(Client& client, const SignedTreeHead& h, uint64_t* pages, uint64_t* bad) {
  Frontier good;  // seqs 1..lo, matching the signed tree
  uint64_t lo = 0, hi = h.size;  // the prefix of hi leaves does not match
  while (hi - lo > 1) {
    const uint64_t mid = lo + (hi - lo) / 2;
    Frontier probe = good;
    ACC_RETURN_IF_ERROR(StreamLeaves(client, lo + 1, mid, &probe, pages));
    std::string mine, theirs;
    ACC_RETURN_IF_ERROR(probe.Root(&mine));
    ACC_RETURN_IF_ERROR(SignedRootAt(client, h, mid, &theirs));
    if (B64(mine) == theirs) {
      lo = mid;
      good = std::move(probe);
    } else {
      hi = mid;
    }
  }
  *bad = hi;
  return Status::OK();
}

}  // namespace

Status OnlineTreeHead(Client& client, Json* out) {
  SignedTreeHead h;
  ACC_RETURN_IF_ERROR(FetchHead(client, &h));
  *out = HeadJson(h);
  return Status::OK();
}

Status OnlineProveInclusion(Client& client, uint64_t seq, uint64_t tree_size, Json* out) {
  Json j;
  ACC_RETURN_IF_ERROR(CallJson(client, wire::Body::InclusionProof, [&](flatbuffers::FlatBufferBuilder& f) {
    return wire::CreateInclusionProof(f, seq, tree_size).Union();
  }, &j));
  if (UnsignedOrZero(j, "leafIdx") + 1 != seq || (tree_size != 0 && UnsignedOrZero(j, "treeSize") != tree_size))
    return Status::Corruption("the server's inclusion proof is for another seq or tree size");
  if (!VerifyInclusion(j).ok()) return Status::Corruption("the server's inclusion proof does not verify");
  *out = std::move(j);
  return Status::OK();
}

Status OnlineProveConsistency(Client& client, uint64_t old_size, uint64_t new_size, Json* out) {
  Json j;
  ACC_RETURN_IF_ERROR(CallJson(client, wire::Body::ConsistencyProof, [&](flatbuffers::FlatBufferBuilder& f) {
    return wire::CreateConsistencyProof(f, old_size, new_size).Union();
  }, &j));
  if (UnsignedOrZero(j, "size1") != old_size || (new_size != 0 && UnsignedOrZero(j, "size2") != new_size))
    return Status::Corruption("the server's consistency proof is for other sizes");
  if (!VerifyConsistency(j).ok()) return Status::Corruption("the server's consistency proof does not verify");
  *out = std::move(j);
  return Status::OK();
}

Status OnlineVerify(Client& client, const std::string& public_key, Json* out) {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES)
    return Status::InvalidArgument("public key: must be 32 bytes");
  SignedTreeHead h;
  ACC_RETURN_IF_ERROR(FetchHead(client, &h));
  ACC_RETURN_IF_ERROR(VerifyHead(public_key, h));
  Frontier leaves;
  uint64_t pages = 0;
  ACC_RETURN_IF_ERROR(StreamLeaves(client, 1, h.size, &leaves, &pages));
  std::string root;
  ACC_RETURN_IF_ERROR(leaves.Root(&root));
  if (root != h.root) {
    uint64_t bad = 0;
    ACC_RETURN_IF_ERROR(FirstBadSeq(client, h, &pages, &bad));
    return Status::Corruption("seq " + std::to_string(bad) +
                              ": envelope differs from the one the signed head covers (rewritten?)");
  }
  *out = {{"events", leaves.leaves()}, {"pages", pages}, {"signed_head", HeadJson(h)}};
  return Status::OK();
}

}  // namespace accountable::audit
