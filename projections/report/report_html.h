// RenderReportHtml: one self-contained HTML page from ReportData. Scripts
// and style sheet are inlined (report_assets.h); a Content-Security-Policy
// meta tag forbids every remote load (default-src 'none', scripts allowed
// only by their SHA-256, images only as data: URLs). Every chart's numbers
// also stand in a table; a suppressed cell reads "< 5" and is not drawn.
//
//   std::string html = audit::RenderReportHtml(data);
//
// Every text from the log (policy versions, recipient names, ISO codes) is
// HTML-escaped, and the chart data is JSON with '<' escaped, so no log
// content can end a script or inject markup.
//
// Thread safety: pure function.
#pragma once

#include <string>

#include "projections/report/report_data.h"

namespace accountable::audit {

std::string RenderReportHtml(const ReportData& data);

// The page's Content-Security-Policy (its meta tag; accountabled also sends
// it as a header): no remote load, scripts only by their SHA-256.
std::string ReportCsp();

// "&<>\"'" as entities; the one escape every text of the page goes through.
std::string HtmlEscape(std::string_view text);

}  // namespace accountable::audit
