// RenderReportHtml: the page. Layout: header, table of contents, integrity,
// then one <section> per ReportData section with, per table, a canvas (the
// chart), the table of the same numbers, and how it is computed.
#include "projections/report/report_html.h"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include "events/vocabulary.h"
#include "projections/report/report_assets.h"

namespace accountable::audit {

namespace {

std::string Sha256B64(std::string_view text) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(b64, sizeof b64, h, sizeof h, sodium_base64_VARIANT_ORIGINAL);
  return b64;
}

std::string CellText(const Cell& c) { return c.Suppressed() ? "&lt; 5" : std::to_string(c.n); }

// The chart data: suppressed cells become null (a gap, never a number).
nlohmann::json ChartSpec(const Table& t) {
  nlohmann::json datasets = nlohmann::json::array();
  for (auto& s : t.series) {
    nlohmann::json data = nlohmann::json::array();
    for (auto& c : s.cells) data.push_back(c.Suppressed() ? nlohmann::json(nullptr) : nlohmann::json(c.n));
    datasets.push_back({{"label", s.label}, {"data", data}});
  }
  nlohmann::json markers = nlohmann::json::array();
  for (auto& [index, label] : t.markers) markers.push_back({{"index", index}, {"label", label}});
  return {{"id", t.id}, {"type", t.chart}, {"labels", t.columns}, {"datasets", datasets}, {"markers", markers}};
}

// JSON inside <script type="application/json">: no '<' may end the element.
std::string ScriptSafeJson(const nlohmann::json& j) {
  std::string out;
  for (char c : j.dump()) {
    if (c == '<') out += "\\u003c";
    else out += c;
  }
  return out;
}

void RenderTable(const Table& t, std::string* h) {
  // Long tables scroll on screen and print in full (report.css).
  *h += "<div class=\"rows\"><table><thead><tr><th scope=\"col\">" + HtmlEscape(t.column_head) + "</th>";
  for (auto& s : t.series) *h += "<th scope=\"col\">" + HtmlEscape(s.label) + "</th>";
  if (!t.column_notes.empty()) *h += "<th scope=\"col\">" + HtmlEscape(t.column_notes_label) + "</th>";
  *h += "</tr></thead><tbody>";
  for (size_t i = 0; i < t.columns.size(); ++i) {
    *h += "<tr><th scope=\"row\">" + HtmlEscape(t.columns[i]) + "</th>";
    for (auto& s : t.series) *h += "<td>" + (i < s.cells.size() ? CellText(s.cells[i]) : std::string()) + "</td>";
    if (i < t.column_notes.size()) *h += "<td class=\"note\">" + HtmlEscape(t.column_notes[i]) + "</td>";
    *h += "</tr>";
  }
  if (t.columns.empty()) *h += "<tr><td colspan=\"" + std::to_string(t.series.size() + 1) + "\">none</td></tr>";
  *h += "</tbody></table></div>";
}

void RenderFigure(const Table& t, nlohmann::json* specs, std::string* h) {
  *h += "<figure id=\"" + HtmlEscape(t.id) + "\"><h3>" + HtmlEscape(t.title) + "</h3>";
  if (!t.chart.empty() && !t.columns.empty()) {
    *h += "<div class=\"chart\"><canvas id=\"chart-" + HtmlEscape(t.id) + "\" role=\"img\" aria-label=\"" +
          HtmlEscape(t.title) + ": chart; the same numbers are in the table below\"></canvas></div>";
    specs->push_back(ChartSpec(t));
  }
  if (!t.note.empty()) *h += "<figcaption>" + HtmlEscape(t.note) + "</figcaption>";
  RenderTable(t, h);
  *h += "</figure>";
}

void RenderIntegrity(const ReportData& d, std::string* h) {
  const Integrity& in = d.integrity;
  const bool ok = in.verified && (!in.head_checked || in.head_ok);
  *h += "<section id=\"integrity\"><h2>Integrity</h2><p class=\"status " + std::string(ok ? "ok\">" : "bad\">") +
        (ok ? "The log verifies: every event is under the Merkle tree and its root."
            : "THE LOG DOES NOT VERIFY: the numbers below come from a log that failed its check.") +
        "</p><dl class=\"integrity\">";
  auto row = [&](const std::string& k, const std::string& v) {
    *h += "<dt>" + HtmlEscape(k) + "</dt><dd>" + HtmlEscape(v) + "</dd>";
  };
  row("tree size (events in the log)", std::to_string(in.tree_size));
  row("root of the whole log", in.root_b64);
  row("events up to the report's time", std::to_string(in.as_of_seq));
  row("root at that size", in.as_of_root_b64.empty() ? "(empty log)" : in.as_of_root_b64);
  row("full verify (every envelope re-hashed)", in.verified ? "passed" : "FAILED: " + in.verify_error);
  row("signed tree head",
      !in.head_checked ? "not checked: no public key given" : (in.head_ok ? "" : "FAILED: ") + in.head_detail);
  row("time of the check", events::FormatTime(in.checked_at_ms));
  *h += "</dl></section>";
}

void RenderHead(const ReportData& d, const std::string& csp, std::string* h) {
  *h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" "
        "content=\"" + csp + "\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta name=\"referrer\" content=\"no-referrer\">"
        "<title>Compliance report as of " + HtmlEscape(events::FormatTime(d.as_of_ms)) + "</title><style>" +
        std::string(kReportCss) + "</style></head><body>";
  *h += "<header><h1>Compliance report</h1><p>Computed from the event log as of " +
        HtmlEscape(events::FormatTime(d.as_of_ms)) + "; aggregates only, and any count of 1 to 4 accounts is "
        "shown as &lt; 5.</p></header><nav aria-label=\"contents\"><a href=\"#integrity\">Integrity</a>";
  for (auto& s : d.sections) *h += "<a href=\"#" + HtmlEscape(s.id) + "\">" + HtmlEscape(s.title) + "</a>";
  *h += "</nav><main>";
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string ReportCsp() {
  // The assets are constants: hash them once (Chart.js is ~200 KB).
  static const std::string csp = "default-src 'none'; script-src 'sha256-" + Sha256B64(kChartJs) + "' 'sha256-" + Sha256B64(kReportJs) +
         "'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";
  return csp;
}

std::string RenderReportHtml(const ReportData& d) {
  const std::string csp = ReportCsp();
  std::string h;
  h.reserve(kChartJs.size() + 256 * 1024);
  RenderHead(d, csp, &h);
  RenderIntegrity(d, &h);
  nlohmann::json specs = nlohmann::json::array();
  for (auto& s : d.sections) {
    h += "<section id=\"" + HtmlEscape(s.id) + "\"><h2>" + HtmlEscape(s.title) + "</h2>";
    if (!s.facts.empty()) {
      h += "<ul class=\"facts\">";
      for (auto& f : s.facts) h += "<li>" + HtmlEscape(f) + "</li>";
      h += "</ul>";
    }
    for (auto& t : s.tables) RenderFigure(t, &specs, &h);
    h += "</section>";
  }
  h += "<footer><p>Written by accountable-audit report. Charts: Chart.js, inlined; this page loads nothing "
       "from the network.</p></footer></main>";
  h += "<script type=\"application/json\" id=\"report-data\">" + ScriptSafeJson(specs) + "</script>";
  h += "<script>" + std::string(kChartJs) + "</script><script>" + std::string(kReportJs) + "</script>";
  h += "</body></html>\n";
  return h;
}

}  // namespace accountable::audit
