// The erasure list: format, signature, collection from the log, and the
// Accounts side that keeps the exported file current.
#include "projections/service/erasure_list.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/merkle.h"
#include "core/signing_keyring.h"
#include "core/text_file.h"
#include "events/event.h"
#include "projections/service/accounts.h"

namespace accountable {
using textdoc::Field;
using textdoc::Lines;
using textdoc::ParseU64;

namespace {

constexpr std::string_view kFormatLine = "accountable-erasure-list v1";
// Rewritten at least this often (in events read) even without a new
// erasure, so the next start's incremental scan stays short.
constexpr uint64_t kRewriteEveryEvents = 1u << 20;

bool ParseHex(std::string_view hex, size_t bytes, std::string* out) {
  return crypto::FromHex(std::string(hex), bytes, out);
}

bool ParseEntry(std::string_view v, ErasureListEntry* e) {
  const size_t a = v.find(' '), b = a == std::string_view::npos ? a : v.find(' ', a + 1);
  if (b == std::string_view::npos) return false;
  return ParseU64(v.substr(0, a), &e->account_id) && ParseU64(v.substr(a + 1, b - a - 1), &e->erased_seq) &&
         ParseU64(v.substr(b + 1), &e->verified_seq) && e->account_id != 0 && e->erased_seq != 0;
}

}  // namespace


std::string EncodeErasureList(const ErasureListDoc& d, const SigningKey& key) {
  std::string body(kFormatLine);
  body += "\npublic_key " + crypto::ToHex(d.public_key) + "\nlog_seq " + std::to_string(d.log_seq) + "\nlog_root " +
          crypto::ToHex(d.log_root) + "\ngenerated_at_ms " + std::to_string(d.generated_at_ms) + "\n";
  for (const auto& [id, e] : d.entries)
    body += "erasure " + std::to_string(id) + " " + std::to_string(e.erased_seq) + " " + std::to_string(e.verified_seq) + "\n";
  return body + "signature " + crypto::ToHex(SignDetached(key, body)) + "\n";
}

Status ParseErasureList(std::string_view text, const std::string& public_key, ErasureListDoc* out) {
  return ParseErasureList(text, std::vector<std::string>{public_key}, out);
}

Status ParseErasureList(std::string_view text, const std::vector<std::string>& public_keys, ErasureListDoc* out) {
  const auto bad = [](const std::string& why) { return Status::InvalidArgument("not an erasure list: " + why); };
  if (text.size() > kErasureListBytesMax) return bad("larger than " + std::to_string(kErasureListBytesMax) + " bytes");
  if (text.empty() || text.back() != '\n') return bad("it does not end with a newline");
  const std::vector<std::string_view> lines = Lines(text);
  if (lines.size() < 6 || lines[0] != kFormatLine) return bad(std::string("the first line is not ") + std::string(kFormatLine));
  std::string_view v;
  std::string sig;
  if (!Field(lines.back(), "signature", &v) || !ParseHex(v, 64, &sig)) return bad("the last line is not its signature");
  ErasureListDoc d;
  uint64_t at = 0;
  if (!Field(lines[1], "public_key", &v) || !ParseHex(v, 32, &d.public_key)) return bad("no public_key line");
  if (!Field(lines[2], "log_seq", &v) || !ParseU64(v, &d.log_seq)) return bad("no log_seq line");
  if (!Field(lines[3], "log_root", &v) || !ParseHex(v, 32, &d.log_root)) return bad("no log_root line");
  if (!Field(lines[4], "generated_at_ms", &v) || !ParseU64(v, &at)) return bad("no generated_at_ms line");
  d.generated_at_ms = static_cast<int64_t>(at);
  // Checked before the entries are believed: a list signed by another key
  // (another ledger's) or altered in any byte is refused as a whole.
  if (std::find(public_keys.begin(), public_keys.end(), d.public_key) == public_keys.end())
    return Status::Corruption("the erasure list is signed by another key than this ledger's");
  const size_t signed_bytes = text.size() - lines.back().size() - 1;
  ACC_RETURN_IF_ERROR(VerifyDetached(d.public_key, text.substr(0, signed_bytes), sig));
  for (size_t i = 5; i + 1 < lines.size(); ++i) {
    ErasureListEntry e;
    if (!Field(lines[i], "erasure", &v) || !ParseEntry(v, &e))
      return bad("line " + std::to_string(i + 1) + " is not an erasure line");
    if (!d.entries.emplace(e.account_id, e).second) return bad("account " + std::to_string(e.account_id) + " is listed twice");
  }
  *out = std::move(d);
  return Status::OK();
}

Status ReadErasureList(const std::string& path, const std::string& public_key, ErasureListDoc* out) {
  return ReadErasureList(path, std::vector<std::string>{public_key}, out);
}

Status ReadErasureList(const std::string& path, const std::vector<std::string>& public_keys, ErasureListDoc* out) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::NotFound("no erasure list at " + path);
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return Status::IOError("cannot read erasure list " + path);
  if (size > kErasureListBytesMax) return Status::InvalidArgument("erasure list " + path + " is too large");
  std::string text(size, '\0');
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open erasure list " + path + ": " + std::strerror(errno));
  const ssize_t n = ::read(fd, text.data(), text.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) return Status::IOError("cannot read erasure list " + path);
  return ParseErasureList(text, public_keys, out);
}

Status CollectErasures(Ledger& ledger, uint64_t from_seq, uint64_t to_seq, ErasureListDoc* doc, bool* changed) {
  *changed = false;
  if (from_seq > to_seq) return Status::OK();
  return ledger.ScanEvents(from_seq, [&](uint64_t seq, std::string_view envelope) {
    if (seq > to_seq) return false;
    const events::EventView v = events::EventView::FromVerified(envelope);
    const fb::Payload type = v.type();
    if (type != fb::Payload::AccountErased && type != fb::Payload::ErasureVerified) return true;
    const uint64_t id = v.envelope()->account_id();
    ErasureListEntry& e = doc->entries[id];
    e.account_id = id;
    uint64_t& slot = type == fb::Payload::AccountErased ? e.erased_seq : e.verified_seq;
    *changed = *changed || slot != seq;
    slot = seq;
    return true;
  });
}


// The current signing key and every key of the keyring a rotation kept
// (core/signing_keyring.h): a list signed before a rotate-signing-key is
// still this ledger's. The next export signs it with the current key.
std::vector<std::string> Accounts::TrustedSigningKeys() const {
  std::vector<std::string> keys;
  const std::string key_dir = opt_.key_dir.empty() ? opt_.data_dir + "/keys" : opt_.key_dir;
  // A keyring that does not verify trusts nothing old; the list then fails
  // under the current key alone, with its own error.
  (void)TrustedPublicKeys(key_dir, signing_key_.public_key, &keys);
  return keys;
}

Status Accounts::ExportErasureList() {
  if (!opt_.erasure_list) return Status::OK();
  std::lock_guard<std::mutex> l(erasure_list_mu_);
  const std::string path = opt_.erasure_list_path.empty() ? opt_.data_dir + "/erasures/erasure-list" : opt_.erasure_list_path;
  bool write = false;
  uint64_t from = erasure_list_seq_ + 1;
  if (!erasure_list_) {
    erasure_list_ = std::make_unique<ErasureListDoc>();
    Status rs = ReadErasureList(path, TrustedSigningKeys(), erasure_list_.get());
    if (!rs.ok() && !rs.Is(Status::Code::kNotFound)) {
      erasure_list_.reset();
      return Status::Corruption("the erasure list " + path + " does not verify (" + rs.ToString() +
                                "); move it aside after checking it");
    }
    // Another log (a restore, another ledger's file): read ours from the
    // start; the entries already listed stay listed either way.
    std::string root;
    const uint64_t seq = erasure_list_->log_seq;
    const bool same_log = rs.ok() && seq <= ledger_->LastSeq() &&
                          merkle::RootAt(merkle::LedgerNodes(*ledger_), seq, &root).ok() && root == erasure_list_->log_root;
    from = same_log ? seq + 1 : 1;
    write = !same_log;
  }
  const uint64_t to = ledger_->LastSeq();
  bool changed = false;
  ACC_RETURN_IF_ERROR(CollectErasures(*ledger_, from, to, erasure_list_.get(), &changed));
  erasure_list_seq_ = to;
  if (!write && !changed && to - erasure_list_->log_seq < kRewriteEveryEvents) return Status::OK();
  ErasureListDoc& d = *erasure_list_;
  ACC_RETURN_IF_ERROR(merkle::RootAt(merkle::LedgerNodes(*ledger_), to, &d.log_root));
  d.public_key = signing_key_.public_key;
  d.log_seq = to;
  d.generated_at_ms = NowMs();
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);  // under the server's umask 077: private
    if (ec) return Status::IOError("cannot create directory " + dir.string());
  }
  Status ws = WriteFileAtomically(path, EncodeErasureList(d, signing_key_), 0600);
  if (!ws.ok()) erasure_list_.reset();  // the next call reads the file again and rewrites it
  return ws;
}

}  // namespace accountable
