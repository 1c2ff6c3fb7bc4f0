// Shared by the suites that write import files (import, import CLI, policy): builders
// for the JSON lines `accountable import` reads (projections/service/import.h).
//
//   std::string file = test::RegisterLine(10, "2021-01-05T10:00:00Z", "a@example.org") +
//                      test::Line("login", 10, "2021-02-01T08:00:00Z", {{"ip", "192.0.2.2"}});
//
// Thread safety: stateless.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace accountable::test {

// One JSON line; `extra` holds the command's own keys.
inline std::string ImportLine(const std::string& type, uint64_t id, const std::string& at,
                              nlohmann::json extra = nlohmann::json::object()) {
  extra["type"] = type;
  if (id) extra["account_id"] = id;
  if (!at.empty()) extra["occurred_at"] = at;
  return extra.dump() + "\n";
}

inline std::string RegisterLine(uint64_t id, const std::string& at, const std::string& email,
                                const std::string& policy = "1.01") {
  return ImportLine("register", id, at,
              {{"nickname", "Imp" + std::to_string(id)}, {"email", email}, {"password", "correct horse battery"},
               {"gender", "female"}, {"birthdate", "1980-02-03"}, {"ip", "192.0.2.1"}, {"user_agent", "old-forum"},
               {"company", "Old Co"}, {"accept_policy", policy}});
}

// Twelve commands, one of each type, over two accounts. Account 11 logs in
// after a new policy; an imported login is a recorded fact and accepts nothing.
inline std::string GoodFile() {
  return RegisterLine(10, "2021-01-05T10:00:00Z", "imp10@example.org") +
         RegisterLine(11, "2021-01-06T10:00:00Z", "imp11@example.org") +
         ImportLine("login", 10, "2021-02-01T08:00:00Z", {{"ip", "192.0.2.2"}, {"user_agent", "ua"}}) +
         ImportLine("consent", 10, "2021-02-02T08:00:00Z", {{"give", "third_party_forwarding"}}) +
         ImportLine("disclose", 10, "2021-02-03T08:00:00Z",
              {{"recipient", "Acme"}, {"country", "US"}, {"purpose", "analytics"}, {"legal_basis", "consent"},
               {"safeguard", "standard_contractual_clauses"}}) +
         "\n" +  // blank lines are skipped but counted
         ImportLine("update", 11, "2021-03-01T00:00:00Z", {{"nickname", "Imp11b"}}) +
         ImportLine("record-access", 0, "2021-03-02T00:00:00Z", {{"ip", "198.51.100.1"}, {"path", "/"}}) +
         ImportLine("request-deletion", 11, "2021-04-01T00:00:00Z") + ImportLine("cancel-deletion", 11, "2021-04-02T00:00:00Z") +
         ImportLine("consent", 10, "2021-05-01T00:00:00Z", {{"withdraw", "third_party_forwarding"}}) +
         ImportLine("publish-policy", 0, "2021-06-01T00:00:00Z", {{"version", "1.02"}, {"text", "revised"}}) +
         ImportLine("login", 11, "2021-07-01T00:00:00Z", {{"ip", "192.0.2.3"}});
}

}  // namespace accountable::test
