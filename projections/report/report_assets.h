// The report's inlined assets: Chart.js (Debian libjs-chart.js), the
// report's own script (projections/report/report.js) and style sheet (projections/report/report.css),
// embedded at build time by projections/report/embed_assets.cmake. A report never reads
// a file to render, and opens without any network access.
//
//   html += "<script>" + std::string(kChartJs) + "</script>";
//
// Thread safety: constants.
#pragma once

#include <string_view>

namespace accountable::audit {

extern const std::string_view kChartJs;
extern const std::string_view kReportJs;
extern const std::string_view kReportCss;

}  // namespace accountable::audit
