// Erasure that can be proven (docs/architecture.md, "Erasure"): after a sweep no file of the data
// directory holds an erased account's key (raw or wrapped) or its personal
// data in plaintext; a crash at any point of the sequence is finished at the
// next open; and the projections of a long mixed log rebuild identically.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <rocksdb/db.h>

#include "core/byte_scan.h"
#include "projections/fold/activity.h"
#include "projections/fold/rebuild.h"
#include "projections/service/accounts.h"
#include "tests/accounts_fixture.h"
#include "tests/test_util.h"
#include "tests/vault_rows.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace accountable;
using Code = Status::Code;

constexpr const char* kPassword = "correct horse battery";
constexpr int64_t kDayMs = 24LL * 3600 * 1000;

std::unique_ptr<Accounts> Open(const std::string& data) {
  return test::OpenCheap(data);
}

// An account with distinctive personal values, and its keys once captured.
struct Person {
  uint64_t id = 0;
  std::vector<std::string> pii;  // every plaintext value it ever gave
  crypto::Key32 dek;
  std::string wrapped;
};

Person MakePerson(Accounts& a, bool request_deletion) {
  const std::string tag = crypto::ToHex(crypto::RandomBytes(6));
  Person p;
  p.pii = {"Nick-" + tag, "Mail-" + tag + "@example.org", "Company-" + tag, "198.51.100." + std::to_string(tag[0] % 200 + 10),
           "agent-" + tag, "2001:db8::" + tag.substr(0, 4), "login-agent-" + tag, "Renamed-" + tag};
  Registration r{p.pii[0], p.pii[1], kPassword, "diverse", "1985-06-07", p.pii[3], p.pii[4], p.pii[2], "1.01"};
  RegisterResult out;
  REQUIRE(a.Register(r, &out).ok());
  p.id = out.account_id;
  LoginResult lo;
  REQUIRE(a.Login({"", p.id, kPassword, p.pii[5], p.pii[6]}, &lo).ok());
  Receipt rc;
  REQUIRE(a.Update(p.id, {.nickname = p.pii[7]}, {}, &rc).ok());
  // Requested long ago, so the grace period is over by the next sweep.
  if (request_deletion) REQUIRE(a.RequestDeletion(p.id, {fb::Actor::Holder, a.NowMs() - 10 * kDayMs}, &rc).ok());
  REQUIRE(a.vault().GetAccountKey(p.id, &p.dek).ok());
  return p;
}

crypto::Key32 ReadKek(const std::string& data) {
  std::ifstream f(data + "/keys/kek", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  REQUIRE(bytes.size() == crypto::kKeyBytes);
  crypto::Key32 k;
  std::memcpy(k.data(), bytes.data(), bytes.size());
  return k;
}

// DEK bytes -> wrapped DEK, read from a copy of the (closed) vault: every
// row of the deks column family unwrapped with the KEK, its row key the AD.
std::map<std::string, std::string> WrappedDeks(const std::string& data) {
  const crypto::Key32 kek = ReadKek(data);
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : test::VaultRows(data, {"deks"})) {
    std::string dek;
    REQUIRE(crypto::Open(kek, value, key, &dek).ok());
    out[dek] = value;
  }
  return out;
}

void CaptureWrapped(const std::string& data, std::vector<Person*> people) {
  auto wrapped = WrappedDeks(data);
  for (Person* p : people) {
    auto it = wrapped.find(std::string(p->dek.view()));
    REQUIRE(it != wrapped.end());
    p->wrapped = it->second;
  }
}

uint64_t Hits(const std::string& dir, const std::vector<std::string>& needles) {
  ScanReport r;
  REQUIRE(ScanDirectory(dir, needles, &r).ok());
  REQUIRE(r.files_scanned > 0);
  return r.hits;
}

// No key of an erased person in the vault, no PII of theirs anywhere; the
// kept person's wrapped key is still found (the scan can fail).
void ExpectClean(const std::string& data, const std::vector<Person>& erased, const Person& kept) {
  for (const Person& p : erased) {
    INFO("account " << p.id);
    CHECK(Hits(data + "/vault", {std::string(p.dek.view())}) == 0);
    CHECK(Hits(data + "/vault", {p.wrapped}) == 0);
    for (const std::string& v : p.pii) {
      INFO("value " << v);
      CHECK(Hits(data, {v}) == 0);
    }
  }
  CHECK(Hits(data + "/vault", {kept.wrapped}) >= 1);
}

}  // namespace

TEST_CASE("erasure: the byte scanner finds a planted value", "[erasure][scan]") {
  test::TempDir dir("acc-plant");
  const std::string secret = crypto::RandomBytes(32);
  fs::create_directories(dir.Sub("a/b"));
  std::ofstream(dir.Sub("a/b/000042.sst"), std::ios::binary) << secret << "middle" << secret << "tiny";
  std::ofstream(dir.Sub("other.log"), std::ios::binary) << crypto::RandomBytes(4096) << "tiny" << secret.substr(0, 31);
  ScanReport r;
  REQUIRE(ScanDirectory(dir.path().string(), {secret, "", "absent-needle"}, &r).ok());
  CHECK(r.files_scanned == 2);
  CHECK(r.hits == 2);  // at the start and in the middle; a 31-byte prefix is no hit
  CHECK(r.hit_files == std::vector<std::string>{"000042.sst"});
  REQUIRE(ScanDirectory(dir.path().string(), {"tiny"}, &r).ok());
  CHECK(r.hits == 2);  // short needles too, also at the very end of a file
  CHECK(r.hit_files.size() == 2);
}

TEST_CASE("erasure: no key or plaintext of an erased account is left on disk", "[erasure][scan]") {
  test::TempDir dir("acc-erase-scan");
  const std::string data = dir.Sub("data");
  std::vector<Person> erased;
  Person kept;
  {
    auto a = Open(data);
    for (int i = 0; i < 3; ++i) erased.push_back(MakePerson(*a, true));
    kept = MakePerson(*a, false);
  }
  std::vector<Person*> all = {&kept};
  for (auto& p : erased) all.push_back(&p);
  CaptureWrapped(data, all);
  CHECK(Hits(data + "/vault", {erased[0].wrapped}) >= 1);  // present before the sweep
  {
    auto a = Open(data);
    SweepReport rep;
    REQUIRE(a->Sweep({}, &rep).ok());
    CHECK(rep.erased.size() == erased.size());
    CHECK(rep.verified);
    CHECK(rep.shred.keys_known == erased.size());
    crypto::Key32 k;
    for (const Person& p : erased) CHECK(a->vault().GetAccountKey(p.id, &k).code() == Code::kNotFound);
    CHECK(a->vault().GetAccountKey(kept.id, &k).ok());
  }
  ExpectClean(data, erased, kept);
}

namespace {

// Runs the CLI over `data` with cheap Argon2id and ACCOUNTABLE_CRASH_AT set
// (if not empty) in the child only; returns exit code or 128 + signal.
int RunCli(const std::string& data, const std::vector<std::string>& args, const std::string& crash_at,
           std::string* out = nullptr, const std::string& out_path = "") {
  std::vector<std::string> argv = {ACCOUNTABLE_CLI, "--data", data, "--argon2-mem-mib", "8", "--argon2-ops", "1", "--json"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "ACCOUNTABLE_CRASH_AT=", 21) != 0) env.emplace_back(*e);
  if (!crash_at.empty()) env.push_back("ACCOUNTABLE_CRASH_AT=" + crash_at);
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  for (auto& e : env) cenv.push_back(e.data());
  cargv.push_back(nullptr);
  cenv.push_back(nullptr);
  const std::string sink = out_path.empty() ? "/dev/null" : out_path;
  pid_t pid = ::fork();
  if (pid == 0) {
    int fo = ::open(sink.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int fn = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fo < 0 || fn < 0 || ::dup2(fn, 0) < 0 || ::dup2(fo, 1) < 0 || ::dup2(fn, 2) < 0) ::_exit(126);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1;
  if (out) {
    std::ifstream f(sink);
    std::ostringstream ss;
    ss << f.rdbuf();
    *out = ss.str();
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

using test::Types;

using test::CountOf;

// The crash left the erasure unfinished: erased, pending, not yet verified.
void ExpectUnfinished(const std::string& data, const std::vector<Person>& erased) {
  LedgerOptions o;
  o.dir = data + "/events";
  o.read_only = true;  // look without changing what the crash left
  o.activity_merge = MergeActivity;
  std::unique_ptr<Ledger> ledger;
  REQUIRE(Ledger::Open(o, &ledger).ok());
  size_t pending = 0;
  REQUIRE(ledger->Scan(Cf::kMeta, kMetaErasurePendingPrefix, [&](std::string_view, std::string_view) {
    ++pending;
    return true;
  }).ok());
  CHECK(pending == erased.size());
  for (const Person& p : erased) {
    auto types = Types(*ledger, p.id);
    CHECK(CountOf(types, fb::Payload::AccountErased) == 1);
    CHECK(CountOf(types, fb::Payload::ErasureVerified) == 0);
  }
}

void ExpectFinished(const std::string& data, const std::vector<Person>& erased, const Person& kept) {
  auto a = Open(data);
  crypto::Key32 k;
  for (const Person& p : erased) {
    INFO("account " << p.id);
    AccountState st;
    REQUIRE(ReadAccount(a->ledger(), p.id, &st).ok());
    CHECK(st.status == AccountStatus::kErased);
    CHECK(st.erasure_verified);
    auto types = Types(a->ledger(), p.id);
    CHECK(CountOf(types, fb::Payload::AccountErased) == 1);
    CHECK(CountOf(types, fb::Payload::ErasureVerified) == 1);
    CHECK(a->vault().GetAccountKey(p.id, &k).code() == Code::kNotFound);
  }
  AccountState st;
  REQUIRE(ReadAccount(a->ledger(), kept.id, &st).ok());
  CHECK(st.status == AccountStatus::kActive);
  CHECK(a->vault().GetAccountKey(kept.id, &k).ok());
  RebuildReport rr;
  CHECK(RebuildCheck(a->ledger(), &rr).ok());
}

}  // namespace

TEST_CASE("erasure: a crash anywhere in the sequence is finished at the next open", "[erasure][crash]") {
  const std::string point = GENERATE(as<std::string>{}, "erase:after_account_erased", "erase:after_delete",
                                     "erase:after_compaction", "erase:before_verified");
  INFO("crash point " << point);
  test::TempDir dir("acc-erase-crash");
  const std::string data = dir.Sub("data");
  std::vector<Person> erased;
  Person kept;
  {
    auto a = Open(data);
    for (int i = 0; i < 2; ++i) erased.push_back(MakePerson(*a, true));
    kept = MakePerson(*a, false);
  }
  CaptureWrapped(data, {&erased[0], &erased[1], &kept});

  REQUIRE(RunCli(data, {"sweep"}, point) == 128 + SIGKILL);
  ExpectUnfinished(data, erased);
  // Half of the points recover through the CLI, half in process.
  if (point == "erase:after_delete" || point == "erase:before_verified") {
    std::string out;
    REQUIRE(RunCli(data, {"show", std::to_string(erased[0].id)}, "", &out, dir.Sub("show.json")) == 0);
    auto j = nlohmann::json::parse(out);
    CHECK(j["status"] == "erased");
    CHECK(j["erasure_verified"] == true);
    CHECK(j["display_name"] == "Anonymous");
  }
  ExpectFinished(data, erased, kept);
  ExpectClean(data, erased, kept);
  REQUIRE(RunCli(data, {"sweep"}, "") == 0);  // nothing left: a later sweep is a no-op
  ExpectFinished(data, erased, kept);
}

namespace {

// fn(i) for i in [0, n) on a few threads; returns how many calls failed.
size_t ParallelFor(size_t n, const std::function<Status(size_t)>& fn) {
  std::atomic<size_t> next{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < n;)
        if (!fn(i).ok()) failed.fetch_add(1);
    });
  for (auto& t : threads) t.join();
  return failed.load();
}

// A log of a few thousand mixed events over 300 accounts, ending in a sweep.
void BuildMixedLog(Accounts& a, std::vector<uint64_t>* ids) {
  ids->assign(300, 0);
  const int64_t long_ago = a.NowMs() - 30 * kDayMs;
  Receipt registered;  // the recipient the disclosures below name
  CHECK(a.RegisterRecipient("Tax Office", "DE", {fb::Actor::Admin}, &registered).ok());
  CHECK(ParallelFor(300, [&](size_t i) {
    Registration r{test::Name("n", i), test::Name("m", i) + "@example.org", kPassword, "female", "1990-01-01",
                   "192.0.2.1", "", "", "1.01"};
    RegisterResult out;
    Status s = a.Register(r, &out);
    (*ids)[i] = out.account_id;
    return s;
  }) == 0);
  auto holder = [](int64_t at_ms = 0) { return Context{fb::Actor::Holder, at_ms}; };
  CHECK(ParallelFor(300, [&](size_t i) {
    const uint64_t id = (*ids)[i];
    Receipt r;
    LoginResult lo;
    for (int k = 0; k < 4; ++k) ACC_RETURN_IF_ERROR(a.Login({"", id, "", "192.0.2.2", "", true, holder()}, &lo));
    ACC_RETURN_IF_ERROR(a.GiveConsent(id, fb::Purpose::Surveys, {}, &r));
    ACC_RETURN_IF_ERROR(a.GiveConsent(id, fb::Purpose::Notifications, {}, &r));
    if (i % 3 == 0) ACC_RETURN_IF_ERROR(a.WithdrawConsent(id, fb::Purpose::Surveys, {}, &r));
    if (i % 3 == 1) ACC_RETURN_IF_ERROR(a.Update(id, {.nickname = test::Name("u", i)}, {}, &r));
    if (i % 5 == 0)
      ACC_RETURN_IF_ERROR(a.Disclose(id, {"Tax Office", "DE", "audit", "legal_obligation", "none", "ref-1"},
                                     {fb::Actor::Admin}, &r));
    ACC_RETURN_IF_ERROR(a.RecordAccess({"198.51.100.1", "b", "", "", "", "/"}, {fb::Actor::System}, &r));
    return a.RecordAccess({"198.51.100.2", "c", "", "", "", "/t/1"}, {fb::Actor::System}, &r);
  }) == 0);
  Receipt pr;
  REQUIRE(a.PublishPolicy("1.02", "revised", {fb::Actor::Admin}, &pr).ok());
  CHECK(ParallelFor(300, [&](size_t i) {
    const uint64_t id = (*ids)[i];
    Receipt r;
    LoginResult lo;
    if (i % 2 == 0) ACC_RETURN_IF_ERROR(a.Login({"", id, "", "192.0.2.3", "", true, holder()}, &lo));
    if (i % 10 == 0) return a.RequestDeletion(id, holder(long_ago), &r);
    if (i % 10 == 1) {
      ACC_RETURN_IF_ERROR(a.RequestDeletion(id, {}, &r));
      return a.CancelDeletion(id, {}, &r);
    }
    return Status::OK();
  }) == 0);
  SweepReport rep;
  REQUIRE(a.Sweep({}, &rep).ok());
  CHECK(rep.erased.size() == 30);
}

}  // namespace

TEST_CASE("erasure: projections of a long mixed log rebuild identically", "[erasure][rebuild]") {
  test::TempDir dir("acc-rebuild");
  const std::string data = dir.Sub("data");
  std::vector<uint64_t> ids;
  {
    auto a = Open(data);
    BuildMixedLog(*a, &ids);
    RebuildReport r;
    Status s = RebuildCheck(a->ledger(), &r);
    INFO(s.ToString() << " " << r.first_difference);
    REQUIRE(s.ok());
    CHECK(r.events == a->ledger().LastSeq());
    CHECK(r.events > 3000);
    CHECK(r.accounts == 300);
    CHECK(r.activity_rows >= 2);
    CHECK(r.first_difference.empty());
    // The same over many small pages: merges and rows cached across flushes.
    RebuildReport paged;
    s = RebuildCheck(a->ledger(), &paged, "", 97);
    INFO(s.ToString() << " " << paged.first_difference);
    CHECK(s.ok());
    CHECK(paged.events == r.events);
  }
  // Negative control: an account event appended without the projector
  // leaves the live projections stale, and the check must say so.
  LedgerOptions o;
  o.dir = data + "/events";
  o.activity_merge = MergeActivity;
  std::unique_ptr<Ledger> ledger;
  REQUIRE(Ledger::Open(o, &ledger).ok());
  std::vector<Ledger::Appended> out;
  REQUIRE(ledger->Append({test::Consent(ids[2], "rogue-1")}, &out).ok());
  RebuildReport r;
  Status s = RebuildCheck(*ledger, &r);
  CHECK(s.code() == Code::kCorruption);
  CHECK(r.first_difference.find("accounts") != std::string::npos);
}
