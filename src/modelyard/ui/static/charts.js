/* modelyard UI: metric charts drawn with uPlot (vendored, MIT).

   Each .chart element names a metric (data-key), one or more runs (data-runs,
   comma-separated) and an x axis (data-x: step | time). Points come from
   /ui/series: every point up to a large bound, min/max-preserving buckets
   beyond it. Dragging across a chart zooms; when the series was downsampled
   the visible range is fetched again, so detail appears as you zoom in.
   Double-click returns to the whole series. */
(function () {
  "use strict";
  var COLORS = ["#2456d6", "#e8590c", "#2f9e44", "#c2255c", "#7048e8",
                "#0c8599", "#a07400", "#5c6b7a", "#d6336c", "#364fc7"];

  function seriesUrl(el, lo, hi) {
    var params = new URLSearchParams();
    params.set("key", el.getAttribute("data-key"));
    params.set("x", el.getAttribute("data-x"));
    el.getAttribute("data-runs").split(",").forEach(function (r) { if (r) params.append("run", r); });
    if (lo != null) params.set("lo", String(lo));
    if (hi != null) params.set("hi", String(hi));
    return "/ui/series?" + params.toString();
  }

  function load(url) {
    return fetch(url, { headers: { accept: "application/json" } }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.message || ("HTTP " + r.status));
        return body;
      });
    });
  }

  /* uPlot wants one shared x array: align the runs' series on it. */
  function toData(body) {
    var list = body.series;
    if (list.length === 1) return [list[0].x, list[0].y];
    return uPlot.join(list.map(function (s) { return [s.x, s.y]; }));
  }

  function describe(body) {
    var total = 0, shown = 0, down = false;
    body.series.forEach(function (s) { total += s.total; shown += s.x.length; down = down || s.downsampled; });
    var n = total.toLocaleString() + " point" + (total === 1 ? "" : "s");
    return down ? n + ", drawn from " + shown.toLocaleString() + " (min/max of each bucket kept)" : n;
  }

  function draw(el) {
    var box = el.closest(".chart-box");
    var note = box ? box.querySelector(".chart-note") : null;
    var byTime = el.getAttribute("data-x") === "time";
    load(seriesUrl(el)).then(function (full) {
      var downsampled = full.series.some(function (s) { return s.downsampled; });
      var series = [{ label: byTime ? "time" : "step" }];
      full.series.forEach(function (s, i) {
        series.push({
          label: full.series.length > 1 ? (s.name || s.run_id) : el.getAttribute("data-key"),
          stroke: COLORS[i % COLORS.length],
          width: 1.5,
          spanGaps: true,
        });
      });
      var ready = false, applying = false, pending = null, zoomed = false, asked = 0;
      var fullData = toData(full);
      var fullMin = fullData[0][0], fullMax = fullData[0][fullData[0].length - 1];
      var opts = {
        width: Math.max(el.clientWidth, 200),
        height: 260,
        scales: { x: { time: byTime } },
        axes: [{ label: byTime ? "" : "step" }, {}],
        series: series,
        cursor: { drag: { x: true, y: false } },
        hooks: {
          setScale: [function (u, key) {
            if (key !== "x" || !ready || applying || !downsampled) return;
            var lo = u.scales.x.min, hi = u.scales.x.max;
            if (lo <= fullMin && hi >= fullMax) return;
            clearTimeout(pending);
            pending = setTimeout(function () {
              var ticket = ++asked;
              zoomed = true;
              load(seriesUrl(el, lo, hi)).then(function (part) {
                if (ticket !== asked || !zoomed) return;  // a newer zoom, or zoomed out
                applying = true;
                try { u.setData(toData(part), false); u.setScale("x", { min: lo, max: hi }); }
                finally { applying = false; }
                if (note) note.textContent = "zoomed: " + describe(part);
              });
            }, 120);
          }],
        },
      };
      el.textContent = "";
      var plot = new uPlot(opts, fullData, el);
      ready = true;
      plot.over.addEventListener("dblclick", function () {
        clearTimeout(pending);
        if (!zoomed) return;
        zoomed = false;
        applying = true;
        try { plot.setData(fullData, true); } finally { applying = false; }
        if (note) note.textContent = describe(full);
      });
      if (note) note.textContent = describe(full);
      if (window.ResizeObserver) {
        new ResizeObserver(function () {
          var w = Math.max(el.clientWidth, 200);
          if (w !== plot.width) plot.setSize({ width: w, height: 260 });
        }).observe(el);
      }
      el.setAttribute("data-ready", "1");
    }, function (err) {
      el.textContent = "";
      var p = document.createElement("p");
      p.className = "chart-error";
      p.textContent = "Could not load this chart: " + err.message;
      el.appendChild(p);
      el.setAttribute("data-ready", "error");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var charts = document.querySelectorAll(".chart[data-key]");
    if (!("IntersectionObserver" in window)) { charts.forEach(draw); return; }
    // Charts far below the fold load when scrolled near, so a run with a
    // hundred metrics does not fetch a hundred series at once.
    var io = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        if (e.isIntersecting) { io.unobserve(e.target); draw(e.target); }
      });
    }, { rootMargin: "600px 0px" });
    charts.forEach(function (c) { io.observe(c); });
  });
})();
