/* modelyard UI: parallel coordinates and a scatter over an experiment's runs.

   The data comes with the page (#plot-data, a JSON block the server wrote):
   runs (id, name, colour index) and columns (one value per run; categorical
   parameters list their categories). Both plots are drawn on a canvas with
   no library: a thousand polylines or points is a few milliseconds of 2D
   drawing. Hover shows the nearest run; a click opens it. Each canvas says
   what it drew in data-* attributes (for tests and assistive summaries). */
(function () {
  "use strict";
  var COLORS = ["#2456d6", "#e8590c", "#2f9e44", "#c2255c", "#7048e8",
                "#0c8599", "#a07400", "#5c6b7a", "#d6336c", "#364fc7",
                "#66a80f", "#f08c00", "#1098ad", "#ae3ec9", "#e03131",
                "#495057", "#5f3dc4", "#087f5b", "#d9480f", "#1864ab"];
  var INK = "#1f2933", MUTED = "#667085", GRID = "#e3e6eb";

  /* A column's scale: value -> [0, 1] (null when the run has no value). */
  function scaleOf(col) {
    if (!col.numeric) {
      var n = col.categories.length;
      return {
        pos: function (v) { var i = col.categories.indexOf(v); return i < 0 ? null : (n === 1 ? 0.5 : i / (n - 1)); },
        ticks: col.categories.map(function (c, i) { return [n === 1 ? 0.5 : i / (n - 1), c]; }),
      };
    }
    var vals = col.values.filter(function (v) { return v != null; });
    var lo = Math.min.apply(null, vals), hi = Math.max.apply(null, vals);
    if (!vals.length) { lo = 0; hi = 1; }
    if (lo === hi) { lo -= 0.5; hi += 0.5; }
    return {
      pos: function (v) { return v == null ? null : (v - lo) / (hi - lo); },
      ticks: niceTicks(lo, hi, 5).map(function (t) { return [(t - lo) / (hi - lo), fmt(t)]; }),
    };
  }

  function niceTicks(lo, hi, count) {
    var span = hi - lo, step = Math.pow(10, Math.floor(Math.log10(span / count)));
    var err = span / count / step;
    if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
    var out = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    return out;
  }

  function fmt(v) { return Number(v.toPrecision(4)).toString(); }

  function setup(canvas) {
    var ratio = window.devicePixelRatio || 1;
    var width = canvas.clientWidth, height = Number(canvas.getAttribute("height-css") || canvas.height);
    canvas.setAttribute("height-css", height);
    canvas.width = width * ratio; canvas.height = height * ratio;
    canvas.style.height = height + "px";
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = "12px system-ui, sans-serif";
    return { ctx: ctx, w: width, h: height };
  }

  function tip(el, canvas, x, y, text) {
    if (!text) { el.hidden = true; return; }
    el.textContent = text;
    el.hidden = false;
    el.style.left = Math.min(x + 12, canvas.clientWidth - el.offsetWidth) + "px";
    el.style.top = (y + 12) + "px";
  }

  /* -- parallel coordinates ---------------------------------------------- */
  function parallel(canvas, data, byId) {
    var axes = data.axes.map(function (id) { return byId[id]; }).filter(Boolean);
    var g = setup(canvas), ctx = g.ctx;
    var top = 28, bottom = g.h - 20, left = 60, right = g.w - 60;
    var xs = axes.map(function (_, i) { return axes.length === 1 ? (left + right) / 2 : left + i * (right - left) / (axes.length - 1); });
    var scales = axes.map(scaleOf);
    var lines = [];
    data.runs.forEach(function (run, r) {
      var pts = [];
      axes.forEach(function (col, a) {
        var p = scales[a].pos(col.values[r]);
        pts.push(p == null ? null : [xs[a], bottom - p * (bottom - top)]);
      });
      lines.push(pts);
    });
    function draw(highlight) {
      ctx.clearRect(0, 0, g.w, g.h);
      ctx.lineWidth = 1;
      lines.forEach(function (pts, r) {
        ctx.strokeStyle = COLORS[data.runs[r].color % COLORS.length];
        ctx.globalAlpha = highlight == null ? 0.75 : (highlight === r ? 1 : 0.15);
        ctx.lineWidth = highlight === r ? 2.5 : 1;
        ctx.beginPath();
        var pen = false;
        pts.forEach(function (p) {
          if (!p) { pen = false; return; }
          if (pen) ctx.lineTo(p[0], p[1]); else ctx.moveTo(p[0], p[1]);
          pen = true;
        });
        ctx.stroke();
      });
      ctx.globalAlpha = 1;
      axes.forEach(function (col, a) {
        ctx.strokeStyle = MUTED; ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(xs[a], top); ctx.lineTo(xs[a], bottom); ctx.stroke();
        ctx.fillStyle = INK; ctx.textAlign = "center";
        ctx.fillText(col.label, xs[a], top - 12);
        ctx.fillStyle = MUTED; ctx.textAlign = "right";
        scales[a].ticks.forEach(function (t) {
          var y = bottom - t[0] * (bottom - top);
          ctx.fillText(String(t[1]).slice(0, 14), xs[a] - 4, y + 4);
        });
      });
    }
    draw(null);
    var tipEl = document.getElementById("parallel-tip");
    function nearest(ev) {
      var rect = canvas.getBoundingClientRect(), x = ev.clientX - rect.left, y = ev.clientY - rect.top;
      var best = null, bestD = 8;
      lines.forEach(function (pts, r) {
        for (var i = 0; i + 1 < pts.length; i++) {
          var a = pts[i], b = pts[i + 1];
          if (!a || !b || x < a[0] || x > b[0]) continue;
          var yy = a[1] + (b[1] - a[1]) * (x - a[0]) / (b[0] - a[0]);
          if (Math.abs(yy - y) < bestD) { bestD = Math.abs(yy - y); best = r; }
        }
      });
      return { run: best, x: x, y: y };
    }
    canvas.onmousemove = function (ev) {
      var n = nearest(ev);
      draw(n.run);
      tip(tipEl, canvas, n.x, n.y, n.run == null ? "" : data.runs[n.run].name);
    };
    canvas.onmouseleave = function () { draw(null); tip(tipEl, canvas, 0, 0, ""); };
    canvas.onclick = function (ev) {
      var n = nearest(ev);
      if (n.run != null) location.href = "/runs/" + encodeURIComponent(data.runs[n.run].id);
    };
    canvas.setAttribute("data-axes", String(axes.length));
    canvas.setAttribute("data-lines", String(lines.filter(function (l) { return l.some(Boolean); }).length));
    canvas.setAttribute("data-ready", "1");
  }

  /* -- scatter ----------------------------------------------------------- */
  function scatter(canvas, data, byId) {
    var cx = byId[data.scatter[0]], cy = byId[data.scatter[1]];
    var g = setup(canvas), ctx = g.ctx;
    var left = 64, right = g.w - 16, top = 12, bottom = g.h - 44;
    var points = [];
    if (cx && cy) {
      var sx = scaleOf(cx), sy = scaleOf(cy);
      data.runs.forEach(function (run, r) {
        var px = sx.pos(cx.values[r]), py = sy.pos(cy.values[r]);
        if (px == null || py == null) return;
        points.push({ r: r, x: left + px * (right - left), y: bottom - py * (bottom - top) });
      });
    }
    function draw(highlight) {
      ctx.clearRect(0, 0, g.w, g.h);
      if (!cx || !cy) return;
      ctx.strokeStyle = GRID; ctx.fillStyle = MUTED; ctx.lineWidth = 1;
      ctx.textAlign = "center";
      sx.ticks.forEach(function (t) {
        var x = left + t[0] * (right - left);
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
        ctx.fillText(String(t[1]).slice(0, 14), x, bottom + 16);
      });
      ctx.textAlign = "right";
      sy.ticks.forEach(function (t) {
        var y = bottom - t[0] * (bottom - top);
        ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(right, y); ctx.stroke();
        ctx.fillText(String(t[1]).slice(0, 10), left - 6, y + 4);
      });
      ctx.fillStyle = INK; ctx.textAlign = "center";
      ctx.fillText(cx.label, (left + right) / 2, g.h - 6);
      ctx.save(); ctx.translate(14, (top + bottom) / 2); ctx.rotate(-Math.PI / 2);
      ctx.fillText(cy.label, 0, 0); ctx.restore();
      points.forEach(function (p) {
        ctx.fillStyle = COLORS[data.runs[p.r].color % COLORS.length];
        ctx.globalAlpha = highlight == null || highlight === p.r ? 0.9 : 0.3;
        ctx.beginPath(); ctx.arc(p.x, p.y, highlight === p.r ? 6 : 4, 0, 2 * Math.PI); ctx.fill();
      });
      ctx.globalAlpha = 1;
    }
    draw(null);
    var tipEl = document.getElementById("scatter-tip");
    function nearest(ev) {
      var rect = canvas.getBoundingClientRect(), x = ev.clientX - rect.left, y = ev.clientY - rect.top;
      var best = null, bestD = 100;
      points.forEach(function (p) {
        var d = (p.x - x) * (p.x - x) + (p.y - y) * (p.y - y);
        if (d < bestD) { bestD = d; best = p.r; }
      });
      return { run: best, x: x, y: y };
    }
    canvas.onmousemove = function (ev) {
      var n = nearest(ev);
      draw(n.run);
      var label = "";
      if (n.run != null) label = data.runs[n.run].name + ": " + cx.label + " " + cx.values[n.run] + ", " + cy.label + " " + cy.values[n.run];
      tip(tipEl, canvas, n.x, n.y, label);
    };
    canvas.onmouseleave = function () { draw(null); tip(tipEl, canvas, 0, 0, ""); };
    canvas.onclick = function (ev) {
      var n = nearest(ev);
      if (n.run != null) location.href = "/runs/" + encodeURIComponent(data.runs[n.run].id);
    };
    canvas.setAttribute("data-points", String(points.length));
    canvas.setAttribute("data-ready", "1");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var block = document.getElementById("plot-data");
    if (!block) return;
    var data = JSON.parse(block.textContent);
    var byId = {};
    data.columns.forEach(function (c) { byId[c.id] = c; });
    var par = document.getElementById("parallel"), sc = document.getElementById("scatter");
    function drawAll() { parallel(par, data, byId); scatter(sc, data, byId); }
    drawAll();
    if (window.ResizeObserver) {
      var width = par.clientWidth;
      new ResizeObserver(function () {
        if (par.clientWidth !== width) { width = par.clientWidth; drawAll(); }
      }).observe(par);
    }
  });
})();
