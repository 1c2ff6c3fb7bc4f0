// Raw rows of a vault's column families, read from a copy of the closed
// vault (read-only RocksDB open of the copy, so the live vault is never
// touched): what the erasure and key-rotation tests compare wrapped keys
// against.
//
//   for (const auto& [key, value] : test::VaultRows(data, {"deks"})) ...
//
// Uses Catch2 (REQUIRE), so only the test binary includes it.
#pragma once

#include <rocksdb/db.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/test_util.h"

namespace accountable::test {

// (key, value) of every row of the column families named in cf_names, from
// DATA/vault; the vault must be closed.
inline std::vector<std::pair<std::string, std::string>> VaultRows(const std::string& data,
                                                                  const std::set<std::string>& cf_names) {
  TempDir copy("acc-vault-copy");
  const std::string dir = copy.Sub("vault");
  std::filesystem::copy(data + "/vault", dir, std::filesystem::copy_options::recursive);
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), dir, cfs, &hs, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (cf_names.count(names[i]) == 0) continue;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), hs[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  for (auto* h : hs) db->DestroyColumnFamilyHandle(h);
  return out;
}

}  // namespace accountable::test
