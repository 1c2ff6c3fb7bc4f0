// ErasureList: the signed list of every erasure the ledger has made, kept
// outside the backed-up stores so that a restore from an older backup can
// erase again whoever was erased after it (docs/operations.md, "Backup and
// restore"). It holds account ids and event seqs only, never personal data.
//
//   ErasureListDoc doc;
//   Status s = ReadErasureList("/srv/erasures/erasure-list", public_key, &doc);  // checks the signature
//   for (const auto& [id, e] : doc.entries) ...      // e.erased_seq, e.verified_seq
//
// The file is text, one field per line, signed (Ed25519, the ledger's tree
// head key) over every byte before its last line:
//
//   accountable-erasure-list v1
//   public_key <64 hex>
//   log_seq <n>                 the log was read through this seq
//   log_root <64 hex>           the tree root at log_seq: which log it was
//   generated_at_ms <n>
//   erasure <account id> <AccountErased seq> <ErasureVerified seq, 0 if none yet>
//   signature <128 hex>
//
// Accounts::ExportErasureList keeps it current; each write is atomic
// (temporary file, fsync, rename, directory fsync).
//
// Thread safety: the free functions are stateless.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/ledger.h"
#include "core/text_file.h"  // textdoc: the line format shared with the backup manifest
#include "core/tree_head.h"
#include "events/status.h"

namespace accountable {

struct ErasureListEntry {
  uint64_t account_id = 0;
  uint64_t erased_seq = 0;                   // its AccountErased event
  uint64_t verified_seq = 0;                 // its ErasureVerified event; 0: not yet
};

struct ErasureListDoc {
  std::string public_key;                    // 32 bytes
  uint64_t log_seq = 0;
  std::string log_root;                      // 32 bytes
  int64_t generated_at_ms = 0;
  std::map<uint64_t, ErasureListEntry> entries;  // by account id
};

// ~60 bytes per erasure: room for a million erasures and more.
inline constexpr size_t kErasureListBytesMax = 256u << 20;

std::string EncodeErasureList(const ErasureListDoc& doc, const SigningKey& key);
// InvalidArgument if text is not an erasure list; Corruption if it is signed
// by another key than public_key or its signature does not verify.
Status ParseErasureList(std::string_view text, const std::string& public_key, ErasureListDoc* out);
// As above, signed by any of public_keys (the current key and a keyring's).
Status ParseErasureList(std::string_view text, const std::vector<std::string>& public_keys, ErasureListDoc* out);
// As ParseErasureList; NotFound if the file does not exist.
Status ReadErasureList(const std::string& path, const std::string& public_key, ErasureListDoc* out);
Status ReadErasureList(const std::string& path, const std::vector<std::string>& public_keys, ErasureListDoc* out);
// Folds the AccountErased and ErasureVerified events with seq in
// [from_seq, to_seq] into doc->entries; *changed says whether any entry changed.
Status CollectErasures(Ledger& ledger, uint64_t from_seq, uint64_t to_seq, ErasureListDoc* doc, bool* changed);


}  // namespace accountable
