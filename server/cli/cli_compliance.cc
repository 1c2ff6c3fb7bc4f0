// CLI commands for compliance staff and the forum's backend: export (DSAR),
// disclose, record-access, notice-sent, publish-policy, policy show|list, sweep, inactive, import.
#include <fstream>
#include <iostream>
#include <sstream>

#include "events/vocabulary.h"
#include "projections/fold/policy.h"
#include "projections/service/describe.h"
#include "projections/service/import.h"
#include "server/cli/cli_commands.h"

namespace accountable::cli {
namespace {

using Json = nlohmann::ordered_json;

// Files the CLI reads whole: policy texts and import files.
constexpr size_t kPolicyFileBytesMax = policy::kTextBytesMax;
constexpr size_t kImportFileBytesMax = size_t{1} << 32;

// Reads in chunks up to one byte past the limit rather than trusting the
// size a seek reports: a pipe (`import -`, /dev/stdin) has none.
Status ReadFile(const std::string& path, size_t max_bytes, std::string* out) {
  std::ifstream file;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) return Status::NotFound("cannot open " + path);
  }
  std::istream& in = path == "-" ? std::cin : file;
  const std::string name = path == "-" ? "standard input" : path;
  constexpr size_t kChunkBytes = 1 << 20;
  out->clear();
  while (out->size() <= max_bytes) {
    const size_t at = out->size();
    out->resize(at + kChunkBytes);
    in.read(out->data() + at, static_cast<std::streamsize>(kChunkBytes));
    out->resize(at + static_cast<size_t>(in.gcount()));
    if (in.eof()) break;
    if (!in) return Status::IOError("cannot read " + name);
  }
  if (out->size() > max_bytes) return Status::InvalidArgument(name + ": larger than " + std::to_string(max_bytes) + " bytes");
  return Status::OK();
}

int WithBackend(const Globals& g, const std::function<int(Backend&)>& fn) {
  std::unique_ptr<Backend> b;
  Status s = OpenBackend(g, &b);
  if (!s.ok()) return Fail(g, s);
  return fn(*b);
}

struct SweepFlags {
  std::string as_of_text;  // RFC 3339, as typed
  bool dry_run = false;
};

int RunSweep(const Globals& g, const SweepFlags& f) {
  SweepOptions o;
  o.dry_run = f.dry_run;
  if (!f.as_of_text.empty()) {
    Status s = ParseTimeFlag("--as-of", f.as_of_text, &o.as_of_ms);
    if (!s.ok()) return Fail(g, s);
  }
  if (!f.as_of_text.empty() && !f.dry_run)
    return Fail(g, Status::InvalidArgument("--as-of needs --dry-run: a real sweep runs on the real clock"));
  return WithBackend(g, [&](Backend& a) {
    SweepReport r;
    Status s = a.Sweep(o, &r);
    const char* verb = f.dry_run ? "would_erase" : "erased";
    for (const auto& e : r.erased)
      Print(g, Json{{"action", verb}, {"account_id", e.account_id}, {"reason", e.reason}, {"due_at", events::FormatTime(e.due_at_ms)}});
    for (uint32_t d : r.days_shredded)
      Print(g, Json{{"action", f.dry_run ? "would_shred_day_key" : "shredded_day_key"}, {"day", d}});
    if (!s.ok()) return Fail(g, s);
    Print(g, Json{{"ok", true}, {"dry_run", f.dry_run}, {"erased", r.erased.size()},
                  {"days_shredded", r.days_shredded.size()}, {"verified", r.verified},
                  {"files_scanned", r.shred.files_scanned}, {"bytes_scanned", r.shred.bytes_scanned},
                  {"hits", r.shred.hits}, {"compaction_passes", r.shred.compaction_passes},
                  {"elapsed_ms", r.elapsed_ms}});
    return 0;
  });
}

struct InactiveFlags {
  std::string as_of_text;     // RFC 3339, as typed
  std::optional<int> months;  // default: --retention-months
  std::optional<int> within_days;
};

int RunInactive(const Globals& g, const InactiveFlags& f) {
  int64_t as_of_ms = 0;
  if (!f.as_of_text.empty()) {
    Status s = ParseTimeFlag("--as-of", f.as_of_text, &as_of_ms);
    if (!s.ok()) return Fail(g, s);
  }
  return WithBackend(g, [&](Backend& a) {
    std::vector<Json> rows;
    bool truncated = false;
    const int months = f.months.value_or(g.retention_months);
    Status s = f.within_days ? a.RetentionDue(as_of_ms, *f.within_days, months, &rows, &truncated)
                             : a.Inactive(as_of_ms, months, &rows);
    if (!s.ok()) return Fail(g, s);
    for (const auto& row : rows) Print(g, row);
    // Said on stderr, so a script reading the rows still gets only rows.
    if (truncated) std::cerr << "note: only the " << rows.size() << " soonest due are listed\n";
    return 0;
  });
}

void AttachReceiptCommands(CLI::App& app, Globals& g, Selected* selected);
void AttachPolicyCommands(CLI::App& app, Globals& g, Selected* selected);

}  // namespace

void AttachComplianceCommands(CLI::App& app, Globals& g, Selected* selected) {
  auto sf = std::make_shared<SweepFlags>();
  auto* sweep = app.add_subcommand("sweep", "erase what the grace period and retention rules say, shred old access-log keys");
  sweep->add_option("--as-of", sf->as_of_text, "with --dry-run: evaluate as of this time");
  sweep->add_flag("--dry-run", sf->dry_run, "only say what would be erased or shredded, and why");
  sweep->callback([&g, selected, sf] { *selected = [&g, sf] { return RunSweep(g, *sf); }; });

  auto inf = std::make_shared<InactiveFlags>();
  auto* inactive = app.add_subcommand("inactive", "accounts past the retention line, one per line");
  inactive->add_option("--as-of", inf->as_of_text, "default: now");
  inactive->add_option("--months", inf->months, "default: --retention-months")->check(InRange(1, 1200));
  inactive->add_option("--within", inf->within_days,
                       "DAYS: the active accounts retention erases within DAYS, with the date each is due")
      ->check(InRange(0, kRetentionWithinDaysMax));
  inactive->callback([&g, selected, inf] { *selected = [&g, inf] { return RunInactive(g, *inf); }; });

  auto file = std::make_shared<std::string>();
  auto* import = app.add_subcommand("import", "append a forum's existing history from JSON lines (docs/import.md)");
  import->add_option("FILE", *file, "JSON lines file, or - for standard input")->required();
  import->callback([&g, selected, file] {
    *selected = [&g, file] {
      std::string bytes;
      Status s = ReadFile(*file, kImportFileBytesMax, &bytes);
      if (!s.ok()) return Fail(g, s);
      return WithBackend(g, [&](Backend& a) {
        ImportReport r;
        Status is = a.Import(bytes, &r);
        if (!is.ok()) return Fail(g, is);
        Print(g, Json{{"ok", true}, {"lines", r.lines}, {"appended", r.appended}, {"already_imported", r.already_imported}});
        return 0;
      });
    };
  });
  AttachReceiptCommands(app, g, selected);
  AttachPolicyCommands(app, g, selected);
}

namespace {

struct ReceiptFlags {
  uint64_t account = 0;
  std::string request_id, by = "holder";
  Disclosure disclosure;
  AccessLog access;
  std::string at, version, text_file, summary, effective;
};

int PrintReceipt(const Globals& g, uint64_t id, std::string_view what, const Status& s, const Receipt& r) {
  if (!s.ok()) return Fail(g, s);
  Json j{{"ok", true}};
  if (id) j["account_id"] = id;
  j["event"] = what;
  j["seq"] = r.seq;
  j["duplicate"] = r.duplicate;
  Print(g, j);
  return 0;
}

Context ContextOf(const ReceiptFlags& f) {
  Context c;
  c.actor = f.by == "admin" ? fb::Actor::Admin : fb::Actor::Holder;
  c.request_id = f.request_id;
  return c;
}

int RunExport(const Globals& g, const ReceiptFlags& f) {
  return WithBackend(g, [&](Backend& a) {
    std::string json;
    Status s = a.Export(f.account, ContextOf(f), &json);
    if (!s.ok()) return Fail(g, s);
    std::cout << json << "\n";
    return 0;
  });
}

int RunRecordAccess(const Globals& g, const ReceiptFlags& f) {
  Context c = ContextOf(f);
  c.actor = fb::Actor::System;  // collected automatically, not caused by a holder
  if (!f.at.empty()) {
    Status s = ParseTimeFlag("--at", f.at, &c.occurred_at_ms);
    if (!s.ok()) return Fail(g, s);
  }
  return WithBackend(g, [&](Backend& a) {
    Receipt r;
    return PrintReceipt(g, 0, "access_logged", a.RecordAccess(f.access, c, &r), r);
  });
}

int RunPublish(const Globals& g, const ReceiptFlags& f) {
  PolicyDraft d{f.version, "", f.summary, 0};
  Status s = ReadFile(f.text_file, kPolicyFileBytesMax, &d.text);
  if (s.ok() && !f.effective.empty()) s = ParseTimeFlag("--effective", f.effective, &d.effective_at_ms);
  if (!s.ok()) return Fail(g, s);
  Context c = ContextOf(f);
  c.actor = fb::Actor::Admin;
  return WithBackend(g, [&](Backend& a) {
    Receipt r;
    return PrintReceipt(g, 0, "policy_published", a.PublishPolicy(d, c, &r), r);
  });
}

struct RecipientFlags {
  std::string name, country, request_id;
};

void AttachRecipientCommands(CLI::App& app, Globals& g, Selected* selected) {
  auto* rec = app.add_subcommand("recipient", "the registry of disclosure recipients (organisations)");
  rec->require_subcommand(1);
  auto rf = std::make_shared<RecipientFlags>();
  auto* add = rec->add_subcommand("add", "publish a recipient (admin); prints its id");
  add->add_option("--name", rf->name, "the organisation's name, unique")->required();
  add->add_option("--country", rf->country, "ISO 3166-1 alpha-2")->required();
  add->add_option("--request-id", rf->request_id);
  add->callback([&g, selected, rf] {
    *selected = [&g, rf] {
      return WithBackend(g, [&](Backend& a) {
        Receipt r;
        Context c{fb::Actor::Admin, 0, rf->request_id, {}};
        Status s = a.RegisterRecipient(rf->name, rf->country, c, &r);
        if (!s.ok()) return Fail(g, s);
        Print(g, Json{{"ok", true}, {"event", "recipient_registered"}, {"recipient_id", r.seq}, {"seq", r.seq},
                      {"duplicate", r.duplicate}});
        return 0;
      });
    };
  });
  auto* list = rec->add_subcommand("list", "every registered recipient, one per line");
  list->callback([&g, selected] {
    *selected = [&g] {
      return WithBackend(g, [&](Backend& a) {
        std::vector<Recipient> all;
        Status s = a.ListRecipients(&all);
        if (!s.ok()) return Fail(g, s);
        for (const auto& x : all) Print(g, Json{{"recipient_id", x.id}, {"name", x.name}, {"country", x.country}});
        return 0;
      });
    };
  });
}

// `policy show`: the metadata line, then the text as it was published (JSON: one object).
int RunPolicyShow(const Globals& g, const std::string& version) {
  return WithBackend(g, [&](Backend& a) {
    Json p;
    Status s = a.Policy(version, &p);
    if (!s.ok()) return Fail(g, s);
    if (g.json) {
      Print(g, p);
      return 0;
    }
    const std::string text = p.value("text", "");
    p.erase("text");
    Print(g, p);
    std::cout << text << (text.empty() || text.back() == '\n' ? "" : "\n");
    return 0;
  });
}

int RunPolicyList(const Globals& g) {
  return WithBackend(g, [&](Backend& a) {
    std::vector<Json> rows;
    Status s = a.Policies(&rows);
    if (!s.ok()) return Fail(g, s);
    for (const auto& row : rows) Print(g, row);
    return 0;
  });
}

void AttachPolicyCommands(CLI::App& app, Globals& g, Selected* selected) {
  auto* pol = app.add_subcommand("policy", "the published policy versions (public)");
  pol->require_subcommand(1);
  auto version = std::make_shared<std::string>();
  auto* show = pol->add_subcommand("show", "one version with its effective date, summary and text (default: current)");
  show->add_option("VERSION", *version);
  show->callback([&g, selected, version] { *selected = [&g, version] { return RunPolicyShow(g, *version); }; });
  auto* list = pol->add_subcommand("list", "every version, oldest first, one per line (no texts)");
  list->callback([&g, selected] { *selected = [&g] { return RunPolicyList(g); }; });
}

void AttachReceiptCommands(CLI::App& app, Globals& g, Selected* selected) {
  auto ef = std::make_shared<ReceiptFlags>();
  auto* exp = app.add_subcommand("export", "record an access request and print everything held, decrypted (JSON)");
  exp->add_option("ACCOUNT_ID", ef->account)->check(kDecimal)->required();
  exp->add_option("--by", ef->by)->check(OneOf({"holder", "admin"}));
  exp->add_option("--request-id", ef->request_id);
  exp->callback([&g, selected, ef] { *selected = [&g, ef] { return RunExport(g, *ef); }; });

  auto df = std::make_shared<ReceiptFlags>();
  auto* dis = app.add_subcommand("disclose", "record a disclosure to a third party (needs consent or a legal obligation)");
  dis->add_option("ACCOUNT_ID", df->account)->check(kDecimal)->required();
  dis->add_option("--recipient", df->disclosure.recipient, "a registered recipient: id or name (recipient list)")
      ->required();
  dis->add_option("--country", df->disclosure.country, "ISO 3166-1 alpha-2 (default: the recipient's)");
  dis->add_option("--purpose", df->disclosure.purpose, "free text, sealed under the account's key")->required();
  dis->add_option("--legal-basis", df->disclosure.legal_basis, "consent | legal_obligation")->required();
  dis->add_option("--reference", df->disclosure.reference, "required for legal_obligation; sealed");
  dis->add_option("--safeguard", df->disclosure.safeguard,
                  "none | adequacy_decision | standard_contractual_clauses | binding_corporate_rules | "
                  "explicit_consent | legal_obligation")->required();
  dis->add_option("--request-id", df->request_id);
  dis->callback([&g, selected, df] {
    *selected = [&g, df] {
      return WithBackend(g, [&](Backend& a) {
        Receipt r;
        Context c = ContextOf(*df);
        c.actor = fb::Actor::Admin;
        return PrintReceipt(g, df->account, "disclosure_recorded", a.Disclose(df->account, df->disclosure, c, &r), r);
      });
    };
  });

  auto af = std::make_shared<ReceiptFlags>();
  auto* acc = app.add_subcommand("record-access", "record an automatically collected access log line (no account link)");
  acc->add_option("--ip", af->access.ip)->required();
  acc->add_option("--browser", af->access.browser);
  acc->add_option("--isp", af->access.isp);
  acc->add_option("--referrer", af->access.referrer);
  acc->add_option("--os", af->access.os);
  acc->add_option("--path", af->access.path);
  acc->add_option("--at", af->at, "when it happened (default now)");
  acc->add_option("--request-id", af->request_id);
  acc->callback([&g, selected, af] { *selected = [&g, af] { return RunRecordAccess(g, *af); }; });

  AttachRecipientCommands(app, g, selected);
  auto nf = std::make_shared<ReceiptFlags>();
  auto* notice = app.add_subcommand("notice-sent", "record that the holder was warned of the retention erasure");
  notice->add_option("ACCOUNT_ID", nf->account)->check(kDecimal)->required();
  notice->add_option("--request-id", nf->request_id);
  notice->callback([&g, selected, nf] {
    *selected = [&g, nf] {
      return WithBackend(g, [&](Backend& a) {
        Receipt r;
        Context c = ContextOf(*nf);
        c.actor = fb::Actor::System;  // the forum's mailer, not the holder
        return PrintReceipt(g, nf->account, "retention_notice_sent", a.RetentionNotice(nf->account, c, &r), r);
      });
    };
  });

  auto pf = std::make_shared<ReceiptFlags>();
  auto* pub = app.add_subcommand("publish-policy", "publish a new policy version; registrations must accept it");
  pub->add_option("VERSION", pf->version)->required();
  pub->add_option("--text-file", pf->text_file)->required();
  pub->add_option("--effective", pf->effective, "in force from (YYYY-MM-DD or RFC 3339 UTC; default now)");
  pub->add_option("--summary", pf->summary, "what changed, for holders (public; no personal data)");
  pub->add_option("--request-id", pf->request_id);
  pub->callback([&g, selected, pf] { *selected = [&g, pf] { return RunPublish(g, *pf); }; });
}

}  // namespace
}  // namespace accountable::cli
