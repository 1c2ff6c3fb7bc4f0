// accountable-audit: the auditor's tool. Works on a data directory (or a
// copy of one) opened read-only, or online through accountabled with an
// auditor token. Only `replay`/`export` (to show PII) and `prove-erasure`
// use the vault and the key directory; everything else checks plaintext
// metadata and ciphertext. Walkthrough and formats: docs/audit.md.
//
// Output: proofs, heads, certificates and documents print as one JSON
// document (so they feed the verify-* commands as they are); listings print
// one JSON line per item; checks print "ok: {...}" or "FAILED: why".
// Exit codes: 0 the check passed · 2 usage · 6 storage error or a failed check.
#include <CLI/CLI.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "core/ledger.h"
#include "core/text_file.h"
#include "events/vocabulary.h"
#include "projections/fold/activity.h"
#include "projections/fold/rebuild.h"
#include "projections/service/accounts.h"
#include "projections/service/describe.h"
#include "projections/service/history.h"
#include "replay/certificate.h"
#include "server/client/tls_flags.h"
#include "replay/online.h"
#include "replay/keyring_check.h"
#include "projections/service/log_checks.h"
#include "projections/report/report_data.h"
#include "projections/report/report_html.h"
#include "replay/reports.h"

namespace {

namespace audit = accountable::audit;
using accountable::Status;
using Json = nlohmann::ordered_json;

constexpr size_t kPageEvents = 4096;

struct Args {
  std::string data = "data", key_dir, server, token_file, pubkey_file, keyring_file, file, until, out, as_of;
  int access_log_days = 30;
  accountable::ClientTlsOptions tls;  // with --server
  bool json = false;
  uint64_t size = 0, seq = 0, old_size = 0, new_size = 0, account = 0;
};

// What one command did: a document to print as is, or a check/listing summary.
struct Outcome {
  Status status;
  Json json;
  bool document = false;
};

int Report(bool json, const Outcome& o) {
  if (o.status.ok() && o.document) {
    std::cout << o.json.dump() << "\n";
    return 0;
  }
  Json j = o.json;
  j["ok"] = o.status.ok();
  if (!o.status.ok()) j["error"] = o.status.ToString();
  if (json) std::cout << j.dump() << "\n";
  else if (o.status.ok()) std::cout << "ok: " << j.dump() << "\n";
  else std::cerr << "FAILED: " << o.status.ToString() << "\n";
  return o.status.ok() ? 0 : 6;
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

Status ReadPublicKey(const std::string& file, std::string* pk) {
  std::ifstream f(file);
  std::string hex;
  if (file.empty()) return Status::InvalidArgument("--pubkey FILE is required (DATA/keys/signing.pub)");
  if (!f || !(f >> hex)) return Status::InvalidArgument("cannot read a public key from " + file);
  if (!accountable::crypto::FromHex(hex, 32, pk))
    return Status::InvalidArgument(file + ": not a 32-byte hex public key");
  return Status::OK();
}

// A proof is ~1 KB and a certificate a few KB; anything near this is not one.
constexpr uintmax_t kJsonFileBytesMax = 16 << 20;

Status ReadJsonFile(const std::string& file, nlohmann::json* out) {
  std::error_code ec;
  const uintmax_t bytes = std::filesystem::file_size(file, ec);
  if (ec) return Status::InvalidArgument("cannot read " + file);
  if (bytes > kJsonFileBytesMax) return Status::InvalidArgument(file + " is larger than any proof or certificate");
  std::ifstream f(file);
  *out = nlohmann::json::parse(f, nullptr, false);
  if (!f.good() && !f.eof()) return Status::InvalidArgument("cannot read " + file);
  if (out->is_discarded()) return Status::InvalidArgument("cannot read JSON from " + file);
  return Status::OK();
}

std::string KeyDir(const Args& a) { return a.key_dir.empty() ? a.data + "/keys" : a.key_dir; }

// The vault, read-only, when it and its KEK are there; PII stays sealed otherwise.
Status OpenVault(const Args& a, bool required, std::unique_ptr<accountable::Vault>* out) {
  const std::string kek = KeyDir(a) + "/kek";
  if (!required && (!std::filesystem::exists(a.data + "/vault") || !std::filesystem::exists(kek))) return Status::OK();
  return accountable::Vault::Open({.dir = a.data + "/vault", .kek_path = kek, .read_only = true}, out);
}

Status ResolveUntil(accountable::Ledger& ledger, const std::string& until, uint64_t* seq) {
  *seq = ledger.LastSeq();
  if (until.empty()) return Status::OK();
  if (until.find_first_not_of("0123456789") == std::string::npos) {
    *seq = std::stoull(until);
    if (*seq == 0 || *seq > ledger.LastSeq())
      return Status::InvalidArgument("--until " + until + " is not a seq of this log (1.." +
                                     std::to_string(ledger.LastSeq()) + ")");
    return Status::OK();
  }
  auto ms = accountable::events::ParseTime(until);
  if (!ms) return Status::InvalidArgument("--until takes a seq or a time (YYYY-MM-DD[THH:MM:SS[.sss]Z])");
  return audit::SeqAtTime(ledger, *ms, seq);
}

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void PrintLine(const Json& j) { std::cout << j.dump() << "\n"; }

Outcome Replay(const Args& a, accountable::Ledger& ledger) {
  Outcome o;
  std::unique_ptr<accountable::Vault> vault;
  uint64_t until_seq = 0;
  o.status = ResolveUntil(ledger, a.until, &until_seq);
  if (o.status.ok()) o.status = OpenVault(a, false, &vault);
  if (!o.status.ok()) return o;
  if (a.account != 0) {
    o.document = true;
    o.status = audit::AccountAsOf(ledger, vault.get(), a.account, until_seq, &o.json);
    return o;
  }
  o.status = audit::AllAccountsAsOf(ledger, vault.get(), until_seq, PrintLine, &o.json);
  return o;
}

Outcome ProveErasure(const Args& a, accountable::Ledger& ledger) {
  Outcome o{.document = true};
  std::unique_ptr<accountable::Vault> vault;
  accountable::SigningKey key;
  const std::string key_path = KeyDir(a) + "/signing";
  if (!std::filesystem::exists(key_path)) {
    o.status = Status::NotFound("no signing key at " + key_path + " (prove-erasure signs; give --key-dir)");
    return o;
  }
  o.status = OpenVault(a, true, &vault);
  if (o.status.ok()) o.status = accountable::LoadOrCreateSigningKey(key_path, &key);
  nlohmann::json cert;
  if (o.status.ok()) o.status = audit::ProveErasure(ledger, *vault, key, a.account, NowMs(), &cert);
  if (o.status.ok()) o.json = Json::parse(cert.dump());
  return o;
}

// The compliance report (docs/audit.md, "Report"). A log that fails its
// check still gets its report, which says so first, and exit code 6.
Outcome HtmlReport(const Args& a, accountable::Ledger& ledger) {
  Outcome o;
  audit::ReportOptions opt{.as_of_ms = NowMs(), .now_ms = NowMs(), .access_log_days = a.access_log_days};
  if (!a.as_of.empty()) {
    auto ms = accountable::events::ParseTime(a.as_of);
    if (!ms) return {Status::InvalidArgument("--as-of takes a time YYYY-MM-DD[THH:MM:SS[.sss]Z]"), Json::object()};
    opt.as_of_ms = *ms;
  }
  const std::string pub = a.pubkey_file.empty() ? KeyDir(a) + "/signing.pub" : a.pubkey_file;
  if (!a.pubkey_file.empty() || std::filesystem::exists(pub)) o.status = ReadPublicKey(pub, &opt.public_key);
  audit::ReportData d;
  if (o.status.ok()) o.status = audit::BuildReportData(ledger, opt, &d);
  if (o.status.ok()) o.status = accountable::WriteFileAtomically(a.out, audit::RenderReportHtml(d), 0644);
  if (!o.status.ok()) return o;
  const auto& in = d.integrity;
  o.json = {{"out", a.out}, {"as_of", accountable::events::FormatTime(d.as_of_ms)}, {"events", in.as_of_seq},
            {"verified", in.verified}, {"signed_head", !in.head_checked ? "not checked" : in.head_ok ? "ok" : "failed"}};
  if (!in.verified) o.status = Status::Corruption("the log does not verify (the report says so): " + in.verify_error);
  else if (in.head_checked && !in.head_ok) o.status = Status::Corruption("signed head: " + in.head_detail);
  return o;
}

using Command = std::function<Outcome(const Args&)>;
using LedgerCommand = std::function<Outcome(const Args&, accountable::Ledger&)>;

// A command whose output is the JSON document itself, printed as is.
Outcome JsonOutcome(Status s, Json j) { return {std::move(s), std::move(j), true}; }

// Commands that need a data directory, opened read-only: an audit never
// writes to what it audits.
std::map<std::string, LedgerCommand> OfflineCommands() {
  std::map<std::string, LedgerCommand> m;
  m["verify-log"] = [](const Args&, accountable::Ledger& l) { Outcome o; o.status = VerifyLog(l, &o.json); return o; };
  m["rebuild-check"] = [](const Args&, accountable::Ledger& l) {
    accountable::RebuildReport r;
    Status s = accountable::RebuildCheck(l, &r);
    return Outcome{s, {{"events", r.events}, {"accounts", r.accounts}, {"activity_rows", r.activity_rows},
                       {"meta_rows", r.meta_rows}}};
  };
  m["verify"] = [](const Args& a, accountable::Ledger& l) {
    Outcome o;
    o.status = audit::VerifyTree(l, &o.json);
    std::string pk, key_id;
    if (o.status.ok() && !a.pubkey_file.empty()) o.status = ReadPublicKey(a.pubkey_file, &pk);
    if (o.status.ok() && !a.keyring_file.empty()) o.status = audit::KeyForLatestHead(l, a.keyring_file, pk, &pk, &key_id);
    if (o.status.ok() && !pk.empty()) o.status = audit::VerifySignedHead(l, pk, &o.json);
    if (o.status.ok() && !key_id.empty()) o.json["key_id"] = key_id;
    return o;
  };
  m["tree-head"] = [](const Args& a, accountable::Ledger& l) {
    Json j;
    Status s = audit::TreeHead(l, a.size, &j);
    return JsonOutcome(s, j);
  };
  m["prove-inclusion"] = [](const Args& a, accountable::Ledger& l) {
    Json j;
    Status s = audit::ProveInclusion(l, a.seq, a.size, &j);
    return JsonOutcome(s, j);
  };
  m["prove-consistency"] = [](const Args& a, accountable::Ledger& l) {
    Json j;
    Status s = audit::ProveConsistency(l, a.old_size, a.new_size, &j);
    return JsonOutcome(s, j);
  };
  m["replay"] = Replay;
  m["export"] = [](const Args& a, accountable::Ledger& l) {
    std::unique_ptr<accountable::Vault> vault;
    Outcome o{.document = true};
    o.status = OpenVault(a, false, &vault);
    if (o.status.ok()) o.status = accountable::ExportDocument(l, vault.get(), a.account, NowMs(), &o.json);
    return o;
  };
  m["disclosures"] = [](const Args& a, accountable::Ledger& l) {
    std::unique_ptr<accountable::Vault> vault;
    Outcome o;
    o.status = OpenVault(a, false, &vault);
    if (o.status.ok()) o.status = audit::Disclosures(l, vault.get(), a.account, PrintLine, &o.json);
    return o;
  };
  m["prove-erasure"] = ProveErasure;
  m["report"] = HtmlReport;
  return m;
}

// The same questions asked of a live server; the answers are checked, not trusted.
std::map<std::string, Command> OnlineCommands() {
  std::map<std::string, Command> m;
  auto connect = [](const Args& a, std::unique_ptr<accountable::Client>* c) {
    std::string token;
    if (a.token_file.empty()) return Status::InvalidArgument("--server needs --token-file (an auditor token)");
    ACC_RETURN_IF_ERROR(accountable::crypto::ReadTokenFile(a.token_file, &token));
    Status s = accountable::Client::Connect(a.server, token, a.tls, c);
    accountable::crypto::Wipe(&token);
    return s;
  };
  auto online = [connect](std::function<Outcome(const Args&, accountable::Client&)> fn) {
    return [connect, fn](const Args& a) {
      std::unique_ptr<accountable::Client> c;
      Status s = connect(a, &c);
      return s.ok() ? fn(a, *c) : Outcome{s, Json::object()};
    };
  };
  m["verify"] = online([](const Args& a, accountable::Client& c) {
    Outcome o;
    std::string pk;
    o.status = ReadPublicKey(a.pubkey_file, &pk);
    if (o.status.ok()) o.status = audit::OnlineVerify(c, pk, &o.json);
    return o;
  });
  m["tree-head"] = online([](const Args&, accountable::Client& c) {
    Json j;
    Status s = audit::OnlineTreeHead(c, &j);
    return JsonOutcome(s, j);
  });
  m["prove-inclusion"] = online([](const Args& a, accountable::Client& c) {
    Json j;
    Status s = audit::OnlineProveInclusion(c, a.seq, a.size, &j);
    return JsonOutcome(s, j);
  });
  m["prove-consistency"] = online([](const Args& a, accountable::Client& c) {
    Json j;
    Status s = audit::OnlineProveConsistency(c, a.old_size, a.new_size, &j);
    return JsonOutcome(s, j);
  });
  return m;
}

// Commands that need nothing but their input file (and a public key).
std::map<std::string, Command> FileCommands() {
  std::map<std::string, Command> m;
  auto check = [](std::function<Status(const Args&, const nlohmann::json&, Json*)> fn) {
    return [fn](const Args& a) {
      nlohmann::json in;
      Outcome o{.json = {{"file", a.file}}};
      o.status = ReadJsonFile(a.file, &in);
      if (o.status.ok()) o.status = fn(a, in, &o.json);
      return o;
    };
  };
  m["verify-inclusion"] = check([](const Args&, const nlohmann::json& j, Json*) { return audit::VerifyInclusion(j); });
  m["verify-consistency"] =
      check([](const Args&, const nlohmann::json& j, Json*) { return audit::VerifyConsistency(j); });
  m["verify-certificate"] = check([](const Args& a, const nlohmann::json& j, Json* out) {
    std::string pk;
    if (a.pubkey_file.empty() && a.keyring_file.empty())
      return Status::InvalidArgument("--pubkey FILE or --keyring FILE is required");
    if (!a.pubkey_file.empty()) ACC_RETURN_IF_ERROR(ReadPublicKey(a.pubkey_file, &pk));
    if (!a.keyring_file.empty()) ACC_RETURN_IF_ERROR(audit::KeyForCertificate(a.keyring_file, pk, j, &pk));
    Json summary;
    ACC_RETURN_IF_ERROR(audit::VerifyCertificate(j, pk, &summary));
    out->update(summary);
    return Status::OK();
  });
  return m;
}

}  // namespace

namespace {

// Declares every subcommand and its options; returns them by name.
std::map<std::string, CLI::App*> DeclareCommands(CLI::App& app, Args& a) {
  std::map<std::string, CLI::App*> c;
  auto add = [&](const char* name, const char* what) { return c[name] = app.add_subcommand(name, what); };
  add("verify-log", "every envelope verifies and seqs are contiguous");
  add("rebuild-check", "replay every event and compare the projections");
  auto* verify = add("verify", "recompute the Merkle tree from every envelope; first bad seq");
  verify->add_option("--pubkey", a.pubkey_file, "file with the hex Ed25519 public key (DATA/keys/signing.pub)");
  verify->add_option("--keyring", a.keyring_file, "signing.keyring: the key of the head's tree size (docs/audit.md)");
  add("tree-head", "root of the tree at a size (default: the whole log)")->add_option("--size", a.size);
  auto* pin = add("prove-inclusion", "inclusion proof of one event (JSON, vector shape)");
  pin->add_option("SEQ", a.seq)->required();
  pin->add_option("--size", a.size, "tree size (default: the whole log, or online the latest signed head)");
  auto* pcon = add("prove-consistency", "consistency proof between two tree sizes");
  pcon->add_option("OLD", a.old_size)->required();
  pcon->add_option("NEW", a.new_size)->required();
  add("verify-inclusion", "check an inclusion proof file offline")->add_option("FILE", a.file)->required();
  add("verify-consistency", "check a consistency proof file offline")->add_option("FILE", a.file)->required();
  auto* replay = add("replay", "state of the accounts as of a seq or a time (default: now)");
  replay->add_option("--until", a.until, "SEQ, or a time YYYY-MM-DD[THH:MM:SS[.sss]Z] (recorded_at)");
  replay->add_option("--account", a.account, "one account (default: every account, one line each)");
  add("export", "everything held about one account (DSAR), appending nothing")
      ->add_option("ACCOUNT", a.account)->required();
  add("disclosures", "third-party disclosures, of one account or all")->add_option("--account", a.account);
  add("prove-erasure", "erasure certificate (JSON) of an erased account; needs the vault and keys")
      ->add_option("ACCOUNT", a.account)->required();
  auto* vcert = add("verify-certificate", "check an erasure certificate offline");
  vcert->add_option("FILE", a.file)->required();
  vcert->add_option("--pubkey", a.pubkey_file, "file with the hex Ed25519 public key");
  vcert->add_option("--keyring", a.keyring_file, "signing.keyring: certificates signed before a key rotation");
  auto* report = add("report", "the compliance report: one self-contained HTML page, aggregates only");
  report->add_option("--out", a.out, "the HTML file to write")->required();
  report->add_option("--as-of", a.as_of, "the report's time, YYYY-MM-DD[THH:MM:SS[.sss]Z] (default: now)");
  report->add_option("--pubkey", a.pubkey_file, "hex Ed25519 public key (default DATA/keys/signing.pub if present)");
  report->add_option("--access-log-days", a.access_log_days, "the server's access-log window, days")
      ->capture_default_str()->check(CLI::Range(1, 3650));
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"accountable-audit: check a ledger's history, prove what it holds and what it erased"};
  app.require_subcommand(1);
  Args a;
  app.add_option("--data", a.data, "data directory (or a copy), opened read-only")->capture_default_str();
  app.add_option("--key-dir", a.key_dir, "key directory (default DATA/keys): KEK for PII, signing key for certificates");
  app.add_option("--server", a.server, "audit a running accountabled (HOST:PORT) instead of a directory");
  app.add_option("--token-file", a.token_file, "file with an auditor token (with --server)");
  accountable::AddClientTlsFlags(app, a.tls);
  app.add_flag("--json", a.json, "checks print one JSON object");
  auto commands = DeclareCommands(app, a);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  std::string name;
  for (auto& [n, sub] : commands)
    if (sub->parsed()) name = n;
  if (a.server.empty() && accountable::AnyClientTls(a.tls)) {
    std::cerr << "error: the --tls-* options go with --server\n";
    return 2;
  }
  if (auto files = FileCommands(); files.count(name)) return Report(a.json, files[name](a));
  if (!a.server.empty()) {
    auto online = OnlineCommands();
    if (!online.count(name)) {
      std::cerr << "error: " << name << " works on a data directory only (--data), not online\n";
      return 2;
    }
    return Report(a.json, online[name](a));
  }
  accountable::LedgerOptions o;
  o.dir = a.data + "/events";
  o.activity_merge = accountable::MergeActivity;
  o.activity_partial_merge = accountable::PartialMergeActivity;
  o.read_only = true;
  std::unique_ptr<accountable::Ledger> ledger;
  Status s = accountable::Ledger::Open(o, &ledger);
  if (!s.ok()) return Report(a.json, Outcome{s, Json::object()});
  return Report(a.json, OfflineCommands()[name](a, *ledger));
}
