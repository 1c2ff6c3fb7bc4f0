// fuzz-import: the JSON-lines import (projections/service/import.h) against
// a real Accounts service. Every line is parsed (UTF-8 check, duplicate
// keys, types), the whole file is checked in the simulation, and only a file
// that passes is appended. What must hold: no crash or sanitizer report, a
// refusal names a line and appends nothing, and the same file imported a
// second time appends nothing (its request ids are derived from its digest).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "projections/service/import.h"
#include "tests/fuzz/fuzz_env.h"

namespace {

void Require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz-import: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accountable;
  // Many lines, not one long one: a line over the limit is refused before
  // parsing, so bigger inputs find nothing new and cost time.
  if (size > 4 * kImportLineBytesMax) return -1;
  static fuzz::FuzzEnv& env = fuzz::Env();
  Accounts& a = env.accounts();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const uint64_t before = a.ledger().LastSeq();
  ImportReport report;
  Status s = ImportJsonLines(a, bytes, &report);
  if (!s.ok()) {
    Require(a.ledger().LastSeq() == before, "a refused file appended events");
    Require(s.message().rfind("line ", 0) == 0 || s.Is(Status::Code::kIOError), "a refusal does not name its line");
    return 0;
  }
  const uint64_t after = a.ledger().LastSeq();
  Require(report.appended + report.already_imported == report.lines, "the report does not add up");
  s = ImportJsonLines(a, bytes, &report);
  Require(s.ok() && report.appended == 0 && a.ledger().LastSeq() == after, "a second import appended again");
  return 0;
}
