// ReportTally: folds the events of the log, one at a time and in seq order,
// into the counters behind the report's sections (report_data.h). Reads
// only plaintext metadata of each event.
//
//   ReportTally t;
//   for (each event up to as_of) t.Apply(view);
//   t.Finish(as_of_ms, access_log_days, &data.sections);
//
// Internal to BuildReportData and LiveReport, which keeps one alive between
// requests and feeds it the new events only.
//
// Memory: one AccountState per account plus one bitmap per counted cell.
// Thread safety: none; one thread owns it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <roaring/roaring64map.hh>

#include "events/event.h"
#include "projections/fold/account_state.h"
#include "projections/report/report_data.h"

namespace accountable::audit {

// Events and the distinct accounts behind them.
struct Count {
  uint64_t n = 0;
  Roaring64Map accounts;
  void Add(uint64_t account_id) {
    ++n;
    accounts.add(account_id);
  }
  Cell ToCell() const { return {n, accounts.cardinality()}; }
};

class ReportTally {
 public:
  void Apply(const events::EventView& v);
  void Finish(int64_t as_of_ms, int access_log_days, std::vector<Section>* out) const;

 private:
  struct Erasure {
    int month = 0;
    int reason = 0;             // fb::ErasureReason
    int64_t requested_ms = 0;   // the holder's DeletionRequested, 0 if none
    int64_t verified_ms = -1;   // recorded_at of ErasureVerified, -1 if none
  };
  struct Policy {
    std::string version;
    int64_t effective_ms = 0, published_ms = 0;
    Count explicit_accept, implicit_accept;
  };
  struct Recipient {
    std::string name, country;
    Count disclosures;
  };

  void ApplyAccount(const events::EventView& v);
  void ApplyConsent(const events::EventView& v);
  void ApplySystem(const events::EventView& v);
  Policy* FindPolicy(const std::string& version);

  Section Accounts(int first, int last) const;
  Section Retention(int64_t as_of_ms) const;
  Section Erasures(int first, int last) const;
  Section Consents(int first, int last) const;
  Section Disclosures() const;
  Section AccessLogs(int64_t as_of_ms, int access_log_days) const;

  int first_month_ = 0;  // 0: no event yet
  std::unordered_map<uint64_t, AccountState> accounts_;
  std::unordered_map<uint64_t, int64_t> deletion_requested_ms_;
  std::map<int, std::array<int64_t, 4>> status_delta_;  // month -> delta by AccountStatus
  std::map<int, uint64_t> registrations_;
  std::map<uint64_t, Erasure> erasures_;                // by AccountErased seq
  std::map<int, std::array<std::array<Count, kPurposeCount>, 2>> consents_;  // month -> given/withdrawn
  std::vector<Policy> policies_;
  std::map<uint64_t, Recipient> recipients_;            // by RecipientRegistered seq
  std::map<std::string, Count> by_country_, by_basis_, by_safeguard_;
  std::set<uint32_t> access_days_;
};

// Events from_seq..to_seq of the log into *tally, in seq order.
Status TallyEvents(Ledger& ledger, uint64_t from_seq, uint64_t to_seq, ReportTally* tally);

// The report from its parts: the integrity section (the verify's result,
// the roots at last_seq and at as_of_seq, the signed head) and the tally's
// sections. BuildReportData and LiveReport both end here, so the file and
// the served page are the same function of the same log.
void AssembleReport(Ledger& ledger, const ReportOptions& o, uint64_t last_seq, uint64_t as_of_seq,
                    const Status& verified, const ReportTally& tally, ReportData* out);

}  // namespace accountable::audit
