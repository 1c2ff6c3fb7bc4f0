// The PII invariant (docs/architecture.md, "The PII invariant"): no file under DATA/events ever holds a
// plaintext personal value. Accounts are registered in-process with
// distinctive values; then the raw bytes of every file in the event DB (SST,
// WAL, MANIFEST, LOG, OPTIONS, ...) are searched for each value.
//
// The scan proves it can fail: the same scanner must find a marker written in
// plaintext on purpose, and the stored request ids (plaintext HMACs in the
// envelopes) inside the very same WAL and SST files. The callers' request ids
// themselves (marker-shaped) must never be found.
#include <stdlib.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <rocksdb/iterator.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_reader.h>

#include "projections/service/accounts.h"
#include "tests/pii_scan_util.h"

namespace {

namespace fs = std::filesystem;
using accountable::Accounts;
using accountable::Status;

using namespace accountable::test::pii;

std::string Num(size_t i) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%03zu", i);
  return buf;
}

std::string BirthdateFor(size_t i) {
  using namespace std::chrono;
  year_month_day d{sys_days{year{1930} / January / 1} + days{static_cast<int>(i) * 37}};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", int(d.year()), unsigned(d.month()), unsigned(d.day()));
  return buf;
}

// Account i's registration: every text value carries the marker "Zq<i>x".
accountable::Registration MakeRegistration(size_t i) {
  const std::string m = "Zq" + Num(i) + "x";
  accountable::Registration r;
  r.nickname = "Nick" + m;
  r.email = "Mail." + m + "@Example-" + m + ".org";
  r.password = "Pass" + m + "-horse-battery";
  r.gender = i % 2 ? "female" : "diverse";
  r.birthdate = BirthdateFor(i);
  r.ip = i % 2 ? "203.0." + std::to_string(100 + i / 200) + "." + std::to_string(i % 200)
               : "2001:db8:" + std::to_string(1000 + i) + "::5";
  r.user_agent = "Agent" + m + "/5.0 (X11; Linux x86_64)";
  r.company = "Co" + m + " Holdings";
  r.accept_policy = "1.01";
  r.request_id = "Req" + m;
  return r;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Every personal value of r (plus the password and the normalized email).
std::vector<std::string> PiiValues(const accountable::Registration& r) {
  return {r.nickname, r.email, Lower(r.email), r.password, r.birthdate, r.ip, r.user_agent, r.company,
          r.user_agent.substr(0, r.user_agent.find('/'))};
}

std::unique_ptr<Accounts> OpenAccounts(const fs::path& data) {
  accountable::AccountsOptions o;
  o.data_dir = data.string();
  o.password_cost.ops = 1;
  o.password_cost.mem_bytes = 8 << 20;
  std::unique_ptr<Accounts> a;
  Status s = Accounts::Open(o, &a);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return a;
}

// Registers accounts [from, to) on 4 threads (Argon2id runs on the caller).
void RegisterRange(Accounts& accounts, size_t from, size_t to) {
  std::atomic<size_t> next{from}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < to;) {
        accountable::RegisterResult out;
        if (!accounts.Register(MakeRegistration(i), &out).ok()) failures.fetch_add(1);
      }
    });
  for (auto& t : threads) t.join();
  REQUIRE(failures.load() == 0);
}

// The values really went in: Show decrypts every account and finds them all.
void CheckDecryptable(Accounts& accounts, size_t from, size_t to) {
  std::map<std::string, size_t> by_email;
  for (size_t i = from; i < to; ++i) by_email[MakeRegistration(i).email] = i;
  size_t matched = 0;
  for (uint64_t id = 1; id <= to; ++id) {
    accountable::AccountView v;
    REQUIRE(accounts.Show(id, &v).ok());
    REQUIRE(v.pii.has_value());
    auto it = by_email.find(v.pii->email);
    if (it == by_email.end()) continue;
    const auto r = MakeRegistration(it->second);
    CHECK(v.pii->nickname == r.nickname);
    CHECK(v.pii->birthdate == r.birthdate);
    CHECK(v.pii->gender == r.gender);
    CHECK(v.pii->ip == r.ip);
    CHECK(v.pii->user_agent == r.user_agent);
    CHECK(v.pii->company == r.company);
    ++matched;
  }
  CHECK(matched == to - from);
}

// Needles: the PII and the caller's request ids of accounts [0, n); then
// the stored (HMAC) form of each request id, as controls: plaintext envelope
// fields in the very same WAL and SST records.
struct Needles {
  Scanner scanner;
  size_t pii_count = 0;
  Needles(size_t n, const Accounts& accounts) {
    for (size_t i = 0; i < n; ++i) {
      for (const auto& v : PiiValues(MakeRegistration(i))) scanner.Add(v);
      scanner.Add(MakeRegistration(i).request_id);
    }
    pii_count = scanner.size();
    for (size_t i = 0; i < n; ++i) scanner.Add(accounts.RequestKey(MakeRegistration(i).request_id));
  }
  bool IsPii(size_t needle) const { return needle < pii_count; }
};

// Zero PII hits under dir; every stored request id (plaintext, HMAC form) is found.
void ExpectNoPii(const fs::path& dir, const Needles& needles, size_t accounts, const char* when,
                 bool flushed) {
  INFO("scan of " << dir.string() << " " << when);
  ScanReport r = ScanTree(dir, needles.scanner);
  if (flushed) CHECK(r.kinds.count(".sst") == 1);
  CHECK(r.files >= 5);
  CHECK(r.kinds.count("MANIFEST") == 1);
  CHECK(r.kinds.count("OPTIONS") == 1);
  CHECK(r.kinds.count("LOG") == 1);
  CHECK(r.kinds.count(".log") == 1);  // the WAL
  CHECK(r.decoded >= 2);              // at least the WAL and the MANIFEST
  std::vector<std::string> leaks;
  for (const auto& [file, found] : r.hits)
    for (size_t n : found)
      if (needles.IsPii(n)) leaks.push_back(needles.scanner.needle(n) + " in " + file);
  INFO(leaks.size() << " plaintext PII hits, e.g. " << (leaks.empty() ? "-" : leaks.front()));
  CHECK(leaks.empty());
  const std::set<size_t> found = r.Found();
  size_t controls = 0;
  for (size_t n : found) controls += needles.IsPii(n) ? 0 : 1;
  CHECK(controls == accounts);
}

}  // namespace

TEST_CASE("pii scan: the scanner finds a marker written in plaintext", "[pii]") {
  ScanDir dir;
  fs::create_directories(dir.path() / "a" / "b");
  Scanner scanner;
  scanner.Add("NickZq81x");
  scanner.Add("Mail.Zq81x@Example.org");
  scanner.Add("never-written-Zq81x");
  std::string junk(100000, '\0');
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 2654435761u) >> 13);
  std::ofstream(dir.path() / "a" / "b" / "000042.bin", std::ios::binary) << junk << "NickZq81x" << junk;
  std::ofstream(dir.path() / "a" / "tail.txt", std::ios::binary) << junk << "Mail.Zq81x@Example.org";
  ScanReport r = ScanTree(dir.path(), scanner);
  CHECK(r.files == 2);
  CHECK(r.bytes == 3 * junk.size() + 9 + 22);
  CHECK(r.Found() == std::set<size_t>{0, 1});
  CHECK(r.hits.at((dir.path() / "a" / "b" / "000042.bin").string()) == std::set<size_t>{0});
  CHECK(r.hits.at((dir.path() / "a" / "tail.txt").string()) == std::set<size_t>{1});
}

// A WAL record split over a 32 KiB block boundary hides a value from a raw
// scan; the decoded payload shows it whole.
TEST_CASE("pii scan: a value split across WAL blocks is still found", "[pii]") {
  const std::string secret = "NickZq82x";
  auto header = [](size_t len, char type) {
    return std::string(4, '\x5a') + static_cast<char>(len & 0xff) + static_cast<char>(len >> 8) + type;
  };
  const size_t first_len = 32768 - 7;  // the first fragment fills block 1 and ends with "Nick"
  std::string log = header(first_len, 2) + std::string(first_len - 4, 'w') + secret.substr(0, 4);
  log += header(5 + 3, 4) + secret.substr(4) + "end";
  REQUIRE(log.size() == 32768 + 7 + 8);
  ScanDir dir;
  std::ofstream(dir.path() / "000007.log", std::ios::binary) << log;
  Scanner scanner;
  scanner.Add(secret);
  std::set<size_t> raw;
  scanner.Scan(log, &raw);
  CHECK(raw.empty());
  ScanReport r = ScanTree(dir.path(), scanner);
  CHECK(r.decoded == 1);
  CHECK(r.Found() == std::set<size_t>{0});
}

TEST_CASE("pii scan: no personal value reaches any file of the event DB", "[pii]") {
  constexpr size_t kFirst = 200, kMore = 50;
  ScanDir dir;
  const fs::path data = dir.path() / "data";
  std::unique_ptr<Needles> needles_made;
  {
    auto accounts = OpenAccounts(data);
    needles_made = std::make_unique<Needles>(kFirst + kMore, *accounts);
  }
  const Needles& needles = *needles_made;
  {
    auto accounts = OpenAccounts(data);
    RegisterRange(*accounts, 0, kFirst);
    CheckDecryptable(*accounts, 0, kFirst);
    ExpectNoPii(data / "events", needles, kFirst, "while open (WAL and memtable)", false);
    REQUIRE(accounts->Close().ok());
  }
  ExpectNoPii(data / "events", needles, kFirst, "after close (flushed SSTs)", true);
  ExpectNoPii(data, needles, kFirst, "after close, whole data dir", true);

  {
    auto accounts = OpenAccounts(data);
    RegisterRange(*accounts, kFirst, kFirst + kMore);
    CheckDecryptable(*accounts, 0, kFirst + kMore);
    ExpectNoPii(data / "events", needles, kFirst + kMore, "after reopen, while open", true);
    REQUIRE(accounts->Close().ok());
  }
  ExpectNoPii(data / "events", needles, kFirst + kMore, "after reopen and close", true);
  ExpectNoPii(data, needles, kFirst + kMore, "after reopen and close, whole data dir", true);
}
