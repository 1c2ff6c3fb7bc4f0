// accountable-audit: the auditor's tool. Works on a data directory (or a
// copy of one) without the vault or the KEK: everything it checks is
// plaintext metadata and ciphertext.
//
//   accountable-audit --data DIR verify-log      every envelope verifies, seqs contiguous
//   accountable-audit --data DIR rebuild-check   replayed projections == stored ones
//
// Exit codes: 0 the check passed · 2 usage · 6 storage error or a failed check.
#include <CLI/CLI.hpp>

#include <sodium.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/ledger.h"
#include "projections/activity.h"
#include "projections/rebuild.h"
#include "replay/proofs.h"

namespace {

using accountable::Status;
using Json = nlohmann::ordered_json;

constexpr size_t kPageEvents = 4096;

int Report(bool json, const Status& s, Json j) {
  j["ok"] = s.ok();
  if (!s.ok()) j["error"] = s.ToString();
  if (json) std::cout << j.dump() << "\n";
  else if (s.ok()) std::cout << "ok: " << j.dump() << "\n";
  else std::cerr << "FAILED: " << s.ToString() << "\n";
  return s.ok() ? 0 : 6;
}

Status VerifyLog(accountable::Ledger& ledger, Json* out) {
  std::vector<accountable::Ledger::Stored> page;
  uint64_t expect = 1;
  for (;;) {
    ACC_RETURN_IF_ERROR(ledger.ReadRange(expect, kPageEvents, &page));
    for (auto& st : page) {
      if (st.seq != expect) return Status::Corruption("seq " + std::to_string(expect) + " is missing");
      accountable::events::EventView v;
      Status s = accountable::events::EventView::Parse(st.envelope, &v);
      if (!s.ok()) return Status::Corruption("seq " + std::to_string(st.seq) + ": " + s.message());
      if (v.envelope()->seq() != st.seq)
        return Status::Corruption("seq " + std::to_string(st.seq) + " holds an envelope for seq " +
                                  std::to_string(v.envelope()->seq()));
      ++expect;
    }
    if (page.size() < kPageEvents) break;
  }
  (*out)["events"] = expect - 1;
  return Status::OK();
}

Status VerifyWithKey(accountable::Ledger& ledger, const std::string& file, Json* j) {
  std::ifstream f(file);
  std::string hex;
  if (!f || !(f >> hex)) return Status::InvalidArgument("cannot read a public key from " + file);
  std::string pk(32, '\0');
  size_t len = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(pk.data()), pk.size(), hex.c_str(), hex.size(), nullptr, &len,
                     nullptr) != 0 || len != 32)
    return Status::InvalidArgument(file + ": not a 32-byte hex public key");
  return accountable::audit::VerifySignedHead(ledger, pk, j);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"accountable-audit: check a ledger's history and projections"};
  app.require_subcommand(1);
  std::string data = "data";
  bool json = false;
  app.add_option("--data", data, "data directory (or a copy)")->capture_default_str();
  app.add_flag("--json", json, "one JSON object per line");
  auto* verify = app.add_subcommand("verify-log", "every envelope verifies and seqs are contiguous");
  auto* rebuild = app.add_subcommand("rebuild-check", "replay every event and compare the projections");
  auto* tree = app.add_subcommand("verify", "recompute the Merkle tree from every envelope; first bad seq");
  std::string pubkey_file;
  tree->add_option("--pubkey", pubkey_file, "file with the hex Ed25519 public key (DATA/keys/signing.pub)");
  uint64_t size = 0, seq = 0, old_size = 0, new_size = 0;
  std::string file;
  auto* head = app.add_subcommand("tree-head", "root of the tree at a size (default: the whole log)");
  head->add_option("--size", size);
  auto* pin = app.add_subcommand("prove-inclusion", "inclusion proof of one event (JSON, vector shape)");
  pin->add_option("SEQ", seq)->required();
  pin->add_option("--size", size, "tree size (default: the whole log)");
  auto* pcon = app.add_subcommand("prove-consistency", "consistency proof between two tree sizes");
  pcon->add_option("OLD", old_size)->required();
  pcon->add_option("NEW", new_size)->required();
  auto* vin = app.add_subcommand("verify-inclusion", "check an inclusion proof file offline");
  vin->add_option("FILE", file)->required();
  auto* vcon = app.add_subcommand("verify-consistency", "check a consistency proof file offline");
  vcon->add_option("FILE", file)->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  if (vin->parsed() || vcon->parsed()) {  // offline: no data directory at all
    std::ifstream f(file);
    auto j = nlohmann::json::parse(f, nullptr, false);
    Status s = !f || j.is_discarded() ? Status::InvalidArgument("cannot read JSON from " + file)
               : vin->parsed()        ? accountable::audit::VerifyInclusion(j)
                                      : accountable::audit::VerifyConsistency(j);
    return Report(json, s, Json{{"file", file}});
  }
  accountable::LedgerOptions o;
  o.dir = data + "/events";
  o.activity_merge = accountable::MergeActivity;
  o.activity_partial_merge = accountable::PartialMergeActivity;
  o.read_only = true;  // an audit never writes to what it audits
  std::unique_ptr<accountable::Ledger> ledger;
  Status s = accountable::Ledger::Open(o, &ledger);
  if (!s.ok()) return Report(json, s, Json::object());
  Json j;
  if (verify->parsed()) {
    s = VerifyLog(*ledger, &j);
  } else if (tree->parsed()) {
    s = accountable::audit::VerifyTree(*ledger, &j);
    if (s.ok() && !pubkey_file.empty()) s = VerifyWithKey(*ledger, pubkey_file, &j);
  } else if (head->parsed()) {
    s = accountable::audit::TreeHead(*ledger, size, &j);
  } else if (pin->parsed()) {
    s = accountable::audit::ProveInclusion(*ledger, seq, size, &j);
  } else if (pcon->parsed()) {
    s = accountable::audit::ProveConsistency(*ledger, old_size, new_size, &j);
  } else if (rebuild->parsed()) {
    accountable::RebuildReport r;
    s = accountable::RebuildCheck(*ledger, &r);
    j = {{"events", r.events}, {"accounts", r.accounts}, {"activity_rows", r.activity_rows}, {"meta_rows", r.meta_rows}};
  }
  // Proofs and heads print exactly the vector shape, so they feed verify-* as they are.
  if (s.ok() && (head->parsed() || pin->parsed() || pcon->parsed())) {
    std::cout << j.dump() << "\n";
    return 0;
  }
  return Report(json, s, j);
}
