// Describe: the non-PII, human- and machine-readable form of events and
// account state, shared by the CLI, the server and the audit tool.
//
//   nlohmann::ordered_json j = DescribeEvent(view);   // sealed PII only as a byte count
//   std::cout << RenderLine(j) << "\n";        // "seq=3 type=registered ..."
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "events/event.h"
#include "projections/service/accounts.h"

namespace accountable {

nlohmann::ordered_json DescribeEvent(const events::EventView& e);
nlohmann::ordered_json DescribeAccount(const AccountView& v);
// Flat "key=value" rendering of a JSON object (nested values as compact JSON).
std::string RenderLine(const nlohmann::ordered_json& j);

}  // namespace accountable
