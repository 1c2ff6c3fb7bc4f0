// Backup and restore (docs/operations.md, "Backup and restore"): a backup
// taken while the server runs, restored with the signed erasure list, never
// brings back an account erased after it; a restore without a list, with a
// tampered list or from a damaged backup is refused before anything is
// written; an interrupted restore leaves a directory nothing opens.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/byte_scan.h"
#include "core/signing_keyring.h"
#include "projections/service/backup.h"
#include "projections/service/erasure_list.h"
#include "projections/service/log_checks.h"
#include "tests/pii_scan_util.h"
#include "tests/accounts_fixture.h"
#include "tests/server_test_util.h"

namespace {

namespace fs = std::filesystem;
using namespace accountable;
using Code = Status::Code;

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

struct Person {
  uint64_t id = 0;
  std::string nickname, email;
  std::vector<std::string> key_bytes;  // wrapped and raw account key
};

Person MakePerson(Accounts& a, bool request_deletion) {
  const std::string tag = crypto::ToHex(crypto::RandomBytes(6));
  Person p{0, "Nick-" + tag, "mail-" + tag + "@example.org", {}};
  Registration r{p.nickname, p.email, test::kServerPassword, "diverse", "1985-06-07", "198.51.100.7", "agent-" + tag,
                 "Company-" + tag, "1.01"};
  RegisterResult out;
  REQUIRE(a.Register(r, &out).ok());
  p.id = out.account_id;
  Receipt rc;
  // Requested long ago, so the grace period is over by the next sweep.
  if (request_deletion) REQUIRE(a.RequestDeletion(p.id, {fb::Actor::Holder, a.NowMs() - 10 * kDayMs}, &rc).ok());
  REQUIRE(a.vault().AccountKeyNeedles(p.id, &p.key_bytes).ok());
  return p;
}

uint64_t Hits(const std::string& dir, const std::vector<std::string>& needles) {
  ScanReport r;
  REQUIRE(ScanDirectory(dir, needles, &r).ok());
  REQUIRE(r.files_scanned > 0);
  return r.hits;
}

// Needle hits over every file under dir, RocksDB files also read decoded.
size_t TreeHits(const std::string& dir, const std::vector<std::string>& needles) {
  test::pii::Scanner s;
  for (const auto& n : needles) s.Add(n);
  return test::pii::ScanTree(dir, s).Found().size();
}

Client::Reply WireBackup(test::ServerFixture& f, const std::string& dest, const std::string& keys) {
  auto c = f.Connect(test::kAdminToken);
  return test::CallOk(*c, wire::Body::Backup, [&](auto& fbb) {
    return wire::CreateBackupDirect(fbb, dest.c_str(), keys.empty() ? nullptr : keys.c_str()).Union();
  });
}

std::string ListPath(const std::string& data) { return data + "/erasures/erasure-list"; }

Status Restore(const std::string& backup, const std::string& data, const std::string& list, const std::string& keys,
               RestoreReport* r) {
  return RestoreBackup({backup, data, list, keys}, r);
}

std::unique_ptr<Accounts> OpenData(const std::string& data) {
  return test::OpenCheap(data);
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x01);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

// A backup taken by a running server of three people: `later` is erased
// after the backup, `before` before it, `kept` never; `newcomer` registers
// and is erased after it.
struct Scenario {
  test::TempDir dir{"acc-backup"};
  std::string backup = dir.Sub("backup"), keys = dir.Sub("keys"), list = dir.Sub("erasure-list");
  Person later, before, kept, newcomer;
  uint64_t backup_seq = 0;

  Scenario() {
    test::ServerFixture f({}, [this](AccountsOptions& o) { o.backup_root = dir.path().string(); });
    Accounts& a = f.accounts();
    before = MakePerson(a, true);
    SweepReport sr;
    REQUIRE(a.Sweep({}, &sr).ok());
    REQUIRE(sr.erased.size() == 1);
    later = MakePerson(a, true);
    kept = MakePerson(a, false);
    Client::Reply rep = WireBackup(f, backup, keys);
    INFO(rep.status.ToString());
    REQUIRE(rep.status.ok());
    auto j = nlohmann::json::parse(rep.json);
    backup_seq = j.at("log_seq").get<uint64_t>();
    CHECK(j.at("keys_written").get<bool>());
    newcomer = MakePerson(a, true);
    auto c = f.Connect(test::kAdminToken);
    Client::Reply sw = test::CallOk(*c, wire::Body::Sweep, [](auto& fbb) { return wire::CreateSweep(fbb).Union(); });
    REQUIRE(sw.status.ok());
    f.StopAndClose();
    fs::copy_file(ListPath(f.data_dir()), list);  // the operator's copy, kept off the data disk
  }
};

}  // namespace

TEST_CASE("backup: a restore keeps an account erased after the backup erased, and everything else back",
          "[backup]") {
  Scenario sc;
  // The backup itself holds the later-erased person's key: the list is what keeps them erased.
  CHECK(Hits(sc.backup, sc.later.key_bytes) >= 1);
  test::TempDir out("acc-restore");
  const std::string data = out.Sub("data");
  RestoreReport r;
  Status s = Restore(sc.backup, data, sc.list, sc.keys, &r);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(r.backup_seq == sc.backup_seq);
  CHECK(r.listed == 3);
  CHECK(r.already_erased == 1);
  CHECK(r.reapplied == 1);
  CHECK(r.absent == 1);
  CHECK(r.hits == 0);
  CHECK(r.files_scanned > 0);
  CHECK(!fs::exists(data + "/" + std::string(kRestoreMarker)));
  // Zero copies of the erased people's keys in any file of the restored directory.
  std::vector<std::string> erased = sc.later.key_bytes;
  erased.insert(erased.end(), sc.before.key_bytes.begin(), sc.before.key_bytes.end());
  erased.insert(erased.end(), sc.newcomer.key_bytes.begin(), sc.newcomer.key_bytes.end());
  CHECK(Hits(data, erased) == 0);
  CHECK(TreeHits(data, erased) == 0);
  CHECK(TreeHits(data, {sc.kept.key_bytes[0]}) == 1);  // the scan finds what is there
  auto a = OpenData(data);
  AccountView v;
  REQUIRE(a->Show(sc.later.id, &v).ok());
  CHECK(v.state.status == AccountStatus::kErased);
  CHECK(!v.pii);
  REQUIRE(a->Show(sc.kept.id, &v).ok());
  REQUIRE(v.pii);
  CHECK(v.pii->nickname == sc.kept.nickname);
  CHECK(v.pii->email == sc.kept.email);
  CHECK(a->Show(sc.newcomer.id, &v).code() == Code::kNotFound);
  // The restored log records the erasure it applied again.
  std::vector<Ledger::Stored> stream;
  REQUIRE(a->ledger().ReadStream(sc.later.id, 1, 100, &stream).ok());
  REQUIRE(stream.size() >= 2);
  CHECK(events::EventView::FromVerified(stream[stream.size() - 2].envelope).type() == fb::Payload::AccountErased);
  CHECK(events::EventView::FromVerified(stream.back().envelope).type() == fb::Payload::ErasureVerified);
  audit::Json j;
  Status ts = audit::VerifyTree(a->ledger(), &j);
  INFO(ts.ToString());
  CHECK(ts.ok());
  CHECK(audit::VerifySignedHead(a->ledger(), a->public_key(), &j).ok());
}

TEST_CASE("backup: the erasure list is signed, current after each erasure, and kept across restarts", "[backup]") {
  test::ServerFixture f;
  Accounts& a = f.accounts();
  const std::string path = ListPath(f.data_dir());
  // Without --backup-root the server writes no backup anywhere.
  CHECK(WireBackup(f, "/tmp/acc-backup-never", "").status.code() == Code::kRefused);
  CHECK(!fs::exists("/tmp/acc-backup-never"));
  ErasureListDoc d;
  REQUIRE(ReadErasureList(path, a.public_key(), &d).ok());  // written at open, empty
  CHECK(d.entries.empty());
  Person p = MakePerson(a, true);
  SweepReport sr;
  REQUIRE(a.Sweep({}, &sr).ok());
  REQUIRE(ReadErasureList(path, a.public_key(), &d).ok());
  REQUIRE(d.entries.count(p.id) == 1);
  CHECK(d.entries[p.id].erased_seq > 0);
  CHECK(d.entries[p.id].verified_seq > d.entries[p.id].erased_seq);
  CHECK(d.log_seq == a.ledger().LastSeq());
  const std::string text = test::Slurp(path);
  CHECK(text.find(p.nickname) == std::string::npos);
  CHECK(text.find(p.email) == std::string::npos);
  // Any changed byte, or another ledger's key, and it is refused.
  std::string altered = text;
  altered[altered.find("erasure ") + 8] ^= 0x01;
  CHECK(ParseErasureList(altered, a.public_key(), &d).code() == Code::kCorruption);
  const std::string other(32, 'k');
  CHECK(ParseErasureList(text, other, &d).code() == Code::kCorruption);
  CHECK(ParseErasureList("not a list\n", a.public_key(), &d).code() == Code::kInvalidArgument);
  // A restart keeps what was listed.
  Accounts& again = f.Reopen();
  REQUIRE(ReadErasureList(path, again.public_key(), &d).ok());
  CHECK(d.entries.count(p.id) == 1);
}

TEST_CASE("backup: a restore without a verifying erasure list or backup is refused and writes nothing", "[backup]") {
  Scenario sc;
  test::TempDir out("acc-restore-refused");
  const std::string data = out.Sub("data");
  RestoreReport r;
  auto refused = [&](const std::string& backup, const std::string& list, Code code) {
    Status s = Restore(backup, data, list, sc.keys, &r);
    INFO(s.ToString());
    CHECK(s.code() == code);
    CHECK(!fs::exists(data + "/events"));
    CHECK(!fs::exists(data + "/" + std::string(kRestoreMarker)));
  };
  refused(sc.backup, "", Code::kInvalidArgument);
  refused(sc.backup, out.Sub("no-such-list"), Code::kInvalidArgument);
  // A list with one erasure line fewer: the signature no longer covers it.
  std::string text = test::Slurp(sc.list);
  const size_t at = text.find("erasure ");
  std::string tampered = text.substr(0, at) + text.substr(text.find('\n', at) + 1);
  std::ofstream(out.Sub("tampered"), std::ios::binary) << tampered;
  refused(sc.backup, out.Sub("tampered"), Code::kCorruption);
  // Damaged copies of the backup (the original's SSTs may be hard links into the live data).
  auto damaged = [&](const std::string& name, const std::function<void(const std::string&)>& damage) {
    const std::string copy = out.Sub(name);
    fs::copy(sc.backup, copy, fs::copy_options::recursive);
    damage(copy);
    refused(copy, sc.list, Code::kCorruption);
  };
  auto first_sst = [](const std::string& dir) {
    for (auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".sst") return e.path().string();
    FAIL("no SST in " << dir);
    return std::string();
  };
  damaged("flipped", [&](const std::string& c) { FlipByte(first_sst(c + "/vault"), 100); });
  damaged("deleted", [&](const std::string& c) { fs::remove(first_sst(c + "/events")); });
  damaged("extra", [](const std::string& c) { std::ofstream(c + "/vault/000999.sst") << "x"; });
  damaged("no-manifest", [](const std::string& c) { fs::remove(c + "/" + std::string(kBackupManifest)); });
  damaged("manifest", [](const std::string& c) { FlipByte(c + "/" + std::string(kBackupManifest), 30); });
  // And the untouched backup still restores.
  Status s = Restore(sc.backup, data, sc.list, sc.keys, &r);
  INFO(s.ToString());
  CHECK(s.ok());
  // Never over a directory that holds a ledger.
  CHECK(Restore(sc.backup, data, sc.list, "", &r).code() == Code::kRefused);
}

TEST_CASE("backup: a backup and erasure list signed before a rotate-signing-key restore through the keyring",
          "[backup][keys]") {
  Scenario sc;
  SigningRotationReport rot;
  auto record = [&](const SigningRotationReport&, uint64_t* seq) {
    *seq = sc.backup_seq + 1;
    return Status::OK();
  };
  // The keys directory the backup wrote, rotated as the live one would be.
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
  REQUIRE(RotateSigningKey(sc.keys, now_ms, record, &rot).ok());
  test::TempDir out("acc-restore-rotated");
  RestoreReport r;
  // Without the keyring the old signatures belong to no key of this ledger.
  const std::string ring = KeyringPath(sc.keys), aside = out.Sub("keyring");
  fs::rename(ring, aside);
  Status refused = Restore(sc.backup, out.Sub("a"), sc.list, sc.keys, &r);
  INFO(refused.ToString());
  CHECK(refused.code() == Code::kCorruption);
  CHECK(!fs::exists(out.Sub("a") + "/events"));
  fs::rename(aside, ring);
  Status s = Restore(sc.backup, out.Sub("b"), sc.list, sc.keys, &r);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(r.reapplied == 1);
  CHECK(r.hits == 0);
  auto a = OpenData(out.Sub("b"));
  CHECK(a->public_key() == rot.new_public_key);  // new heads are signed with the new key
  AccountView v;
  REQUIRE(a->Show(sc.later.id, &v).ok());
  CHECK(v.state.status == AccountStatus::kErased);
}

TEST_CASE("backup: an interrupted restore leaves a directory that nothing opens until it is run again", "[backup]") {
  Scenario sc;
  test::TempDir out("acc-restore-crash");
  const std::string data = out.Sub("data");
  // What a crash between copying and the final rename leaves: the marker and
  // a vault copy still holding the later-erased person's key.
  fs::create_directories(data);
  std::ofstream(data + "/" + std::string(kRestoreMarker)) << "x";
  fs::copy(sc.backup + "/vault", data + "/vault", fs::copy_options::recursive);
  fs::copy(sc.backup + "/events", data + "/events", fs::copy_options::recursive);
  fs::copy(sc.keys, data + "/keys", fs::copy_options::recursive);
  AccountsOptions o;
  o.data_dir = data;
  std::unique_ptr<Accounts> a;
  CHECK(Accounts::Open(o, &a).code() == Code::kRefused);
  RestoreReport r;
  Status s = Restore(sc.backup, data, sc.list, "", &r);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(r.reapplied == 1);
  CHECK(Hits(data, sc.later.key_bytes) == 0);
  auto opened = OpenData(data);
  AccountView v;
  REQUIRE(opened->Show(sc.later.id, &v).ok());
  CHECK(v.state.status == AccountStatus::kErased);
}

TEST_CASE("backup: a backup taken while writes are in flight is consistent", "[backup]") {
  test::TempDir dir("acc-backup-live");
  const std::string backup = dir.Sub("backup"), keys = dir.Sub("keys");
  std::vector<uint64_t> ids;
  const std::string list = dir.Sub("erasure-list");
  {
    test::ServerFixture f;
    Accounts& a = f.accounts();
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    std::mutex mu;
    for (int t = 0; t < 2; ++t)
      writers.emplace_back([&] {
        while (!stop.load()) {
          const std::string tag = crypto::ToHex(crypto::RandomBytes(6));
          RegisterResult out;
          Registration r{"N" + tag, tag + "@example.org", test::kServerPassword, "diverse", "1985-06-07", "198.51.100.7", "agent", "", "1.01"};
          if (!a.Register(r, &out).ok()) continue;
          Receipt rc;
          static_cast<void>(a.GiveConsent(out.account_id, fb::Purpose::Surveys, {}, &rc));
          std::lock_guard<std::mutex> l(mu);
          ids.push_back(out.account_id);
        }
      });
    while (a.ledger().LastSeq() < 40) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    BackupReport br;
    Status s = a.Backup({backup, keys}, &br);
    stop = true;
    for (auto& w : writers) w.join();
    INFO(s.ToString());
    REQUIRE(s.ok());
    CHECK(br.log_seq >= 40);
    f.StopAndClose();
    fs::copy_file(ListPath(f.data_dir()), list);
  }
  test::TempDir out("acc-restore-live");
  const std::string data = out.Sub("data");
  RestoreReport r;
  Status s = Restore(backup, data, list, keys, &r);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(r.last_seq == r.backup_seq);  // whole groups only, nothing to erase again
  auto a = OpenData(data);
  audit::Json j;
  CHECK(audit::VerifyTree(a->ledger(), &j).ok());
  // Every account the copied log has is whole: its key came along.
  size_t restored = 0;
  for (uint64_t id : ids) {
    AccountView v;
    Status vs = a->Show(id, &v);
    if (vs.Is(Code::kNotFound)) continue;  // registered after the copy
    INFO(vs.ToString());
    REQUIRE(vs.ok());
    CHECK(v.pii);
    ++restored;
  }
  CHECK(restored > 0);
}
