// fuzz-make-seeds: writes the seed corpora of the fuzz harnesses into
// OUT/<harness>/ (tests/fuzz/corpus in the repository; `make fuzz-seeds`).
// Every seed is something the real code produced or accepts: request frames
// built with the protocol's builders, the envelopes of a ledger that saw
// every kind of command and an erasure, import files, encoded activity
// bitmaps, and the proofs and erasure certificate of that ledger. Files are
// named by what they hold, so a rerun replaces them.
//
//   fuzz-make-seeds tests/fuzz/corpus
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "projections/fold/activity.h"
#include "projections/service/proof_json.h"
#include "replay/certificate.h"
#include "server/client/wire.h"
#include "tests/fuzz/fuzz_env.h"
#include "tests/import_lines.h"

namespace {

using namespace accountable;
namespace fs = std::filesystem;
using Fbb = flatbuffers::FlatBufferBuilder;
using BodyFn = std::function<flatbuffers::Offset<void>(Fbb&)>;

class SeedWriter {
 public:
  explicit SeedWriter(fs::path root) : root_(std::move(root)) {}
  void Write(const std::string& harness, const std::string& name, const std::string& bytes) {
    fs::create_directories(root_ / harness);
    std::ofstream(root_ / harness / name, std::ios::binary | std::ios::trunc) << bytes;
    ++files_;
  }
  size_t files() const { return files_; }

 private:
  fs::path root_;
  size_t files_ = 0;
};

// Correlation ids pick the harness's role (corr % 3): writer, auditor, admin.
constexpr uint64_t kWriter = 3, kAuditor = 4, kAdmin = 5;

std::string Finish(Fbb& f, flatbuffers::Offset<wire::Request> req) {
  f.Finish(req, wire::RequestIdentifier());
  return std::string(reinterpret_cast<const char*>(f.GetBufferPointer()), f.GetSize());
}

std::string Request(uint64_t corr, wire::Body type, const BodyFn& body, const char* request_id = nullptr) {
  Fbb f;
  auto b = body(f);
  auto rid = request_id ? f.CreateString(request_id) : 0;
  return Finish(f, wire::CreateRequest(f, corr, rid, type, b));
}

struct Named {
  const char* name;
  uint64_t corr;
  wire::Body type;
  BodyFn body;
};

std::vector<Named> LifecycleRequests(uint64_t ann, uint64_t bob) {
  using B = wire::Body;
  return {
      {"hello", kWriter, B::Hello, [](Fbb& f) { return wire::CreateHelloDirect(f, "token", "fuzz").Union(); }},
      {"register", kWriter, B::Register, [](Fbb& f) {
         return wire::CreateRegisterDirect(f, "CarolNick", "carol@example.org", "correct horse battery", "female",
                                           "1980-02-29", "198.51.100.4", "Mozilla/5.0", "Example GmbH", "1.01")
             .Union();
       }},
      {"login", kWriter, B::Login, [](Fbb& f) {
         return wire::CreateLoginDirect(f, "ann@example.org", 0, "correct horse battery", "192.0.2.1", "ua").Union();
       }},
      {"consent", kWriter, B::Consent, [=](Fbb& f) { return wire::CreateConsentDirect(f, ann, "surveys", true).Union(); }},
      {"update", kWriter, B::Update, [=](Fbb& f) {
         return wire::CreateUpdateDirect(f, bob, "BobRenamed", nullptr, "New Co", nullptr, nullptr, false, nullptr).Union();
       }},
      {"update-admin", kAdmin, B::Update, [=](Fbb& f) {
         return wire::CreateUpdateDirect(f, bob, nullptr, "bob2@example.org", nullptr, nullptr, nullptr, true, "ticket 7")
             .Union();
       }},
      {"request-deletion", kWriter, B::RequestDeletion, [=](Fbb& f) { return wire::CreateRequestDeletion(f, bob).Union(); }},
      {"cancel-deletion", kWriter, B::CancelDeletion, [=](Fbb& f) { return wire::CreateCancelDeletion(f, bob).Union(); }},
      {"disclose", kWriter, B::Disclose, [=](Fbb& f) {
         return wire::CreateDiscloseDirect(f, ann, "Acme Analytics Inc", "US", "newsletter analytics", "consent",
                                           "standard_contractual_clauses", nullptr)
             .Union();
       }},
      {"record-access", kWriter, B::RecordAccess, [](Fbb& f) {
         return wire::CreateRecordAccessDirect(f, "203.0.113.9", "Firefox", "Example ISP", "https://example.org/",
                                               "Linux", "/t/42")
             .Union();
       }},
      {"change-password", kWriter, B::ChangePassword, [=](Fbb& f) {
         return wire::CreateChangePasswordDirect(f, ann, "correct horse battery", "another good passphrase", false)
             .Union();
       }},
      {"touch", kWriter, B::Touch, [=](Fbb& f) { return wire::CreateTouch(f, ann).Union(); }},
  };
}

std::vector<Named> AdminAndReadRequests(uint64_t ann) {
  using B = wire::Body;
  return {
      {"publish-policy", kAdmin, B::PublishPolicy, [](Fbb& f) {
         return wire::CreatePublishPolicyDirect(f, "1.02", "revised text", "what changed", 0).Union();
       }},
      {"register-recipient", kAdmin, B::RegisterRecipient, [](Fbb& f) {
         return wire::CreateRegisterRecipientDirect(f, "Mail Co", "DE").Union();
       }},
      {"retention-notice", kAdmin, B::RetentionNotice, [=](Fbb& f) { return wire::CreateRetentionNotice(f, ann).Union(); }},
      {"get-account", kAdmin, B::GetAccount, [=](Fbb& f) { return wire::CreateGetAccount(f, ann).Union(); }},
      {"export", kAdmin, B::Export, [=](Fbb& f) { return wire::CreateExport(f, ann).Union(); }},
      {"read-log", kAuditor, B::ReadLog, [](Fbb& f) { return wire::CreateReadLog(f, 1, 16).Union(); }},
      {"read-stream", kAuditor, B::ReadStream, [=](Fbb& f) { return wire::CreateReadStream(f, ann, 1, 16).Union(); }},
      {"subscribe", kAuditor, B::Subscribe, [](Fbb& f) { return wire::CreateSubscribe(f, 1).Union(); }},
      {"stats", kWriter, B::Stats, [](Fbb& f) { return wire::CreateStats(f).Union(); }},
      {"sweep-dry-run", kAdmin, B::Sweep, [](Fbb& f) { return wire::CreateSweep(f, true, 0).Union(); }},
      {"inactive", kAdmin, B::Inactive, [](Fbb& f) { return wire::CreateInactive(f, 0, 36, 30).Union(); }},
      {"tree-head", kAuditor, B::TreeHead, [](Fbb& f) { return wire::CreateTreeHead(f).Union(); }},
      {"inclusion-proof", kAuditor, B::InclusionProof, [](Fbb& f) { return wire::CreateInclusionProof(f, 2, 0).Union(); }},
      {"consistency-proof", kAuditor, B::ConsistencyProof, [](Fbb& f) {
         return wire::CreateConsistencyProof(f, 2, 5).Union();
       }},
      {"list-recipients", kWriter, B::ListRecipients, [](Fbb& f) { return wire::CreateListRecipients(f).Union(); }},
      {"get-policy", kWriter, B::GetPolicy, [](Fbb& f) { return wire::CreateGetPolicyDirect(f, "1.01").Union(); }},
      {"list-policies", kWriter, B::ListPolicies, [](Fbb& f) { return wire::CreateListPolicies(f).Union(); }},
  };
}

// A Batch of three reads and one command, each a Request table of its own.
std::string BatchRequest(uint64_t ann) {
  Fbb f;
  std::vector<flatbuffers::Offset<wire::Request>> reqs = {
      wire::CreateRequest(f, 11, 0, wire::Body::Stats, wire::CreateStats(f).Union()),
      wire::CreateRequest(f, 12, 0, wire::Body::GetAccount, wire::CreateGetAccount(f, ann).Union()),
      wire::CreateRequest(f, 13, 0, wire::Body::ListPolicies, wire::CreateListPolicies(f).Union()),
      wire::CreateRequest(f, 14, f.CreateString("batch-touch-1"), wire::Body::Touch, wire::CreateTouch(f, ann).Union()),
  };
  auto batch = wire::CreateBatchDirect(f, &reqs).Union();
  return Finish(f, wire::CreateRequest(f, kAdmin, 0, wire::Body::Batch, batch));
}

void WriteRequestSeeds(const fuzz::FuzzEnv& env, SeedWriter& w) {
  std::vector<Named> all = LifecycleRequests(env.ann, env.bob);
  for (Named& n : AdminAndReadRequests(env.ann)) all.push_back(std::move(n));
  for (const Named& n : all) w.Write("request", n.name, Request(n.corr, n.type, n.body));
  const uint64_t ann = env.ann;
  w.Write("request", "consent-with-request-id",
          Request(kWriter, wire::Body::Consent, [=](Fbb& f) {
            return wire::CreateConsentDirect(f, ann, "notifications", false).Union();
          }, "client-request-1"));
  w.Write("request", "batch", BatchRequest(env.ann));
}

// Accounts 20 and 21 of an old system; dates before kFuzzTimeMs, recipient
// and policy as FuzzEnv has them.
void WriteImportSeeds(SeedWriter& w) {
  using test::ImportLine;
  const std::string reg20 = test::RegisterLine(20, "2021-01-05T10:00:00Z", "imp20@example.org");
  const std::string reg21 = test::RegisterLine(21, "2021-01-06T10:00:00Z", "imp21@example.org");
  w.Write("import", "register", reg20);
  w.Write("import", "history",
          reg20 + reg21 + ImportLine("login", 20, "2021-02-01T08:00:00Z", {{"ip", "192.0.2.2"}, {"user_agent", "ua"}}) +
              ImportLine("login_failed", 21, "2021-02-01T09:00:00Z", {{"ip", "192.0.2.3"}}) +
              ImportLine("consent", 20, "2021-02-02T08:00:00Z", {{"give", "third_party_forwarding"}}) +
              ImportLine("disclose", 20, "2021-02-03T08:00:00Z",
                         {{"recipient", "Acme Analytics Inc"}, {"country", "US"}, {"purpose", "analytics"},
                          {"legal_basis", "consent"}, {"safeguard", "standard_contractual_clauses"}}) +
              "\n" + ImportLine("update", 21, "2021-03-01T00:00:00Z", {{"nickname", "Imp21b"}}) +
              ImportLine("update", 21, "2021-03-02T00:00:00Z",
                         {{"email", "imp21b@example.org"}, {"reason", "ticket 4711"}, {"by", "admin"}}) +
              ImportLine("record-access", 0, "2021-03-02T00:00:00Z", {{"ip", "198.51.100.1"}, {"path", "/"}}) +
              ImportLine("access_requested", 20, "2021-03-03T00:00:00Z") +
              ImportLine("request-deletion", 21, "2021-04-01T00:00:00Z") +
              ImportLine("cancel-deletion", 21, "2021-04-02T00:00:00Z") +
              ImportLine("consent", 20, "2021-05-01T00:00:00Z", {{"withdraw", "third_party_forwarding"}, {"by", "holder"}}));
  w.Write("import", "publish-and-recipient",
          ImportLine("register-recipient", 0, "2021-01-01T00:00:00Z", {{"name", "Mail Co"}, {"country", "DE"}}) +
              ImportLine("publish-policy", 0, "2021-06-01T00:00:00Z",
                         {{"version", "1.02"}, {"text", "revised"}, {"summary", "s"}, {"effective_at", "2021-07-01T00:00:00Z"}}));
  w.Write("import", "duplicate-key", R"({"type":"login","type":"login","account_id":1,"occurred_at":"2021-01-01T00:00:00Z"})" "\n");
  w.Write("import", "unicode", ImportLine("update", 1, "2021-03-01T00:00:00Z", {{"nickname", "Zoë\u00e9"}}));
}

void WriteBitmapSeeds(SeedWriter& w) {
  Roaring64Map small, run, wide, mixed;
  small.add(uint64_t{1});
  small.add(uint64_t{2});
  small.add(uint64_t{3});
  for (uint64_t i = 1; i <= 10000; ++i) run.add(i);
  run.runOptimize();
  wide.add(uint64_t{7});
  wide.add(uint64_t{1} << 40);
  wide.add(~uint64_t{0});
  for (uint64_t i = 0; i < 5000; i += 3) mixed.add(i);  // an array and a bitset container
  for (uint64_t i = 70000; i < 140000; ++i) mixed.add(i);
  w.Write("bitmap", "empty", EncodeBitmap(Roaring64Map()));
  w.Write("bitmap", "small", EncodeBitmap(small));
  w.Write("bitmap", "run", EncodeBitmap(run));
  w.Write("bitmap", "wide", EncodeBitmap(wide));
  w.Write("bitmap", "mixed", EncodeBitmap(mixed));
  w.Write("bitmap", "add-operand", AddOperand(42));
  w.Write("bitmap", "remove-operand", RemoveOperand(uint64_t{1} << 33));
  std::string partial;
  if (PartialMergeActivity({AddOperand(5), AddOperand(9)}, &partial)) w.Write("bitmap", "partial-merge", partial);
}

// Every envelope of the ledger, then the proofs and, after an erasure has
// passed its grace period, the erasure certificate.
Status WriteLedgerSeeds(fuzz::FuzzEnv& env, SeedWriter& w) {
  Accounts& a = env.accounts();
  Receipt r;
  ACC_RETURN_IF_ERROR(a.Update(env.bob, {.nickname = "BobRenamed"}, {}, &r));
  Disclosure d{"Acme Analytics Inc", "US", "newsletter analytics", "consent", "standard_contractual_clauses", ""};
  ACC_RETURN_IF_ERROR(a.Disclose(env.ann, d, {fb::Actor::Admin}, &r));
  ACC_RETURN_IF_ERROR(a.RequestDeletion(env.bob, {}, &r));
  env.Advance(4 * fuzz::kDayMs);
  SweepReport rep;
  ACC_RETURN_IF_ERROR(a.Sweep({}, &rep));
  if (rep.erased.size() != 1) return Status::Corruption("the sweep did not erase bob");
  std::vector<Ledger::Stored> events;
  ACC_RETURN_IF_ERROR(a.ledger().ReadRange(1, 1000, &events));
  for (const auto& e : events) {
    events::EventView v;
    ACC_RETURN_IF_ERROR(events::EventView::Parse(e.envelope, &v));
    w.Write("envelope", std::to_string(e.seq) + "-" + std::string(events::PayloadName(v.type())),
            std::string(1, '\0') + e.envelope);
  }
  audit::Json inclusion, consistency;
  ACC_RETURN_IF_ERROR(audit::ProveInclusion(a.ledger(), 2, 0, &inclusion));
  ACC_RETURN_IF_ERROR(audit::ProveConsistency(a.ledger(), 3, a.ledger().LastSeq(), &consistency));
  w.Write("audit", "inclusion", inclusion.dump());
  w.Write("audit", "consistency", consistency.dump());
  SigningKey key;
  ACC_RETURN_IF_ERROR(LoadOrCreateSigningKey(env.DataDir() + "/keys/signing", &key));
  nlohmann::json cert;
  ACC_RETURN_IF_ERROR(audit::ProveErasure(a.ledger(), a.vault(), key, env.bob, env.NowMs(), &cert));
  w.Write("audit", "certificate", cert.dump());
  return Status::OK();
}

int Usage() {
  std::fprintf(stderr, "usage: fuzz-make-seeds OUT_DIR\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return Usage();
  SeedWriter w(argv[1]);
  fuzz::FuzzEnv env;
  WriteRequestSeeds(env, w);
  WriteImportSeeds(w);
  WriteBitmapSeeds(w);
  Status s = WriteLedgerSeeds(env, w);  // erases bob: after the frames that name him
  if (!s.ok()) {
    std::fprintf(stderr, "fuzz-make-seeds: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("fuzz-make-seeds: %zu files under %s\n", w.files(), argv[1]);
  return 0;
}
