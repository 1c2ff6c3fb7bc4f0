// The account lifecycle rules through the real `accountable` binary: the same
// positive and negative cases as lifecycle_test.cc, seen as exit codes
// (server/cli/cli_commands.h: 2 invalid, 3 refused, 4 not found, 5 login failed)
// and JSON output, and every refused command leaves the log as it was.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace {

using Json = nlohmann::json;

constexpr const char* kPassword = "correct horse battery";

struct Outcome {
  int code = -1;
  std::string out;
  Json json() const {  // an empty object if stdout is not one JSON object
    Json j = Json::parse(out, nullptr, false);
    return j.is_object() ? j : Json::object();
  }
  bool Says(const std::string& fragment) const { return json().value("message", "").find(fragment) != std::string::npos; }
};

// One data directory driven through the binary, --json, cheap Argon2id.
class Cli {
 public:
  Cli() : data_(dir_.Sub("data")) {}
  std::string Path(const std::string& name) const { return dir_.Sub(name); }

  Outcome Run(std::vector<std::string> args, const std::string& input = "") const {
    std::vector<std::string> argv = {ACCOUNTABLE_CLI, "--data", data_, "--argon2-mem-mib", "8", "--argon2-ops", "1", "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    accountable::test::ExecResult r = accountable::test::Exec(argv, input, dir_.path().string());
    return Outcome{r.code, r.out};
  }
  uint64_t Register(const std::string& email, const std::string& policy = "1.01") const {
    Outcome o = Run(RegisterArgs(email, policy), std::string(kPassword) + "\n");
    INFO(o.out);
    REQUIRE(o.code == 0);
    return o.json()["account_id"].get<uint64_t>();
  }
  static std::vector<std::string> RegisterArgs(const std::string& email, const std::string& policy) {
    std::vector<std::string> a = {"register", "--nickname", "Nick", "--email", email, "--password-stdin",
                                  "--gender", "female", "--birthdate", "1990-04-01", "--ip", "192.0.2.10"};
    if (!policy.empty()) a.insert(a.end(), {"--accept-policy", policy});
    return a;
  }
  Outcome Login(const std::string& how, const std::string& who, const std::string& password = kPassword) const {
    return Run({"login", how, who, "--password-stdin", "--ip", "203.0.113.5"}, password + "\n");
  }
  size_t Events() const {
    Outcome o = Run({"log", "--limit", "100000"});
    REQUIRE(o.code == 0);
    size_t n = 0;
    for (char c : o.out) n += c == '\n';
    return n;
  }
  Json Show(uint64_t id) const {
    Outcome o = Run({"show", std::to_string(id)});
    REQUIRE(o.code == 0);
    return o.json();
  }

 private:
  accountable::test::TempDir dir_{"acc-life-cli"};
  std::string data_;
};

// Each refused case exits with its code and says its fragment; together they append nothing.
struct Refusal {
  std::vector<std::string> args;
  int code;
  std::string fragment;
  std::string input;
};

void ExpectRefused(const Cli& cli, const std::vector<Refusal>& cases) {
  const size_t before = cli.Events();
  for (const Refusal& r : cases) {
    Outcome o = cli.Run(r.args, r.input);
    INFO("command: " << r.args[0] << " " << (r.args.size() > 1 ? r.args[1] : "") << " -> " << o.out);
    CHECK(o.code == r.code);
    CHECK(o.json().value("ok", true) == false);
    CHECK(o.Says(r.fragment));
  }
  CHECK(cli.Events() == before);
}

std::string Id(uint64_t id) { return std::to_string(id); }

}  // namespace

TEST_CASE("lifecycle cli: registration needs the current policy, emails are unique", "[lifecycle][cli]") {
  Cli cli;
  const std::string pw = std::string(kPassword) + "\n";
  const uint64_t a = cli.Register("Ann@Example.org");
  std::ofstream(cli.Path("policy.txt")) << "revised policy text\n";
  Outcome pub = cli.Run({"publish-policy", "1.02", "--text-file", cli.Path("policy.txt")});
  REQUIRE(pub.code == 0);
  CHECK(pub.json()["event"] == "policy_published");
  ExpectRefused(cli, {
                         {Cli::RegisterArgs("b@example.org", ""), 3, "accept", pw},
                         {Cli::RegisterArgs("b@example.org", "1.01"), 3, "1.02", pw},
                         {Cli::RegisterArgs("ann@example.ORG", "1.02"), 3, "already registered", pw},
                         {{"publish-policy", "1.02", "--text-file", cli.Path("policy.txt")}, 3, "already published"},
                         {{"publish-policy", "1.03", "--text-file", cli.Path("missing.txt")}, 4, "cannot open"},
                     });
  const uint64_t b = cli.Register("b@example.org", "1.02");
  CHECK(b != a);
  CHECK(cli.Show(b)["accepted_policy"] == "1.02");
}

TEST_CASE("lifecycle cli: logins record success, failure and implicit acceptance", "[lifecycle][cli]") {
  Cli cli;
  const uint64_t id = cli.Register("login@example.org");
  std::ofstream(cli.Path("policy.txt")) << "revised\n";
  REQUIRE(cli.Run({"publish-policy", "1.02", "--text-file", cli.Path("policy.txt")}).code == 0);

  size_t events = cli.Events();
  Outcome wrong = cli.Login("--account", Id(id), "wrong password");
  CHECK(wrong.code == 5);
  CHECK(cli.Events() == events + 1);  // login_failed is recorded
  Outcome first = cli.Login("--email", "LOGIN@example.org");
  REQUIRE(first.code == 0);
  CHECK(first.json()["account_id"] == id);
  CHECK(first.json()["implicit_policy_acceptance"] == true);
  CHECK(cli.Events() == events + 3);  // login_succeeded and the implicit consent
  Outcome second = cli.Login("--account", Id(id));
  REQUIRE(second.code == 0);
  CHECK(second.json()["implicit_policy_acceptance"] == false);
  Json shown = cli.Show(id);
  CHECK(shown["accepted_policy"] == "1.02");
  CHECK(shown["consents"]["privacy_policy"]["implicit"] == true);

  const std::string message = wrong.json()["message"];
  const std::string pw = std::string(kPassword) + "\n";
  ExpectRefused(cli, {
                         {{"login", "--email", "nobody@example.org", "--password-stdin", "--ip", "192.0.2.1"}, 5, message, pw},
                         {{"login", "--account", "999", "--password-stdin", "--ip", "192.0.2.1"}, 5, message, pw},
                         {{"login", "--account", Id(id), "--password-stdin", "--ip", "not-an-ip"}, 2, "ip", pw},
                     });
}

namespace {

// After two disclosures: the log shows the structured part of a disclosure
// and seals its free text; the holder's export opens it (and is logged).
void CheckLogSealedExportOpen(Cli& cli, const std::string& s) {
  Outcome log = cli.Run({"log", "--account", s});
  REQUIRE(log.code == 0);
  CHECK(log.out.find("\"safeguard\":\"standard_contractual_clauses\"") != std::string::npos);
  CHECK(log.out.find("\"purpose\":\"sealed\"") != std::string::npos);
  CHECK(log.out.find("Order 2024/17") == std::string::npos);
  CHECK(log.out.find("analytics") == std::string::npos);
  CHECK(log.out.find("ticket 9") == std::string::npos);  // the admin's reason
  CHECK(log.out.find("cli-rid-1") == std::string::npos);  // request ids only as HMACs

  const size_t before = cli.Events();
  Outcome exp = cli.Run({"export", s});
  REQUIRE(exp.code == 0);
  Json doc = exp.json();
  CHECK(doc["account"]["pii"]["email"] == "moved@example.org");
  CHECK(doc["account"]["display_name"] == "Holder Set");
  CHECK(doc["disclosures"].size() == 2);
  CHECK(cli.Events() == before + 1);  // access_requested
}

}  // namespace

TEST_CASE("lifecycle cli: consent, profile and disclosure rules", "[lifecycle][cli]") {
  Cli cli;
  const uint64_t id = cli.Register("rules@example.org");
  cli.Register("taken@example.org");
  const std::string s = Id(id);
  REQUIRE(cli.Run({"consent", s, "--give", "surveys", "--request-id", "cli-rid-1"}).code == 0);
  REQUIRE(cli.Run({"consent", s, "--withdraw", "surveys"}).code == 0);
  REQUIRE(cli.Run({"update", s, "--nickname", "Holder Set", "--gender", "diverse"}).code == 0);
  REQUIRE(cli.Run({"recipient", "add", "--name", "Acme", "--country", "US"}).code == 0);
  REQUIRE(cli.Run({"recipient", "list"}).json()["name"] == "Acme");
  REQUIRE(cli.Run({"recipient", "add", "--name", "Tax Office", "--country", "DE"}).code == 0);
  std::vector<std::string> disclose = {"disclose", s, "--recipient", "Acme", "--country", "US", "--purpose", "analytics",
                                       "--legal-basis", "consent", "--safeguard", "standard_contractual_clauses"};
  std::vector<std::string> legal = {"disclose", s, "--recipient", "Tax Office", "--country", "DE", "--purpose", "audit",
                                    "--legal-basis", "legal_obligation", "--safeguard", "none"};
  ExpectRefused(cli, {
                         {{"consent", s, "--withdraw", "surveys"}, 3, "not given"},
                         {{"consent", s, "--withdraw", "privacy_policy"}, 3, "deletion"},
                         {{"consent", s, "--give", "telepathy"}, 2, "purpose"},
                         {{"consent", "999", "--give", "surveys"}, 4, "does not exist"},
                         {{"update", s, "--by", "admin", "--nickname", "X"}, 3, "reason"},
                         {{"update", s, "--by", "admin", "--reason", "ticket 9", "--gender", "male"}, 3, "only nickname"},
                         {{"update", s, "--email", "TAKEN@example.org"}, 3, "already registered"},
                         {disclose, 3, "third_party_forwarding"},
                         {legal, 3, "reference"},
                         {{"disclose", s, "--recipient", "Nobody Inc", "--purpose", "x", "--legal-basis", "consent",
                           "--safeguard", "none"}, 4, "no registered recipient"},
                         {{"disclose", s, "--recipient", "Acme", "--country", "XK", "--purpose", "x", "--legal-basis",
                           "consent", "--safeguard", "none"}, 2, "country"},
                         {{"disclose", s, "--recipient", "Acme", "--purpose", "x", "--legal-basis", "consent",
                           "--safeguard", "SCC"}, 2, "safeguard"},
                         {{"recipient", "add", "--name", "acme", "--country", "US"}, 3, "already registered"},
                         {{"recipient", "add", "--name", "Elsewhere", "--country", "EU"}, 2, "country"},
                         {{"consent", s, "--give", "notifications", "--request-id", "cli-rid-1"}, 3, "different request"},
                     });
  REQUIRE(cli.Run({"update", s, "--by", "admin", "--reason", "ticket 9", "--email", "moved@example.org"}).code == 0);
  CHECK(cli.Login("--email", "moved@example.org").code == 0);
  CHECK(cli.Login("--email", "rules@example.org").code == 5);
  REQUIRE(cli.Run({"consent", s, "--give", "third_party_forwarding"}).code == 0);
  CHECK(cli.Run(disclose).code == 0);
  legal.insert(legal.end(), {"--reference", "Order 2024/17"});
  CHECK(cli.Run(legal).code == 0);
  CheckLogSealedExportOpen(cli, s);
}

TEST_CASE("lifecycle cli: deletion, sweep, erasure and access logs", "[lifecycle][cli]") {
  Cli cli;
  const uint64_t keep = cli.Register("keep@example.org");
  const uint64_t gone = cli.Register("gone@example.org");
  const std::string k = Id(keep), g = Id(gone);
  REQUIRE(cli.Run({"request-deletion", k}).code == 0);
  ExpectRefused(cli, {{{"request-deletion", k}, 3, "already has a deletion"},
                      {{"consent", k, "--give", "surveys"}, 3, "cancel it first"}});
  REQUIRE(cli.Run({"cancel-deletion", k}).code == 0);
  ExpectRefused(cli, {{{"cancel-deletion", k}, 3, "no deletion request"}});
  REQUIRE(cli.Run({"request-deletion", k}).code == 0);  // pending for 3 days

  REQUIRE(cli.Run({"--grace-days", "0", "request-deletion", g}).code == 0);
  Outcome dry = cli.Run({"sweep", "--dry-run", "--as-of", "2999-01-01T00:00:00Z"});
  REQUIRE(dry.code == 0);
  CHECK(dry.out.find("\"would_erase\"") != std::string::npos);
  Outcome sweep = cli.Run({"sweep"});
  REQUIRE(sweep.code == 0);
  const std::string last = sweep.out.substr(sweep.out.rfind('\n', sweep.out.size() - 2) + 1);
  Json summary = Json::parse(last);
  CHECK(summary["erased"] == 1);  // `gone` only: `keep` is still in its grace period
  CHECK(summary["verified"] == true);
  CHECK(summary["hits"] == 0);
  CHECK(cli.Show(keep)["status"] == "pending_deletion");

  Json shown = cli.Show(gone);
  CHECK(shown["status"] == "erased");
  CHECK(shown["display_name"] == "Anonymous");
  CHECK(shown["pii"].is_null());
  CHECK(shown["erasure_verified"] == true);
  ExpectRefused(cli, {{{"cancel-deletion", g}, 3, "erased"},
                      {{"export", g}, 3, "erased"},
                      {{"login", "--account", g, "--password-stdin", "--ip", "192.0.2.1"}, 5, "login failed",
                       std::string(kPassword) + "\n"},
                      {{"record-access", "--ip", "192.0.2.1", "--at", "2999-01-01T00:00:00Z"}, 2, "future"},
                      {{"inactive", "--months", "0"}, 2, ""}});
  CHECK(cli.Register("gone@example.org") != gone);

  Outcome access = cli.Run({"record-access", "--ip", "198.51.100.7", "--path", "/t/1"});
  REQUIRE(access.code == 0);
  CHECK(access.json()["event"] == "access_logged");
  CHECK(access.json().contains("account_id") == false);
  CHECK(cli.Run({"inactive"}).out.empty());
  Outcome later = cli.Run({"inactive", "--as-of", "2999-01-01", "--months", "36"});
  REQUIRE(later.code == 0);
  CHECK(later.out.find("\"account_id\":" + k) != std::string::npos);
}
