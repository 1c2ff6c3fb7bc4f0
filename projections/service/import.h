// Import: how a forum migrates its existing accounts and their history.
//
// Input is JSON lines, one command per line, in the shape of the CLI
// (docs/import.md): {"type":"register","account_id":17,"occurred_at":
// "2022-01-05T10:00:00Z", ...flags with dashes as underscores}.
//
//   ImportReport report;
//   Status s = ImportJsonLines(accounts, file_bytes, &report);
//   // InvalidArgument / Refused name the line: "line 12: email: ..."
//
// The whole file is parsed, validated and checked against the same rules
// the projector applies (in an in-memory simulation) before anything is
// appended, so a bad line appends nothing of the file. An update, consent,
// request-deletion or cancel-deletion line says who acted ("by": holder,
// the default, or admin); its event gets actor Import or ImportAdmin and
// the rules of the live actor Holder or Admin.
// A key given twice in one line is an error. Every line gets a
// request id derived from the file's digest and its line number, so running
// the same file again appends nothing twice.
//
// Thread safety: as Accounts; one import at a time per file.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "projections/service/accounts.h"

namespace accountable {

inline constexpr size_t kImportLineBytesMax = 64 * 1024;
inline constexpr size_t kImportLinesMax = 10'000'000;

struct ImportReport {
  size_t lines = 0;             // commands in the file
  size_t appended = 0;          // commands that appended events
  size_t already_imported = 0;  // commands whose request id was seen before
};

Status ImportJsonLines(Accounts& accounts, std::string_view file_bytes, ImportReport* report);

}  // namespace accountable
