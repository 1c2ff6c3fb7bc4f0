// Issue 9: no plaintext personal data can enter the event DB, whatever the
// caller types. One account is registered and acted on over the wire with a
// distinctive marker in every free-text field and every request id the wire
// accepts, then again through the CLI in remote mode (every free-text flag and
// --request-id); it is then erased (admin erasure, as a sweep would),
// and every file under the data directory is byte-scanned (tests/pii_scan_util.h):
// event DB (SSTs, WAL, MANIFEST, LOG, OPTIONS), vault, keys, and the server's
// log output, captured to a file under the data directory.
//
// Controls prove the scan can fail: a recipient name (an organisation,
// plaintext by design), the stored HMAC form of a request id, and a log line
// written on purpose must all be found by the same scan.
//
// Access-log fields are never linked to the account: they stay sealed under
// their day key until the sweep shreds that day. A byte scan finds no
// plaintext of them before or after, which this test checks as well.
#include <catch2/catch.hpp>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/pii_scan_util.h"
#include "tests/server_test_util.h"

namespace {

using namespace accountable;
using Code = Status::Code;
using wire::Body;
using FB = flatbuffers::FlatBufferBuilder;

// Every caller-filled value carries kMarker; so a hit of kMarker (or its
// lower-case form: emails are normalized) anywhere is a leak.
const std::string kMarker = "MkZ9q";
const std::string kIpRegister = "2001:db8:77:5a::9", kIpLogin = "198.51.100.213", kIpAccess = "192.0.2.213";
// Controls: present in plaintext on purpose.
const std::string kRecipientName = "CtlQv8 Registry GmbH";
const std::string kLogControl = "LogQv8 control line";

std::string M(const std::string& field) { return field + "-" + kMarker; }

Client::Reply Call(Client& c, Body type, const Client::BodyFn& body, const std::string& rid) {
  Client::Reply r;
  Status s = c.Call(type, body, &r, rid);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return r;
}

void Ok(const Client::Reply& r) {
  INFO(r.status.ToString());
  REQUIRE(r.status.ok());
  CHECK_FALSE(r.duplicate);
}

// The account's whole life over the wire, every free-text field marked.
uint64_t ActWithMarkers(Client& w, Client& admin, uint64_t* recipient_id) {
  const std::string email = "mail." + kMarker + "@example.org", password = M("password-horse");
  auto reg = Call(w, Body::Register, [&](FB& f) {
    return wire::CreateRegisterDirect(f, M("Nick").c_str(), email.c_str(), password.c_str(), "diverse", "1991-02-03",
                                      kIpRegister.c_str(), M("Agent/5.0").c_str(), M("Company").c_str(), "1.01")
        .Union();
  }, M("rid-register"));
  Ok(reg);
  const uint64_t id = reg.account_id;
  // A new policy first, so the login carries an implicit acceptance (<rid>/implicit).
  Ok(Call(admin, Body::PublishPolicy, [](FB& f) { return wire::CreatePublishPolicyDirect(f, "1.02", "text").Union(); },
          M("rid-policy")));
  Ok(Call(w, Body::Login, [&](FB& f) {
    return wire::CreateLoginDirect(f, email.c_str(), 0, password.c_str(), kIpLogin.c_str(), M("LoginAgent").c_str())
        .Union();
  }, M("rid-login")));
  Ok(Call(w, Body::Consent, [&](FB& f) { return wire::CreateConsentDirect(f, id, "third_party_forwarding", true).Union(); },
          M("rid-consent")));
  Ok(Call(w, Body::Update, [&](FB& f) {
    return wire::CreateUpdateDirect(f, id, M("Nick2").c_str(), nullptr, M("Company2").c_str()).Union();
  }, M("rid-update")));
  const std::string moved = "moved." + kMarker + "@example.org";
  Ok(Call(admin, Body::Update, [&](FB& f) {
    return wire::CreateUpdateDirect(f, id, nullptr, moved.c_str(), nullptr, nullptr, nullptr, true,
                                    M("reason: holder asked by phone").c_str())
        .Union();
  }, M("rid-admin-update")));
  auto rec = Call(admin, Body::RegisterRecipient, [](FB& f) {
    return wire::CreateRegisterRecipientDirect(f, kRecipientName.c_str(), "DE").Union();
  }, M("rid-recipient"));
  Ok(rec);
  *recipient_id = rec.seq;
  Ok(Call(admin, Body::Disclose, [&](FB& f) {
    return wire::CreateDiscloseDirect(f, id, kRecipientName.c_str(), "", M("purpose ticket").c_str(),
                                      "legal_obligation", "none", M("reference").c_str())
        .Union();
  }, M("rid-disclose")));
  Ok(Call(w, Body::RecordAccess, [&](FB& f) {
    return wire::CreateRecordAccessDirect(f, kIpAccess.c_str(), M("browser").c_str(), M("isp").c_str(),
                                          M("referrer").c_str(), M("os").c_str(), M("/path").c_str())
        .Union();
  }, M("rid-access")));
  Ok(Call(w, Body::RequestDeletion, [&](FB& f) { return wire::CreateRequestDeletion(f, id).Union(); }, M("rid-delete")));
  Ok(Call(w, Body::CancelDeletion, [&](FB& f) { return wire::CreateCancelDeletion(f, id).Union(); }, M("rid-cancel")));
  return id;
}

// The same through the CLI in remote mode: every free-text flag and
// --request-id of the commands the account still allows, with markers.
void CliWithMarkers(const test::ServerFixture& f, uint64_t id) {
  test::TempDir scratch("acc-markers-cli");  // outside the data dir: stdin holds a password
  const std::string tokens = scratch.Sub("token");
  test::WriteSecretFile(tokens, std::string(test::kAdminToken) + "\n");
  const std::string account = std::to_string(id);
  auto run = [&](std::vector<std::string> args, const std::string& input = "") {
    std::vector<std::string> argv = {ACCOUNTABLE_CLI, "--server", f.address(), "--token-file", tokens, "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    test::ExecResult r = test::Exec(argv, input, scratch.path().string());
    INFO(args[0] << ": " << r.out << r.err);
    CHECK(r.code == 0);
  };
  run({"login", "--email", "moved." + kMarker + "@example.org", "--password-stdin", "--ip", kIpLogin, "--user-agent",
       M("cli agent"), "--request-id", M("cli-rid-login")},
      M("password-horse") + "\n");
  run({"consent", account, "--give", "surveys", "--request-id", M("cli-rid-consent")});
  run({"update", account, "--by", "admin", "--reason", M("cli reason"), "--company", M("cli company"), "--nickname",
       M("cli nick"), "--request-id", M("cli-rid-update")});
  run({"disclose", account, "--recipient", kRecipientName, "--country", "AT", "--purpose", M("cli purpose"),
       "--legal-basis", "legal_obligation", "--safeguard", "adequacy_decision", "--reference", M("cli reference"),
       "--request-id", M("cli-rid-disclose")});
  run({"record-access", "--ip", kIpAccess, "--browser", M("cli browser"), "--isp", M("cli isp"), "--referrer",
       M("cli referrer"), "--os", M("cli os"), "--path", M("/cli-path"), "--request-id", M("cli-rid-access")});
  run({"export", account, "--by", "admin", "--request-id", M("cli-rid-export")});
  run({"recipient", "add", "--name", "CtlQv8 Second Org", "--country", "FR", "--request-id", M("cli-rid-recipient")});
  run({"request-deletion", account, "--request-id", M("cli-rid-delete")});
}

// Needles that must never be found, then the controls that must be.
struct Needles {
  test::pii::Scanner scanner;
  size_t forbidden = 0;
  Needles(const std::string& stored_rid) {
    std::string lower = kMarker;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const std::string& n : {kMarker, lower, kIpRegister, kIpLogin, kIpAccess}) scanner.Add(n);
    forbidden = scanner.size();
    for (const std::string& n : {std::string("CtlQv8"), std::string("LogQv8"), stored_rid}) scanner.Add(n);
  }
};

// The values really went in: the admin's export opens every one of them;
// the log as an auditor reads it holds none of them, before erasure too.
// A request id reused for another content gets its own code, appending nothing.
void CheckMarkersWentIn(test::ServerFixture& f, Client& w, Client& admin, uint64_t id) {
  auto exp = Call(admin, Body::Export, [&](FB& fb) { return wire::CreateExport(fb, id).Union(); }, M("rid-export"));
  REQUIRE(exp.status.ok());
  for (const std::string& v : {M("purpose ticket"), M("reference"), M("reason: holder asked by phone"), M("Nick2"),
                               M("LoginAgent"), kIpLogin, M("cli purpose"), M("cli reference"), M("cli reason"),
                               M("cli nick"), M("cli agent")})
    CHECK(exp.json.find(v) != std::string::npos);
  auto log = Call(admin, Body::ReadLog, [](FB& fb) { return wire::CreateReadLog(fb, 1, 0).Union(); }, "");
  REQUIRE(log.events.size() > 10);
  for (const auto& [seq, envelope] : log.events) CHECK(envelope.find(kMarker) == std::string::npos);
  const uint64_t before = f.accounts().ledger().LastSeq();
  auto reused = Call(w, Body::Consent, [&](FB& fb) { return wire::CreateConsentDirect(fb, id, "surveys", true).Union(); },
                     M("rid-consent"));
  CHECK(reused.code == static_cast<uint8_t>(Code::kRequestReused));
  CHECK(reused.status.code() == Code::kRequestReused);
  CHECK(f.accounts().ledger().LastSeq() == before);
}

// No forbidden needle anywhere under data; every control found.
void CheckNoTrace(const std::string& data, const std::string& stored_rid) {
  const Needles needles(stored_rid);
  const test::pii::ScanReport r = test::pii::ScanTree(data, needles.scanner);
  CHECK(r.kinds.count("MANIFEST") == 1);
  CHECK(r.kinds.count("LOG") == 1);
  CHECK(r.kinds.count("OPTIONS") == 1);
  CHECK(r.kinds.count(".sst") == 1);
  CHECK(r.kinds.count(".log") == 1);
  std::vector<std::string> leaks;
  std::set<size_t> controls;
  bool control_in_log_file = false;
  for (const auto& [file, found] : r.hits)
    for (size_t n : found) {
      if (n < needles.forbidden) leaks.push_back(needles.scanner.needle(n) + " in " + file);
      else controls.insert(n);
      if (needles.scanner.needle(n) == "LogQv8" && file == data + "/server.log") control_in_log_file = true;
    }
  INFO(leaks.size() << " hits, e.g. " << (leaks.empty() ? "-" : leaks.front()));
  CHECK(leaks.empty());
  CHECK(controls.size() == 3);  // the recipient name, the log line and the stored request id were found
  CHECK(control_in_log_file);
  CHECK(r.files >= 10);
}

}  // namespace

TEST_CASE("free-text markers leave no trace after erasure", "[pii][erasure][server]") {
  test::ServerFixture f;
  const std::string data = f.data_dir();
  // The server's log output goes to a file under the data directory, at
  // the most verbose level, so it is scanned like everything else.
  auto previous = spdlog::default_logger();
  auto file_log = std::make_shared<spdlog::logger>(
      "markers", std::make_shared<spdlog::sinks::basic_file_sink_mt>(data + "/server.log", true));
  file_log->set_level(spdlog::level::trace);
  spdlog::set_default_logger(file_log);
  spdlog::info("{}", kLogControl);

  auto w = f.Connect(test::kWriterToken);
  auto admin = f.Connect(test::kAdminToken);
  uint64_t recipient = 0;
  const uint64_t id = ActWithMarkers(*w, *admin, &recipient);
  CliWithMarkers(f, id);

  CheckMarkersWentIn(f, *w, *admin, id);
  const uint64_t before_erasure = f.accounts().ledger().LastSeq();
  SweepReport rep;
  REQUIRE(f.accounts().Erase({{id, "admin", 0}}, &rep).ok());
  REQUIRE(rep.verified);
  AccountView v;
  REQUIRE(f.accounts().Show(id, &v).ok());
  CHECK(v.state.status == AccountStatus::kErased);
  CHECK(f.accounts().ledger().LastSeq() == before_erasure + 2);  // AccountErased, ErasureVerified
  const std::string stored_rid = f.accounts().RequestKey(M("rid-consent"));
  f.StopAndClose();
  spdlog::default_logger()->flush();
  spdlog::set_default_logger(previous);

  CheckNoTrace(data, stored_rid);
}
