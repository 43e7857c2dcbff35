/* modelyard UI: an experiment's charts view (uPlot, vendored, MIT).

   #chart-grid names the panel endpoint (data-src, which carries the runs
   query) and the view (data-x, data-smooth, data-log). Each .panel-chart is
   filled when it scrolls near: one request per panel, at most a few at once.
   A line panel is drawn in uPlot's mode 2 (each run keeps its own x values),
   so 1,000 runs on a wall-time axis need no shared x array. A single-value
   panel is a list of bars. Smoothing (EMA) and the log scale redraw from the
   points already fetched, and are written back into the URL. */
(function () {
  "use strict";
  var COLORS = ["#2456d6", "#e8590c", "#2f9e44", "#c2255c", "#7048e8",
                "#0c8599", "#a07400", "#5c6b7a", "#d6336c", "#364fc7",
                "#66a80f", "#f08c00", "#1098ad", "#ae3ec9", "#e03131",
                "#495057", "#5f3dc4", "#087f5b", "#d9480f", "#1864ab"];
  var MAX_IN_FLIGHT = 4;

  function load(url) {
    return fetch(url, { headers: { accept: "application/json" } }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.message || ("HTTP " + r.status));
        return body;
      });
    });
  }

  /* Debiased exponential moving average (as TensorBoard smooths): the first
     points are not pulled towards zero. Gaps (null) are kept as gaps. */
  function smooth(ys, weight) {
    if (!weight) return ys;
    var out = new Array(ys.length), last = 0, n = 0;
    for (var i = 0; i < ys.length; i++) {
      var y = ys[i];
      if (y == null || !isFinite(y)) { out[i] = y; continue; }
      last = last * weight + (1 - weight) * y;
      n++;
      out[i] = last / (1 - Math.pow(weight, n));
    }
    return out;
  }

  function positive(ys) {
    return ys.map(function (y) { return y != null && y > 0 ? y : null; });
  }

  function Grid(grid) {
    this.grid = grid;
    this.src = grid.getAttribute("data-src");
    this.x = grid.getAttribute("data-x");
    this.weight = Number(grid.getAttribute("data-smooth")) || 0;
    this.log = grid.getAttribute("data-log") === "1";
    this.panels = [];
    this.queue = [];
    this.inFlight = 0;
  }

  Grid.prototype.url = function (key) {
    var sep = this.src.indexOf("?") >= 0 ? "&" : "?";
    return this.src + sep + "key=" + encodeURIComponent(key) + "&x=" + encodeURIComponent(this.x);
  };

  Grid.prototype.request = function (panel) {
    this.queue.push(panel);
    this.pump();
  };

  Grid.prototype.pump = function () {
    var self = this;
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length) {
      var panel = this.queue.shift();
      this.inFlight++;
      (function (panel) {
        load(self.url(panel.key)).then(function (body) {
          panel.body = body;
          self.draw(panel);
        }, function (err) {
          panel.el.textContent = "";
          var p = document.createElement("p");
          p.className = "chart-error";
          p.textContent = "Could not load this chart: " + err.message;
          panel.el.appendChild(p);
          panel.el.setAttribute("data-ready", "error");
        }).then(function () { self.inFlight--; self.pump(); });
      })(panel);
    }
  };

  Grid.prototype.draw = function (panel) {
    var body = panel.body;
    if (!body) return;
    if (panel.plot) { panel.plot.destroy(); panel.plot = null; }
    panel.el.textContent = "";
    panel.el.setAttribute("data-kind", body.kind);
    if (!body.series.length) {
      panel.note.textContent = "no run shown here has this metric";
    } else if (body.kind === "bar") {
      this.drawBars(panel, body);
    } else {
      this.drawLines(panel, body);
    }
    panel.el.setAttribute("data-ready", "1");
  };

  Grid.prototype.drawBars = function (panel, body) {
    var values = body.series.map(function (s) { return s.value; }).filter(function (v) { return v != null; });
    var max = Math.max.apply(null, values.map(Math.abs).concat([0]));
    var list = document.createElement("ol");
    list.className = "bars";
    body.series.forEach(function (s) {
      var li = document.createElement("li");
      li.setAttribute("data-run-id", s.run_id);
      var name = document.createElement("span");
      name.className = "bar-name";
      name.textContent = s.name;
      var track = document.createElement("span");
      track.className = "bar-track";
      var bar = document.createElement("span");
      bar.className = "bar swatch-" + s.color;
      // Width through the CSSOM: allowed by the page's CSP (no inline styles).
      bar.style.width = (max > 0 && s.value != null ? Math.abs(s.value) / max * 100 : 0) + "%";
      track.appendChild(bar);
      var value = document.createElement("span");
      value.className = "bar-value num";
      value.textContent = s.value == null ? "—" : Number(s.value.toPrecision(6)).toString();
      li.appendChild(name); li.appendChild(track); li.appendChild(value);
      list.appendChild(li);
    });
    panel.el.appendChild(list);
    var n = body.series.length;
    panel.note.textContent = "one value per run · " + n + " run" + (n === 1 ? "" : "s");
  };

  Grid.prototype.drawLines = function (panel, body) {
    var self = this;
    var byTime = body.x === "time";
    var data = [null];
    var series = [{}];
    var total = 0, shown = 0, down = false;
    body.series.forEach(function (s) {
      var ys = smooth(s.y, self.weight);
      if (self.log) ys = positive(ys);
      data.push([s.x, ys]);
      series.push({
        label: s.name,
        stroke: COLORS[s.color % COLORS.length],
        width: 1.25,
        spanGaps: true,
        points: { show: false },
        facets: [{ scale: "x", auto: true }, { scale: "y", auto: true }],
      });
      total += s.total; shown += s.x.length; down = down || s.downsampled;
    });
    var opts = {
      mode: 2,
      width: Math.max(panel.el.clientWidth, 200),
      height: 240,
      legend: { show: false },
      scales: {
        x: { time: byTime, auto: true },
        y: { auto: true, distr: self.log ? 3 : 1 },
      },
      axes: [
        { label: body.x === "step" ? "step" : (body.x === "relative" ? "seconds since start" : "") },
        {},
      ],
      series: series,
      cursor: { drag: { x: true, y: false }, points: { show: false } },
    };
    panel.plot = new uPlot(opts, data, panel.el);
    var n = body.series.length;
    var note = n + " run" + (n === 1 ? "" : "s") + ", " + total.toLocaleString() + " points";
    if (down) note += ", drawn from " + shown.toLocaleString() + " (min/max of each bucket kept)";
    if (self.weight) note += " · smoothed " + self.weight.toFixed(2);
    panel.note.textContent = note;
  };

  /* At most one redraw per frame: a slider sends many input events, and a
     thousand runs on twenty panels take a frame or more to draw. */
  Grid.prototype.redrawAll = function () {
    var self = this;
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(function () { self.pending = false; self.redrawNow(); });
  };

  Grid.prototype.redrawNow = function () {
    var self = this;
    this.panels.forEach(function (p) { self.draw(p); });
    var url = new URL(location.href);
    if (this.weight) url.searchParams.set("smooth", String(this.weight)); else url.searchParams.delete("smooth");
    if (this.log) url.searchParams.set("log", "1"); else url.searchParams.delete("log");
    history.replaceState(null, "", url.toString());
    // Links built on the server (x axis, panel order) carry the new view too.
    document.querySelectorAll(".chart-controls .segmented a, .panel-tools a").forEach(function (a) {
      var link = new URL(a.href);
      if (self.weight) link.searchParams.set("smooth", String(self.weight)); else link.searchParams.delete("smooth");
      if (self.log) link.searchParams.set("log", "1"); else link.searchParams.delete("log");
      a.href = link.toString();
    });
  };

  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("chart-grid");
    if (!el) return;
    var grid = new Grid(el);
    el.querySelectorAll(".panel").forEach(function (fig) {
      grid.panels.push({
        key: fig.getAttribute("data-key"),
        el: fig.querySelector(".panel-chart"),
        note: fig.querySelector(".chart-note"),
        body: null,
        plot: null,
      });
    });
    var slider = document.getElementById("smoothing");
    var output = document.getElementById("smoothing-value");
    if (slider) {
      slider.addEventListener("input", function () {
        grid.weight = Number(slider.value) || 0;
        output.textContent = grid.weight.toFixed(2);
        grid.redrawAll();
      });
    }
    var log = document.getElementById("log-scale");
    if (log) {
      log.addEventListener("change", function () { grid.log = log.checked; grid.redrawAll(); });
    }
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        grid.panels.forEach(function (p) {
          if (p.plot) p.plot.setSize({ width: Math.max(p.el.clientWidth, 200), height: 240 });
        });
      }).observe(el);
    }
    if (!("IntersectionObserver" in window)) { grid.panels.forEach(function (p) { grid.request(p); }); return; }
    var byEl = new Map(grid.panels.map(function (p) { return [p.el, p]; }));
    var io = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        if (e.isIntersecting) { io.unobserve(e.target); grid.request(byEl.get(e.target)); }
      });
    }, { rootMargin: "400px 0px" });
    grid.panels.forEach(function (p) { io.observe(p.el); });
  });
})();
