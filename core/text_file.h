// Small files the ledger writes beside its stores (signed lists, manifests,
// keyrings, token files, reports): durable atomic replacement, and the
// "name value" line format they share.
//
//   Status s = WriteFileAtomically("data/erasures/erasure-list", text, 0600);
//   for (std::string_view line : textdoc::Lines(text)) {
//     std::string_view v;
//     if (textdoc::Field(line, "log_seq", &v) && textdoc::ParseU64(v, &seq)) ...
//   }
//
// Thread safety: pure functions. Two writers of the same path at once share
// its PATH.tmp: callers serialize writes of one path (a mutex or a lock file).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "events/status.h"

namespace accountable {

// fsync of a directory, so that a rename or a new file in it is durable.
Status SyncDirectory(const std::string& dir);

// Replaces path with bytes so that a crash leaves the old file or the new
// one, never a part: PATH.tmp (mode exactly `mode`, never through a
// symlink), fsync, rename, fsync of the directory. The directory must
// exist. On failure PATH.tmp is removed and the error says "cannot write
// PATH".
Status WriteFileAtomically(const std::string& path, std::string_view bytes, mode_t mode);

namespace textdoc {
std::vector<std::string_view> Lines(std::string_view text);  // split at '\n', no empty last line
bool Field(std::string_view line, std::string_view name, std::string_view* value);  // "name value"
bool ParseU64(std::string_view text, uint64_t* out);           // plain decimal only
}  // namespace textdoc

}  // namespace accountable
