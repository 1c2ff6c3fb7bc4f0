// The PII invariant (DESIGN §3): no file under DATA/events ever holds a
// plaintext personal value. Accounts are registered in-process with
// distinctive values; then the raw bytes of every file in the event DB (SST,
// WAL, MANIFEST, LOG, OPTIONS, ...) are searched for each value.
//
// The scan proves it can fail: the same scanner must find a marker written in
// plaintext on purpose, and the request ids (plaintext envelope fields built
// like the PII markers) inside the very same WAL and SST files.
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

#include "projections/accounts.h"

namespace {

namespace fs = std::filesystem;
using accountable::Accounts;
using accountable::Status;

class ScanDir {
 public:
  ScanDir() {
    char tmpl[] = "/tmp/acc-pii-scan-XXXXXX";
    char* p = ::mkdtemp(tmpl);
    REQUIRE(p != nullptr);
    path_ = p;
  }
  ~ScanDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScanDir(const ScanDir&) = delete;
  ScanDir& operator=(const ScanDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Multi-needle byte search: needles are bucketed by their first two bytes, so
// one pass over a file checks all of them.
class Scanner {
 public:
  Scanner() : buckets_(65536) {}
  void Add(const std::string& needle) {
    REQUIRE(needle.size() >= 2);
    buckets_[Key(needle.data())].push_back(needles_.size());
    needles_.push_back(needle);
  }
  size_t size() const { return needles_.size(); }
  const std::string& needle(size_t i) const { return needles_[i]; }
  // Adds the index of every needle found in bytes to found.
  void Scan(std::string_view bytes, std::set<size_t>* found) const {
    for (size_t i = 0; i + 1 < bytes.size(); ++i)
      for (size_t n : buckets_[Key(bytes.data() + i)])
        if (bytes.compare(i, needles_[n].size(), needles_[n]) == 0) found->insert(n);
  }

 private:
  static size_t Key(const char* p) {
    return static_cast<size_t>(static_cast<unsigned char>(p[0])) << 8 | static_cast<unsigned char>(p[1]);
  }
  std::vector<std::string> needles_;
  std::vector<std::vector<size_t>> buckets_;
};

struct ScanReport {
  size_t files = 0, bytes = 0, decoded = 0;  // decoded: SSTs and log files also read decoded
  std::set<std::string> kinds;                   // "sst", "log", "MANIFEST", "LOG", "OPTIONS", ...
  std::map<std::string, std::set<size_t>> hits;  // file -> needle indices
  std::set<size_t> Found() const {
    std::set<size_t> all;
    for (const auto& [file, n] : hits) all.insert(n.begin(), n.end());
    return all;
  }
};

std::string Kind(const fs::path& p) {
  const std::string name = p.filename().string();
  for (const char* k : {"MANIFEST", "OPTIONS", "LOG", "CURRENT", "IDENTITY", "LOCK"})
    if (name.rfind(k, 0) == 0) return k;
  return p.extension().string();
}

std::string ReadAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The record payloads of a RocksDB log-format file (WAL or MANIFEST): 32 KiB
// blocks of fragments, each behind a 7-byte header (11 for the recyclable
// types 5..8). A value split across two blocks is whole again here.
std::string LogPayload(std::string_view bytes) {
  constexpr size_t kBlock = 32768;
  std::string out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    const size_t block_end = std::min(bytes.size(), (pos / kBlock + 1) * kBlock);
    const auto byte = [&](size_t i) { return static_cast<size_t>(static_cast<unsigned char>(bytes[pos + i])); };
    if (block_end - pos < 7) {
      pos = block_end;
      continue;
    }
    const size_t len = byte(4) | byte(5) << 8, type = byte(6);
    const size_t header = type >= 5 && type <= 8 ? 11 : 7;
    if (type == 0 && len == 0) {  // preallocated zeros: skip the block
      pos = block_end;
      continue;
    }
    if (pos + header + len > block_end) break;  // torn tail
    out.append(bytes.substr(pos + header, len));
    const bool continued = type == 2 || type == 3 || type == 6 || type == 7;  // first / middle
    if (!continued) out.push_back('\0');
    pos += header + len;
  }
  return out;
}

// Concatenates operands, so merged rows still show every byte written.
class ConcatMerge final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* out, rocksdb::Logger*) const override {
    *out = (existing ? existing->ToString() : std::string()) + value.ToString();
    return true;
  }
  const char* Name() const override { return "pii-scan-concat"; }
};

// The decoded entries of an SST (keys and values, decompressed): block
// compression and key prefix encoding hide plaintext from a raw byte scan.
// Only the newest version of a key within one file is visible here, which
// covers every file a ledger writes without holding snapshots.
std::optional<std::string> SstEntries(const fs::path& p) {
  rocksdb::Options o;
  o.merge_operator = std::make_shared<ConcatMerge>();
  rocksdb::SstFileReader reader(o);
  if (!reader.Open(p.string()).ok()) return std::nullopt;
  std::unique_ptr<rocksdb::Iterator> it(reader.NewIterator(rocksdb::ReadOptions()));
  std::string out;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.append(it->key().data(), it->key().size());
    out.push_back('\0');
    out.append(it->value().data(), it->value().size());
    out.push_back('\0');
  }
  if (!it->status().ok()) return std::nullopt;
  return out;
}

// Scans one file: its raw bytes, plus the decoded form of SSTs and log files.
void ScanFile(const fs::path& path, const Scanner& scanner, ScanReport* r) {
  const std::string bytes = ReadAll(path);
  const std::string kind = Kind(path);
  std::set<size_t> found;
  scanner.Scan(bytes, &found);
  if (kind == ".log" || kind == "MANIFEST") {
    scanner.Scan(LogPayload(bytes), &found);
    ++r->decoded;
  } else if (kind == ".sst") {
    std::optional<std::string> entries = SstEntries(path);
    if (!entries && !fs::exists(path)) return;  // deleted by a compaction meanwhile
    INFO("cannot decode " << path.string());
    REQUIRE(entries.has_value());
    scanner.Scan(*entries, &found);
    ++r->decoded;
  }
  ++r->files;
  r->bytes += bytes.size();
  r->kinds.insert(kind);
  if (!found.empty()) r->hits[path.string()] = found;
}

// Every regular file under root, recursively.
ScanReport ScanTree(const fs::path& root, const Scanner& scanner) {
  ScanReport r;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.is_regular_file()) ScanFile(entry.path(), scanner, &r);
  return r;
}

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

// Needles: the PII of accounts [0, n); then the request ids, as controls.
struct Needles {
  Scanner scanner;
  size_t pii_count = 0;
  explicit Needles(size_t n) {
    for (size_t i = 0; i < n; ++i)
      for (const auto& v : PiiValues(MakeRegistration(i))) scanner.Add(v);
    pii_count = scanner.size();
    for (size_t i = 0; i < n; ++i) scanner.Add(MakeRegistration(i).request_id);
  }
  bool IsPii(size_t needle) const { return needle < pii_count; }
};

// Zero PII hits under dir; every request id (plaintext, same shape) is found.
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
  const Needles needles(kFirst + kMore);
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
