// MetricsServer: civetweb serves the three paths; prometheus-cpp's data
// model and text serializer render /metrics from the stats structs at
// scrape time. civetweb directly rather than prometheus::Exposer: the
// exposer serves only registries, so /readyz could not answer 503.
#include "server/daemon/metrics.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

// Boost 1.74 awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <charconv>
#include <limits>
#include <string_view>
#include <vector>

#include "events/event.h"

namespace accountable {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric Value(double v, MetricType type, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) m.counter.value = v;
  else m.gauge.value = v;
  return m;
}

void AddScalar(std::vector<MetricFamily>* out, std::string name, std::string help, MetricType type, double v) {
  MetricFamily f = Family(std::move(name), std::move(help), type);
  f.metric.push_back(Value(v, type));
  out->push_back(std::move(f));
}

// scale: from the histogram's unit to the metric's (1e-6: microseconds to seconds).
ClientMetric Histogram(const HistogramSnapshot& h, double scale, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.histogram.sample_count = h.count;
  m.histogram.sample_sum = static_cast<double>(h.sum) * scale;
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= h.buckets; ++i) {
    cumulative += h.counts[i];
    const double bound = i < h.buckets ? static_cast<double>(h.bounds[i]) * scale
                                       : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back({cumulative, bound});
  }
  // +Inf must equal the count; a bucket bumped after count was read would break that.
  m.histogram.sample_count = std::max(m.histogram.sample_count, cumulative);
  return m;
}

void AddHistogram(std::vector<MetricFamily>* out, std::string name, std::string help, const AtomicHistogram& h,
                  double scale) {
  MetricFamily f = Family(std::move(name), std::move(help), MetricType::Histogram);
  f.metric.push_back(Histogram(h.Snapshot(), scale));
  out->push_back(std::move(f));
}

void AddLedger(std::vector<MetricFamily>* out, const LedgerStats& st) {
  MetricFamily appends = Family("accountable_appends_total", "Events made durable, by event type", MetricType::Counter);
  for (size_t t = 1; t < kPayloadTypesMax; ++t) {
    const std::string_view name = events::PayloadName(static_cast<fb::Payload>(t));
    const uint64_t n = st.appends_by_type[t].load(std::memory_order_relaxed);
    if (name == "unknown" && n == 0) continue;  // past the schema: only shown if seen
    appends.metric.push_back(Value(static_cast<double>(n), MetricType::Counter, {{"type", std::string(name)}}));
  }
  out->push_back(std::move(appends));
  AddHistogram(out, "accountable_group_commit_events", "Events per group commit (one WriteBatch, one fsync)",
               st.group_events, 1.0);
  AddHistogram(out, "accountable_fsync_seconds", "Synced write of one group commit (WAL append and fsync)",
               st.fsync_us, 1e-6);
  AddScalar(out, "accountable_storage_errors_total", "Group commits that failed to write (disk full, I/O error)",
            MetricType::Counter, static_cast<double>(st.storage_errors.load(std::memory_order_relaxed)));
  AddScalar(out, "accountable_request_id_reads_total",
            "The writer's request id checks that read the event DB (the rest were answered in memory)",
            MetricType::Counter, static_cast<double>(st.request_id_reads.load(std::memory_order_relaxed)));
}

void AddErasure(std::vector<MetricFamily>* out, const ErasureStats& st) {
  auto load = [](const std::atomic<uint64_t>& a) { return static_cast<double>(a.load(std::memory_order_relaxed)); };
  AddHistogram(out, "accountable_sweep_seconds", "Erasure sweeps (timer, deletion deadline, admin request)",
               st.sweep_us, 1e-6);
  AddHistogram(out, "accountable_erase_seconds", "Immediate admin erasures (Accounts::Erase)", st.erase_us, 1e-6);
  MetricFamily failed = Family("accountable_erasure_pass_failures_total", "Sweeps and erasures that returned an error",
                               MetricType::Counter);
  failed.metric.push_back(Value(load(st.sweep_failures), MetricType::Counter, {{"kind", "sweep"}}));
  failed.metric.push_back(Value(load(st.erase_failures), MetricType::Counter, {{"kind", "erase"}}));
  out->push_back(std::move(failed));
  const MetricType c = MetricType::Counter;
  AddScalar(out, "accountable_accounts_erased_total", "AccountErased events appended by sweeps and erasures", c,
            load(st.accounts_erased));
  AddScalar(out, "accountable_day_keys_shredded_total", "Access-log day keys destroyed", c, load(st.days_shredded));
  AddScalar(out, "accountable_vault_scans_total", "Byte scans of the vault proving a shred", c, load(st.scans));
  AddScalar(out, "accountable_vault_scan_files_total", "Files read by vault byte scans", c, load(st.scan_files));
  AddScalar(out, "accountable_vault_scan_bytes_total", "Bytes read by vault byte scans", c, load(st.scan_bytes));
  AddScalar(out, "accountable_vault_scan_hits_total", "Shredded key bytes still found by a vault scan (must stay 0)",
            c, load(st.scan_hits));
}

void AddServer(std::vector<MetricFamily>* out, Server& server, bool ready) {
  const ServerGauges g = server.Gauges();
  MetricFamily conns = Family("accountable_connections", "Open client connections", MetricType::Gauge);
  conns.metric.push_back(Value(static_cast<double>(g.connections), MetricType::Gauge, {{"state", "authenticated"}}));
  conns.metric.push_back(
      Value(static_cast<double>(g.unauthenticated), MetricType::Gauge, {{"state", "unauthenticated"}}));
  out->push_back(std::move(conns));
  AddScalar(out, "accountable_subscribers", "Connections with a live subscription", MetricType::Gauge,
            static_cast<double>(g.subscribers));
  AddScalar(out, "accountable_subscriber_lag_events", "Events the furthest-behind subscriber has not been sent",
            MetricType::Gauge, static_cast<double>(g.subscriber_lag_events_max));
  AddScalar(out, "accountable_ready", "1 when /readyz answers 200", MetricType::Gauge, ready ? 1 : 0);
  MetricFamily req = Family("accountable_request_seconds", "From a request frame read to its response ready, by operation",
                            MetricType::Histogram);
  for (size_t i = 0; i <= static_cast<size_t>(wire::Body::MAX); ++i) {
    const auto op = static_cast<wire::Body>(i);
    const AtomicHistogram* h = server.RequestLatency(op);
    if (!h) continue;
    HistogramSnapshot snap = h->Snapshot();
    if (snap.count == 0) continue;  // ~35 operations x 17 buckets: only those used
    // NONE's slot also holds body types past the schema (ServerImpl::ObserveRequest).
    const std::string name = op == wire::Body::NONE ? "unknown" : std::string(wire::BodyName(op));
    req.metric.push_back(Histogram(snap, 1e-6, {{"op", name}}));
  }
  out->push_back(std::move(req));
}

}  // namespace

bool Ready(const MetricsSources& src, std::string* why) {
  if (!src.server->Gauges().accepting) {
    *why = "server stopping";
    return false;
  }
  if (!src.accounts->ledger().Writable()) {
    *why = "ledger not writable (closing, or a storage error not yet recovered)";
    return false;
  }
  *why = "ready";
  return true;
}

std::string RenderMetrics(const MetricsSources& src) {
  std::vector<MetricFamily> families;
  std::string why;
  AddServer(&families, *src.server, Ready(src, &why));
  AddScalar(&families, "accountable_last_seq", "Events in the log (the last seq)", MetricType::Gauge,
            static_cast<double>(src.accounts->ledger().LastSeq()));
  AddScalar(&families, "accountable_signed_tree_size", "Size of the latest signed tree head", MetricType::Gauge,
            static_cast<double>(src.accounts->SignedTreeSize()));
  AddScalar(&families, "accountable_signed_tree_timestamp_seconds", "When the latest tree head was signed (Unix time)",
            MetricType::Gauge, static_cast<double>(src.accounts->signed_at_ms()) / 1000.0);
  if (src.ledger) AddLedger(&families, *src.ledger);
  if (src.erasure) AddErasure(&families, *src.erasure);
  return prometheus::TextSerializer().Serialize(families);
}

Status ParseHostPort(const std::string& flag, const std::string& text, std::string* host, uint16_t* port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return Status::InvalidArgument(flag + ": expected HOST:PORT, e.g. 127.0.0.1:9400");
  *host = text.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  const std::string p = text.substr(colon + 1);
  unsigned v = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || v > 65535)
    return Status::InvalidArgument(flag + ": port must be 0..65535");
  *port = static_cast<uint16_t>(v);
  boost::system::error_code bad_ip;
  boost::asio::ip::make_address(*host, bad_ip);
  if (bad_ip) return Status::InvalidArgument(flag + ": not an IP address: " + *host);
  return Status::OK();
}

}  // namespace accountable
