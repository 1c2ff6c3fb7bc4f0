#include "projections/service/log_checks.h"

#include <sodium.h>

#include <future>

#include "core/merkle.h"
#include "core/tree_head.h"

namespace accountable::audit {

namespace {

constexpr size_t kPageEvents = 4096;
// One page of envelopes for VerifyTree: ~18 MB at the usual ~270 bytes.
constexpr size_t kVerifyPageEvents = 65536;

}  // namespace

// Root of the leaves pushed so far, from scratch: a stack of perfect subtrees
// that merge when equal in size (the binary counter of the leaf count).
class RootBuilder {
 public:
  // on_node(level, index, hash) sees every perfect subtree the leaf completes.
  template <typename OnNode>
  Status Push(Digest leaf, OnNode&& on_node) {
    uint64_t size = 1;
    uint8_t level = 0;
    ++leaves_;
    while (!stack_.empty() && stack_.back().first == size) {
      leaf = merkle::NodeDigest(stack_.back().second, leaf);
      size *= 2;
      ++level;
      stack_.pop_back();
      ACC_RETURN_IF_ERROR(on_node(level, leaves_ / size - 1, leaf));
    }
    stack_.emplace_back(size, leaf);
    return Status::OK();
  }
  std::string Root() const {
    if (stack_.empty()) return merkle::EmptyRoot();
    Digest r = stack_.back().second;
    for (auto it = stack_.rbegin() + 1; it != stack_.rend(); ++it) r = merkle::NodeDigest(it->second, r);
    return std::string(View(r));
  }

 private:
  uint64_t leaves_ = 0;
  std::vector<std::pair<uint64_t, Digest>> stack_;
};

namespace {

Status NodeMissing(uint8_t level, uint64_t index) {
  return Status::Corruption("tree node " + std::to_string(level) + "/" + std::to_string(index) + " is missing");
}

// Every stored row of the tree, read in key order with range scans of
// kPageEvents leaves or nodes (no point lookups). Node keys sort in
// completion order (merkle::NodeKey), so stored nodes come out in the order
// RootBuilder recomputes them and each is compared as it is made.
class StoredTree {
 public:
  // The stored leaf of seq (1-based); a gap is Corruption naming the seq.
  Status Leaf(Ledger& ledger, uint64_t seq, const Digest** leaf) {
    if (seq < first_seq_ || seq >= first_seq_ + leaves_.size()) ACC_RETURN_IF_ERROR(FillLeaves(ledger, seq));
    if (seq >= first_seq_ + leaves_.size())
      return Status::Corruption("seq " + std::to_string(seq) + ": its Merkle leaf is missing");
    *leaf = &leaves_[seq - first_seq_];
    return Status::OK();
  }
  // Checks a recomputed node against the next stored one, if its level is stored.
  Status Node(Ledger& ledger, uint8_t level, uint64_t index, const Digest& hash) {
    if (!merkle::IsStoredLevel(level)) return Status::OK();
    if (next_node_ == nodes_.size()) ACC_RETURN_IF_ERROR(FillNodes(ledger, merkle::NodeKey(level, index)));
    if (next_node_ == nodes_.size() || nodes_[next_node_].level != level || nodes_[next_node_].index != index)
      return NodeMissing(level, index);
    if (nodes_[next_node_++].hash != hash)
      return Status::Corruption("tree node " + std::to_string(level) + "/" + std::to_string(index) +
                                " differs from the hash recomputed from its leaves");
    return Status::OK();
  }

 private:
  struct Stored {
    uint8_t level;
    uint64_t index;
    Digest hash;
  };
  Status FillLeaves(Ledger& ledger, uint64_t seq) {
    first_seq_ = seq;
    leaves_.clear();
    return merkle::ScanLeaves(ledger, seq - 1, [&](uint64_t, std::string_view h) {
      leaves_.emplace_back();
      std::copy(h.begin(), h.end(), leaves_.back().begin());
      return leaves_.size() < kPageEvents;
    });
  }
  Status FillNodes(Ledger& ledger, const std::string& from_key) {
    nodes_.clear();
    next_node_ = 0;
    return ledger.ScanFrom(Cf::kMerkle, from_key, [&](std::string_view k, std::string_view v) {
      if (k.size() != 10 || k[0] != merkle::kNodeTag || v.size() != merkle::kHashBytes) return false;
      const uint64_t last_leaf = DecodeBE64(k.substr(1, 8));
      const auto level = static_cast<uint8_t>(k[9]);
      nodes_.push_back({level, ((last_leaf + 1) >> level) - 1, {}});
      std::copy(v.begin(), v.end(), nodes_.back().hash.begin());
      return nodes_.size() < kPageEvents;
    });
  }

  uint64_t first_seq_ = 0;
  std::vector<Digest> leaves_;
  std::vector<Stored> nodes_;
  size_t next_node_ = 0;
};

// Messages are built only on failure: this runs once per event of the log.
Status CheckEvent(uint64_t seq, std::string_view envelope, const Digest& stored, const Digest& leaf) {
  auto at = [seq] { return "seq " + std::to_string(seq); };
  events::EventView v;
  Status s = events::EventView::Parse(envelope, &v);
  if (!s.ok()) return Status::Corruption(at() + ": " + s.message());
  if (v.envelope()->seq() != seq) return Status::Corruption(at() + " holds the envelope of another seq");
  if (leaf != stored) return Status::Corruption(at() + ": envelope does not match its Merkle leaf (rewritten?)");
  return Status::OK();
}

// Up to kVerifyPageEvents envelopes copied out of one read-ahead scan, and
// their leaf hashes once a Hash() has run.
struct EventPage {
  std::vector<uint64_t> seqs;
  std::vector<size_t> ends;  // envelope i is bytes[ends[i-1], ends[i])
  std::string bytes;
  std::vector<Digest> leaves;
  bool full = false;

  // Up to kVerifyPageEvents envelopes from from_seq, none past last_seq.
  // Full: more may follow.
  Status Read(Ledger& ledger, uint64_t from_seq, uint64_t last_seq) {
    seqs.clear();
    ends.clear();
    bytes.clear();
    full = false;
    return ledger.ScanEvents(from_seq, [&](uint64_t seq, std::string_view envelope) {
      if (seq > last_seq) return false;
      seqs.push_back(seq);
      bytes.append(envelope);
      ends.push_back(bytes.size());
      full = seqs.size() == kVerifyPageEvents && seq < last_seq;
      return seqs.size() < kVerifyPageEvents;
    });
  }
  std::string_view Envelope(size_t i) const {
    const size_t begin = i ? ends[i - 1] : 0;
    return std::string_view(bytes).substr(begin, ends[i] - begin);
  }
  void Hash() {
    leaves.resize(seqs.size());
    for (size_t i = 0; i < seqs.size(); ++i) leaves[i] = merkle::LeafDigest(Envelope(i));
  }
};

// recorded_at of one event: SeqAtTime's probe.
Status RecordedAt(Ledger& ledger, uint64_t seq, int64_t* ms) {
  std::vector<Ledger::Stored> one;
  ACC_RETURN_IF_ERROR(ledger.ReadRange(seq, 1, &one));
  if (one.empty()) return Status::Corruption("seq " + std::to_string(seq) + " is missing");
  events::EventView v;
  ACC_RETURN_IF_ERROR(events::EventView::Parse(one[0].envelope, &v));
  *ms = v.envelope()->recorded_at_ms();
  return Status::OK();
}

}  // namespace

Status SeqAtTime(Ledger& ledger, int64_t time_ms, uint64_t* seq) {
  uint64_t lo = 0, hi = ledger.LastSeq();  // invariant: recorded_at(lo) <= time < recorded_at(hi + 1)
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo + 1) / 2;
    int64_t at_ms = 0;
    ACC_RETURN_IF_ERROR(RecordedAt(ledger, mid, &at_ms));
    if (at_ms <= time_ms) lo = mid;
    else hi = mid - 1;
  }
  *seq = lo;
  return Status::OK();
}

struct LogVerifier::State {
  RootBuilder rebuilt;
  StoredTree stored;
  EventPage pages[2];
  uint64_t verified = 0;
  Status failed;

  Status Run(Ledger& ledger, uint64_t last_seq);
  Status Check(Ledger& ledger, const EventPage& page);
};

// Parse, seq, stored leaf, every stored node the leaf completes.
Status LogVerifier::State::Check(Ledger& ledger, const EventPage& page) {
  for (size_t i = 0; i < page.seqs.size(); ++i) {
    const uint64_t seq = page.seqs[i];
    if (seq != verified + 1) return Status::Corruption("seq " + std::to_string(verified + 1) + " is missing");
    const Digest* leaf = nullptr;
    ACC_RETURN_IF_ERROR(stored.Leaf(ledger, seq, &leaf));
    ACC_RETURN_IF_ERROR(CheckEvent(seq, page.Envelope(i), *leaf, page.leaves[i]));
    ACC_RETURN_IF_ERROR(rebuilt.Push(page.leaves[i], [&](uint8_t level, uint64_t index, const Digest& h) {
      return stored.Node(ledger, level, index, h);
    }));
    verified = seq;
  }
  return Status::OK();
}

// Both cores: while a helper thread hashes page k+1, this thread checks
// page k and then reads page k+2. Pages are checked in seq order, so the
// first bad seq is the one reported.
Status LogVerifier::State::Run(Ledger& ledger, uint64_t last_seq) {
  ACC_RETURN_IF_ERROR(pages[0].Read(ledger, verified + 1, last_seq));
  std::future<void> hashing = std::async(std::launch::async, [this] { pages[0].Hash(); });
  for (size_t k = 0;; ++k) {
    EventPage& cur = pages[k % 2];
    EventPage& next = pages[(k + 1) % 2];
    const bool last = !cur.full;
    Status read = last ? Status::OK() : next.Read(ledger, cur.seqs.back() + 1, last_seq);
    hashing.get();
    if (!last && read.ok()) hashing = std::async(std::launch::async, [&next] { next.Hash(); });
    Status checked = Check(ledger, cur);
    if (!checked.ok()) {
      if (hashing.valid()) hashing.get();
      return checked;
    }
    ACC_RETURN_IF_ERROR(read);
    if (last) break;
  }
  if (verified != last_seq) return Status::Corruption("seq " + std::to_string(verified + 1) + " is missing");
  Json head;
  ACC_RETURN_IF_ERROR(TreeHead(ledger, last_seq, &head));
  if (head["root"] != B64(rebuilt.Root()))
    return Status::Corruption("the stored tree's root differs from the root recomputed from every envelope");
  return Status::OK();
}

LogVerifier::LogVerifier() : state_(std::make_unique<State>()) {}
LogVerifier::~LogVerifier() = default;
uint64_t LogVerifier::verified_seq() const { return state_->verified; }

Status LogVerifier::Advance(Ledger& ledger, uint64_t last_seq) {
  if (!state_->failed.ok() || last_seq <= state_->verified) return state_->failed;
  state_->failed = state_->Run(ledger, last_seq);
  return state_->failed;
}

Status VerifyTree(Ledger& ledger, Json* out) {
  const uint64_t last = ledger.LastSeq();
  LogVerifier v;
  ACC_RETURN_IF_ERROR(v.Advance(ledger, last));
  ACC_RETURN_IF_ERROR(TreeHead(ledger, last, out));
  (*out)["events"] = last;
  return Status::OK();
}

Status VerifySignedHead(Ledger& ledger, const std::string& public_key, Json* out) {
  SignedTreeHead h;
  ACC_RETURN_IF_ERROR(ReadLatestHead(ledger, &h));
  ACC_RETURN_IF_ERROR(VerifyHead(public_key, h));
  Json recomputed;
  ACC_RETURN_IF_ERROR(TreeHead(ledger, h.size, &recomputed));
  if (recomputed["root"] != B64(h.root))
    return Status::Corruption("the signed head's root differs from the log's root at size " + std::to_string(h.size));
  (*out)["signed_head"] = HeadJson(h);
  return Status::OK();
}

}  // namespace accountable::audit
