// Byte scanning of a data directory for plaintext values, shared by the PII
// suites (pii_scan_test.cc, free_text_markers_test.cc): a multi-needle
// scanner, and a tree walk that reads every regular file raw plus the
// decoded form of RocksDB SSTs, WALs and MANIFESTs (compression, prefix
// encoding and 32 KiB log blocks would otherwise hide a value).
//
//   test::pii::Scanner s;
//   s.Add("NickZq001x");
//   test::pii::ScanReport r = test::pii::ScanTree(data_dir, s);   // r.hits: file -> needles
//
// Uses Catch2 (REQUIRE), so only the test binary includes it. Single-threaded.
#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <rocksdb/iterator.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_reader.h>

namespace accountable::test::pii {

namespace fs = std::filesystem;

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

inline std::string Kind(const fs::path& p) {
  const std::string name = p.filename().string();
  for (const char* k : {"MANIFEST", "OPTIONS", "LOG", "CURRENT", "IDENTITY", "LOCK"})
    if (name.rfind(k, 0) == 0) return k;
  return p.extension().string();
}

inline std::string ReadAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The record payloads of a RocksDB log-format file (WAL or MANIFEST): 32 KiB
// blocks of fragments, each behind a 7-byte header (11 for the recyclable
// types 5..8). A value split across two blocks is whole again here.
inline std::string LogPayload(std::string_view bytes) {
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
inline std::optional<std::string> SstEntries(const fs::path& p) {
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
inline void ScanFile(const fs::path& path, const Scanner& scanner, ScanReport* r) {
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
inline ScanReport ScanTree(const fs::path& root, const Scanner& scanner) {
  ScanReport r;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.is_regular_file()) ScanFile(entry.path(), scanner, &r);
  return r;
}

}  // namespace accountable::test::pii
