// Key rotation (docs/operations.md, "Key rotation"): rotate-kek rewraps every
// vault key under a new KEK and leaves no byte of the old KEK or of a value
// wrapped under it in any file of the data directory, also when killed at any
// point and run again; rotate-signing-key keeps heads and certificates signed
// under the old key verifiable through the keyring, which refuses an edit.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <rocksdb/db.h>

#include "core/byte_scan.h"
#include "core/signing_keyring.h"
#include "projections/service/accounts.h"
#include "projections/service/describe.h"
#include "tests/accounts_fixture.h"
#include "tests/test_util.h"
#include "tests/vault_rows.h"

namespace {

namespace fs = std::filesystem;
using namespace accountable;
using Code = Status::Code;

constexpr const char* kPassword = "correct horse battery";
constexpr int64_t kDayMs = 24LL * 3600 * 1000;
constexpr uint32_t kDay = 20261130;
constexpr uint64_t kExtraKeys = 150;      // bare DEKs: several rewrap batches of 64
constexpr uint64_t kExtraFirstId = 100000;

std::unique_ptr<Accounts> Open(const std::string& data) {
  return test::OpenCheap(data);
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

uint64_t Hits(const std::string& dir, const std::vector<std::string>& needles) {
  ScanReport r;
  REQUIRE(ScanDirectory(dir, needles, &r).ok());
  REQUIRE(r.files_scanned > 0);
  return r.hits;
}

// What the vault holds before a rotation, to compare with after it.
struct Before {
  std::string kek;                          // the old KEK's bytes
  std::map<uint64_t, std::string> deks;     // account -> DEK bytes
  std::map<uint64_t, std::string> nicknames;
  std::string day_key;
  std::vector<std::string> wrapped;         // every stored value under the old KEK
  uint64_t pending = 0;                     // an account whose deletion is due
};

// Raw values of the wrapped column families, read from a copy of the closed vault.
std::vector<std::string> WrappedValues(const std::string& data) {
  std::vector<std::string> out;
  for (auto& [key, value] : test::VaultRows(data, {"deks", "epoch_keys", "meta"})) out.push_back(std::move(value));
  return out;
}

Before Populate(const std::string& data) {
  Before b;
  auto a = Open(data);
  for (int i = 0; i < 3; ++i) {
    const std::string tag = crypto::ToHex(crypto::RandomBytes(4));
    Registration r{"Nick-" + tag, "m-" + tag + "@example.org", kPassword, "diverse", "1985-06-07",
                   "198.51.100.7", "agent", "", "1.01"};
    RegisterResult out;
    REQUIRE(a->Register(r, &out).ok());
    b.nicknames[out.account_id] = r.nickname;
    if (i == 2) {
      Receipt rc;
      REQUIRE(a->RequestDeletion(out.account_id, {fb::Actor::Holder, a->NowMs() - 10 * kDayMs}, &rc).ok());
      b.pending = out.account_id;
    }
  }
  crypto::Key32 k;
  for (uint64_t id = kExtraFirstId; id < kExtraFirstId + kExtraKeys; ++id) REQUIRE(a->vault().CreateAccountKey(id, &k).ok());
  for (const auto& [id, nick] : b.nicknames) {
    REQUIRE(a->vault().GetAccountKey(id, &k).ok());
    b.deks[id] = std::string(k.view());
  }
  for (uint64_t id = kExtraFirstId; id < kExtraFirstId + kExtraKeys; ++id) {
    REQUIRE(a->vault().GetAccountKey(id, &k).ok());
    b.deks[id] = std::string(k.view());
  }
  REQUIRE(a->vault().GetOrCreateDayKey(kDay, &k).ok());
  b.day_key = std::string(k.view());
  REQUIRE(a->Close().ok());
  a.reset();
  b.kek = ReadFile(data + "/keys/kek");
  REQUIRE(b.kek.size() == crypto::kKeyBytes);
  b.wrapped = WrappedValues(data);
  REQUIRE(b.wrapped.size() >= kExtraKeys + 3);
  CHECK(Hits(data, {b.kek}) == 1);  // the scan can find it: in keys/kek
  CHECK(Hits(data + "/vault", {b.wrapped[0]}) >= 1);
  return b;
}

// Every key the vault held before is there, unchanged, and the profiles decrypt.
void ExpectReadable(const std::string& data, const Before& b) {
  auto a = Open(data);
  crypto::Key32 k;
  for (const auto& [id, dek] : b.deks) {
    INFO("account " << id);
    REQUIRE(a->vault().GetAccountKey(id, &k).ok());
    CHECK(std::string(k.view()) == dek);
  }
  for (const auto& [id, nick] : b.nicknames) {
    AccountView v;
    REQUIRE(a->Show(id, &v).ok());
    CHECK(v.display_name == nick);
  }
  REQUIRE(a->vault().GetDayKey(kDay, &k).ok());
  CHECK(std::string(k.view()) == b.day_key);
  REQUIRE(a->Close().ok());
}

std::vector<std::string> EventsOf(const std::string& data, fb::Payload type) {
  auto a = Open(data);
  std::vector<Ledger::Stored> page;
  REQUIRE(a->ledger().ReadRange(1, 4096, &page).ok());
  std::vector<std::string> out;
  for (auto& st : page) {
    events::EventView v;
    REQUIRE(events::EventView::Parse(st.envelope, &v).ok());
    if (v.type() == type) out.push_back(st.envelope);
  }
  REQUIRE(a->Close().ok());
  return out;
}

test::ExecResult Cli(const std::string& data, std::vector<std::string> args, const std::string& crash_at = "") {
  std::vector<std::string> argv;
  // env(1) sets the crash point in the child only, then execs the CLI in its place.
  if (!crash_at.empty()) argv = {"/usr/bin/env", "ACCOUNTABLE_CRASH_AT=" + crash_at};
  argv.insert(argv.end(), {ACCOUNTABLE_CLI, "--data", data, "--argon2-mem-mib", "8", "--argon2-ops", "1", "--json"});
  argv.insert(argv.end(), args.begin(), args.end());
  return test::Exec(argv, "", fs::path(data).parent_path().string());
}

nlohmann::json RotateKekOk(const std::string& data) {
  test::ExecResult r = Cli(data, {"rotate-kek"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  return nlohmann::json::parse(r.out);
}

// No file under DATA holds the old KEK or a value wrapped under it.
void ExpectOldKekGone(const std::string& data, const Before& b) {
  CHECK_FALSE(fs::exists(data + "/keys/kek.next"));
  const std::string now = ReadFile(data + "/keys/kek");
  CHECK(now.size() == crypto::kKeyBytes);
  CHECK(now != b.kek);
  struct stat st {};
  REQUIRE(::stat((data + "/keys/kek").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(Hits(data, {b.kek}) == 0);
  CHECK(Hits(data, b.wrapped) == 0);
}

// One kek_rotated event: the ids of the old and the new KEK, no key bytes.
void ExpectKekEvent(const std::string& data, const Before& b, const nlohmann::json& j) {
  const auto events = EventsOf(data, fb::Payload::KekRotated);
  REQUIRE(events.size() == 1);
  events::EventView v;
  REQUIRE(events::EventView::Parse(events[0], &v).ok());
  auto* p = v.envelope()->payload_as_KekRotated();
  crypto::Key32 old_kek, new_kek;
  std::memcpy(old_kek.data(), b.kek.data(), crypto::kKeyBytes);
  const std::string now = ReadFile(data + "/keys/kek");
  std::memcpy(new_kek.data(), now.data(), crypto::kKeyBytes);
  CHECK(p->old_kek_id()->str() == KekId(old_kek));
  CHECK(p->new_kek_id()->str() == KekId(new_kek));
  CHECK(j["old_kek_id"] == KekId(old_kek));
  CHECK(p->hits() == 0);
  CHECK(v.envelope()->actor() == fb::Actor::Admin);
  CHECK(v.envelope()->account_id() == 0);
  CHECK(events[0].find(b.kek) == std::string::npos);  // ids only, no key bytes
  CHECK(events[0].find(now) == std::string::npos);
  CHECK(DescribeEvent(v)["type"] == "kek_rotated");
}

// Erasure works as before under the new KEK.
void ExpectErasureWorks(const std::string& data, const Before& b) {
  {
    auto a = Open(data);
    SweepReport rep;
    REQUIRE(a->Sweep({}, &rep).ok());
    REQUIRE(rep.erased.size() == 1);
    CHECK(rep.verified);
    CHECK(rep.shred.keys_known == 1);
    crypto::Key32 k;
    CHECK(a->vault().GetAccountKey(b.pending, &k).code() == Code::kNotFound);
    REQUIRE(a->Close().ok());
  }
  CHECK(Hits(data + "/vault", {b.deks.at(b.pending)}) == 0);
}

}  // namespace

TEST_CASE("key rotation: rotate-kek rewraps every key, shreds the old KEK, records kek_rotated", "[keys]") {
  test::TempDir dir("acc-rot");
  const std::string data = dir.Sub("data");
  const Before b = Populate(data);
  const nlohmann::json j = RotateKekOk(data);
  CHECK(j["ok"] == true);
  CHECK(j["resumed"] == false);
  // DEKs, the day key, the check value; the index key is stored for the first time.
  CHECK(j["rewrapped"] == b.wrapped.size());
  CHECK(j["batches"].get<uint32_t>() >= 3);
  CHECK(j["hits"] == 0);
  CHECK(j["files_scanned"].get<uint64_t>() > 0);
  ExpectOldKekGone(data, b);
  ExpectReadable(data, b);
  ExpectKekEvent(data, b, j);
  ExpectErasureWorks(data, b);

  // And a second rotation of the rotated vault.
  Before b2 = b;
  b2.deks.erase(b.pending);
  b2.nicknames.erase(b.pending);
  b2.kek = ReadFile(data + "/keys/kek");
  b2.wrapped = WrappedValues(data);
  CHECK(RotateKekOk(data)["rewrapped"] == b2.wrapped.size());
  ExpectOldKekGone(data, b2);
  ExpectReadable(data, b2);
  CHECK(EventsOf(data, fb::Payload::KekRotated).size() == 2);
}

TEST_CASE("key rotation: rotate-kek killed at any point leaves every key readable; a rerun finishes",
          "[keys][crash]") {
  const std::string point = GENERATE(as<std::string>{}, "rotate-kek:after_next_written", "rotate-kek:after_meta",
                                     "rotate-kek:batch@4", "rotate-kek:after_rewrap", "rotate-kek:after_record",
                                     "rotate-kek:after_rename");
  INFO("crash point " << point);
  test::TempDir dir("acc-rot-crash");
  const std::string data = dir.Sub("data");
  const Before b = Populate(data);
  test::ExecResult killed = Cli(data, {"rotate-kek"}, point);
  INFO(killed.err);
  REQUIRE(killed.code == 128 + SIGKILL);
  // Between the crash and the rerun, the ledger opens and reads as usual.
  ExpectReadable(data, b);
  const nlohmann::json j = RotateKekOk(data);
  CHECK(j["hits"] == 0);
  const bool after_rename = point == "rotate-kek:after_rename";
  // After the rename the rotation was complete: the rerun is a new one.
  CHECK(j["resumed"] == !after_rename);
  ExpectReadable(data, b);
  ExpectOldKekGone(data, b);
  CHECK(EventsOf(data, fb::Payload::KekRotated).size() == (after_rename ? 2u : 1u));
  if (point == "rotate-kek:after_record") CHECK(j["duplicate"] == true);
}

TEST_CASE("key rotation: rotate-kek refuses a data directory in use, and --server", "[keys]") {
  test::TempDir dir("acc-rot-busy");
  const std::string data = dir.Sub("data");
  auto a = Open(data);
  test::ExecResult busy = Cli(data, {"rotate-kek"});
  CHECK(busy.code == 6);
  CHECK(busy.out.find("stop the server first") != std::string::npos);
  CHECK_FALSE(fs::exists(data + "/keys/kek.next"));  // refused before anything was written
  test::ExecResult sig = Cli(data, {"rotate-signing-key"});
  CHECK(sig.code == 6);
  CHECK(sig.out.find("stop the server first") != std::string::npos);
  CHECK_FALSE(fs::exists(data + "/keys/signing.next"));
  REQUIRE(a->Close().ok());
  a.reset();
  test::ExecResult remote = Cli(data, {"--server", "127.0.0.1:1", "rotate-kek"});
  CHECK(remote.code == 2);
  CHECK(remote.out.find("data directory only") != std::string::npos);
}

namespace {

test::ExecResult Audit(const std::string& data, std::vector<std::string> args) {
  args.insert(args.begin(), {ACCOUNTABLE_AUDIT, "--data", data});
  return test::Exec(args, "", fs::path(data).parent_path().string());
}

// Registers an account whose deletion is due, sweeps, and writes its erasure
// certificate to `cert`.
void EraseAndCertify(const std::string& data, const std::string& cert) {
  uint64_t id = 0;
  {
    auto a = Open(data);
    const std::string tag = crypto::ToHex(crypto::RandomBytes(4));
    RegisterResult out;
    REQUIRE(a->Register({"Nick-" + tag, "m-" + tag + "@example.org", kPassword, "diverse", "1985-06-07",
                         "198.51.100.7", "agent", "", "1.01"}, &out).ok());
    id = out.account_id;
    Receipt rc;
    REQUIRE(a->RequestDeletion(id, {fb::Actor::Holder, a->NowMs() - 10 * kDayMs}, &rc).ok());
    SweepReport rep;
    REQUIRE(a->Sweep({}, &rep).ok());
    REQUIRE(rep.erased.size() == 1);
    REQUIRE(a->Close().ok());
  }
  test::ExecResult r = Audit(data, {"prove-erasure", std::to_string(id)});
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::ofstream(cert) << r.out;
}

}  // namespace

TEST_CASE("key rotation: rotate-signing-key; old and new certificates verify through the keyring", "[keys][audit]") {
  test::TempDir dir("acc-rot-sig");
  const std::string data = dir.Sub("data"), keys = data + "/keys";
  EraseAndCertify(data, dir.Sub("old.json"));
  const std::string old_pub = ReadFile(keys + "/signing.pub"), old_secret = ReadFile(keys + "/signing");
  std::ofstream(dir.Sub("old.pub")) << old_pub;

  test::ExecResult rot = Cli(data, {"rotate-signing-key"});
  INFO(rot.out << rot.err);
  REQUIRE(rot.code == 0);
  const nlohmann::json j = nlohmann::json::parse(rot.out);
  const std::string new_pub = ReadFile(keys + "/signing.pub"), new_secret = ReadFile(keys + "/signing");
  CHECK(new_pub != old_pub);
  CHECK(new_secret != old_secret);
  CHECK_FALSE(fs::exists(keys + "/signing.next"));
  std::vector<KeyringEntry> ring;
  REQUIRE(LoadKeyring(KeyringPath(keys), &ring).ok());
  REQUIRE(ring.size() == 2);
  CHECK(crypto::ToHex(ring[1].public_key) + "\n" == new_pub);
  CHECK(ring[1].from_size == j["seq"].get<uint64_t>());
  CHECK(j["new_key_id"] == ring[1].key_id);

  const auto events = EventsOf(data, fb::Payload::SigningKeyRotated);
  REQUIRE(events.size() == 1);
  CHECK(events[0].find(old_secret.substr(0, 32)) == std::string::npos);  // public keys only
  CHECK(events[0].find(new_secret.substr(0, 32)) == std::string::npos);
  events::EventView v;
  REQUIRE(events::EventView::Parse(events[0], &v).ok());
  CHECK(DescribeEvent(v)["new_key_id"] == ring[1].key_id);

  const std::string ring_file = KeyringPath(keys);
  // The old certificate: by the keyring, and not by the new key alone.
  CHECK(Audit(data, {"verify-certificate", dir.Sub("old.json"), "--keyring", ring_file}).code == 0);
  CHECK(Audit(data, {"verify-certificate", dir.Sub("old.json"), "--pubkey", keys + "/signing.pub"}).code == 6);
  CHECK(Audit(data, {"verify-certificate", dir.Sub("old.json"), "--pubkey", dir.Sub("old.pub"), "--keyring",
                     ring_file}).code == 0);
  // The ledger's head is now signed under the new key.
  test::ExecResult verify = Audit(data, {"verify", "--keyring", ring_file});
  INFO(verify.out << verify.err);
  CHECK(verify.code == 0);
  CHECK(verify.out.find(ring[1].key_id) != std::string::npos);
  CHECK(Audit(data, {"verify", "--pubkey", dir.Sub("old.pub")}).code == 6);
  // A certificate made after the rotation.
  EraseAndCertify(data, dir.Sub("new.json"));
  CHECK(Audit(data, {"verify-certificate", dir.Sub("new.json"), "--keyring", ring_file}).code == 0);
  // A key pinned from elsewhere must be in the keyring.
  std::ofstream(dir.Sub("other.pub")) << crypto::ToHex(crypto::RandomBytes(32)) << "\n";
  test::ExecResult foreign = Audit(data, {"verify-certificate", dir.Sub("old.json"), "--pubkey", dir.Sub("other.pub"),
                                          "--keyring", ring_file});
  CHECK(foreign.code == 6);
  CHECK(foreign.err.find("does not contain the --pubkey key") != std::string::npos);
}

TEST_CASE("key rotation: an edited keyring is refused with the line it fails on", "[keys][audit]") {
  test::TempDir dir("acc-rot-ring");
  const std::string data = dir.Sub("data"), keys = data + "/keys";
  EraseAndCertify(data, dir.Sub("old.json"));
  REQUIRE(Cli(data, {"rotate-signing-key"}).code == 0);
  REQUIRE(Cli(data, {"rotate-signing-key"}).code == 0);
  const std::string text = ReadFile(KeyringPath(keys));
  std::vector<KeyringEntry> ring;
  REQUIRE(ParseKeyring(text, &ring).ok());
  REQUIRE(ring.size() == 3);
  auto refused = [&](const std::string& edited, const std::string& why) {
    INFO("expect: " << why);
    std::ofstream(dir.Sub("edited.keyring")) << edited;
    test::ExecResult r = Audit(data, {"verify-certificate", dir.Sub("old.json"), "--keyring", dir.Sub("edited.keyring")});
    CHECK(r.code == 6);
    CHECK(r.err.find(why) != std::string::npos);
  };
  const size_t line2 = text.find('\n') + 1, line3 = text.find('\n', line2) + 1;
  std::string e = text;
  e[line2 + 17 + 5] = e[line2 + 17 + 5] == 'a' ? 'b' : 'a';  // a digit of the second public key
  refused(e, "keyring line 2: key id does not match");
  // A forged key with a matching id but no valid endorsement.
  KeyringEntry forged = ring[1];
  forged.public_key = crypto::RandomBytes(32);
  forged.key_id = SigningKeyId(forged.public_key);
  refused(FormatKeyring({ring[0], forged, ring[2]}), "keyring line 2: the endorsement does not verify");
  // An old key's range stretched over later heads.
  std::vector<KeyringEntry> stretched = ring;
  stretched[0].until_size += 5;
  refused(FormatKeyring(stretched), "keyring line 2: FROM_SIZE must equal");
  refused(text.substr(0, line3), "the last key must be the current one");
  refused("", "no keys");
  // The unedited file still verifies.
  std::ofstream(dir.Sub("good.keyring")) << text;
  CHECK(Audit(data, {"verify-certificate", dir.Sub("old.json"), "--keyring", dir.Sub("good.keyring")}).code == 0);
}

TEST_CASE("key rotation: rotate-signing-key killed half-way finishes on the rerun", "[keys][crash]") {
  const std::string point = GENERATE(as<std::string>{}, "rotate-signing:after_next_written",
                                     "rotate-signing:after_record", "rotate-signing:after_keyring");
  INFO("crash point " << point);
  test::TempDir dir("acc-rot-sigcrash");
  const std::string data = dir.Sub("data"), keys = data + "/keys";
  EraseAndCertify(data, dir.Sub("old.json"));
  REQUIRE(Cli(data, {"rotate-signing-key"}, point).code == 128 + SIGKILL);
  test::ExecResult r = Cli(data, {"rotate-signing-key"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(r.out)["resumed"] == true);
  std::vector<KeyringEntry> ring;
  REQUIRE(LoadKeyring(KeyringPath(keys), &ring).ok());
  CHECK(ring.size() == 2);
  CHECK(EventsOf(data, fb::Payload::SigningKeyRotated).size() == 1);
  CHECK(Audit(data, {"verify-certificate", dir.Sub("old.json"), "--keyring", KeyringPath(keys)}).code == 0);
  CHECK(Audit(data, {"verify", "--keyring", KeyringPath(keys)}).code == 0);
}
