// The compliance report's charts (projections/report/report_html.cc writes the page).
// Reads the chart specifications from <script id="report-data">, draws each
// with Chart.js without animation (so a canvas is complete before printing
// or a screenshot), then marks <html> with data-charts (how many) and
// data-charts-drawn (how many canvases hold pixels): the browser test reads
// them. Errors set data-errors, blocked loads data-csp-violations.
(function () {
  'use strict';
  var root = document.documentElement;
  // Every problem the page can see counts: uncaught errors, rejected
  // promises, console errors and blocked loads (a CSP violation).
  var errors = 0, violations = 0;
  function error() {
    errors += 1;
    root.setAttribute('data-errors', String(errors));
  }
  window.addEventListener('error', error);
  window.addEventListener('unhandledrejection', error);
  var consoleError = console.error;
  console.error = function () {
    error();
    return consoleError.apply(console, arguments);
  };
  document.addEventListener('securitypolicyviolation', function () {
    violations += 1;
    root.setAttribute('data-csp-violations', String(violations));
  });
  var palette = ['#1b6ca8', '#d1495b', '#66a182', '#edae49', '#6b4e9b', '#2e4057', '#8d96a3', '#00798c'];
  // Dashed vertical lines at the months policy versions took effect.
  var markers = {
    id: 'policyMarkers',
    afterDatasetsDraw: function (chart, args, opts) {
      var list = (opts && opts.list) || [];
      if (!list.length) return;
      var x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
      ctx.save();
      ctx.setLineDash([4, 4]);
      ctx.strokeStyle = '#333';
      ctx.fillStyle = '#333';
      ctx.font = '11px sans-serif';
      list.forEach(function (m) {
        var px = x.getPixelForValue(m.index);
        ctx.beginPath();
        ctx.moveTo(px, area.top);
        ctx.lineTo(px, area.bottom);
        ctx.stroke();
        ctx.fillText('policy ' + m.label, px + 3, area.top + 10);
      });
      ctx.restore();
    }
  };
  function make(spec) {
    var stacked = spec.type === 'stacked';
    var datasets = spec.datasets.map(function (d, i) {
      var c = palette[i % palette.length];
      return { label: d.label, data: d.data, backgroundColor: c, borderColor: c, borderWidth: spec.type === 'line' ? 2 : 0 };
    });
    return new Chart(document.getElementById('chart-' + spec.id), {
      type: spec.type === 'line' ? 'line' : 'bar',
      data: { labels: spec.labels, datasets: datasets },
      plugins: [markers],
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { stacked: stacked },
          y: { stacked: stacked, beginAtZero: true, ticks: { precision: 0 } }
        },
        plugins: { legend: { position: 'bottom' }, policyMarkers: { list: spec.markers } }
      }
    });
  }
  function drawn(chart) {
    var c = chart.canvas;
    if (!c.width || !c.height) return false;
    var px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (var i = 3; i < px.length; i += 4) if (px[i] !== 0) return true;
    return false;
  }
  var specs = JSON.parse(document.getElementById('report-data').textContent);
  var charts = specs.map(make);
  root.setAttribute('data-charts', String(specs.length));
  root.setAttribute('data-charts-drawn', String(charts.filter(drawn).length));
  // Printing lays the page out anew: redraw each chart at its printed size.
  function resizeAll() { charts.forEach(function (c) { c.resize(); }); }
  window.addEventListener('beforeprint', resizeAll);
  window.addEventListener('afterprint', resizeAll);
})();
