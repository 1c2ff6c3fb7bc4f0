// Tamper helper: opens a (copied) event DB raw, as an attacker with file
// access would, and edits its "events" column family directly.
//
//   test::EditEvents(dir + "/events", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events) { ... });
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

inline void EditEvents(const std::string& events_dir,
                       const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle*)>& edit) {
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), events_dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  rocksdb::DB* db = nullptr;
  REQUIRE(rocksdb::DB::Open(rocksdb::Options(), events_dir, cfs, &hs, &db).ok());
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == "events") edit(db, hs[i]);
  for (auto* h : hs) db->DestroyColumnFamilyHandle(h);
  delete db;
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
