// Backend: the ledger as the CLI sees it, either in this process (embedded
// mode, the Accounts service on --data) or behind a server (remote mode,
// --server with --token-file, through the Client library). Every command is
// written once against this interface, so both modes print the same thing.
//
// Thread safety: single-threaded (one CLI command per process).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/ledger.h"
#include "projections/service/accounts.h"
#include "projections/service/import.h"

namespace accountable::cli {

struct Globals;

class Backend {
 public:
  using Json = nlohmann::ordered_json;
  virtual ~Backend() = default;
  virtual Status Register(const Registration& r, RegisterResult* out) = 0;
  virtual Status Show(uint64_t id, Json* account) = 0;  // DescribeAccount's shape
  virtual Status Log(uint64_t from, size_t limit, std::optional<uint64_t> account, std::vector<Ledger::Stored>* out) = 0;
  virtual Status Login(const LoginRequest& r, LoginResult* out) = 0;
  virtual Status Consent(uint64_t id, fb::Purpose p, bool give, const Context& ctx, Receipt* out) = 0;
  virtual Status Update(uint64_t id, const ProfileChange& c, const Context& ctx, Receipt* out) = 0;
  virtual Status Deletion(uint64_t id, bool request, const Context& ctx, Receipt* out) = 0;
  virtual Status Disclose(uint64_t id, const Disclosure& d, const Context& ctx, Receipt* out) = 0;
  virtual Status RecordAccess(const AccessLog& log, const Context& ctx, Receipt* out) = 0;
  virtual Status PublishPolicy(const PolicyDraft& draft, const Context& ctx, Receipt* out) = 0;
  // policy::Describe's shape: one version (empty: the current one) with its text; all without.
  virtual Status Policy(const std::string& version, Json* out) = 0;
  virtual Status Policies(std::vector<Json>* out) = 0;
  virtual Status Export(uint64_t id, const Context& ctx, std::string* json) = 0;
  virtual Status RegisterRecipient(const std::string& name, const std::string& country, const Context& ctx,
                                   Receipt* out) = 0;
  virtual Status ListRecipients(std::vector<Recipient>* out) = 0;
  virtual Status Sweep(const SweepOptions& o, SweepReport* out) = 0;
  // Accounts past the retention line: account_id, status, last_active_at.
  virtual Status Inactive(int64_t as_of_ms, int months, std::vector<Json>* out) = 0;
  virtual Status Import(std::string_view bytes, ImportReport* out) = 0;
  virtual Status ChangePassword(uint64_t id, const PasswordChange& c, const Context& ctx, Receipt* out) = 0;
  // out->seq == 0: the day was already on record, nothing appended.
  virtual Status Touch(uint64_t id, const Context& ctx, Receipt* out) = 0;
  virtual Status RetentionNotice(uint64_t id, const Context& ctx, Receipt* out) = 0;
  // Active accounts retention erases within `within_days` of as_of_ms (0: now):
  // account_id, last_active_at, due_at; soonest first.
  virtual Status RetentionDue(int64_t as_of_ms, int within_days, int months, std::vector<Json>* out,
                              bool* truncated) = 0;
};

// Embedded unless g.server is set.
Status OpenBackend(const Globals& g, std::unique_ptr<Backend>* out);

}  // namespace accountable::cli
