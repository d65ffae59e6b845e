// Draws the station charts from the JSON API (same session cookie) with the vendored uPlot.
(function () {
  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = "/static/uplot.css";
  document.head.appendChild(css);

  function width(el) { return Math.max(280, el.clientWidth - 8); }

  function draw(el, data, bars) {
    var tz = el.getAttribute("data-tz");
    var opts = {
      width: width(el),
      height: 220,
      legend: { show: false },
      // Times in the county's zone, not the browser's; energy and power start at zero.
      tzDate: tz ? function (ts) { return uPlot.tzDate(new Date(ts * 1e3), tz); } : undefined,
      scales: { x: { time: !bars }, y: { range: function (u, min, max) { return [0, Math.max(1, max) * 1.1]; } } },
      axes: [{}, { size: 60 }],
      series: [{}, { stroke: "#17456b", fill: "rgba(23,69,107,0.25)", width: 1.5, points: { show: false },
        paths: bars && uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 40] }) : undefined }]
    };
    if (bars) {
      var labels = data.labels;
      opts.axes[0] = { values: function (u, splits) { return splits.map(function (i) { return labels[i] || ""; }); } };
    }
    el.innerHTML = "";
    new uPlot(opts, [data.x, data.y], el);
    el.setAttribute("data-drawn", String(data.x.length));
  }

  document.querySelectorAll(".chart").forEach(function (el) {
    fetch(el.getAttribute("data-url"), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (body) {
        var bars = el.getAttribute("data-kind") === "bars";
        var pts = body.points || [];
        var data;
        if (bars) {
          data = { x: pts.map(function (p, i) { return i; }), y: pts.map(function (p) { return p.energy_kwh; }),
                   labels: pts.map(function (p) { return p.period.slice(5); }) };
        } else {
          data = { x: pts.map(function (p) { return Date.parse(p.ts) / 1000; }), y: pts.map(function (p) { return p.power_w / 1000; }) };
        }
        draw(el, data, bars);
      })
      .catch(function (e) { el.textContent = "— (" + e.message + ")"; el.setAttribute("data-drawn", "error"); });
  });
})();
