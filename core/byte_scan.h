// ByteScan: search every file under a directory for byte strings.
//
// The erasure proof (docs/architecture.md, "Erasure", step 5) and the PII tests rely on it: a key
// that is gone must not appear in any SST, WAL, MANIFEST, LOG or OPTIONS file.
//
//   ScanReport r;
//   Status s = ScanDirectory("data/vault", {dek, wrapped_dek}, &r);
//   if (r.hits == 0) ...
//
// Thread safety: stateless; safe from any thread. The directory should not
// be written to during the scan if the result is to mean anything.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "events/status.h"

namespace accountable {

struct ScanReport {
  uint64_t files_scanned = 0;
  uint64_t bytes_scanned = 0;
  uint64_t hits = 0;                 // needle occurrences, summed over files
  std::vector<std::string> hit_files;
};

// Empty needles are ignored. Files that vanish during the scan (RocksDB
// deleting obsolete files) are skipped, not errors.
Status ScanDirectory(const std::string& dir, const std::vector<std::string>& needles, ScanReport* out);

}  // namespace accountable
