// Tamper helpers: open a (copied) event DB raw, as an attacker with file
// access would, and edit one column family directly.
//
//   test::EditEvents(dir + "/events", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events) { ... });
//   test::EditCf(dir + "/events", "merkle", ...);
//
// Uses Catch2 (REQUIRE), so only the test binary includes it.
#pragma once

#include <catch2/catch.hpp>

#include <rocksdb/db.h>

#include <functional>
#include <string>
#include <vector>

#include "core/coding.h"

namespace accountable::test {

// Opens the closed DB in `dir` raw and calls edit with the handle of column family cf_name.
inline void EditCf(const std::string& dir, const std::string& cf_name,
                   const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle*)>& edit) {
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  rocksdb::DB* db = nullptr;
  REQUIRE(rocksdb::DB::Open(rocksdb::Options(), dir, cfs, &hs, &db).ok());
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == cf_name) edit(db, hs[i]);
  for (auto* h : hs) db->DestroyColumnFamilyHandle(h);
  delete db;
}

inline void EditEvents(const std::string& events_dir,
                       const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle*)>& edit) {
  EditCf(events_dir, "events", edit);
}

// Flips one bit in the middle of the stored envelope of `seq` (inside its
// sealed box, so the envelope still parses).
inline void FlipEnvelopeBit(const std::string& events_dir, uint64_t seq) {
  EditEvents(events_dir, [seq](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h) {
    std::string v;
    REQUIRE(db->Get(rocksdb::ReadOptions(), h, EncodeBE64(seq), &v).ok());
    v[v.size() / 2] ^= 0x01;
    REQUIRE(db->Put(rocksdb::WriteOptions(), h, EncodeBE64(seq), v).ok());
  });
}

}  // namespace accountable::test
