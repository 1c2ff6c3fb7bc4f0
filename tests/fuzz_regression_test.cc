// What the fuzzers (tests/fuzz/, `make fuzz`) found, fed to the code they
// broke, in the normal build. Each input is the crash (minimized when that
// was quick), kept in tests/fuzz/regressions/ and in the harness's seed
// corpus, so the fuzzer starts from it too.
#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "events/event.h"
#include "events/vocabulary.h"
#include <nlohmann/json.hpp>

#include "projections/fold/activity.h"
#include "projections/service/proof_json.h"
#include "projections/service/describe.h"

namespace {

using namespace accountable;

std::string Regression(const char* name) {
  std::ifstream f(std::string(ACCOUNTABLE_SOURCE_DIR) + "/tests/fuzz/regressions/" + name, std::ios::binary);
  REQUIRE(f.good());
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace

// fuzz-envelope: an envelope whose time is near INT64_MIN passed verification
// (any int64 is a valid field), and describing it overflowed in the calendar
// arithmetic of FormatTime (UBSan: signed overflow in <chrono>); a Release
// build printed a made-up date.
TEST_CASE("fuzz regression: a stored envelope with a time beyond year 9999 describes as its number", "[fuzz][events]") {
  std::string bytes = Regression("envelope-time-out-of-range");
  REQUIRE(bytes.size() > 1);
  const std::string envelope = bytes.substr(1);  // the harness's first byte picks an alignment
  events::EventView v;
  REQUIRE(events::EventView::Parse(envelope, &v).ok());
  const std::string line = RenderLine(DescribeEvent(v));
  INFO(line);
  CHECK(line.find(std::to_string(std::numeric_limits<int64_t>::min()) + "ms") != std::string::npos);
}

TEST_CASE("FormatTime: years 0000..9999 as RFC 3339, anything else as its number", "[fuzz][events]") {
  using events::FormatTime;
  CHECK(FormatTime(events::kFormatTimeMsMin) == "0000-01-01T00:00:00.000Z");
  CHECK(FormatTime(events::kFormatTimeMsMax) == "9999-12-31T23:59:59.999Z");
  CHECK(FormatTime(0) == "1970-01-01T00:00:00.000Z");
  CHECK(events::ParseTime(FormatTime(events::kFormatTimeMsMax)) == events::kFormatTimeMsMax);
  CHECK(events::ParseTime(FormatTime(events::kFormatTimeMsMin)) == events::kFormatTimeMsMin);
  CHECK(FormatTime(events::kFormatTimeMsMin - 1) == "-62167219200001ms");
  CHECK(FormatTime(events::kFormatTimeMsMax + 1) == "253402300800000ms");
  CHECK(FormatTime(std::numeric_limits<int64_t>::min()) == "-9223372036854775808ms");
  CHECK(FormatTime(std::numeric_limits<int64_t>::max()) == "9223372036854775807ms");
}

// fuzz-bitmap: an activity row whose bitset container claims more bits than
// it holds passed DecodeBitmap (sizes add up; CRoaring trusts the stored
// cardinality), and the merge's runOptimize then aborted inside CRoaring
// (convert.c: "n_runs > 0"): in RocksDB's merge, that is the whole server.
TEST_CASE("fuzz regression: a bitmap row with a lying container is refused, not merged", "[fuzz][activity]") {
  const std::string row = Regression("bitmap-bitset-cardinality");
  Roaring64Map b;
  CHECK_FALSE(DecodeBitmap(row, &b));
  std::string merged;
  CHECK_FALSE(MergeActivity(&row, {}, &merged));
  const std::vector<std::string_view> ops = {row};
  CHECK_FALSE(PartialMergeActivity(ops, &merged));
  // Bitset containers the library wrote itself still decode.
  Roaring64Map ok;
  for (uint64_t i = 70000; i < 140000; ++i) ok.add(i);
  CHECK(DecodeBitmap(EncodeBitmap(ok), &b));
  CHECK(b.cardinality() == ok.cardinality());
  CHECK(EncodeBitmap(b) == EncodeBitmap(ok));
}

// fuzz-audit: a proof file holding a JSON number (here "8", then a NUL) made
// VerifyInclusion call json::value() on a non-object, which throws: the
// uncaught exception killed accountable-audit verify-inclusion (and an online
// audit, given such a reply from a server).
TEST_CASE("fuzz regression: a proof that is not a JSON object is refused, not thrown", "[fuzz][audit]") {
  const std::string bytes = Regression("audit-proof-not-an-object");
  const nlohmann::json parsed = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  REQUIRE_FALSE(parsed.is_discarded());
  CHECK(audit::VerifyInclusion(parsed).code() == Status::Code::kInvalidArgument);
  CHECK(audit::VerifyConsistency(parsed).code() == Status::Code::kInvalidArgument);
  for (const nlohmann::json& j : {nlohmann::json(8), nlohmann::json("proof"), nlohmann::json::array({1, 2}),
                                  nlohmann::json(nullptr), nlohmann::json(true)}) {
    INFO(j.dump());
    CHECK(audit::VerifyInclusion(j).code() == Status::Code::kInvalidArgument);
    CHECK(audit::VerifyConsistency(j).code() == Status::Code::kInvalidArgument);
  }
  // An object that is no proof still reaches the check and fails it.
  CHECK(audit::VerifyInclusion(nlohmann::json::object()).code() == Status::Code::kCorruption);
}
