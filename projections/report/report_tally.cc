// ReportTally::Apply: one event into the report's counters. Every time axis
// uses occurred_at (business time), so imported history lands in the month
// it happened; what the log holds as of the report is decided by seq.
#include "projections/report/report_tally.h"

#include <algorithm>

#include "events/vocabulary.h"

namespace accountable::audit {

namespace {

std::string Str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

std::string LegalBasisName(fb::LegalBasis b) {
  return b == fb::LegalBasis::LegalObligation ? "legal_obligation" : "consent";
}

}  // namespace

void ReportTally::Apply(const events::EventView& v) {
  const int month = MonthNumber(v.envelope()->occurred_at_ms());
  if (first_month_ == 0 || month < first_month_) first_month_ = month;
  if (v.type() == fb::Payload::ErasureVerified) {
    auto it = erasures_.find(v.envelope()->payload_as_ErasureVerified()->erased_seq());
    if (it != erasures_.end() && it->second.verified_ms < 0) it->second.verified_ms = v.envelope()->recorded_at_ms();
  }
  if (v.envelope()->account_id() != 0) ApplyAccount(v);
  else ApplySystem(v);
}

void ReportTally::ApplyAccount(const events::EventView& v) {
  const fb::Envelope* e = v.envelope();
  const uint64_t id = e->account_id();
  const int month = MonthNumber(e->occurred_at_ms());
  AccountState& st = accounts_[id];
  const AccountStatus before = st.status;
  accountable::Apply(st, v);
  if (st.status != before) {
    auto& delta = status_delta_[month];
    delta[size_t(before)] -= 1;
    delta[size_t(st.status)] += 1;
  }
  switch (v.type()) {
    case fb::Payload::Registered: {
      ++registrations_[month];
      if (Policy* p = FindPolicy(Str(e->payload_as_Registered()->policy_version()))) p->explicit_accept.Add(id);
      auto& given = consents_[month][0];
      if (auto* c = e->payload_as_Registered()->consents())
        for (auto purpose : *c)
          if (size_t(purpose) < kPurposeCount) given[size_t(purpose)].Add(id);
      break;
    }
    case fb::Payload::DeletionRequested: deletion_requested_ms_[id] = e->occurred_at_ms(); break;
    case fb::Payload::DeletionCancelled: deletion_requested_ms_.erase(id); break;
    case fb::Payload::AccountErased: {
      const auto reason = e->payload_as_AccountErased()->reason();
      Erasure er{.month = month, .reason = int(reason)};
      auto req = deletion_requested_ms_.find(id);
      if (reason == fb::ErasureReason::UserRequest && req != deletion_requested_ms_.end())
        er.requested_ms = req->second;
      erasures_[e->seq()] = er;
      break;
    }
    case fb::Payload::ConsentGiven:
    case fb::Payload::ConsentWithdrawn: ApplyConsent(v); break;
    case fb::Payload::DisclosureRecorded: {
      const auto* d = e->payload_as_DisclosureRecorded();
      auto r = recipients_.find(d->recipient_id());
      if (r != recipients_.end()) r->second.disclosures.Add(id);
      by_country_[Str(d->country())].Add(id);
      by_basis_[LegalBasisName(d->legal_basis())].Add(id);
      by_safeguard_[std::string(events::SafeguardName(d->safeguard_kind()))].Add(id);
      break;
    }
    default: break;
  }
}

void ReportTally::ApplyConsent(const events::EventView& v) {
  const fb::Envelope* e = v.envelope();
  const int month = MonthNumber(e->occurred_at_ms());
  if (v.type() == fb::Payload::ConsentGiven) {
    const auto* c = e->payload_as_ConsentGiven();
    if (size_t(c->purpose()) < kPurposeCount) consents_[month][0][size_t(c->purpose())].Add(e->account_id());
    if (c->purpose() == fb::Purpose::PrivacyPolicy)
      if (Policy* p = FindPolicy(Str(c->policy_version())))
        (c->implicit() ? p->implicit_accept : p->explicit_accept).Add(e->account_id());
    return;
  }
  const auto* c = e->payload_as_ConsentWithdrawn();
  if (size_t(c->purpose()) < kPurposeCount) consents_[month][1][size_t(c->purpose())].Add(e->account_id());
}

void ReportTally::ApplySystem(const events::EventView& v) {
  const fb::Envelope* e = v.envelope();
  switch (v.type()) {
    case fb::Payload::PolicyPublished: {
      const auto* p = e->payload_as_PolicyPublished();
      const int64_t effective = p->effective_at_ms() != 0 ? p->effective_at_ms() : p->published_at_ms();
      policies_.push_back({.version = Str(p->version()), .effective_ms = effective,
                           .published_ms = p->published_at_ms()});
      break;
    }
    case fb::Payload::RecipientRegistered: {
      const auto* r = e->payload_as_RecipientRegistered();
      recipients_[e->seq()] = {.name = Str(r->name()), .country = Str(r->country())};
      break;
    }
    case fb::Payload::AccessLogged: access_days_.insert(e->payload_as_AccessLogged()->day()); break;
    default: break;
  }
}

ReportTally::Policy* ReportTally::FindPolicy(const std::string& version) {
  // A handful of versions: a linear search is cheaper than a map. Versions
  // are compared as spelled: the projector refuses another spelling of one.
  for (auto& p : policies_)
    if (p.version == version) return &p;
  return nullptr;
}

}  // namespace accountable::audit
